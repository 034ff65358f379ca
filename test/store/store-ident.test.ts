/**
 * A store's identity in its engine (docs/store-identity.md): recorded once, kept across restarts,
 * refused for another store or cluster with a typed error; first-seen incarnations are durable.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { ensureStoreIdent, loadSeenIncarnations, newIncarnation, seenIncarnationOp } from '../../src/store/store-ident.ts';
import { createSeededRand } from '../../src/util/rand.ts';

describe('store identity', () => {
  it('is recorded once and kept; another store or cluster is refused', async () => {
    const engine = createMemoryStorage();
    const first = await ensureStoreIdent(engine, { clusterId: 'c', storeId: 3, incarnation: 'aaaa1111bbbb2222' });
    const again = await ensureStoreIdent(engine, { clusterId: 'c', storeId: 3, incarnation: 'another-one' });
    expect(again).toEqual(first);
    await expect(ensureStoreIdent(engine, { clusterId: 'c', storeId: 4, incarnation: 'x' })).rejects.toMatchObject({ code: 'IdentityMismatch', message: expect.stringMatching(/belongs to store 3.*--id 3/) });
    await expect(ensureStoreIdent(engine, { clusterId: 'd', storeId: 3, incarnation: 'x' })).rejects.toMatchObject({ code: 'IdentityMismatch' });
  });

  it('an empty engine gets a new incarnation', async () => {
    const rand = createSeededRand(7);
    const a = newIncarnation(rand);
    const b = newIncarnation(rand);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
  });

  it('first-seen incarnations survive in the engine', async () => {
    const engine = createMemoryStorage();
    await engine.write([seenIncarnationOp(2, 'cccc3333dddd4444'), seenIncarnationOp(2 ** 40, 'eeee5555ffff6666')], { sync: true });
    expect([...(await loadSeenIncarnations(engine))]).toEqual([
      [2, 'cccc3333dddd4444'],
      [2 ** 40, 'eeee5555ffff6666'],
    ]);
  });
});
