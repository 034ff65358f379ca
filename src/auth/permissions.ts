/**
 * What a request needs and whether a user has it (pure). Every store runs {@link authorize} on
 * every call of a logged-in client before anything else, against the table it holds now, so a
 * revoked role or a removed user stops working at once, whatever its token says.
 *
 * Reads (get, multiGet, containsKey, scans, latest sequence) need `read` on every key or range
 * they touch; writes need `write`; writes that answer with or depend on the value before
 * (getAndPut, putIfAbsent, compareAndPut, batchCompareAndPut) need both, as they reveal
 * it; locks and sequences are writes. A txn needs `read` on every key it compares or gets and
 * `write` on every key or range it puts or deletes, in both branches (which one runs is decided
 * only when it applies). Region administration (split, merge, leader transfer,
 * membership) and cluster administration (store states, users and roles) need `admin` on the
 * whole key space. A request is allowed whole or refused whole: nothing of it runs.
 */
import { PermissionDeniedError } from '../errors.ts';
import type { KvReadOp, KvWriteOp } from '../kv/commands.ts';
import { compareEndKeys, compareKeys, nextKey } from '../region/keys.ts';
import { type AuthTable, findUser, type Permission, type PermissionKind, permissionsOf } from './table.ts';

/** A kind of access a request needs. */
export type Access = 'read' | 'write' | 'admin';

/** One thing a request needs: `access` on `[start, end)` (empty end: to the last key). */
export interface Need {
  access: Access;
  start: Uint8Array;
  end: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/** Admin on everything: what cluster administration needs. */
export const ADMIN_ALL: Need = { access: 'admin', start: EMPTY, end: EMPTY };

function allows(kind: PermissionKind, access: Access): boolean {
  if (kind === 'admin') return true;
  if (access === 'read') return kind === 'read' || kind === 'readwrite';
  if (access === 'write') return kind === 'write' || kind === 'readwrite';
  return false;
}

const point = (access: Access, key: Uint8Array): Need => ({ access, start: key, end: nextKey(key) });
const both = (key: Uint8Array): Need[] => [point('read', key), point('write', key)];

function writeNeeds(op: KvWriteOp): Need[] {
  switch (op.type) {
    case 'put':
    case 'leasePut':
    case 'delete':
    case 'getSequence':
    case 'resetSequence':
    case 'tryLock':
    case 'renewLock':
    case 'unlock':
      return [point('write', op.key)];
    case 'getAndPut':
    case 'putIfAbsent':
    case 'compareAndPut':
      return both(op.key);
    case 'merge':
      return [point('write', op.key)];
    case 'deleteRange':
      return [{ access: 'write', start: op.start, end: op.end }];
    case 'batchPut':
      return op.entries.map((e) => point('write', e.key));
    case 'batchDelete':
      return op.keys.map((k) => point('write', k));
    case 'batchCompareAndPut':
      return op.entries.flatMap((e) => both(e.key));
    case 'expireSessions':
    case 'revokeLease':
      return [ADMIN_ALL]; // store-internal: never accepted from a client's call
    case 'compact':
      return [ADMIN_ALL]; // drops history every watcher of the region may still need
    case 'txn':
      return [
        ...op.compare.map((c) => point('read', c.key)),
        ...[...op.success, ...op.failure].map((x) => {
          if (x.type === 'get') return point('read', x.key);
          if (x.type === 'deleteRange') return { access: 'write' as const, start: x.start, end: x.end };
          return point('write', x.key);
        }),
      ];
  }
}

function readNeeds(op: KvReadOp): Need[] {
  switch (op.type) {
    case 'get':
    case 'containsKey':
    case 'getLatestSequence':
      return [point('read', op.key)];
    case 'multiGet':
      return op.keys.map((k) => point('read', k));
    case 'scan':
    case 'reverseScan':
    case 'watch':
      return [{ access: 'read', start: op.start, end: op.end }];
    case 'getAt':
      return [point('read', op.key)];
  }
}

/**
 * The shape of a store request as far as permissions go (`src/store/requests.ts`'s `StoreRequest`
 * has it; named here so that auth, below the store, does not import it).
 */
export type CheckedRequest = { type: 'write'; op: KvWriteOp } | { type: 'read'; op: KvReadOp } | { type: 'regions' } | { type: 'ident' } | { type: 'admin'; op: { kind: string } } | { type: 'recovery'; op: { kind: string } } | { type: 'backup'; op: { kind: string } } | { type: 'pdMembers' } | { type: 'lease'; op: { kind: string } };

/** What `request` needs, and the operation name a refusal reports. */
export function requestNeeds(request: CheckedRequest): { operation: string; needs: Need[] } {
  switch (request.type) {
    case 'write':
      return { operation: request.op.type, needs: writeNeeds(request.op) };
    case 'read':
      return { operation: request.op.type, needs: readNeeds(request.op) };
    case 'regions':
      // Routing needs the region map; its boundaries are visible to every logged-in user.
      return { operation: 'regions', needs: [] };
    case 'ident':
      // Which incarnation a store runs is what rejoining it needs; it says nothing about keys.
      return { operation: 'ident', needs: [] };
    case 'admin':
      return { operation: request.op.kind, needs: [ADMIN_ALL] };
    case 'recovery':
      // Unsafe recovery rewrites memberships and may lose writes: admin over every key.
      return { operation: `recovery ${request.op.kind}`, needs: [ADMIN_ALL] };
    case 'backup':
      // A backup reads every key: only an admin of the whole key space may take one.
      return { operation: `backup ${request.op.kind}`, needs: [ADMIN_ALL] };
    case 'pdMembers':
      // Where PD runs is cluster administration.
      return { operation: 'pdMembers', needs: [ADMIN_ALL] };
    case 'lease':
      // A lease holds no key itself: any logged-in user may grant and keep one (its keys are
      // checked when put). Revoking deletes whatever keys others attached, which the store cannot
      // check key by key: it needs write on every key (docs/leases.md).
      return { operation: `lease ${request.op.kind}`, needs: request.op.kind === 'revoke' ? [{ access: 'write', start: EMPTY, end: EMPTY }] : [] };
  }
}

/** A key range `[start, end)`; an empty end: to the last key. */
interface Span {
  start: Uint8Array;
  end: Uint8Array;
}

/** The union of `ranges` as disjoint spans sorted by start (touching ranges joined). */
function union(ranges: readonly Span[]): Span[] {
  const sorted = [...ranges].sort((x, y) => compareKeys(x.start, y.start));
  const out: Span[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    // Bytewise: an empty start is the first key, an empty end the last.
    if (last && (last.end.length === 0 || compareKeys(last.end, r.start) >= 0)) {
      if (compareEndKeys(r.end, last.end) > 0) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Whether the disjoint sorted `spans` cover `[start, end)`: one span must hold it all. */
function covered(spans: readonly Span[], start: Uint8Array, end: Uint8Array): boolean {
  // The last span starting at or before `start` (binary search).
  let lo = 0;
  let hi = spans.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(spans[mid].start, start) <= 0) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (at < 0) return false;
  const span = spans[at];
  if (span.end.length === 0) return true;
  return end.length > 0 && compareKeys(span.end, end) >= 0 && compareKeys(span.end, start) > 0;
}

/** What a user's permissions grant for each access, as disjoint sorted spans. */
type Usable = Record<Access, Span[]>;

function usableOf(permissions: readonly Permission[]): Usable {
  const pick = (access: Access) => union(permissions.filter((p) => allows(p.kind, access)));
  return { read: pick('read'), write: pick('write'), admin: pick('admin') };
}

/**
 * Sorted permissions per table and user: a table is never changed in place (every change makes a
 * new one), so they hold as long as the table object is the one in force.
 */
const usableCache = new WeakMap<AuthTable, Map<string, Usable>>();

/** Whether `permissions` satisfy `need`. */
export function satisfies(permissions: readonly Permission[], need: Need): boolean {
  return satisfiesUsable(usableOf(permissions), need);
}

function satisfiesUsable(usable: Usable, need: Need): boolean {
  if (need.end.length > 0 && compareKeys(need.start, need.end) >= 0) return true; // an empty range touches nothing
  return covered(usable[need.access], need.start, need.end);
}

/**
 * Refuses with {@link PermissionDeniedError} unless `user` may do all of `needs` under `table`.
 * The error names the operation and the user, never a key.
 * @param table - the auth table in force here now.
 * @param userName - the user the link logged in as.
 * @param operation - what to call the request in the error.
 * @param needs - from {@link requestNeeds} or {@link ADMIN_ALL}.
 */
export function authorize(table: AuthTable, userName: string, operation: string, needs: readonly Need[]): void {
  if (!table.enabled) throw new PermissionDeniedError(operation, 'user logins are off (auth is disabled); log in again once it is enabled');
  const user = findUser(table, userName);
  if (!user) throw new PermissionDeniedError(operation, `user "${userName}" no longer exists`);
  let perUser = usableCache.get(table);
  if (!perUser) {
    perUser = new Map();
    usableCache.set(table, perUser);
  }
  let usable = perUser.get(userName);
  if (!usable) {
    usable = usableOf(permissionsOf(table, user));
    perUser.set(userName, usable);
  }
  for (const need of needs) {
    if (!satisfiesUsable(usable, need)) throw new PermissionDeniedError(operation, `user "${userName}" has no ${need.access} permission for ${need === ADMIN_ALL ? 'the cluster' : 'some of the keys it touches'}`);
  }
}
