/**
 * Child process of the fs crash test: opens the store, then keeps writing synced batches from
 * several concurrent writers and prints `ack <writer> <seq>` after each one resolves, until the
 * parent kills it with SIGKILL. Run as `node --import tsx crash-child.ts <dir> <startSeq> <writers>`.
 */
import process from 'node:process';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { crashBatch } from './crash-data.ts';

const [dir, startSeqArg, writersArg] = process.argv.slice(2);
const startSeq = Number(startSeqArg);
const writers = Number(writersArg);

// A small checkpoint threshold so that kills also land in log rotation and checkpoint writing.
const db = await createFsStorage({ dir, checkpointLogBytes: 256 * 1024 });
process.stdout.write('open\n');

async function writer(w: number): Promise<void> {
  for (let seq = startSeq; ; seq++) {
    await db.write(crashBatch(w, seq), { sync: true });
    process.stdout.write(`ack ${w} ${seq}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
