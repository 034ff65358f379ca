import { describe, expect, it } from 'vitest';
import { encodeUtf8, encodeUtf8Shared } from '../../src/codec/utf8.ts';
import { createSeededRand } from '../../src/util/rand.ts';

describe('encodeUtf8', () => {
  const encoder = new TextEncoder();

  it('matches TextEncoder on ASCII, multi-byte text, pairs and lone surrogates', () => {
    for (const s of ['', 'key-0001', 'é', 'aé€😀z', '\ud800', 'a\udc00b', '\ud83d', '😀\ud83d', 'x'.repeat(100) + '€', '\u007f\u0080\u07ff\u0800\uffff']) {
      expect(encodeUtf8(s)).toEqual(encoder.encode(s));
    }
  });

  it('matches TextEncoder on random strings of any code units', () => {
    const rand = createSeededRand(9);
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff];
    for (let n = 0; n < 2000; n++) {
      let s = '';
      const len = Math.floor(rand.next() * 12);
      for (let i = 0; i < len; i++) {
        const u = rand.next() < 0.5 ? units[Math.floor(rand.next() * units.length)] : Math.floor(rand.next() * 0x10000);
        s += String.fromCharCode(u);
      }
      expect(encodeUtf8(s)).toEqual(encoder.encode(s));
    }
  });
  it('encodeUtf8Shared: the same bytes, earlier results intact over many chunks; mid-size ASCII shares a buffer', () => {
    const rand = createSeededRand(3);
    const made: Array<[string, Uint8Array]> = [];
    for (let n = 0; n < 3000; n++) {
      const len = [0, 64, 65, 100, 1024, 1025][n % 6] + Math.floor(rand.next() * 3);
      let s = '';
      for (let i = 0; i < len; i++) s += String.fromCharCode(rand.next() < 0.002 ? 0xe9 : 0x20 + Math.floor(rand.next() * 0x5f));
      made.push([s, encodeUtf8Shared(s)]);
    }
    for (const [s, b] of made) expect(b).toEqual(encoder.encode(s));
    const a = encodeUtf8Shared('a'.repeat(100));
    const b = encodeUtf8Shared('b'.repeat(100));
    expect(a.buffer).toBe(b.buffer);
    expect(encodeUtf8Shared('c'.repeat(64)).byteLength).toBe(encodeUtf8Shared('c'.repeat(64)).buffer.byteLength);
  });
});
