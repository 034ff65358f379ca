import { describe, expect, it } from 'vitest';
import { chooseLink, type LinkFacts } from '../../src/transport/link-choice.ts';

const out = (more: Partial<LinkFacts> = {}): LinkFacts => ({ direction: 'out', ...more });
const inn = (more: Partial<LinkFacts> = {}): LinkFacts => ({ direction: 'in', ...more });

describe('chooseLink', () => {
  it('lets a newer link dialled from the same side replace the older one', () => {
    expect(chooseLink(1, 3, inn({ incarnation: 'a' }), inn({ incarnation: 'a' })).replace).toBe(true);
    expect(chooseLink(3, 1, out({ incarnation: 'a' }), out({ incarnation: 'a' })).replace).toBe(true);
  });

  it('lets a link of another incarnation (a restarted store) replace the old one, whichever side dialled', () => {
    expect(chooseLink(2, 1, out({ incarnation: 'a' }), inn({ incarnation: 'b' })).replace).toBe(true);
    expect(chooseLink(1, 2, inn({ incarnation: 'a' }), out({ incarnation: 'b' })).replace).toBe(true);
  });

  it('keeps, on both ends alike, the link the higher id dialled when both ends dialled', () => {
    // Store 1 and store 2 dialled each other. On store 1, 2's link is `in`; on store 2 it is `out`.
    const at1 = (current: LinkFacts, incoming: LinkFacts) => chooseLink(1, 2, current, incoming).replace;
    const at2 = (current: LinkFacts, incoming: LinkFacts) => chooseLink(2, 1, current, incoming).replace;
    // Whichever authenticated first, both ends end with the link dialled by 2.
    expect(at1(out(), inn())).toBe(true);
    expect(at1(inn(), out())).toBe(false);
    expect(at2(inn(), out())).toBe(true);
    expect(at2(out(), inn())).toBe(false);
  });

  it('lets a user replace only a link of the same user, never a store or a secret holder', () => {
    expect(chooseLink(1, 2 ** 41, inn({ user: 'ann' }), inn({ user: 'ann' })).replace).toBe(true);
    expect(chooseLink(1, 2 ** 41, inn({ user: 'ann' }), inn({ user: 'bob' }))).toMatchObject({ replace: false, reason: expect.stringMatching(/another user/) });
    expect(chooseLink(1, 2 ** 41, inn(), inn({ user: 'ann' }))).toMatchObject({ replace: false, reason: expect.stringMatching(/cluster-secret holder/) });
    expect(chooseLink(1, 3, inn({ incarnation: 'a' }), inn({ user: 'ann' })).replace).toBe(false);
    // A link proving the cluster secret may replace a user's (it could do anything anyway).
    expect(chooseLink(1, 2 ** 41, inn({ user: 'ann' }), inn()).replace).toBe(true);
  });
});
