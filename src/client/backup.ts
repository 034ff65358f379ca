/**
 * Taking a backup (docs/backup.md): fence every region, check that the fences form one cut,
 * thaw, then copy each region's pairs at its fence into a {@link BackupSink} in bounded pages.
 *
 * The cut is consistent (linearizable) because no replica applies, so no leader acknowledges, a
 * write after its region's fence until every region has applied its fence: each replica holds the
 * writes after its fence until the thaw, which is sent only once every fence answered, or until
 * its lease ran out, which is at least `leaseMs` after it applied the fence and so after this
 * tool sent it. Fencing must therefore finish within `fenceTimeoutMs`, kept well under the lease
 * (half, by default: room for clock rates and the tool's own pauses, which only make it abort);
 * a backup that took longer is thrown away and tried again with a new id.
 */
import type { Clock } from '../ports.ts';
import type { BackupPage, FenceAnswer } from '../store/backup-fence.ts';
import type { AdminClient } from './admin.ts';
import { toHex } from '../codec/utf8.ts';
import { BACKUP_FORMAT_VERSION, type BackupManifest, checkTiling, type ManifestRegion, RegionFileEncoder } from './backup-format.ts';

/** Where a backup's files go (`adapters/server/backup-files.ts` writes a directory). */
export interface BackupSink {
  /** Starts the file of one region (under a temporary name). */
  region(regionId: number, file: string): Promise<BackupFileWriter>;
  /** Writes the manifest last (atomically): only then is the backup complete. */
  finish(manifest: BackupManifest): Promise<void>;
}

/** One file being written. */
export interface BackupFileWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the file durable under its final name. */
  close(): Promise<void>;
}

/** Options of {@link takeBackup}. */
export interface BackupOptions {
  clusterId: string;
  /** A unique id (random) for this backup; attempts add `-1`, `-2`... */
  backupId: string;
  /** The tool's monotonic clock (the fence deadline). */
  clock: Clock;
  /** The wall clock, ISO 8601, for the manifest. */
  wallClock: () => string;
  /** Fencing every region must finish within this (default 2,000 ms), else the attempt thaws and is retried. */
  fenceTimeoutMs?: number;
  /** How long a fence holds writes on a replica if no thaw comes (default 2 × fenceTimeoutMs). */
  leaseMs?: number;
  /** Attempts before giving up (default 5). */
  attempts?: number;
  /** Bytes asked for per page (default 1 MiB). */
  pageBytes?: number;
  /** Told what happens (an attempt thrown away, a region copied). */
  log?: (message: string) => void;
}

/** What a finished backup reports. */
export interface BackupResult {
  manifest: BackupManifest;
  attempts: number;
}

/** Fencing did not complete in time or did not form a cut: nothing was written. */
export class BackupAbortedError extends Error {
  readonly code = 'BackupAborted';
  constructor(message: string) {
    super(message);
    this.name = 'BackupAbortedError';
  }
}

/**
 * Takes a backup of the whole cluster into `sink`.
 * @throws BackupAbortedError when no attempt could fence every region in time.
 */
export async function takeBackup(admin: AdminClient, sink: BackupSink, opts: BackupOptions): Promise<BackupResult> {
  const fenceTimeoutMs = opts.fenceTimeoutMs ?? 2000;
  const leaseMs = opts.leaseMs ?? 2 * fenceTimeoutMs;
  if (fenceTimeoutMs * 1.5 > leaseMs) throw new BackupAbortedError(`the fence lease (${leaseMs} ms) must be at least 1.5 × the fence timeout (${fenceTimeoutMs} ms)`);
  const attempts = opts.attempts ?? 5;
  const log = opts.log ?? (() => {});
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const backupId = `${opts.backupId}-${attempt}`;
    const cut = await fenceAll(admin, backupId, fenceTimeoutMs, leaseMs, opts.clock);
    if (typeof cut === 'string') {
      last = cut;
      log(`attempt ${attempt}: ${cut}; thawed, trying again`);
      continue;
    }
    log(`attempt ${attempt}: fenced ${cut.fences.length} region(s) in ${Math.round(cut.fenceMs)} ms and thawed them; copying`);
    try {
      const regions: ManifestRegion[] = [];
      const copyStart = opts.clock.now();
      for (const f of cut.fences) regions.push(await copyRegion(admin, sink, backupId, f, opts.pageBytes ?? 1024 * 1024));
      log(`copied ${regions.reduce((n, r) => n + r.pairs, 0)} pair(s) in ${Math.round(opts.clock.now() - copyStart)} ms`);
      const manifest: BackupManifest = { format: 'flotilla-backup', version: BACKUP_FORMAT_VERSION, backupId, clusterId: opts.clusterId, createdAt: cut.at, fenceMs: cut.fenceMs, regions };
      await sink.finish(manifest);
      return { manifest, attempts: attempt };
    } finally {
      await everyStore(admin, backupId, { kind: 'release' });
    }
  }
  throw new BackupAbortedError(`could not fence every region within ${fenceTimeoutMs} ms in ${attempts} attempts (last: ${last}); writes were held at most ${leaseMs} ms per attempt. Retry when the cluster is healthy, or raise --fence-timeout-ms`);

  async function fenceAll(admin: AdminClient, backupId: string, timeoutMs: number, lease: number, clock: Clock): Promise<{ fences: FenceAnswer[]; fenceMs: number; at: string } | string> {
    const regions = await admin.regions();
    const t0 = clock.now();
    const at = opts.wallClock();
    const outcomes = await Promise.allSettled(regions.map((r) => withDeadline(admin.backupFence(r.id, backupId, lease), timeoutMs, clock)));
    const fenceMs = clock.now() - t0;
    // Thaw first, whatever happened: every replica holds its writes until now.
    await everyStore(admin, backupId, { kind: 'thaw' });
    const failed = outcomes.find((o) => o.status === 'rejected');
    let problem: string | undefined;
    if (failed) problem = `a fence failed: ${String((failed as PromiseRejectedResult).reason?.message ?? failed.reason)}`;
    else if (fenceMs >= timeoutMs) problem = `fencing took ${Math.round(fenceMs)} ms (limit ${timeoutMs} ms)`;
    const fences = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    if (problem === undefined) {
      try {
        // Each range is the region's own at its fence: together they must be the whole key space.
        checkTiling(fences.map((f) => f.region));
      } catch (e) {
        problem = `the regions changed while fencing (${(e as Error).message})`;
      }
    }
    if (problem !== undefined) {
      await everyStore(admin, backupId, { kind: 'release' });
      return problem;
    }
    return { fences, fenceMs, at };
  }
}

/** Streams one fenced region's pairs into its file. */
async function copyRegion(admin: AdminClient, sink: BackupSink, backupId: string, f: FenceAnswer, pageBytes: number): Promise<ManifestRegion> {
  const file = `region-${f.region.id}.fbak`;
  const out = await sink.region(f.region.id, file);
  const enc = new RegionFileEncoder();
  await out.write(enc.header(f.region));
  let after: Uint8Array | undefined;
  for (;;) {
    const page = (await admin.backupCall(f.storeId, backupId, after === undefined ? { kind: 'read', regionId: f.region.id, maxBytes: pageBytes } : { kind: 'read', regionId: f.region.id, after, maxBytes: pageBytes })) as BackupPage;
    if (page.pairs.length > 0) {
      await out.write(enc.page(page.pairs));
      after = page.pairs[page.pairs.length - 1].key;
    }
    if (page.done) break;
  }
  await out.write(enc.trailer());
  await out.close();
  const r = f.region;
  return { id: r.id, startKey: toHex(r.startKey), endKey: toHex(r.endKey), epoch: r.epoch, fenceIndex: f.fenceIndex, nowMs: f.nowMs, file, pairs: enc.pairs, bytes: enc.bytes, crc32: enc.checksum };
}

/** Sends a thaw or release to every store the client knows (best effort: a store that misses it thaws by its lease, releases when idle). */
async function everyStore(admin: AdminClient, backupId: string, op: { kind: 'thaw' } | { kind: 'release' }): Promise<void> {
  await Promise.allSettled(admin.storeIds().map((s) => admin.backupCall(s, backupId, op, 5000)));
}

/** `p`, or a rejection once `ms` passed (the fence may still apply later: its lease, or the thaw, ends it). */
function withDeadline<T>(p: Promise<T>, ms: number, clock: Clock): Promise<T> {
  let cancel = () => {};
  const late = new Promise<never>((_, reject) => {
    cancel = clock.setTimer(ms, () => reject(new Error(`no answer within ${ms} ms`)));
  });
  return Promise.race([p, late]).finally(cancel);
}
