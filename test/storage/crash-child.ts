/**
 * Child process of the crash test (fs, or lmdb when the fourth argument says so): opens the store, then keeps writing synced batches from
 * several concurrent writers and prints `ack <writer> <seq>` after each one resolves, until the
 * parent kills it with SIGKILL. Run as `node --import tsx crash-child.ts <dir> <startSeq> <writers> [fs|lmdb]`.
 */
import process from 'node:process';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { createLmdbStorage } from '../../adapters/storage/lmdb.ts';
import { crashBatch } from './crash-data.ts';

const [dir, startSeqArg, writersArg, engine] = process.argv.slice(2);
const startSeq = Number(startSeqArg);
const writers = Number(writersArg);

// A small checkpoint threshold so that kills also land in log rotation and checkpoint writing.
const db = engine === 'lmdb' ? await createLmdbStorage({ dir }) : await createFsStorage({ dir, checkpointLogBytes: 256 * 1024 });
process.stdout.write('open\n');

async function writer(w: number): Promise<void> {
  for (let seq = startSeq; ; seq++) {
    await db.write(crashBatch(w, seq), { sync: true });
    process.stdout.write(`ack ${w} ${seq}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
