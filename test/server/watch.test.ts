/**
 * `kv.watch` against three `flotilla serve` processes while the leader is SIGKILLed and restarted
 * (the watcher's links break, a new leader serves, the killed store comes back from its data
 * directory): compared with the writes, no acknowledged write is missing from the events, no event
 * comes twice, and nothing appears that was not written. Then the history is compacted and a
 * watcher from below the compaction point gets `Compacted`, and `get(key, { revision })` reads
 * the past.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvWatchEvent } from '../../src/client/watch.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { logsOnFailure, startCluster, type TestCluster } from './helpers.ts';

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster(3);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
});

/** Waits (polling, generous deadline) until `done()` holds. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('watch across SIGKILLs of the leader', () => {
  it('delivers every acknowledged write once, nothing unwritten, while the leader is killed and restarted', async () => {
    logsOnFailure(cluster);
    const seed = Number(process.env.SERVER_SEED ?? Date.now() % 100_000);
    console.log(`server watch test seed ${seed} (SERVER_SEED=${seed} seeds the same choices)`);
    const rand = createSeededRand(seed);
    const writer = await cluster.client();
    const watchClient = await cluster.client();
    const events: KvWatchEvent[] = [];
    const acked = new Set<string>();
    const attempted = new Set<string>();
    let running = true;
    try {
      await writer.put('w/start', 'x');
      await cluster.caughtUp(1);
      const watcher = watchClient.watch('w/', { fromRevision: 1, pollIntervalMs: 20 });
      const watching = (async () => {
        for await (const e of watcher) events.push(e);
      })();
      const writing = (async () => {
        for (let n = 0; running; n++) {
          const key = `w/${n}`;
          attempted.add(key);
          try {
            await writer.put(key, String(n));
            acked.add(key);
          } catch {
            // unknown or refused: it may or may not show up, once at most
          }
        }
      })();
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 300 + rand.int(400)));
        const leader = await cluster.leaderOf(1);
        if (leader === 0) continue;
        await cluster.kill(leader);
        await new Promise((r) => setTimeout(r, 400 + rand.int(400)));
        await cluster.restart(leader);
        await cluster.caughtUp(1);
      }
      running = false;
      await writing;
      await until(() => [...acked].every((k) => events.some((e) => text(e.key) === k)), 60_000, 'the watcher to see every acknowledged write');
      watcher.close();
      await watching;
      const seen = new Map<string, number>();
      for (const e of events) seen.set(text(e.key)!, (seen.get(text(e.key)!) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
      const unwritten = [...seen.keys()].filter((k) => k !== 'w/start' && !attempted.has(k));
      const missing = [...acked].filter((k) => !seen.has(k));
      console.log(`seed ${seed}: ${attempted.size} writes, ${acked.size} acknowledged, ${events.length} events, ${watcher.polls} polls`);
      expect(acked.size).toBeGreaterThan(20);
      expect({ twice, unwritten, missing }).toEqual({ twice: [], unwritten: [], missing: [] });
      for (let i = 1; i < events.length; i++) expect(events[i].revision).toBeGreaterThan(events[i - 1].revision);
      for (const e of events) if (e.type === 'put' && text(e.key) !== 'w/start') expect(text(e.value)).toBe(text(e.key)!.slice(2));
    } finally {
      running = false;
      writer.close();
      watchClient.close();
    }
  }, 240_000);

  it('reads a key at a past revision, and a watcher from below the compaction point gets Compacted', async () => {
    const kv = await cluster.client();
    try {
      await kv.put('h/k', 'one');
      const watcher = kv.watch('h/', { fromRevision: 1, pollIntervalMs: 20 });
      const it = watcher[Symbol.asyncIterator]();
      const first = (await it.next()).value as KvWatchEvent;
      expect(text(first.value)).toBe('one');
      await kv.put('h/k', 'two');
      const second = (await it.next()).value as KvWatchEvent;
      expect(second.revision).toBeGreaterThan(first.revision);
      watcher.close();
      expect(text(await kv.get('h/k', { revision: first.revision }))).toBe('one');
      expect(text(await kv.get('h/k', { revision: second.revision }))).toBe('two');
      const [{ compactRevision }] = await kv.compact(second.revision);
      expect(compactRevision).toBe(second.revision);
      await expect(kv.get('h/k', { revision: first.revision })).rejects.toMatchObject({ code: 'Compacted', compactRevision });
      const late = kv.watch('h/', { fromRevision: first.revision });
      await expect(late[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'Compacted', compactRevision });
    } finally {
      kv.close();
    }
  }, 120_000);
});
