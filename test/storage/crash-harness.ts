/**
 * The crash test (fs or lmdb engine), shared by `crash.test.ts` (a moderate number of kills in `npm test`) and
 * `crash-soak.ts` (`npm run soak:storage -- --kills 200`). Each round starts a child process that
 * writes synced batches and reports each acknowledgement, SIGKILLs it at a random moment (also
 * during start-up and recovery), then reopens the store here and checks that every acknowledged
 * batch is present and intact, that no batch is half there, and that each writer's batches form
 * a prefix. It then deletes what it checked so the next round starts small.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { createLmdbStorage } from '../../adapters/storage/lmdb.ts';
import type { Logger } from '../../src/ports.ts';
import { crashKey, crashValue } from './crash-data.ts';
import { hex, seededRand } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Options of {@link runCrashRounds}. */
export interface CrashRunOptions {
  kills: number;
  seed: number;
  dir: string;
  writers?: number;
  log?: (line: string) => void;
  /** The engine under test; default fs. */
  engine?: 'fs' | 'lmdb';
}

/** What the rounds saw. */
export interface CrashRunResult {
  kills: number;
  killedBeforeOpen: number;
  ackedBatches: number;
  tornTailsDropped: number;
  checkpointsSeen: number;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Runs one child until it is killed; returns the highest acknowledged seq per writer. */
async function runChild(engine: string, dir: string, startSeq: number, writers: number, killAfterOpenMs: number, killBeforeOpenMs: number | undefined) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(startSeq), String(writers), engine], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Array<number>(writers).fill(startSeq - 1);
  let opened = false;
  let killed = false;
  let stderr = '';
  let buffered = '';
  const kill = () => {
    killed = true;
    child.kill('SIGKILL');
  };
  const early = killBeforeOpenMs === undefined ? undefined : setTimeout(kill, killBeforeOpenMs);
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'open') {
        opened = true;
        if (early === undefined) setTimeout(kill, killAfterOpenMs);
        continue;
      }
      const [tag, w, seq] = line.split(' ');
      if (tag !== 'ack') continue;
      // Each writer waits for its ack before the next batch, so its acks arrive in order.
      if (Number(seq) !== acked[Number(w)] + 1) throw new Error(`ack out of order: ${line}`);
      acked[Number(w)] = Number(seq);
    }
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  if (early) clearTimeout(early);
  if (!killed || signal !== 'SIGKILL') throw new Error(`child ended by itself (code ${code}, signal ${signal}): ${stderr}`);
  return { acked, opened };
}

/** Reopens the store, checks every writer's batches, deletes them and returns the next start seq. */
async function check(engine: string, dir: string, startSeq: number, acked: number[], round: number, counters: { torn: number }): Promise<number> {
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn: (msg) => {
      if (msg.includes('torn tail')) counters.torn++;
    },
  };
  const db = engine === 'lmdb' ? await createLmdbStorage({ dir, logger }) : await createFsStorage({ dir, logger });
  let next = startSeq;
  try {
    for (let w = 0; w < acked.length; w++) {
      const rows = await db.scan({ start: ascii(`w${w}/`), end: ascii(`w${w}0`) });
      let expected = startSeq;
      for (let i = 0; i < rows.length; i += 2) {
        const seq = expected++;
        const where = `round ${round}, writer ${w}, seq ${seq}`;
        // Both halves, in order, with the right bytes: batches are atomic and form a prefix.
        for (const [j, part] of (['a', 'b'] as const).entries()) {
          const row = rows[i + j];
          if (!row || hex(row.key) !== hex(crashKey(w, seq, part))) throw new Error(`${where}: expected key ${part}, found ${row ? hex(row.key) : 'nothing'}`);
          if (hex(row.value) !== hex(crashValue(w, seq, part))) throw new Error(`${where}: wrong value for ${part}`);
        }
      }
      const present = expected - 1;
      if (present < acked[w]) throw new Error(`round ${round}, writer ${w}: acknowledged up to seq ${acked[w]} but only ${present} survived`);
      next = Math.max(next, present + 1);
      await db.write([{ type: 'deleteRange', start: ascii(`w${w}/`), end: ascii(`w${w}0`) }], { sync: true });
    }
  } finally {
    await db.close();
  }
  return next;
}

/**
 * Runs `kills` rounds of write, SIGKILL, reopen and check in `dir`. Throws on the first lost or
 * damaged acknowledged batch, naming the round and seed.
 */
export async function runCrashRounds(options: CrashRunOptions): Promise<CrashRunResult> {
  const { kills, seed, dir } = options;
  const writers = options.writers ?? 4;
  const engine = options.engine ?? 'fs';
  const log = options.log ?? (() => {});
  const rand = seededRand(seed);
  const counters = { torn: 0 };
  const result: CrashRunResult = { kills: 0, killedBeforeOpen: 0, ackedBatches: 0, tornTailsDropped: 0, checkpointsSeen: 0 };
  let startSeq = 0;
  const { readdirSync } = await import('node:fs');
  for (let round = 0; round < kills; round++) {
    // Mostly kill while batches stream; sometimes during start-up and recovery.
    const early = rand.next() < 0.15 ? rand.int(400) : undefined;
    const { acked, opened } = await runChild(engine, dir, startSeq, writers, 20 + rand.int(300), early);
    result.kills++;
    if (!opened) result.killedBeforeOpen++;
    const ackedNow = acked.reduce((n, a) => n + (a - startSeq + 1), 0);
    result.ackedBatches += ackedNow;
    result.checkpointsSeen += readdirSync(dir).some((f) => f.startsWith('checkpoint-')) ? 1 : 0;
    try {
      startSeq = await check(engine, dir, startSeq, acked, round, counters);
    } catch (e) {
      throw new Error(`crash test failed (seed ${seed}, round ${round}): ${(e as Error).message}`);
    }
    log(`round ${round + 1}/${kills}: ${opened ? '' : 'killed before open, '}${ackedNow} acked batches all present`);
  }
  result.tornTailsDropped = counters.torn;
  return result;
}
