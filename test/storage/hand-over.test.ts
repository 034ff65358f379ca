import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { StorageEngine } from '../../src/ports.ts';

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : String.fromCharCode(...b));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const engines: Array<[string, () => Promise<StorageEngine>]> = [
  ['memory', async () => createMemoryStorage()],
  [
    'fs',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'flotilla-handover-'));
      dirs.push(dir);
      return createFsStorage({ dir });
    },
  ],
];

describe.each(engines)('%s engine, WriteOptions.handOver', (_name, open) => {
  it('keeps handed-over buffers, views included, instead of copying them', async () => {
    const db = await open();
    const whole = bytes('kept');
    const parent = bytes('..view..');
    await db.write([{ type: 'put', key: bytes('k'), value: whole }, { type: 'put', key: bytes('v'), value: parent.subarray(2, 6) }], { handOver: true });
    // Breaking the promise shows that the engine kept the very buffers (no copy was made).
    whole[0] = 0x4b;
    parent[2] = 0x56;
    expect(text(await db.get(bytes('k')))).toBe('Kept');
    expect(text(await db.get(bytes('v')))).toBe('View');
    await db.close();
  });

  it('owns its bytes also when given Node Buffers, whose slice() is a view', async () => {
    const db = await open();
    const value = Buffer.from('buffered');
    await db.write([{ type: 'put', key: Buffer.from('b'), value }]);
    value.fill(0x21);
    const got = (await db.get(bytes('b')))!;
    expect(text(got)).toBe('buffered');
    got.fill(0x21);
    expect(text(await db.get(bytes('b')))).toBe('buffered');
    await db.close();
  });

  it('copies everything when the batch is not handed over, and reads hand out copies either way', async () => {
    const db = await open();
    const whole = bytes('copied');
    await db.write([{ type: 'put', key: bytes('w'), value: whole }]);
    await db.write([{ type: 'put', key: bytes('h'), value: bytes('handed') }], { handOver: true });
    whole.fill(0x21);
    (await db.get(bytes('h')))!.fill(0x21);
    expect(text(await db.get(bytes('w')))).toBe('copied');
    expect(text(await db.get(bytes('h')))).toBe('handed');
    await db.close();
  });
});
