/**
 * The published shape of the package: after `npm run build`, `import … from 'flotilla'` works from
 * Node, from Deno and through a bundler (esbuild, which Vite uses), using only the exports map.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const program = `
import { RawNode, MemoryRaftStorage, createSeededRand } from 'flotilla';
const node = new RawNode({ id: 1, storage: MemoryRaftStorage.withVoters([1]), rand: createSeededRand(7) });
node.campaign();
const rd = node.ready();
console.log(JSON.stringify({ role: node.status().role, entries: rd.entries.length }));
`;
const expected = { role: 'leader', entries: 1 };
let scratch = '';

beforeAll(() => {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  scratch = mkdtempSync(join(tmpdir(), 'flotilla-exports-'));
}, 240_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('package exports', () => {
  // The Node and Deno scripts live in the package root: 'flotilla' resolves by self-reference through `exports`.
  it('imports from Node', () => {
    const file = join(root, `.exports-check-node-${process.pid}.mjs`);
    writeFileSync(file, program);
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual(expected);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('imports from Deno', () => {
    const file = join(root, `.exports-check-deno-${process.pid}.ts`);
    writeFileSync(file, program);
    try {
      const out = execFileSync('npx', ['deno', 'run', '-A', '--quiet', file], { cwd: root, encoding: 'utf8' });
      expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual(expected);
    } finally {
      rmSync(file, { force: true });
    }
  }, 120_000);

  it('bundles for the browser with esbuild and runs', async () => {
    const { build } = await import('esbuild');
    // Install the package into a scratch project the way a user would (a link in node_modules).
    mkdirSync(join(scratch, 'node_modules'), { recursive: true });
    symlinkSync(root, join(scratch, 'node_modules', 'flotilla'), 'dir');
    const entry = join(scratch, 'entry.mjs');
    writeFileSync(entry, program);
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      absWorkingDir: scratch,
      nodePaths: [join(root, 'node_modules')],
    });
    const bundled = join(scratch, 'bundle.mjs');
    writeFileSync(bundled, result.outputFiles[0].text);
    const out = execFileSync(process.execPath, [bundled], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(expected);
  });
});
