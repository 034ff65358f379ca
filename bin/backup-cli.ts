/**
 * `flotilla backup --to DIR` and `flotilla restore --from DIR --data D1,D2,...` (docs/backup.md):
 * the command-line side of `src/client/backup.ts` and `adapters/server/backup-files.ts`.
 */
import { randomBytes } from 'node:crypto';
import { directorySink, restoreBackup } from '../adapters/server/backup-files.ts';
import { ConfigError } from '../adapters/server/config.ts';
import { createRealClock } from '../adapters/runtime/real-clock.ts';
import { takeBackup } from '../src/client/backup.ts';
import { connectFromFlags } from './auth-cli.ts';

function positive(flags: Record<string, unknown>, name: string, fallback?: number): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${name}: must be a positive integer`);
  return v;
}

function list(flags: Record<string, unknown>, name: string): string[] | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  return String(raw)
    .split(',')
    .filter((s) => s.length > 0);
}

/** Runs `flotilla backup --to DIR [--fence-timeout-ms N] [admin flags]`. */
export async function backupCommand(flags: Record<string, unknown>): Promise<number> {
  if (typeof flags.to !== 'string') throw new ConfigError('to: --to DIR (the directory the backup is written to) is required');
  const fenceTimeoutMs = positive(flags, 'fenceTimeoutMs', 2000)!;
  const sink = await directorySink(flags.to);
  const client = await connectFromFlags(flags);
  try {
    const started = Date.now();
    const { manifest, attempts } = await takeBackup(client.admin, sink, {
      clusterId: typeof flags.cluster === 'string' ? flags.cluster : 'flotilla',
      backupId: randomBytes(8).toString('hex'),
      clock: createRealClock(),
      wallClock: () => new Date().toISOString(),
      fenceTimeoutMs,
      log: (m) => process.stderr.write(`flotilla: backup: ${m}\n`),
    });
    const pairs = manifest.regions.reduce((n, r) => n + r.pairs, 0);
    const bytes = manifest.regions.reduce((n, r) => n + r.bytes, 0);
    console.log(`backup ${manifest.backupId} of cluster ${manifest.clusterId} written to ${flags.to}: ${manifest.regions.length} region(s), ${pairs} pair(s), ${bytes} bytes; fencing every region took ${Math.round(manifest.fenceMs)} ms (writes waited about that long)${attempts > 1 ? ` (attempt ${attempts})` : ''}; ${Date.now() - started} ms in all`);
  } finally {
    client.close();
  }
  return 0;
}

/** Runs `flotilla restore --from DIR --data D1,D2,... --cluster NEW [--ids 1,2,...] [--replicas N] [--no-pd] [--engine E]`. */
export async function restoreCommand(flags: Record<string, unknown>): Promise<number> {
  if (typeof flags.from !== 'string') throw new ConfigError('from: --from DIR (a backup directory) is required');
  const dataDirs = list(flags, 'data');
  if (dataDirs === undefined || dataDirs.length === 0) throw new ConfigError('data: --data D1,D2,... (one new data directory per store) is required');
  if (typeof flags.cluster !== 'string') throw new ConfigError('cluster: --cluster NAME (the id of the new cluster, not the backed-up one) is required');
  const ids = list(flags, 'ids')?.map(Number);
  if (ids?.some((id) => !Number.isSafeInteger(id) || id <= 0)) throw new ConfigError('ids: --ids 1,2,... must be positive integers');
  const engine = flags.engine;
  if (engine !== undefined && engine !== 'lmdb' && engine !== 'fs') throw new ConfigError('engine: lmdb or fs');
  const result = await restoreBackup({
    from: flags.from,
    dataDirs,
    storeIds: ids,
    clusterId: flags.cluster,
    replicas: positive(flags, 'replicas'),
    pd: flags.pd !== false,
    engine: engine as 'lmdb' | 'fs' | undefined,
  });
  const storeIds = ids ?? dataDirs.map((_, i) => i + 1);
  console.log(`restored backup ${result.manifest.backupId} (cluster ${result.manifest.clusterId}, ${result.manifest.createdAt}) as cluster ${flags.cluster}: ${result.regions.length} region(s) on store(s) ${storeIds.join(', ')}`);
  for (let i = 0; i < storeIds.length; i++) console.log(`  store ${storeIds[i]}: ${dataDirs[i]} (${result.pairsByStore[storeIds[i]]} pairs)`);
  console.log(`start each with: flotilla serve --id N --data DIR --cluster ${flags.cluster} --listen host:port --peers ${storeIds.map((s) => `${s}=host:port`).join(',')}`);
  return 0;
}
