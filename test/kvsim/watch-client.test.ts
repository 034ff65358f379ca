/**
 * The watch client on an in-page cluster (virtual clock): resuming a new watcher from an old one's
 * `position()` gives exactly the later events; a watch from now skips the past; range and prefix
 * bounds; bad options refused with a typed error; `compact` over several regions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { KvClient } from '../../src/client/client.ts';
import { prefixEnd, type KvWatchEvent, type Watcher } from '../../src/client/watch.ts';
import { drive, elapse, text, virtualCluster } from '../store/helpers.ts';

let cluster: LocalCluster;
let clock: VirtualClock;
let kv: KvClient;
const run = <T>(p: Promise<T>) => drive(clock, p);

beforeAll(async () => {
  ({ cluster, clock } = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] }));
  kv = cluster.client();
});
afterAll(() => cluster.close());

/** The next `n` events of a watcher. */
async function take(w: Watcher, n: number): Promise<KvWatchEvent[]> {
  const out: KvWatchEvent[] = [];
  const it = w[Symbol.asyncIterator]();
  while (out.length < n) out.push((await run(it.next())).value as KvWatchEvent);
  return out;
}
const brief = (es: KvWatchEvent[]) => es.map((e) => `${e.type} ${text(e.key)}=${text(e.value)}`);

describe('watch client', () => {
  it('resumes from position() with exactly the later events, over two regions', async () => {
    await run(kv.put('a/1', 'x'));
    await run(kv.put('z/1', 'x'));
    const w1 = kv.watch({ start: '', end: '' }, { fromRevision: 1 });
    expect(brief(await take(w1, 2)).sort()).toEqual(['put a/1=x', 'put z/1=x']);
    const position = w1.position();
    w1.close();
    expect(position.length).toBe(2); // one piece per region
    await run(kv.put('a/2', 'y'));
    await run(kv.delete('z/1'));
    const w2 = kv.watch({ start: '', end: '' }, { position });
    expect(brief(await take(w2, 2)).sort()).toEqual(['delete z/1=null', 'put a/2=y']);
    w2.close();
  });

  it('a watch from now skips the past; a prefix watch sees only its keys', async () => {
    await run(kv.put('p/old', '1'));
    const w = kv.watch('p/');
    const first = w[Symbol.asyncIterator]().next();
    await elapse(clock, 200); // the first poll takes the current revision
    await run(kv.put('q/other', '1'));
    await run(kv.put('p/new', '2'));
    expect(text(((await run(first)).value as KvWatchEvent).key)).toBe('p/new');
    w.close();
    expect(text(prefixEnd(new TextEncoder().encode('p/')))).toBe('p0');
    expect(prefixEnd(Uint8Array.of(0xff, 0xff)).length).toBe(0);
    expect(prefixEnd(Uint8Array.of(1, 0xff))).toEqual(Uint8Array.of(2));
  });

  it('refuses bad options with InvalidArgument, and compacts every region of a range', async () => {
    expect(() => kv.watch('p/', { fromRevision: 0 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => kv.watch({ start: 'b', end: 'a' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    const points = await run(kv.compact(2));
    expect(points.length).toBe(2);
    for (const p of points) expect(p.compactRevision).toBe(2);
    const late = kv.watch({ start: '', end: '' }, { fromRevision: 1 });
    await expect(run(late[Symbol.asyncIterator]().next())).rejects.toMatchObject({ code: 'Compacted', compactRevision: 2 });
  });
});
