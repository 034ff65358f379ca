/**
 * A backup on disk (docs/backup.md): the directory sink `flotilla backup` writes through, reading
 * and verifying a backup, and `flotilla restore` building the data directories of a new cluster.
 *
 * Every file is written under a temporary name, fsynced, then renamed, and the manifest goes
 * last (then the directory is fsynced): a backup that crashed has no manifest and is refused.
 * A restore verifies every file against the manifest before it creates anything, builds each
 * data directory under a temporary name, and renames them into place only once all of them are
 * complete, so that a failed restore leaves no data directory behind.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type BackupManifest, BackupFormatError, decodeManifest, encodeManifest, keyFromHex, MANIFEST_FILE, type ManifestRegion, RegionFileDecoder } from '../../src/client/backup-format.ts';
import type { BackupFileWriter, BackupSink } from '../../src/client/backup.ts';
import type { WriteOp } from '../../src/ports.ts';
import { compareKeys } from '../../src/region/keys.ts';
import type { Region } from '../../src/region/types.ts';
import { StoreEngine } from '../../src/store/store-engine.ts';
import { ensureStoreIdent, newIncarnation } from '../../src/store/store-ident.ts';
import { initialRegions } from '../local-regions.ts';
import type { DiskEngineKind } from '../storage/disk.ts';
import { openStoreData } from './store-data.ts';

/** Bytes of pairs per write batch while restoring. */
const RESTORE_BATCH_BYTES = 4 * 1024 * 1024;
/** Bytes read from a backup file at a time. */
const READ_CHUNK_BYTES = 256 * 1024;

async function fsyncDir(dir: string): Promise<void> {
  // Best effort: a directory cannot be opened for fsync everywhere (docs/storage.md).
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {}
}

/**
 * A sink writing a backup into `dir` (created 0700). Refuses a directory that already holds a
 * complete backup (a manifest): a backup is never written over another.
 */
export async function directorySink(dir: string): Promise<BackupSink> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await fsp.access(join(dir, MANIFEST_FILE));
    throw new BackupFormatError(`${dir} already holds a backup (${MANIFEST_FILE}); choose an empty directory`);
  } catch (e) {
    if (e instanceof BackupFormatError) throw e;
  }
  return {
    async region(_regionId, file): Promise<BackupFileWriter> {
      const final = join(dir, file);
      const tmp = `${final}.tmp`;
      const fh = await fsp.open(tmp, 'w', 0o600);
      return {
        async write(bytes) {
          await fh.write(bytes);
        },
        async close() {
          await fh.sync();
          await fh.close();
          await fsp.rename(tmp, final);
        },
      };
    },
    async finish(manifest) {
      await fsyncDir(dir);
      const final = join(dir, MANIFEST_FILE);
      const tmp = `${final}.tmp`;
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(encodeManifest(manifest));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, final);
      await fsyncDir(dir);
    },
  };
}

/** Streams one region file through its decoder, handing each batch of pairs to `onPairs`; checks it whole at the end. */
async function readRegionFile(dir: string, region: ManifestRegion, onPairs?: (pairs: Array<{ key: Uint8Array; value: Uint8Array }>) => Promise<void>): Promise<void> {
  if (basename(region.file) !== region.file || !region.file.endsWith('.fbak')) throw new BackupFormatError(`manifest names a file outside the backup: ${JSON.stringify(region.file)}`);
  const decoder = new RegionFileDecoder(region);
  let stream: AsyncIterable<Buffer>;
  try {
    await fsp.access(join(dir, region.file));
    stream = createReadStream(join(dir, region.file), { highWaterMark: READ_CHUNK_BYTES });
  } catch {
    throw new BackupFormatError(`${region.file} (region ${region.id}) is missing: the backup is partial`);
  }
  for await (const chunk of stream) {
    const pairs = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (onPairs && pairs.length > 0) await onPairs(pairs);
  }
  decoder.finish();
}

/**
 * Reads a backup's manifest and verifies every region file against it (checksums, counts, keys
 * inside their region), reading each as a stream.
 * @throws BackupFormatError saying what is damaged or missing.
 */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new BackupFormatError(`${dir} has no ${MANIFEST_FILE}: it is not a backup, or a backup that did not finish`);
  }
  const manifest = decodeManifest(text);
  for (const r of manifest.regions) await readRegionFile(dir, r);
  return manifest;
}

/** What {@link restoreBackup} needs. */
export interface RestoreOptions {
  /** The backup directory. */
  from: string;
  /** One data directory per store of the new cluster, in the order of `storeIds`. */
  dataDirs: string[];
  /** The new cluster's stores (default 1..n). */
  storeIds?: number[];
  /** The new cluster's id: must differ from the backup's (see docs/backup.md). */
  clusterId: string;
  /** Replicas per region (default min(3, stores)). */
  replicas?: number;
  /** Whether the new cluster runs PD (on its first three stores; default true). */
  pd?: boolean;
  engine?: DiskEngineKind;
}

/** What a restore built. */
export interface RestoreResult {
  manifest: BackupManifest;
  /** The new cluster's regions (ids 1..n; ranges as in the backup). */
  regions: Region[];
  /** Pairs written per store. */
  pairsByStore: Record<number, number>;
}

/**
 * Builds the data directories of a new cluster holding exactly the backed-up regions; they then
 * start with `flotilla serve --id N --data DIR --cluster ID --peers ...`. Verifies the whole
 * backup first and refuses a data directory that exists and is not empty; on any failure no data
 * directory is left behind.
 * @throws BackupFormatError for a damaged or partial backup; Error for unusable arguments.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const ids = opts.storeIds ?? opts.dataDirs.map((_, i) => i + 1);
  if (ids.length !== opts.dataDirs.length || ids.length === 0) throw new Error(`restore: ${opts.dataDirs.length} data directories for ${ids.length} store ids`);
  if (new Set(ids).size !== ids.length || ids.some((id) => !Number.isSafeInteger(id) || id <= 0)) throw new Error('restore: store ids must be distinct positive integers');
  const manifest = await verifyBackup(opts.from);
  if (manifest.clusterId === opts.clusterId) {
    throw new Error(`restore: the new cluster needs its own id: ${JSON.stringify(opts.clusterId)} is the id of the cluster the backup was taken from (pass another --cluster)`);
  }
  for (const dir of opts.dataDirs) {
    const entries = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
    if (entries.length > 0) throw new Error(`restore: ${dir} is not empty; a restore builds new data directories only`);
  }
  const sorted = [...manifest.regions].sort((a, b) => compareKeys(keyFromHex(a.startKey), keyFromHex(b.startKey)));
  const regions = initialRegions(
    [...ids].sort((a, b) => a - b),
    sorted.slice(1).map((r) => keyFromHex(r.startKey)),
    opts.replicas ?? Math.min(3, ids.length),
  );
  const pdStoreIds = opts.pd === false ? [] : [...ids].sort((a, b) => a - b).slice(0, 3);
  const tag = randomBytes(4).toString('hex');
  const tmps = opts.dataDirs.map((d) => join(dirname(d), `.${basename(d)}.restoring-${tag}`));
  const pairsByStore: Record<number, number> = {};
  try {
    for (let i = 0; i < ids.length; i++) pairsByStore[ids[i]] = await buildStore(opts, sorted, regions, pdStoreIds, ids, i, tmps[i]);
    for (let i = 0; i < ids.length; i++) {
      await fsp.rm(opts.dataDirs[i], { recursive: true, force: true }); // empty (checked above)
      await fsp.rename(tmps[i], opts.dataDirs[i]);
    }
  } catch (e) {
    for (const t of tmps) await fsp.rm(t, { recursive: true, force: true });
    throw e;
  }
  return { manifest, regions, pairsByStore };
}

/** Builds the data directory of store `ids[i]` in `dir`; returns the pairs written. */
async function buildStore(opts: RestoreOptions, sorted: ManifestRegion[], regions: Region[], pdStoreIds: number[], ids: number[], i: number, dir: string): Promise<number> {
  const storeId = ids[i];
  const data = (await openStoreData(dir, { engine: opts.engine }))!;
  const engine = data.engine;
  let pairs = 0;
  try {
    await ensureStoreIdent(engine, { clusterId: opts.clusterId, storeId, incarnation: newIncarnation({ int: (n) => randomBytes(4).readUInt32BE(0) % n }) });
    const nowMs = new Map(regions.map((r, k) => [r.id, sorted[k].nowMs]));
    await StoreEngine.bootstrap(engine, storeId, regions, pdStoreIds, (id) => nowMs.get(id) ?? 0);
    for (let k = 0; k < regions.length; k++) {
      if (!regions[k].peers.some((p) => p.storeId === storeId)) continue;
      let ops: WriteOp[] = [];
      let bytes = 0;
      await readRegionFile(opts.from, sorted[k], async (batch) => {
        for (const p of batch) {
          ops.push({ type: 'put', key: p.key, value: p.value });
          bytes += p.key.length + p.value.length;
          pairs++;
        }
        if (bytes >= RESTORE_BATCH_BYTES) {
          await engine.write(ops);
          ops = [];
          bytes = 0;
        }
      });
      await engine.write(ops, { sync: true });
    }
    await data.save({ storeId, clusterId: opts.clusterId, stores: ids.map((id) => ({ id, url: '' })), initialStoreIds: [...ids].sort((a, b) => a - b), pdStoreIds });
  } finally {
    await engine.close();
  }
  return pairs;
}
