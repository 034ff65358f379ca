import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, virtualCluster } from './helpers.ts';

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('in-page cluster', () => {
  it('elects leaders, writes and reads back across regions', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] });
    cluster = v.cluster;
    const client = cluster.client();
    await drive(v.clock, client.put('apple', 'red'));
    await drive(v.clock, client.put('zebra', 'striped'));
    expect(text(await drive(v.clock, client.get('apple')))).toBe('red');
    expect(text(await drive(v.clock, client.get('zebra')))).toBe('striped');
    expect(await drive(v.clock, client.get('nothing'))).toBeNull();
    const rows = await drive(v.clock, client.scan('', ''));
    expect(rows.map((r) => text(r.key))).toEqual(['apple', 'zebra']);
    const rev = await drive(v.clock, client.reverseScan('', ''));
    expect(rev.map((r) => text(r.key))).toEqual(['zebra', 'apple']);
  });
});
