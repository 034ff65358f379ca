/**
 * `flotilla check` (replica consistency checks) and `flotilla recover --unsafe` (bring regions whose
 * majority is lost back from the survivors), over a remote client's admin API. See
 * docs/disaster-recovery.md.
 */
import { ConfigError, parseFlags } from '../adapters/server/config.ts';
import type { CheckResult } from '../src/store/consistency-types.ts';
import { connectFromFlags } from './auth-cli.ts';

/** The commands of this file, as the CLI dispatches them. */
export const RECOVERY_COMMANDS: readonly string[] = ['check', 'recover'];

function optionalId(flags: Record<string, unknown>, name: string): number | undefined {
  if (flags[name] === undefined) return undefined;
  const v = Number(flags[name]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${name}: --${name} must be a positive integer`);
  return v;
}

/** One line per region: index, replicas agreeing, divergent and unchecked stores. */
export function describeCheck(r: CheckResult): string {
  const parts = [`region ${r.regionId}: index ${r.index}, ${r.agreeing.length} replica(s) agree (stores ${r.agreeing.join(',') || '-'})`];
  if (r.divergent.length > 0) parts.push(`DIVERGENT: store(s) ${r.divergent.join(',')}`);
  if (r.unchecked.length > 0) parts.push(`not checked in time: store(s) ${r.unchecked.join(',')}`);
  return parts.join('; ');
}

/**
 * Runs `flotilla check`: exit 0 when every replica of every region agrees, 1 on divergence, 3
 * when some replica (or region) could not be checked in the deadline.
 */
async function check(flags: Record<string, unknown>): Promise<number> {
  const region = optionalId(flags, 'region');
  const waitMs = flags.waitMs === undefined ? undefined : Number(flags.waitMs);
  if (waitMs !== undefined && (!Number.isSafeInteger(waitMs) || waitMs < 0)) throw new ConfigError('wait-ms: --wait-ms must be a non-negative integer');
  const client = await connectFromFlags(flags);
  try {
    const results: CheckResult[] = [];
    const failed: Array<{ regionId: number; error: string }> = [];
    const ids = region === undefined ? (await client.admin.regions()).map((r) => r.id) : [region];
    for (const id of ids) {
      try {
        results.push(...(await client.admin.check(id, waitMs === undefined ? {} : { waitMs })));
      } catch (e) {
        failed.push({ regionId: id, error: e instanceof Error ? e.message : String(e) });
      }
    }
    const divergent = results.filter((r) => r.divergent.length > 0);
    const unchecked = results.filter((r) => r.unchecked.length > 0);
    if (flags.json !== undefined) {
      console.log(JSON.stringify({ ok: divergent.length === 0 && unchecked.length === 0 && failed.length === 0, regions: results, failed }, null, 2));
    } else {
      for (const r of results) console.log(describeCheck(r));
      for (const f of failed) console.log(`region ${f.regionId}: NOT CHECKED: ${f.error}`);
      if (divergent.length > 0) console.log(`check FAILED: replicas diverge in ${divergent.length} region(s): ${divergent.map((r) => `region ${r.regionId} on store(s) ${r.divergent.join(',')}`).join('; ')}`);
      else if (unchecked.length > 0 || failed.length > 0) console.log(`check INCOMPLETE: ${unchecked.length + failed.length} region(s) not fully checked within the deadline`);
      else console.log(`check passed: every replica of ${results.length} region(s) agrees`);
    }
    if (divergent.length > 0) return 1;
    return unchecked.length > 0 || failed.length > 0 ? 3 : 0;
  } finally {
    client.close();
  }
}

/**
 * Runs `flotilla recover --unsafe --lost 2,3`: exit 0 when every region that lost its majority
 * is back (each line names the survivor that leads it), 1 when some could not be.
 */
async function recover(flags: Record<string, unknown>, unsafe: boolean): Promise<number> {
  if (!unsafe) throw new ConfigError('unsafe: recover needs --unsafe: it may lose acknowledged writes and breaks linearizability for the regions it recovers (docs/disaster-recovery.md)');
  if (typeof flags.lost !== 'string' && typeof flags.lost !== 'number') throw new ConfigError('lost: --lost 2,3 (the ids of the stores lost for good) is required');
  const lost = String(flags.lost)
    .split(',')
    .filter((s) => s.length > 0)
    .map(Number);
  if (lost.length === 0 || lost.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new ConfigError('lost: --lost must list store ids, comma-separated');
  const region = optionalId(flags, 'region');
  const client = await connectFromFlags(flags);
  try {
    const result = await client.admin.recoverUnsafe(lost, region === undefined ? {} : { regionId: region });
    // PD then counts every replica on the lost stores as gone for good and replaces it on live
    // stores at once (without PD, or PD unreachable, there is nothing to tell).
    const told: number[] = [];
    for (const id of lost) {
      try {
        await client.setStoreState(id, 'tombstone');
        told.push(id);
      } catch {
        // best effort: the recovery itself is done
      }
    }
    if (flags.json !== undefined) {
      console.log(JSON.stringify(result, (_, x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : x), 2));
    } else {
      for (const r of result.recovered) {
        console.log(`region ${r.regionId}: recovered from store ${r.storeId} (last term ${r.lastTerm}, last index ${r.lastIndex}); replicas now on stores ${r.region.peers.map((p) => p.storeId).join(',')}`);
      }
      for (const f of result.failed) console.log(`region ${f.regionId}: NOT RECOVERED from store ${f.storeId}: ${f.error} (run flotilla recover again)`);
      for (const u of result.unrecoverable) console.log(`region ${u.regionId}: LOST: ${u.reason}`);
      if (result.healthy.length > 0) console.log(`untouched (a majority survives): region(s) ${result.healthy.join(',')}`);
      if (told.length > 0) console.log(`stores ${told.join(',')} marked tombstone in PD: never start them again with their old data`);
      console.log('writes acknowledged by the lost stores but missing on the survivors are gone; PD adds replicas on live stores to reach the replica count');
    }
    return result.failed.length > 0 || result.unrecoverable.length > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}

/** Runs one of {@link RECOVERY_COMMANDS} with its arguments. */
export async function recoveryCommand(command: string, argv: readonly string[]): Promise<number> {
  if (command === 'check') return check(parseFlags(argv));
  if (command === 'recover') return recover(parseFlags(argv.filter((a) => a !== '--unsafe')), argv.includes('--unsafe'));
  throw new ConfigError(`unknown command ${command}`);
}
