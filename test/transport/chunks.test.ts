import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { TransportError } from '../../src/codec/errors.ts';
import type { FrameItem } from '../../src/codec/schema.ts';
import type { Transport } from '../../src/transport/port.ts';
import { createChunkAssembler, sendChunked } from '../../src/transport/chunks.ts';

const chunk = (streamId: number, seq: number, total: number, bytes: number[]) => ({ streamId, seq, total, payload: Uint8Array.from(bytes) });

describe('chunk assembler', () => {
  it('reassembles in-order chunks, per peer and stream', () => {
    const asm = createChunkAssembler();
    expect(asm.add(1, chunk(5, 0, 2, [1, 2]))).toEqual({ kind: 'partial' });
    expect(asm.add(2, chunk(5, 0, 1, [9]))).toEqual({ kind: 'complete', payload: Uint8Array.of(9) });
    expect(asm.heldBytes()).toBe(2);
    expect(asm.add(1, chunk(5, 1, 2, [3]))).toEqual({ kind: 'complete', payload: Uint8Array.of(1, 2, 3) });
    expect(asm.heldBytes()).toBe(0);
  });

  it('drops a stream on a gap, a changed total, a missing start or too many bytes', () => {
    const asm = createChunkAssembler({ payloadBytesMax: 4 });
    asm.add(1, chunk(1, 0, 3, [1]));
    expect(asm.add(1, chunk(1, 2, 3, [3])).kind).toBe('dropped');
    expect(asm.add(1, chunk(1, 1, 3, [2])).kind).toBe('dropped'); // the stream is gone
    asm.add(1, chunk(2, 0, 3, [1]));
    expect(asm.add(1, chunk(2, 1, 4, [2])).kind).toBe('dropped');
    asm.add(1, chunk(3, 0, 3, [1, 2, 3]));
    expect(asm.add(1, chunk(3, 1, 3, [4, 5]))).toMatchObject({ kind: 'dropped', reason: expect.stringMatching(/over 4 bytes/) });
    expect(asm.heldBytes()).toBe(0);
  });

  it('keeps a bounded number of unfinished streams per peer, and forgets a peer', () => {
    const asm = createChunkAssembler({ streamsPerPeerMax: 2 });
    for (const id of [1, 2, 3]) asm.add(7, chunk(id, 0, 2, [id]));
    expect(asm.add(7, chunk(1, 1, 2, [0])).kind).toBe('dropped');
    expect(asm.add(7, chunk(3, 1, 2, [0])).kind).toBe('complete');
    asm.forget(7);
    expect(asm.heldBytes()).toBe(0);
    expect(asm.add(7, chunk(2, 1, 2, [0])).kind).toBe('dropped');
  });
});

describe('sendChunked', () => {
  it('waits for room, and gives up with a typed error when the link stalls', async () => {
    const clock = createVirtualClock();
    const sent: FrameItem[] = [];
    let queued = 0;
    const send = (_to: number, items: readonly FrameItem[]) => {
      sent.push(...items);
      queued += 100;
      return true;
    };
    const transport = { localId: 1, send, queuedBytes: () => queued } as unknown as Transport;
    const done = sendChunked(transport, clock, 2, 9, new Uint8Array(500), { chunkBytes: 100, highWaterBytes: 200, stallMs: 50 }).then(
      () => 'sent',
      (err: unknown) => err,
    );
    await Promise.resolve();
    expect(sent.length).toBe(2);
    queued = 0;
    clock.advance(5);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent.length).toBe(4);
    for (let i = 0; i < 20; i++) {
      clock.advance(5);
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(await done).toBeInstanceOf(TransportError);
    expect(sent.map((i) => (i.kind === 'chunk' ? `${i.seq}/${i.total}` : ''))).toEqual(['0/5', '1/5', '2/5', '3/5']);
  });
});
