// Sums every Vitest JSON report in a folder and prints the plain "N passed, N failed" line last.
// Exits non-zero when a test failed, when a report is missing, or when no test ran at all.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json'));
} catch {
  files = [];
}
for (const file of files) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  reports++;
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  // A file that failed outside any test (an import error, a throwing hook) has no failed test to
  // count: count the file, so that it still fails the run. A failed test's own file and suites are
  // not counted again.
  for (const file of report.testResults ?? []) {
    const assertions = file.assertionResults ?? [];
    if (file.status === 'failed' && !assertions.some((a) => a.status === 'failed')) failed++;
  }
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
if (reports === 0) failed += 1;
if (skipped) console.log(`${skipped} skipped`);
// The last line, exactly "N passed, N failed", is what CI reads.
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
