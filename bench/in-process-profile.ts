/**
 * A CPU profile of this process's own work between two points (the measured slices of a bench
 * driver, not its start-up), written as a `.cpuprofile` that `bench/cpu-profile-summary.ts` reads.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * Starts profiling when `file` is set; the returned function stops and writes the profile to it
 * (a no-op when `file` is undefined).
 * @param file - where to write the profile, or undefined for no profile.
 */
export async function startInProcessProfile(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}
