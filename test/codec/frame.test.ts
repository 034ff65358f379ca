import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/codec/errors.ts';
import { BINARY_FRAME_MARK } from '../../src/codec/binary.ts';
import { decodeFrame, decodeFrameWithSchema, encodeFrame, encodeFrameMsgpack, PROTOCOL_VERSION } from '../../src/codec/frame.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { makeMessage } from '../../src/raft/types.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { randomFrame } from './gen.ts';

const header = { clusterId: 'c1', from: 1, to: 2 };
const expectLink = { clusterId: 'c1', from: 1, to: 2 };
const raw = new Packr({ useRecords: false, mapsAsObjects: true });

/** Normalises Buffers to plain Uint8Arrays so equality ignores the subclass. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrameError) return err.code;
    return `untyped: ${String(err)}`;
  }
  return 'accepted';
}

/** A valid wire value for hand-made corruption. */
function wire(overrides: Record<string, unknown> = {}, msg: unknown[] = [1, 1, 2, 5, 4, 10, [], 9, false, 0, null, new Uint8Array()]) {
  return { v: PROTOCOL_VERSION, c: 'c1', f: 1, t: 2, b: [[0, 7, msg]], ...overrides };
}

describe('frame codec', () => {
  it('round-trips 2,000 random frames exactly', () => {
    const rand = createSeededRand(11);
    for (let i = 0; i < 2000; i++) {
      const frame = randomFrame(rand, header);
      const decoded = decodeFrame(encodeFrame(frame), expectLink);
      expect(plain(decoded)).toEqual(plain({ version: PROTOCOL_VERSION, ...frame }));
    }
  });

  it('returns byte fields as views into the frame (no copy), empty ones shared, with either validator', () => {
    for (const decode of [decodeFrame, decodeFrameWithSchema]) {
      const bytes = encodeFrame({ ...header, items: [{ kind: 'request', requestId: 1, payload: Uint8Array.of(1, 2, 3) }, { kind: 'response', requestId: 2, payload: new Uint8Array(0) }] });
      const [a, b] = decode(bytes, expectLink).items;
      expect(a.kind === 'request' && a.payload.buffer === bytes.buffer && [...a.payload]).toEqual([1, 2, 3]);
      expect(b.kind === 'response' && b.payload.buffer !== bytes.buffer && b.payload.length).toBe(0);
    }
  });

  it('accepts the hand-made valid wire value (so the corruptions below test one thing each)', () => {
    expect(codeOf(() => decodeFrame(raw.pack(wire()), expectLink))).toBe('accepted');
  });

  it('refuses a frame over the size limit before decoding it', () => {
    const limits = resolveFrameLimits({ frameBytesMax: 1024 });
    const big = encodeFrame({ ...header, items: [{ kind: 'request', requestId: 1, payload: new Uint8Array(2000) }] });
    expect(codeOf(() => decodeFrame(big, expectLink, limits))).toBe('FrameTooLarge');
    expect(codeOf(() => encodeFrame({ ...header, items: [{ kind: 'request', requestId: 1, payload: new Uint8Array(2000) }] }, limits))).toBe('FrameTooLarge');
    // A declared 4 GiB array in five bytes is refused by the pre-scan, not allocated.
    expect(codeOf(() => decodeFrame(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), expectLink))).toBe('FrameMalformed');
  });

  it.each([
    ['negative term', wire({}, [1, 1, 2, -5, 4, 10, [], 9, false, 0, null, new Uint8Array()])],
    ['fractional index', wire({}, [1, 1, 2, 5, 4, 10.5, [], 9, false, 0, null, new Uint8Array()])],
    ['unsafe integer commit', wire({}, [1, 1, 2, 5, 4, 10, [], 2 ** 60, false, 0, null, new Uint8Array()])],
    ['local message type code', wire({}, [99, 1, 2, 5, 4, 10, [], 9, false, 0, null, new Uint8Array()])],
    ['string where bytes belong', wire({}, [1, 1, 2, 5, 4, 10, [], 9, false, 0, null, 'ctx'])],
    ['short message tuple', wire({}, [1, 1, 2])],
    ['node id zero', wire({}, [1, 0, 2, 5, 4, 10, [], 9, false, 0, null, new Uint8Array()])],
    ['MsgApp entries out of order', wire({}, [1, 1, 2, 5, 4, 10, [[5, 12, 0, new Uint8Array()]], 9, false, 0, null, new Uint8Array()])],
    ['MsgApp entry term above message term', wire({}, [1, 1, 2, 5, 4, 10, [[6, 11, 0, new Uint8Array()]], 9, false, 0, null, new Uint8Array()])],
    ['MsgSnap without snapshot', wire({}, [7, 1, 2, 5, 4, 10, [], 9, false, 0, null, new Uint8Array()])],
    ['batch is not an array', wire({ b: 'x' })],
    ['unknown item kind', wire({ b: [[9, 7, new Uint8Array()]] })],
    ['chunk seq not below total', wire({ b: [[3, 1, 4, 4, new Uint8Array(1)]] })],
    ['chunk of zero total', wire({ b: [[3, 1, 0, 0, new Uint8Array(1)]] })],
    ['empty cluster id', wire({ c: '' })],
    ['null sender', wire({ f: null })],
  ])('refuses %s as FrameInvalid (validator and zod schema alike)', (_name, value) => {
    const link = { clusterId: value.c === '' ? '' : 'c1' };
    expect(codeOf(() => decodeFrame(raw.pack(value), link))).toBe('FrameInvalid');
    expect(codeOf(() => decodeFrameWithSchema(raw.pack(value), link))).toBe('FrameInvalid');
  });

  it('checks version, cluster, sender and recipient against the link', () => {
    expect(codeOf(() => decodeFrame(raw.pack(wire({ v: PROTOCOL_VERSION + 1 })), expectLink))).toBe('WrongVersion');
    expect(codeOf(() => decodeFrame(raw.pack(wire()), { ...expectLink, clusterId: 'other' }))).toBe('WrongCluster');
    expect(codeOf(() => decodeFrame(raw.pack(wire()), { ...expectLink, from: 3 }))).toBe('WrongSender');
    expect(codeOf(() => decodeFrame(raw.pack(wire()), { ...expectLink, to: 3 }))).toBe('WrongRecipient');
  });

  it('refuses deep nesting, extensions, non-string keys and trailing bytes as FrameMalformed', () => {
    expect(codeOf(() => decodeFrame(new Uint8Array(100_000).fill(0x91), expectLink))).toBe('FrameMalformed');
    expect(codeOf(() => decodeFrame(Uint8Array.of(0xd4, 0x72, 0x01), expectLink))).toBe('FrameMalformed');
    expect(codeOf(() => decodeFrame(Uint8Array.of(0x81, 0x01, 0x02), expectLink))).toBe('FrameMalformed');
    const ok = raw.pack(wire());
    const trailing = new Uint8Array(ok.length + 1);
    trailing.set(ok);
    expect(codeOf(() => decodeFrame(trailing, expectLink))).toBe('FrameMalformed');
    expect(codeOf(() => decodeFrame('nope' as unknown as Uint8Array, expectLink))).toBe('FrameMalformed');
  });

  it('refuses to encode a local message type', () => {
    const items = [{ kind: 'raft' as const, regionId: 1, message: makeMessage({ type: 'MsgHup', from: 1, to: 1 }) }];
    expect(codeOf(() => encodeFrame({ ...header, items }))).toBe('FrameInvalid');
  });

  it('writes the binary layout (first byte 0xc1) and still reads MessagePack frames', () => {
    const frame = { ...header, items: [{ kind: 'raft' as const, regionId: 7, message: makeMessage({ type: 'MsgHeartbeat', from: 1, to: 2, term: 5, commit: 9 }) }] };
    const binary = encodeFrame(frame);
    const msgpack = encodeFrameMsgpack(frame);
    expect(binary[0]).toBe(BINARY_FRAME_MARK);
    expect(msgpack[0]).not.toBe(BINARY_FRAME_MARK);
    expect(binary.length).toBeLessThan(msgpack.length);
    for (const decode of [decodeFrame, decodeFrameWithSchema]) expect(plain(decode(binary, expectLink))).toEqual(plain(decode(msgpack, expectLink)));
  });

  it('refuses to encode a negative, fractional or unsafe number in the binary layout', () => {
    for (const term of [-1, 0.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      const items = [{ kind: 'raft' as const, regionId: 1, message: makeMessage({ type: 'MsgHeartbeat', from: 1, to: 2, term }) }];
      expect(codeOf(() => encodeFrame({ ...header, items }))).toBe('FrameInvalid');
    }
    // The largest safe integer goes through, in 8 varint bytes.
    const items = [{ kind: 'raft' as const, regionId: 1, message: makeMessage({ type: 'MsgHeartbeat', from: 1, to: 2, term: Number.MAX_SAFE_INTEGER }) }];
    const decoded = decodeFrame(encodeFrame({ ...header, items }), expectLink).items[0];
    expect(decoded.kind === 'raft' && decoded.message.term).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses binary varints over 2^53 - 1 or over 8 bytes, and an oversized frame before encoding it', () => {
    // Hand-made frame: mark, version, cluster "c1" as code units, from 1, to 2, no items.
    const ok = [0xc1, PROTOCOL_VERSION, 2, 0x63, 0, 0x31, 0, 1, 2, 0];
    expect(codeOf(() => decodeFrame(Uint8Array.from(ok), expectLink))).toBe('accepted');
    const over = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]; // 2^53 in 8 bytes
    const long = [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]; // 1 in 9 bytes
    for (const varint of [over, long]) {
      const bytes = Uint8Array.from([...ok.slice(0, 7), ...varint, ...ok.slice(8)]);
      for (const decode of [decodeFrame, decodeFrameWithSchema]) expect(codeOf(() => decode(bytes, expectLink))).toBe('FrameMalformed');
    }
    const wrongVersion = Uint8Array.from([0xc1, PROTOCOL_VERSION + 1, ...ok.slice(2)]);
    const otherCluster = Uint8Array.from([...ok.slice(0, 3), 0x64, ...ok.slice(4)]);
    for (const decode of [decodeFrame, decodeFrameWithSchema]) {
      expect(codeOf(() => decode(wrongVersion, expectLink))).toBe('WrongVersion');
      expect(codeOf(() => decode(otherCluster, expectLink))).toBe('WrongCluster');
      expect(codeOf(() => decode(Uint8Array.from(ok), { ...expectLink, from: 3 }))).toBe('WrongSender');
      expect(codeOf(() => decode(Uint8Array.from(ok), { ...expectLink, to: 3 }))).toBe('WrongRecipient');
    }
    const big = { ...header, items: [{ kind: 'request' as const, requestId: 1, payload: new Uint8Array(2000) }] };
    expect(codeOf(() => encodeFrame(big, resolveFrameLimits({ frameBytesMax: 1000 })))).toBe('FrameTooLarge');
  });

  it('counts the elements of a binary frame against valuesMax, as the MessagePack pre-scan counts values', () => {
    // 40 entries of 5 values each, 2 items of 4: 208 values.
    const entries = Array.from({ length: 20 }, (_, i) => ({ term: 1, index: 11 + i, type: 'normal' as const, data: new Uint8Array(0) }));
    const message = makeMessage({ type: 'MsgApp', from: 1, to: 2, term: 1, logTerm: 1, index: 10, entries });
    const bytes = encodeFrame({ ...header, items: [{ kind: 'raft', regionId: 1, message }, { kind: 'raft', regionId: 2, message }] });
    for (const decode of [decodeFrame, decodeFrameWithSchema]) {
      expect(codeOf(() => decode(bytes, expectLink, resolveFrameLimits({ valuesMax: 208 })))).toBe('accepted');
      expect(codeOf(() => decode(bytes, expectLink, resolveFrameLimits({ valuesMax: 207 })))).toBe('FrameMalformed');
    }
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => resolveFrameLimits({ frameBytesMax: 0 })).toThrow(RangeError);
    expect(() => resolveFrameLimits({ depthMax: 3 })).toThrow(RangeError);
  });
});
