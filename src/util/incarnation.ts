/**
 * What a store incarnation may look like (src/store/store-ident.ts makes them): 1 to 64 letters,
 * digits, `-` or `_`. One definition for every boundary that takes one: the handshake, the client
 * protocol's `changePeer` and PD's store heartbeats.
 */
export const INCARNATION_PATTERN = /^[0-9A-Za-z_-]{1,64}$/;

/** Whether `value` is a well-formed incarnation. */
export function isIncarnation(value: unknown): value is string {
  return typeof value === 'string' && INCARNATION_PATTERN.test(value);
}
