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
  process.stderr.write(`flotilla tests: ${CHROMIUM_MISSING} (or run only the Node tests: npx vitest run --project node)\n`);
  process.exit(1);
}
const chromium = playwright({ launchOptions: { executablePath, args: CHROMIUM_ARGS } });

// Two projects, one run: Node-side tests and tests in real headless Chromium. Every run writes
// one JSON report covering both, which `.ci/run` counts from.
export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-node.json' }]],
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**', 'node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // A Node WebSocket store for the browser transport tests to dial.
          globalSetup: ['test/browser/transport-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
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
