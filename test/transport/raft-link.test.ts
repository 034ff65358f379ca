/**
 * The Raft link between two stores over a loopback transport that enforces the real frame limit
 * (16 MiB): one loop turn's items for a peer can add up to more than one frame holds (several
 * MsgApps of a catching-up follower with large entries), and a single non-snapshot message can be
 * over the limit by itself (one entry with a large value). Everything must still arrive, and
 * `send` must never throw (a throw there stops the store's loop).
 */
import { describe, expect, it } from 'vitest';
import { createRaftLink, type RaftLink } from '../../adapters/raft-link.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import type { FrameItem } from '../../src/codec/schema.ts';
import type { Clock } from '../../src/ports.ts';
import { makeMessage } from '../../src/raft/types.ts';
import type { RaftItem } from '../../src/store/store-engine.ts';
import type { Transport } from '../../src/transport/port.ts';

const CLUSTER = 'raft-link';
const MiB = 1024 * 1024;
const clock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Store 1's link, whose frames are encoded with the default limits and delivered to store 2's link. */
function pair(): { a: RaftLink; received: RaftItem[]; frames: number[] } {
  const received: RaftItem[] = [];
  const frames: number[] = [];
  let b: RaftLink | undefined;
  const transport = (localId: number, deliver: (bytes: Uint8Array) => void): Transport => ({
    localId,
    send(to: number, items: readonly FrameItem[]) {
      deliver(encodeFrame({ clusterId: CLUSTER, from: localId, to, items })); // throws FrameTooLarge over 16 MiB
      return true;
    },
    onFrame: () => undefined,
    onDisconnect: () => undefined,
    queuedBytes: () => 0,
    close: async () => undefined,
  });
  const a = createRaftLink({
    transport: transport(1, (bytes) => {
      frames.push(bytes.length);
      received.push(...b!.receive(decodeFrame(bytes, { clusterId: CLUSTER, from: 1, to: 2 })));
    }),
    clock,
    clusterId: CLUSTER,
  });
  b = createRaftLink({ transport: transport(2, () => undefined), clock, clusterId: CLUSTER });
  return { a, received, frames };
}

function append(index: number, bytes: number): RaftItem {
  const entry = { term: 2, index, type: 'normal' as const, data: new Uint8Array(bytes).fill(index % 251) };
  return { regionId: 1, message: makeMessage({ type: 'MsgApp', from: 1, to: 2, term: 2, logTerm: 2, index: index - 1, entries: [entry], commit: index - 1 }) };
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

describe('Raft link over the 16 MiB frame limit', () => {
  it("splits one turn's items over several frames when together they exceed one, in order", () => {
    const { a, received, frames } = pair();
    const items = [append(10, 7 * MiB), append(11, 7 * MiB), append(12, 7 * MiB), append(13, 100)];
    expect(() => a.send(2, items)).not.toThrow();
    expect(received.map((i) => i.message.entries[0].index)).toEqual([10, 11, 12, 13]);
    const [got, sent] = [received[1].message.entries[0].data, items[1].message.entries[0].data];
    expect(got.length === sent.length && got.every((b, i) => b === sent[i])).toBe(true);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f).toBeLessThanOrEqual(16 * MiB);
  });

  it('sends a single message over the limit (one large entry, no snapshot) as a chunk stream', async () => {
    const { a, received } = pair();
    const big = append(20, 17 * MiB);
    expect(() => a.send(2, [big, append(21, 10)])).not.toThrow();
    await until(() => received.length === 2);
    const byIndex = new Map(received.map((i) => [i.message.entries[0].index, i]));
    expect([...byIndex.keys()].sort()).toEqual([20, 21]);
    expect(byIndex.get(20)!.message.entries[0].data.length).toBe(17 * MiB);
  });

  it('still sends a frame for an empty call (the liveness ping of quiesced regions)', () => {
    const { a, frames } = pair();
    a.send(2, []);
    expect(frames.length).toBe(1);
  });
});
