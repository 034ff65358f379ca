/**
 * The one configured msgpackr encoder/decoder of the wire format.
 *
 * Plain MessagePack only: no records, no structured clone, no bundled strings, no extensions, so
 * any MessagePack implementation in any language can read and write Flotilla frames, and the
 * pre-scan (`msgpack-scan.ts`) can refuse every extension type outright.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
  // Byte strings come out as views into the frame, not copies: see `ownBytes`.
  copyBuffers: false,
  int64AsType: 'number',
});

/**
 * Encodes `value` as MessagePack. The result may be a view into a larger buffer: copy it
 * (`slice()`) before transferring its `buffer`.
 * @param value - plain data: objects with string keys, arrays, numbers, strings, booleans, null, Uint8Array.
 */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Encodes `value` into a plain `Uint8Array` of its own. (What `packValue` returns is a view into
 * the packer's shared buffer, and its `slice()` is still one: keeping it keeps that buffer.)
 * Use it for bytes that are stored or kept.
 * @param value - what to encode.
 */
export function packOwned(value: unknown): Uint8Array {
  const packed = packr.pack(value);
  const out = new Uint8Array(packed.length);
  out.set(packed);
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * What a decoded byte field becomes: the view msgpackr made into the frame (no copy: a copy per
 * field cost twice the whole decode on a frame of 32 entries), or one shared empty array. The
 * frame's buffer therefore lives as long as any of its byte fields; the transports hand every
 * frame a buffer of its own and never reuse it.
 * @param view - bytes as msgpackr decoded them.
 */
export function ownBytes(view: Uint8Array): Uint8Array {
  return view.length === 0 ? EMPTY : view;
}

/**
 * Decodes one MessagePack value. Only call it on bytes that passed `scanMsgpack`; it may throw
 * msgpackr's own errors, which the frame decoder wraps.
 * @param bytes - exactly one encoded value.
 */
export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
