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
  // Byte strings come out as views into the frame; the validators copy the non-empty ones (see
  // `ownBytes`), which is much cheaper than msgpackr copying every empty context and payload.
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

const EMPTY = new Uint8Array(0);

/**
 * Detaches decoded bytes from the frame they were read from: a plain Uint8Array that owns its
 * buffer (so a transferred or pooled frame buffer may be reused), or one shared empty array.
 * @param view - bytes as msgpackr decoded them (a view into the frame).
 */
export function ownBytes(view: Uint8Array): Uint8Array {
  return view.length === 0 ? EMPTY : new Uint8Array(view);
}

/**
 * Decodes one MessagePack value. Only call it on bytes that passed `scanMsgpack`; it may throw
 * msgpackr's own errors, which the frame decoder wraps.
 * @param bytes - exactly one encoded value.
 */
export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
