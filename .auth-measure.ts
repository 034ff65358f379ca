import { authorize, requestNeeds } from './src/auth/permissions.ts';
import { DEFAULT_SCRYPT, makeVerifier, saltPassword } from './src/auth/scram.ts';
import { applyAuthChange, EMPTY_AUTH_TABLE, type AuthTable } from './src/auth/table.ts';
import { deriveTokenKey, issueToken, verifyToken } from './src/auth/token.ts';
const enc = (s: string) => new TextEncoder().encode(s);
let t0 = performance.now();
const v = await makeVerifier('password', new Uint8Array(16), DEFAULT_SCRYPT);
console.log(`scrypt N=2^15 r=8 p=1 (one password login, client side): ${(performance.now() - t0).toFixed(0)} ms`);
let table: AuthTable = EMPTY_AUTH_TABLE;
const ap = (c: any) => { const r = applyAuthChange(table, c); if (!r.ok) throw r.error; table = r.table; };
ap({ op: 'userAdd', name: 'u', verifier: v });
for (let i = 0; i < 50; i++) { ap({ op: 'roleAdd', name: `r${i}` }); for (let j = 0; j < 4; j++) ap({ op: 'roleGrant', name: `r${i}`, permission: { kind: 'readwrite', start: enc(`p${i}/${j}/`), end: enc(`p${i}/${j}0`) } }); ap({ op: 'userGrant', name: 'u', role: `r${i}` }); }
ap({ op: 'userAdd', name: 'root', verifier: v }); ap({ op: 'userGrant', name: 'root', role: 'root' }); ap({ op: 'enable' });
const req = { type: 'write', regionId: 1, epoch: { confVer: 1, version: 1 }, clientId: 'c', seq: 1, op: { type: 'batchPut', entries: Array.from({ length: 16 }, (_, i) => ({ key: enc(`p49/3/${i}`), value: enc('v') })) } } as const;
const n = 20000;
t0 = performance.now();
for (let i = 0; i < n; i++) { const { operation, needs } = requestNeeds(req as never); authorize(table, 'u', operation, needs); }
console.log(`authorize a 16-key batch, user with 50 roles x 4 ranges: ${(((performance.now() - t0) / n) * 1000).toFixed(1)} µs/request`);
const key = deriveTokenKey('cluster secret of 16+ bytes', 'c');
const tk = issueToken(key, 'c', { user: 'u', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60000, revision: table.revision });
t0 = performance.now();
for (let i = 0; i < n; i++) verifyToken(key, 'c', tk, Date.now(), table);
console.log(`verify a token (token login, store side): ${(((performance.now() - t0) / n) * 1000).toFixed(1)} µs`);
