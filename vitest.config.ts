import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

// Chromium comes from Debian (/usr/bin/chromium; `.ci/run` installs it), never from a Playwright
// download. When it is missing the browser project fails to start, and so does `npm test`.
const chromium = playwright({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  },
});

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
