import { defineConfig } from 'vitest/config';

// Node-side tests. Every run also writes a JSON report that `.ci/run` counts from.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-node.json' }]],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
