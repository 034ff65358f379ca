/**
 * Runs the fs engine under Deno (spawned by `fs-runtime.test.ts`): write, close, reopen, read.
 * Proves that `adapters/storage/fs.ts` runs unchanged on Deno's `node:fs`. Prints `ok <n>`.
 */
import { createFsStorage } from '../../adapters/storage/fs.ts';

const dir = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args[0];
let db = await createFsStorage({ dir, checkpointLogBytes: 2048 });
const writes: Promise<void>[] = [];
for (let i = 0; i < 200; i++) writes.push(db.write([{ type: 'put', key: new Uint8Array([1, i]), value: new Uint8Array(40).fill(i) }], { sync: i % 2 === 0 }));
await Promise.all(writes);
for (let i = 0; i < 50; i++) await db.write([{ type: 'delete', key: new Uint8Array([1, i]) }], { sync: true });
await db.close();
db = await createFsStorage({ dir });
const rows = await db.scan();
await db.close();
console.log(`ok ${rows.length} ${rows[0].key[1]}`);
