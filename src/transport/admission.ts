/**
 * Admission of inbound connections before they authenticate: caps on how many unauthenticated
 * sockets one remote address (and everyone together) may hold open, and a back-off for an address
 * that keeps failing authentication. Pure: the server adapter asks {@link Admission.admit} at
 * upgrade time (before anything beyond the socket is allocated) and reports what became of each
 * admitted socket through its {@link AdmissionTicket}; time comes from an injected `now`.
 *
 * An authenticated link is no longer counted against any cap: the caps bound what strangers can
 * hold, not what the cluster and its clients use.
 */

/** Why an upgrade was refused; each is counted and named in `/metrics`. */
export type AdmissionRefusal =
  /** This address holds `unauthenticatedPerAddressMax` unauthenticated sockets already. */
  | 'TooManyFromAddress'
  /** All addresses together hold `unauthenticatedMax` unauthenticated sockets already. */
  | 'TooManyUnauthenticated'
  /** This address failed authentication `authFailuresMax` times within the window: it waits out `authBanMs`. */
  | 'AuthBackoff';

/** Handshake failure codes that count as a failed login (a wrong secret or wrong user credentials). */
export const AUTH_FAILURE_CODES: ReadonlySet<string> = new Set(['BadProof', 'BadCredentials']);

/** Options of {@link createAdmission}; every field has a default. */
export interface AdmissionOptions {
  /** Unauthenticated sockets one remote address may hold at once (default 16). */
  unauthenticatedPerAddressMax?: number;
  /** Unauthenticated sockets all addresses together may hold at once (default 256). */
  unauthenticatedMax?: number;
  /** Failed logins from one address within `authFailureWindowMs` that start its back-off (default 5). */
  authFailuresMax?: number;
  /** The window failed logins are counted in, in ms (default 60,000). */
  authFailureWindowMs?: number;
  /** How long an address in back-off is refused, in ms (default 30,000). */
  authBanMs?: number;
  /** Addresses whose failures are remembered; the least recently failing is forgotten beyond it (default 10,000). */
  addressesTrackedMax?: number;
  /** Milliseconds on some monotonic clock. */
  now(): number;
}

/** The resolved limits of an {@link Admission}. */
export interface AdmissionLimits {
  unauthenticatedPerAddressMax: number;
  unauthenticatedMax: number;
  authFailuresMax: number;
  authFailureWindowMs: number;
  authBanMs: number;
  addressesTrackedMax: number;
}

/** The defaults of {@link AdmissionOptions}. */
export const DEFAULT_ADMISSION_LIMITS: Readonly<AdmissionLimits> = Object.freeze({
  unauthenticatedPerAddressMax: 16,
  unauthenticatedMax: 256,
  authFailuresMax: 5,
  authFailureWindowMs: 60_000,
  authBanMs: 30_000,
  addressesTrackedMax: 10_000,
});

/** What the adapter tells the admission about one admitted socket. Every method is idempotent. */
export interface AdmissionTicket {
  /** The socket authenticated: it stops counting against the caps. */
  authenticated(): void;
  /** The handshake failed with `code`; a failed login ({@link AUTH_FAILURE_CODES}) counts towards back-off. */
  refused(code: string): void;
  /** The socket closed (authenticated or not). */
  closed(): void;
}

/** The verdict on one upgrade. */
export type AdmissionVerdict =
  | { ok: true; ticket: AdmissionTicket }
  /** Refuse with HTTP `status` (429 for this address, 503 for everyone) and `reason`. */
  | { ok: false; refusal: AdmissionRefusal; status: 429 | 503; reason: string };

/** Counters and gauges of an {@link Admission}. */
export interface AdmissionStats {
  /** Upgrades refused, by reason. */
  refused: Record<AdmissionRefusal, number>;
  /** Failed logins counted (all addresses). */
  authFailures: number;
  /** Unauthenticated sockets open now. */
  unauthenticated: number;
  /** Addresses in back-off now. */
  addressesInBackoff: number;
}

/** Decides which inbound sockets may be upgraded. */
export interface Admission {
  /**
   * Judges an upgrade from `address`; when admitted, the socket counts as unauthenticated until
   * its ticket says otherwise.
   * @param address - the remote IP address (IPv6 addresses count by their /64, see {@link addressKey}).
   */
  admit(address: string): AdmissionVerdict;
  stats(): AdmissionStats;
  readonly limits: AdmissionLimits;
}

interface Failures {
  /** Times of failed logins within the window, oldest first. Invariant: length < authFailuresMax unless banned. */
  times: number[];
  /** Refused until this time (0: not in back-off). */
  bannedUntil: number;
}

/**
 * The key an address is counted under: an IPv4 address as it is (also when IPv4-mapped, as a
 * dual-stack socket reports it), an IPv6 address by its /64 prefix, since one host is usually given
 * a whole /64 and could otherwise take a fresh address for every connection.
 * @param address - the remote IP address as the socket reports it.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const [head, tail] = address.split('%')[0].split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`admission limit ${name} must be a positive safe integer, got ${String(value)}`);
  return value;
}

/**
 * Creates an {@link Admission}.
 * @param options - caps, failure window and back-off, and the clock.
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const limits: AdmissionLimits = { ...DEFAULT_ADMISSION_LIMITS };
  for (const key of Object.keys(limits) as Array<keyof AdmissionLimits>) {
    const v = options[key];
    if (v !== undefined) limits[key] = v;
    positive(key, limits[key]);
  }
  const { now } = options;
  // Invariant: every value is positive, and the sum of the values is `unauthenticated`.
  const open = new Map<string, number>();
  let unauthenticated = 0;
  // Insertion order is recency of the last failure, so the first entry is the one to forget.
  const failures = new Map<string, Failures>();
  const refused: Record<AdmissionRefusal, number> = { TooManyFromAddress: 0, TooManyUnauthenticated: 0, AuthBackoff: 0 };
  let authFailures = 0;

  const release = (address: string) => {
    const n = open.get(address) ?? 0;
    if (n <= 1) open.delete(address);
    else open.set(address, n - 1);
    unauthenticated--;
  };

  const fail = (address: string) => {
    authFailures++;
    const t = now();
    const f = failures.get(address) ?? { times: [], bannedUntil: 0 };
    failures.delete(address);
    failures.set(address, f);
    while (f.times.length > 0 && f.times[0] <= t - limits.authFailureWindowMs) f.times.shift();
    f.times.push(t);
    if (f.times.length >= limits.authFailuresMax) {
      f.bannedUntil = t + limits.authBanMs;
      f.times = [];
    }
    if (failures.size > limits.addressesTrackedMax) failures.delete(failures.keys().next().value as string);
  };

  const inBackoff = (address: string, t: number): boolean => {
    const f = failures.get(address);
    return f !== undefined && f.bannedUntil > t;
  };

  const refuse = (refusal: AdmissionRefusal, status: 429 | 503, reason: string): AdmissionVerdict => {
    refused[refusal]++;
    return { ok: false, refusal, status, reason };
  };

  return {
    limits,
    admit(remote) {
      const address = addressKey(remote);
      if (inBackoff(address, now())) return refuse('AuthBackoff', 429, 'too many failed logins from this address; try again later');
      const mine = open.get(address) ?? 0;
      if (mine >= limits.unauthenticatedPerAddressMax) return refuse('TooManyFromAddress', 429, 'too many unauthenticated connections from this address');
      if (unauthenticated >= limits.unauthenticatedMax) return refuse('TooManyUnauthenticated', 503, 'too many unauthenticated connections');
      open.set(address, mine + 1);
      unauthenticated++;
      let state: 'pending' | 'authenticated' | 'closed' = 'pending';
      let failed = false;
      return {
        ok: true,
        ticket: {
          authenticated() {
            if (state !== 'pending') return;
            state = 'authenticated';
            release(address);
          },
          refused(code) {
            if (failed) return;
            failed = true;
            if (AUTH_FAILURE_CODES.has(code)) fail(address);
          },
          closed() {
            if (state === 'pending') release(address);
            state = 'closed';
          },
        },
      };
    },
    stats() {
      const t = now();
      let banned = 0;
      for (const f of failures.values()) if (f.bannedUntil > t) banned++;
      return { refused: { ...refused }, authFailures, unauthenticated, addressesInBackoff: banned };
    },
  };
}
