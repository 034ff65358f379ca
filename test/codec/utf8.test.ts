import { describe, expect, it } from 'vitest';
import { encodeUtf8 } from '../../src/codec/utf8.ts';
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
});
