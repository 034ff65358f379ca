import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, text, virtualCluster } from './helpers.ts';

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

describe('createLocalCluster options', () => {
  it('refuses bad options with typed errors', async () => {
    const { createLocalCluster } = await import('../../adapters/local-cluster.ts');
    await expect(createLocalCluster({ stores: 0 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(createLocalCluster({ transport: 'sim' })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(createLocalCluster({ stores: 2, replicas: 3 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(createLocalCluster({ initialSplitKeys: ['a', 'a'] })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('runs on the simulated network over a virtual clock and on MessageChannel over a real one', async () => {
    const v = await virtualCluster({ stores: 3, transport: 'sim' });
    expect(v.cluster.network).toBeDefined();
    await v.cluster.close();
    const { createLocalCluster } = await import('../../adapters/local-cluster.ts');
    const real = await createLocalCluster({ stores: 3, store: { tickMs: 10 } });
    try {
      expect(real.network).toBeUndefined();
      await real.waitForLeaders(10_000);
      const kv = real.client();
      await kv.put('k', 'v');
      expect(text(await kv.get('k'))).toBe('v');
    } finally {
      await real.close();
    }
  });
});
