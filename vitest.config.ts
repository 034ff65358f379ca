import { readdirSync } from 'node:fs';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_MISSING, findChromium } from './scripts/find-chromium.ts';

/**
 * Whether this run starts the browser project: it is not filtered out by `--project`, and the file
 * filters (if any) can match a file under test/browser/ (Vitest filters are substrings of paths).
 */
function runsBrowserProject(argv: readonly string[]): boolean {
  const projects: string[] = [];
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--project') projects.push(argv[++i] ?? '');
    else if (a.startsWith('--project=')) projects.push(a.slice('--project='.length));
    else if (!a.startsWith('-') && a !== 'run' && a !== 'watch' && a !== 'bench') filters.push(a);
  }
  if (projects.length > 0 && !projects.includes('browser')) return false;
  if (filters.length === 0) return true;
  const files = readdirSync('test/browser').map((f) => `test/browser/${f}`);
  return filters.some((f) => files.some((file) => file.includes(f.replace(/^\.\//, ''))));
}

// The browser tests need a Chromium: CHROMIUM_PATH / CHROME_PATH, Playwright's, or the system's
// (`.ci/run` installs Debian's). With none, say what to install in one line instead of a stack trace.
const executablePath = findChromium();
if (executablePath === undefined && runsBrowserProject(process.argv.slice(2))) {
  process.stderr.write(`flotilla tests: ${CHROMIUM_MISSING} (or run only the Node tests: npx vitest run --project core --project node --project serial)\n`);
  process.exit(1);
}
const chromium = playwright({ launchOptions: { executablePath, args: CHROMIUM_ARGS } });

// Tests that start other processes (flotilla serve stores, Deno, Chromium, npm install, children
// killed with SIGKILL). They wait on children, sockets and timers more than they compute, so most
// of them run two at a time beside the in-process tests (simulations, codecs, in-page clusters).
// PROCESS_TESTS_ALONE are the ones whose subject is timing under faults (fault suites with
// liveness deadlines, SIGSTOP/SIGKILL of leaders, overload deadlines, the playground's bounded
// memory): they run one file at a time, after the rest, on an otherwise idle box.
const PROCESS_TESTS = [
  'test/server/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/playground/**/*.test.ts',
  'test/deno/**/*.test.ts',
  'test/storage/crash.test.ts',
  'test/storage/lmdb-runtime.test.ts',
  'test/transport/cross-runtime*.test.ts',
  'test/raft/transcripts-deno.test.ts',
];
const PROCESS_TESTS_ALONE = [
  'test/server/faults-3.test.ts',
  'test/server/faults-5.test.ts',
  'test/server/wipe.test.ts',
  'test/server/lease-pause.test.ts',
  'test/server/overload.test.ts',
  'test/server/hostile.test.ts',
  'test/server/hostile-deno.test.ts',
  'test/server/deno-join.test.ts',
  'test/server/txn.test.ts',
  'test/server/cluster.test.ts',
  'test/playground/**/*.test.ts',
  'test/storage/crash.test.ts',
];
const nodeSide = { testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' } as const;

// Four projects, one run, one JSON report covering all of them (which `.ci/run` counts from).
// Group 0, two files at a time: `core` (in-process Node tests) beside `node` (process tests).
// Group 1, one file at a time: `serial` (PROCESS_TESTS_ALONE) beside `browser` (real headless
// Chromium). Vitest requires one worker count per group.
export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-node.json' }]],
    projects: [
      { test: { name: 'core', include: ['test/**/*.test.ts'], exclude: ['test/browser/**', 'node_modules/**', ...PROCESS_TESTS], maxWorkers: 2, sequence: { groupOrder: 0 }, ...nodeSide } },
      { test: { name: 'node', include: PROCESS_TESTS, exclude: ['node_modules/**', ...PROCESS_TESTS_ALONE], maxWorkers: 2, sequence: { groupOrder: 0 }, ...nodeSide } },
      { test: { name: 'serial', include: PROCESS_TESTS_ALONE, maxWorkers: 1, sequence: { groupOrder: 1 }, ...nodeSide } },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // A Node WebSocket store for the browser transport tests to dial.
          globalSetup: ['test/browser/transport-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          browser: {
            enabled: true,
            headless: true,
            provider: chromium,
            instances: [{ browser: 'chromium' }],
            screenshotFailures: false,
          },
        },
      },
    ],
  },
});
