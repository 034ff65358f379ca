/**
 * The on-disk format of a backup (docs/backup.md): one file per region and a manifest.
 *
 * A region file (integers big-endian), written and read as a stream so that no side ever holds
 * a region in memory:
 * ```
 * "FBAK" | version u8 = 1 | regionId u64 | len u32, startKey | len u32, endKey
 * per pair:  keyLen u32 (< 0xFFFFFFFF), key | valueLen u32, value      (engine keys: prefix + user key)
 * trailer:   0xFFFFFFFF | pairs u64
 * ```
 * The manifest (`manifest.json`) names every region with its range, fence index, pair count, byte
 * count and the CRC-32 of its whole file, and carries a CRC-32 of its own text; it is written
 * last, so a backup without one is incomplete.
 */

import { writeU64 } from '../kv/keys.ts';
import { compareKeys } from '../region/keys.ts';
import type { RegionEpoch } from '../region/types.ts';
import { inRange } from '../storage/bytes.ts';
import { crc32 } from '../storage/crc32.ts';
import { encodeUtf8, fromHex, toHex } from '../codec/utf8.ts';
import { backupRanges } from '../store/backup-fence.ts';

/** The format version written; a reader refuses any other. */
export const BACKUP_FORMAT_VERSION = 1;
/** The manifest's file name in a backup directory. */
export const MANIFEST_FILE = 'manifest.json';
const MAGIC = [0x46, 0x42, 0x41, 0x4b]; // "FBAK"
const END = 0xffffffff;

/** One region of a backup, as the manifest lists it. */
export interface ManifestRegion {
  id: number;
  /** Hex of the range's bounds (empty: open). */
  startKey: string;
  endKey: string;
  epoch: RegionEpoch;
  fenceIndex: number;
  /** Region time at the fence (lock deadlines count in it). */
  nowMs: number;
  file: string;
  pairs: number;
  bytes: number;
  crc32: number;
}

/** A backup's manifest. */
export interface BackupManifest {
  format: 'flotilla-backup';
  version: number;
  backupId: string;
  clusterId: string;
  /** When the fences were taken (ISO 8601, the backup tool's wall clock). */
  createdAt: string;
  /** How long fencing every region took (writes waited at most this long, per region). */
  fenceMs: number;
  regions: ManifestRegion[];
}

/** A backup directory that is damaged, partial or of another format: refused whole. */
export class BackupFormatError extends Error {
  readonly code = 'BackupDamaged';
  constructor(message: string) {
    super(message);
    this.name = 'BackupFormatError';
  }
}

/** Hex back to bytes; throws {@link BackupFormatError} on anything else. */
export function keyFromHex(s: string): Uint8Array {
  const b = fromHex(s);
  if (b === undefined) throw new BackupFormatError(`not a hex key: ${JSON.stringify(s.slice(0, 40))}`);
  return b;
}

/** Encodes the manifest with its checksum (`crc32` of the JSON text of everything else). */
export function encodeManifest(m: BackupManifest): string {
  const body = JSON.stringify(m);
  return `${JSON.stringify({ ...m, checksum: crc32(encodeUtf8(body)) }, null, 2)}\n`;
}

/** Parses and checks a manifest (checksum, version, regions tiling the key space); throws {@link BackupFormatError}. */
export function decodeManifest(text: string): BackupManifest {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new BackupFormatError('manifest.json is not JSON (damaged or partly written)');
  }
  const { checksum, ...rest } = raw;
  if (checksum !== crc32(encodeUtf8(JSON.stringify(rest)))) throw new BackupFormatError('manifest.json fails its checksum (damaged or edited)');
  const m = rest as unknown as BackupManifest;
  if (m.format !== 'flotilla-backup') throw new BackupFormatError('manifest.json is not a Flotilla backup manifest');
  if (m.version !== BACKUP_FORMAT_VERSION) throw new BackupFormatError(`backup format version ${m.version} is not supported (this Flotilla reads version ${BACKUP_FORMAT_VERSION})`);
  if (!Array.isArray(m.regions) || m.regions.length === 0) throw new BackupFormatError('manifest.json lists no regions');
  checkTiling(m.regions.map((r) => ({ id: r.id, startKey: keyFromHex(r.startKey), endKey: keyFromHex(r.endKey) })));
  return m;
}

/**
 * Checks that `regions` cover the whole key space once, in order, with no gap or overlap.
 * @throws BackupFormatError naming the first region that does not fit.
 */
export function checkTiling(regions: ReadonlyArray<{ id: number; startKey: Uint8Array; endKey: Uint8Array }>): void {
  const sorted = [...regions].sort((a, b) => compareKeys(a.startKey, b.startKey));
  let at: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (compareKeys(r.startKey, at) !== 0) throw new BackupFormatError(`region ${r.id} starts at ${toHex(r.startKey) || '(start)'}, not at ${toHex(at) || '(start)'}: the regions do not cover the key space once`);
    const last = i === sorted.length - 1;
    if (last !== (r.endKey.length === 0)) throw new BackupFormatError(`region ${r.id} ${last ? 'ends before the last key' : 'ends at +inf before other regions'}`);
    if (!last && compareKeys(r.endKey, r.startKey) <= 0) throw new BackupFormatError(`region ${r.id} is empty or reversed`);
    at = r.endKey;
  }
}

/** Writes one region file as a stream: {@link header}, then {@link pairs} per page, then {@link trailer}; counts and checksums as it goes. */
export class RegionFileEncoder {
  private crc = 0;
  pairs = 0;
  bytes = 0;

  /** The file's header for `region`. */
  header(region: { id: number; startKey: Uint8Array; endKey: Uint8Array }): Uint8Array {
    const out = new Uint8Array(5 + 8 + 4 + region.startKey.length + 4 + region.endKey.length);
    const v = new DataView(out.buffer);
    out.set(MAGIC);
    out[4] = BACKUP_FORMAT_VERSION;
    writeU64(out, 5, region.id);
    v.setUint32(13, region.startKey.length);
    out.set(region.startKey, 17);
    v.setUint32(17 + region.startKey.length, region.endKey.length);
    out.set(region.endKey, 21 + region.startKey.length);
    return this.count(out);
  }

  /** A page of pairs. */
  page(pairs: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>): Uint8Array {
    let n = 0;
    for (const p of pairs) n += 8 + p.key.length + p.value.length;
    const out = new Uint8Array(n);
    const v = new DataView(out.buffer);
    let at = 0;
    for (const p of pairs) {
      v.setUint32(at, p.key.length);
      out.set(p.key, at + 4);
      at += 4 + p.key.length;
      v.setUint32(at, p.value.length);
      out.set(p.value, at + 4);
      at += 4 + p.value.length;
    }
    this.pairs += pairs.length;
    return this.count(out);
  }

  /** The trailer; after it, {@link checksum} is the whole file's CRC-32. */
  trailer(): Uint8Array {
    const out = new Uint8Array(12);
    new DataView(out.buffer).setUint32(0, END);
    writeU64(out, 4, this.pairs);
    return this.count(out);
  }

  get checksum(): number {
    return this.crc;
  }

  private count(b: Uint8Array): Uint8Array {
    this.crc = crc32(b, this.crc);
    this.bytes += b.length;
    return b;
  }
}

/**
 * Reads one region file as a stream of byte chunks: {@link push} each chunk and take the pairs it
 * completes; {@link finish} checks the trailer, the CRC and the counts against the manifest.
 * Every check failure throws {@link BackupFormatError}.
 */
export class RegionFileDecoder {
  private readonly expect: ManifestRegion;
  private readonly ranges: ReturnType<typeof backupRanges>;
  private buf = new Uint8Array(0);
  private crc = 0;
  private bytes = 0;
  private pairs = 0;
  private headerRead = false;
  private ended = false;

  constructor(expect: ManifestRegion) {
    this.expect = expect;
    this.ranges = backupRanges({ startKey: keyFromHex(expect.startKey), endKey: keyFromHex(expect.endKey) });
  }

  /** Takes the next bytes of the file; returns the pairs they completed. */
  push(chunk: Uint8Array): Array<{ key: Uint8Array; value: Uint8Array }> {
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const v = new DataView(joined.buffer);
    let at = 0;
    const out: Array<{ key: Uint8Array; value: Uint8Array }> = [];
    if (!this.headerRead) {
      const h = this.readHeader(joined, v);
      if (h === 0) {
        this.buf = joined;
        return out;
      }
      at = h;
    }
    while (!this.ended && at + 4 <= joined.length) {
      const kl = v.getUint32(at);
      if (kl === END) {
        if (at + 12 > joined.length) break;
        const n = v.getUint32(at + 4) * 0x1_0000_0000 + v.getUint32(at + 8);
        if (n !== this.pairs) throw this.fail(`its trailer counts ${n} pairs, the file holds ${this.pairs}`);
        this.ended = true;
        at += 12;
        break;
      }
      if (at + 4 + kl + 4 > joined.length) break;
      const vl = v.getUint32(at + 4 + kl);
      if (at + 8 + kl + vl > joined.length) break;
      const key = joined.slice(at + 4, at + 4 + kl);
      const value = joined.slice(at + 8 + kl, at + 8 + kl + vl);
      if (!this.ranges.some((r) => inRange(key, r.start, r.end))) throw this.fail('it holds a key outside its region');
      out.push({ key, value });
      this.pairs++;
      at += 8 + kl + vl;
    }
    if (this.ended && at < joined.length) throw this.fail('it has bytes after its trailer');
    this.buf = joined.slice(at);
    return out;
  }

  /** Checks the whole file against the manifest once every chunk was pushed. */
  finish(): void {
    if (!this.ended || this.buf.length > 0) throw this.fail('it is truncated (no trailer)');
    if (this.bytes !== this.expect.bytes) throw this.fail(`it has ${this.bytes} bytes, the manifest says ${this.expect.bytes}`);
    if (this.crc !== this.expect.crc32) throw this.fail('it fails its checksum (damaged)');
    if (this.pairs !== this.expect.pairs) throw this.fail(`it holds ${this.pairs} pairs, the manifest says ${this.expect.pairs}`);
  }

  /** Reads the header if all of it is there: the offset after it, or 0. */
  private readHeader(b: Uint8Array, v: DataView): number {
    if (b.length < 17) return 0;
    if (MAGIC.some((m, i) => b[i] !== m)) throw this.fail('it is not a Flotilla backup region file');
    if (b[4] !== BACKUP_FORMAT_VERSION) throw this.fail(`its format version is ${b[4]}`);
    const id = v.getUint32(5) * 0x1_0000_0000 + v.getUint32(9);
    if (id !== this.expect.id) throw this.fail(`it holds region ${id}`);
    const sl = v.getUint32(13);
    if (b.length < 17 + sl + 4) return 0;
    const el = v.getUint32(17 + sl);
    if (b.length < 21 + sl + el) return 0;
    if (toHex(b.subarray(17, 17 + sl)) !== this.expect.startKey || toHex(b.subarray(21 + sl, 21 + sl + el)) !== this.expect.endKey) throw this.fail('its range is not the one the manifest lists');
    this.headerRead = true;
    return 21 + sl + el;
  }

  private fail(why: string): BackupFormatError {
    return new BackupFormatError(`${this.expect.file} (region ${this.expect.id}) is refused: ${why}`);
  }
}
