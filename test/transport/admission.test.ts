import { describe, expect, it } from 'vitest';
import { type AdmissionTicket, addressKey, createAdmission } from '../../src/transport/admission.ts';

function clock() {
  let t = 1000;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

function admitOk(a: ReturnType<typeof createAdmission>, address: string): AdmissionTicket {
  const v = a.admit(address);
  if (!v.ok) throw new Error(`refused ${address}: ${v.refusal}`);
  return v.ticket;
}

describe('admission', () => {
  it('caps unauthenticated sockets per address with 429, and frees a slot on authentication or close', () => {
    const c = clock();
    const a = createAdmission({ now: c.now, unauthenticatedPerAddressMax: 2, unauthenticatedMax: 10 });
    const t1 = admitOk(a, '10.0.0.1');
    const t2 = admitOk(a, '10.0.0.1');
    const third = a.admit('10.0.0.1');
    expect(third).toMatchObject({ ok: false, refusal: 'TooManyFromAddress', status: 429 });
    // Another address is not affected.
    admitOk(a, '10.0.0.2');
    t1.authenticated();
    const t3 = admitOk(a, '10.0.0.1');
    // An authenticated socket closing does not free a slot twice.
    t1.closed();
    expect(a.admit('10.0.0.1').ok).toBe(false);
    t2.closed();
    t2.closed();
    admitOk(a, '10.0.0.1');
    expect(a.stats()).toMatchObject({ unauthenticated: 3, refused: { TooManyFromAddress: 2 } });
    t3.authenticated();
    expect(a.stats().unauthenticated).toBe(2);
  });

  it('caps unauthenticated sockets overall with 503', () => {
    const a = createAdmission({ now: clock().now, unauthenticatedPerAddressMax: 5, unauthenticatedMax: 3 });
    const tickets = ['a', 'b', 'c'].map((ip) => admitOk(a, ip));
    expect(a.admit('d')).toMatchObject({ ok: false, refusal: 'TooManyUnauthenticated', status: 503 });
    tickets[0].closed();
    admitOk(a, 'd');
    expect(a.stats().refused.TooManyUnauthenticated).toBe(1);
  });

  it('backs off an address after authFailuresMax failed logins in the window, and only that address', () => {
    const c = clock();
    const a = createAdmission({ now: c.now, authFailuresMax: 3, authFailureWindowMs: 1000, authBanMs: 5000 });
    for (let i = 0; i < 2; i++) admitOk(a, 'bad').refused('BadProof');
    // Failures that age out of the window do not count.
    c.advance(1001);
    for (let i = 0; i < 2; i++) admitOk(a, 'bad').refused('BadCredentials');
    admitOk(a, 'bad').refused('Malformed');
    expect(a.admit('bad').ok).toBe(true);
    admitOk(a, 'bad').refused('BadProof');
    expect(a.admit('bad')).toMatchObject({ ok: false, refusal: 'AuthBackoff', status: 429 });
    expect(a.admit('good').ok).toBe(true);
    expect(a.stats()).toMatchObject({ addressesInBackoff: 1, authFailures: 5 });
    c.advance(4999);
    expect(a.admit('bad').ok).toBe(false);
    c.advance(1);
    expect(a.admit('bad').ok).toBe(true);
    expect(a.stats()).toMatchObject({ addressesInBackoff: 0, refused: { AuthBackoff: 2 } });
  });

  it('counts one failure per ticket however often it is reported', () => {
    const a = createAdmission({ now: clock().now, authFailuresMax: 2 });
    const t = admitOk(a, 'x');
    t.refused('BadProof');
    t.refused('BadProof');
    expect(a.admit('x').ok).toBe(true);
    expect(a.stats().authFailures).toBe(1);
  });

  it('remembers the failures of at most addressesTrackedMax addresses', () => {
    const a = createAdmission({ now: clock().now, authFailuresMax: 2, addressesTrackedMax: 2 });
    admitOk(a, 'x').refused('BadProof');
    admitOk(a, 'y').refused('BadProof');
    admitOk(a, 'z').refused('BadProof');
    // x was forgotten: its next failure is its first again.
    admitOk(a, 'x').refused('BadProof');
    expect(a.admit('x').ok).toBe(true);
    admitOk(a, 'z').refused('BadProof');
    expect(a.admit('z').ok).toBe(false);
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 addresses by their /64', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0DB8:0000:0001:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    const a = createAdmission({ now: () => 0, unauthenticatedPerAddressMax: 1 });
    admitOk(a, '2001:db8:0:1::5');
    expect(a.admit('2001:db8:0:1::6')).toMatchObject({ ok: false, refusal: 'TooManyFromAddress' });
    admitOk(a, '2001:db8:0:2::5');
  });

  it('refuses limits that are not positive integers', () => {
    expect(() => createAdmission({ now: () => 0, unauthenticatedMax: 0 })).toThrow(RangeError);
    expect(() => createAdmission({ now: () => 0, authBanMs: 1.5 })).toThrow(/authBanMs/);
  });
});
