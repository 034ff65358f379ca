/**
 * Seeded generators of valid frames and of hostile variants, shared by the codec tests, the
 * transport tests and the transport benchmark.
 */
import type { OutboundFrame } from '../../src/codec/frame.ts';
import type { FrameItem } from '../../src/codec/schema.ts';
import { WIRE_MESSAGE_TYPES } from '../../src/codec/schema.ts';
import type { Rand } from '../../src/ports.ts';
import { type Entry, type Message, makeMessage, type Snapshot } from '../../src/raft/types.ts';

/** Random bytes of the given length. */
export function randomBytes(rand: Rand, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rand.int(256);
  return out;
}

function snapshot(rand: Rand): Snapshot {
  const ids = (n: number) => Array.from({ length: n }, () => 1 + rand.int(9));
  return {
    metadata: {
      index: rand.int(1000),
      term: rand.int(50),
      confState: { voters: ids(3), learners: ids(rand.int(2)), votersOutgoing: ids(rand.int(3)), learnersNext: [], autoLeave: rand.int(2) === 1 },
    },
    data: randomBytes(rand, rand.int(300)),
  };
}

/** A random network-valid Raft message; MsgApp entries follow the message's index and terms. */
export function randomMessage(rand: Rand, entryBytes = 64): Message {
  const type = WIRE_MESSAGE_TYPES[rand.int(WIRE_MESSAGE_TYPES.length)];
  const term = 1 + rand.int(100);
  const index = rand.int(1_000_000);
  const logTerm = rand.int(term + 1);
  const entries: Entry[] = [];
  const count = type === 'MsgApp' || type === 'MsgProp' ? rand.int(6) : 0;
  for (let i = 0; i < count; i++) {
    entries.push({ term: type === 'MsgApp' ? term : 0, index: type === 'MsgApp' ? index + 1 + i : 0, type: rand.int(8) === 0 ? 'confChange' : 'normal', data: randomBytes(rand, rand.int(entryBytes)) });
  }
  return makeMessage({
    type,
    from: 1 + rand.int(5),
    to: 1 + rand.int(5),
    term,
    logTerm,
    index,
    entries,
    commit: rand.int(index + 1),
    reject: rand.int(4) === 0,
    rejectHint: rand.int(index + 1),
    snapshot: type === 'MsgSnap' ? snapshot(rand) : null,
    context: rand.int(3) === 0 ? randomBytes(rand, 8) : new Uint8Array(0),
  });
}

/** A random valid frame of up to `itemsMax` items between `from` and `to`. */
export function randomFrame(rand: Rand, header: { clusterId: string; from: number; to: number }, itemsMax = 8): OutboundFrame {
  const items: FrameItem[] = [];
  const n = rand.int(itemsMax + 1);
  for (let i = 0; i < n; i++) {
    const k = rand.int(7);
    if (k < 3) items.push({ kind: 'raft', regionId: 1 + rand.int(100), message: randomMessage(rand) });
    else if (k === 3) {
      // With the sender's view of the region, as stores send them.
      const region = { startKey: randomBytes(rand, rand.int(8)), endKey: randomBytes(rand, rand.int(8)), confVer: 1 + rand.int(9), version: 1 + rand.int(9), ...(rand.int(4) === 0 ? { tombstone: true } : {}) };
      items.push({ kind: 'raft', regionId: 1 + rand.int(100), message: randomMessage(rand), region });
    }
    else if (k === 6) {
      const total = 1 + rand.int(50);
      items.push({ kind: 'chunk', streamId: rand.int(1000), seq: rand.int(total), total, payload: randomBytes(rand, rand.int(100)) });
    } else items.push({ kind: k === 4 ? 'request' : 'response', requestId: rand.int(1 << 30), payload: randomBytes(rand, rand.int(100)) });
  }
  return { ...header, items };
}

/**
 * A realistic Raft batch for one destination store: `regions` regions each with one MsgApp of
 * `entriesPerMessage` entries of `entryBytes` bytes (the steady-state replication load).
 */
export function raftBatch(header: { clusterId: string; from: number; to: number }, regions: number, entriesPerMessage: number, entryBytes: number): OutboundFrame {
  const items: FrameItem[] = [];
  const data = new Uint8Array(entryBytes).fill(7);
  for (let r = 1; r <= regions; r++) {
    const entries: Entry[] = [];
    for (let i = 0; i < entriesPerMessage; i++) entries.push({ term: 5, index: 1001 + i, type: 'normal', data });
    items.push({ kind: 'raft', regionId: r, message: makeMessage({ type: 'MsgApp', from: 1, to: 2, term: 5, logTerm: 5, index: 1000, commit: 999, entries }) });
  }
  return { ...header, items };
}
