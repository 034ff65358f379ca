/**
 * The accounts of a cluster (etcd's auth store): users with password verifiers and roles, roles
 * with permissions on key ranges, an "enabled" switch and a revision that every change raises.
 * The table lives in PD's replicated state (`src/store/pd-state.ts`), changes are PD commands, and
 * {@link applyAuthChange} is the one deterministic function every PD replica runs on them. Stores
 * outside PD's group hold a copy of the newest revision they were told of (`src/auth/cache.ts`).
 *
 * The built-in role `root` grants everything and cannot be changed; auth can only be enabled
 * while a user `root` holds it (as in etcd), so a cluster never locks its operators out.
 */
import { z } from 'zod';
import { packOwned, unpackValue } from '../codec/msgpack.ts';
import { CorruptCommandError, InvalidArgumentError } from '../errors.ts';

/** What a permission allows on its range. `admin` allows everything, and on the whole key space the cluster's administration. */
export type PermissionKind = 'read' | 'write' | 'readwrite' | 'admin';

/** A permission on the keys `[start, end)`; an empty `end` means "to the last key". */
export interface Permission {
  kind: PermissionKind;
  start: Uint8Array;
  end: Uint8Array;
}

/** scrypt's cost parameters, kept beside each verifier so they can be raised for new passwords. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** What a store keeps of a password (SCRAM, RFC 5802): never the password nor anything that logs in by itself. */
export interface PasswordVerifier {
  salt: Uint8Array;
  scrypt: ScryptParams;
  /** SHA-256(HMAC(saltedPassword, "Client Key")). */
  storedKey: Uint8Array;
  /** HMAC(saltedPassword, "Server Key"). */
  serverKey: Uint8Array;
}

/** A user account. */
export interface AuthUser {
  name: string;
  verifier: PasswordVerifier;
  roles: string[];
  /** The table revision at which the password was last set: tokens issued before it are void. */
  passwordRevision: number;
}

/** A named set of permissions. */
export interface AuthRole {
  name: string;
  permissions: Permission[];
}

/** The whole account table. Invariant: users and roles sorted by name, names unique. */
export interface AuthTable {
  /** Raised by every change; 0 for the empty table nobody wrote. */
  revision: number;
  enabled: boolean;
  users: AuthUser[];
  roles: AuthRole[];
}

/** A change to the table, as proposed to PD's group. */
export type AuthChange =
  | { op: 'userAdd'; name: string; verifier: PasswordVerifier }
  | { op: 'userRemove'; name: string }
  | { op: 'userPasswd'; name: string; verifier: PasswordVerifier }
  | { op: 'userGrant'; name: string; role: string }
  | { op: 'userRevoke'; name: string; role: string }
  | { op: 'roleAdd'; name: string }
  | { op: 'roleRemove'; name: string }
  | { op: 'roleGrant'; name: string; permission: Permission }
  | { op: 'roleRevoke'; name: string; permission: Permission }
  | { op: 'enable' }
  | { op: 'disable' };

/** The built-in role that grants everything. */
export const ROOT_ROLE = 'root';
/** The user that must exist (with {@link ROOT_ROLE}) before auth can be enabled. */
export const ROOT_USER = 'root';
/** Most users, roles, and permissions per role a table holds. */
export const USERS_MAX = 1000;
export const ROLES_MAX = 1000;
export const PERMISSIONS_PER_ROLE_MAX = 256;

/** The table of a cluster where no account was ever made. */
export const EMPTY_AUTH_TABLE: AuthTable = { revision: 0, enabled: false, users: [], roles: [] };

const bytes = z.instanceof(Uint8Array);
/** Names are short printable words so that they can appear in tokens, logs and messages as they are. */
export const nameSchema = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/);
const keyBytes = bytes.refine((b) => b.length <= 4096, 'a range bound is at most 4096 bytes');
export const permissionSchema = z.object({ kind: z.enum(['read', 'write', 'readwrite', 'admin']), start: keyBytes, end: keyBytes });
export const verifierSchema = z.object({
  salt: bytes.refine((b) => b.length >= 16 && b.length <= 64, 'salt of 16..64 bytes'),
  scrypt: z.object({ N: z.int().min(2).max(2 ** 20), r: z.int().min(1).max(32), p: z.int().min(1).max(16) }),
  storedKey: bytes.refine((b) => b.length === 32, '32 bytes'),
  serverKey: bytes.refine((b) => b.length === 32, '32 bytes'),
});
const userSchema = z.object({ name: nameSchema, verifier: verifierSchema, roles: z.array(nameSchema).max(ROLES_MAX), passwordRevision: z.int().nonnegative() });
const roleSchema = z.object({ name: nameSchema, permissions: z.array(permissionSchema).max(PERMISSIONS_PER_ROLE_MAX) });
const tableSchema = z.object({ revision: z.int().nonnegative(), enabled: z.boolean(), users: z.array(userSchema).max(USERS_MAX), roles: z.array(roleSchema).max(ROLES_MAX) });
export const authChangeSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('userAdd'), name: nameSchema, verifier: verifierSchema }),
  z.object({ op: z.literal('userRemove'), name: nameSchema }),
  z.object({ op: z.literal('userPasswd'), name: nameSchema, verifier: verifierSchema }),
  z.object({ op: z.literal('userGrant'), name: nameSchema, role: nameSchema }),
  z.object({ op: z.literal('userRevoke'), name: nameSchema, role: nameSchema }),
  z.object({ op: z.literal('roleAdd'), name: nameSchema }),
  z.object({ op: z.literal('roleRemove'), name: nameSchema }),
  z.object({ op: z.literal('roleGrant'), name: nameSchema, permission: permissionSchema }),
  z.object({ op: z.literal('roleRevoke'), name: nameSchema, permission: permissionSchema }),
  z.object({ op: z.literal('enable') }),
  z.object({ op: z.literal('disable') }),
]);

/** Encodes a table for storage or the wire. */
export function encodeAuthTable(table: AuthTable): Uint8Array {
  return packOwned(table);
}

/** Decodes and validates a table; throws {@link CorruptCommandError} for anything else. */
export function decodeAuthTable(b: Uint8Array): AuthTable {
  let raw: unknown;
  try {
    raw = unpackValue(b);
  } catch (e) {
    throw new CorruptCommandError(`auth table is not MessagePack: ${(e as Error).message}`);
  }
  const parsed = tableSchema.safeParse(raw);
  if (!parsed.success) throw new CorruptCommandError(`auth table is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data as AuthTable;
}

/** The user called `name`, if any. */
export function findUser(table: AuthTable, name: string): AuthUser | undefined {
  return table.users.find((u) => u.name === name);
}

/** The permissions of `user` through its roles (`root` expands to admin on everything). */
export function permissionsOf(table: AuthTable, user: AuthUser): Permission[] {
  const out: Permission[] = [];
  for (const r of user.roles) {
    if (r === ROOT_ROLE) out.push({ kind: 'admin', start: new Uint8Array(0), end: new Uint8Array(0) });
    else out.push(...(table.roles.find((x) => x.name === r)?.permissions ?? []));
  }
  return out;
}

function samePermission(a: Permission, b: Permission): boolean {
  return a.kind === b.kind && equalBytes(a.start, b.start) && equalBytes(a.end, b.end);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A refused change: what was wrong, nothing changed. */
function refused(argument: string, detail: string): { ok: false; error: InvalidArgumentError } {
  return { ok: false, error: new InvalidArgumentError(argument, detail) };
}

/**
 * Applies `change` to `table`. Pure and deterministic (every PD replica gets the same result);
 * a change that does not fit the table is refused whole with an `InvalidArgumentError`.
 * @returns the new table (revision raised by one) or the error.
 */
export function applyAuthChange(table: AuthTable, change: AuthChange): { ok: true; table: AuthTable } | { ok: false; error: InvalidArgumentError } {
  const revision = table.revision + 1;
  const users = table.users.map((u) => ({ ...u, roles: [...u.roles] }));
  const roles = table.roles.map((r) => ({ ...r, permissions: [...r.permissions] }));
  const user = 'name' in change ? users.find((u) => u.name === change.name) : undefined;
  const role = 'name' in change ? roles.find((r) => r.name === change.name) : undefined;
  const rootLocked = (name: string) => table.enabled && name === ROOT_USER;
  switch (change.op) {
    case 'userAdd':
      if (user) return refused('user', `user "${change.name}" already exists`);
      if (users.length >= USERS_MAX) return refused('user', `the table holds ${USERS_MAX} users already`);
      users.push({ name: change.name, verifier: change.verifier, roles: [], passwordRevision: revision });
      break;
    case 'userRemove':
      if (!user) return refused('user', `no user "${change.name}"`);
      if (rootLocked(change.name)) return refused('user', 'user root cannot be removed while auth is enabled (run `flotilla auth disable` first)');
      users.splice(users.indexOf(user), 1);
      break;
    case 'userPasswd':
      if (!user) return refused('user', `no user "${change.name}"`);
      user.verifier = change.verifier;
      user.passwordRevision = revision;
      break;
    case 'userGrant':
      if (!user) return refused('user', `no user "${change.name}"`);
      if (change.role !== ROOT_ROLE && !roles.some((r) => r.name === change.role)) return refused('role', `no role "${change.role}"`);
      if (!user.roles.includes(change.role)) user.roles = [...user.roles, change.role].sort();
      break;
    case 'userRevoke':
      if (!user) return refused('user', `no user "${change.name}"`);
      if (!user.roles.includes(change.role)) return refused('role', `user "${change.name}" does not have role "${change.role}"`);
      if (rootLocked(change.name) && change.role === ROOT_ROLE) return refused('role', 'role root cannot be taken from user root while auth is enabled');
      user.roles = user.roles.filter((r) => r !== change.role);
      break;
    case 'roleAdd':
      if (change.name === ROOT_ROLE || role) return refused('role', `role "${change.name}" already exists`);
      if (roles.length >= ROLES_MAX) return refused('role', `the table holds ${ROLES_MAX} roles already`);
      roles.push({ name: change.name, permissions: [] });
      break;
    case 'roleRemove':
      if (change.name === ROOT_ROLE) return refused('role', 'the built-in role root cannot be removed');
      if (!role) return refused('role', `no role "${change.name}"`);
      roles.splice(roles.indexOf(role), 1);
      for (const u of users) u.roles = u.roles.filter((r) => r !== change.name);
      break;
    case 'roleGrant':
      if (change.name === ROOT_ROLE) return refused('role', 'the built-in role root grants everything already');
      if (!role) return refused('role', `no role "${change.name}"`);
      if (!role.permissions.some((p) => samePermission(p, change.permission))) {
        if (role.permissions.length >= PERMISSIONS_PER_ROLE_MAX) return refused('permission', `role "${change.name}" holds ${PERMISSIONS_PER_ROLE_MAX} permissions already`);
        role.permissions.push(change.permission);
      }
      break;
    case 'roleRevoke':
      if (!role) return refused('role', `no role "${change.name}"`);
      if (!role.permissions.some((p) => samePermission(p, change.permission))) return refused('permission', `role "${change.name}" has no such permission`);
      role.permissions = role.permissions.filter((p) => !samePermission(p, change.permission));
      break;
    case 'enable': {
      const root = users.find((u) => u.name === ROOT_USER);
      if (!root?.roles.includes(ROOT_ROLE)) return refused('auth', 'add user root and grant it role root first (`flotilla user add root`, `flotilla user grant root root`)');
      if (table.enabled) return { ok: true, table };
      break;
    }
    case 'disable':
      if (!table.enabled) return { ok: true, table };
      break;
  }
  const enabled = change.op === 'enable' ? true : change.op === 'disable' ? false : table.enabled;
  return { ok: true, table: { revision, enabled, users: users.sort(byName), roles: roles.sort(byName) } };
}

/** The table without password verifiers, for `user list/get` and status answers. */
export function publicView(table: AuthTable): { revision: number; enabled: boolean; users: Array<{ name: string; roles: string[] }>; roles: AuthRole[] } {
  return { revision: table.revision, enabled: table.enabled, users: table.users.map((u) => ({ name: u.name, roles: u.roles })), roles: table.roles };
}
