/**
 * Driving an in-page cluster on a virtual clock from a test: time moves 1 ms at a time, and
 * between steps the event loop runs, so that storage promises and store loop turns complete.
 */
import { createLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Advances virtual time until `p` settles (or `maxMs` pass); returns its value or throws its error. */
export async function drive<T>(clock: VirtualClock, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let ms = 0; ms < maxMs && !settled; ms++) {
    clock.advance(1);
    await tick();
  }
  if (!settled) throw new Error(`operation did not settle within ${maxMs} virtual ms`);
  return p;
}

/** Advances virtual time by `ms`, letting the event loop run between steps. */
export async function elapse(clock: VirtualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await tick();
  }
}

/** A cluster on a virtual clock with every region led. */
export async function virtualCluster(opts: LocalClusterOptions = {}): Promise<{ cluster: LocalCluster; clock: VirtualClock }> {
  const clock = createVirtualClock();
  const cluster = await createLocalCluster({ ...opts, clock });
  await drive(clock, cluster.waitForLeaders());
  return { cluster, clock };
}

/** A value as text (null stays null), for assertions. */
export const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));
