/**
 * Runs the lmdb engine under Deno (spawned by `lmdb-runtime.test.ts`): write, close, reopen, read.
 * Proves that the optional `lmdb` package's prebuilt binary loads in Deno 2. Prints `ok <n>`.
 */
import { createLmdbStorage } from '../../adapters/storage/lmdb.ts';

const dir = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args[0];
let db = await createLmdbStorage({ dir });
for (let i = 0; i < 100; i++) await db.write([{ type: 'put', key: new Uint8Array([1, i]), value: new Uint8Array(40).fill(i) }], { sync: i % 2 === 0 });
await db.write([{ type: 'deleteRange', start: new Uint8Array([1, 0]), end: new Uint8Array([1, 10]) }], { sync: true });
await db.close();
db = await createLmdbStorage({ dir });
const rows = await db.scan();
await db.close();
console.log(`ok ${rows.length} ${rows[0].key[1]}`);
