/**
 * Keys and values as callers pass them: a string (UTF-8 encoded) or bytes.
 */
import { encodeUtf8 } from '../codec/utf8.ts';
import { InvalidArgumentError } from '../errors.ts';

/** A key or value as callers pass it. */
export type Bytes = string | Uint8Array;

/**
 * The bytes of a key or value: a string's UTF-8 encoding, or the bytes themselves.
 * @param value - a string or bytes.
 * @param argument - its name, for the error when it is neither.
 */
export function toBytes(value: Bytes, argument: string): Uint8Array {
  if (typeof value === 'string') return encodeUtf8(value);
  if (value instanceof Uint8Array) return value;
  throw new InvalidArgumentError(argument, `expected a string or Uint8Array, got ${value === null ? 'null' : typeof value}`);
}
