/**
 * The data of the fs crash test, computable by both the writing child and the checking parent:
 * batch (w, seq) puts two keys whose values are derived from (w, seq) alone.
 */
import type { WriteOp } from '../../src/ports.ts';

/** Key of half `part` of batch (w, seq): `w<w>/<seq, 10 digits>/<part>`, so keys sort by seq. */
export function crashKey(w: number, seq: number, part: 'a' | 'b'): Uint8Array {
  return ascii(`w${w}/${String(seq).padStart(10, '0')}/${part}`);
}

/** Value of half `part` of batch (w, seq): a header then 0..2999 filler bytes. */
export function crashValue(w: number, seq: number, part: 'a' | 'b'): Uint8Array {
  const head = ascii(`${w}:${seq}:${part}:`);
  const len = (seq * 7919 + w * 104729 + (part === 'a' ? 0 : 1)) % 3000;
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.fill((seq + w) % 251, head.length);
  return out;
}

/** The batch that writer `w` writes as number `seq`. */
export function crashBatch(w: number, seq: number): WriteOp[] {
  return [
    { type: 'put', key: crashKey(w, seq, 'a'), value: crashValue(w, seq, 'a') },
    { type: 'put', key: crashKey(w, seq, 'b'), value: crashValue(w, seq, 'b') },
  ];
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
