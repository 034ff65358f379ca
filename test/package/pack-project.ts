/**
 * The package as a user gets it: `npm pack` of the checkout (which runs `prepack`, the build), a
 * fresh project under the OS temp directory (outside the checkout, so no resolution can walk up
 * into its node_modules) that installs only the tarball and the tools a user would have
 * (typescript, vite, @types/node), and checks of what the tarball holds.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** What `npm pack --json` says about the tarball. */
export interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

/** The environment for child processes: no npm_* variables of the outer `npm test`, no NODE_PATH into the checkout. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^npm_/i.test(k) || k === 'NODE_PATH' || k === 'NODE_OPTIONS' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Runs a command and resolves with its stdout; rejects with stdout and stderr in the message.
 * @param cmd - the executable.
 * @param args - its arguments.
 * @param options - working directory, extra environment, time limit.
 */
export function run(cmd: string, args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd, env: cleanEnv(options.env), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stdout}\n${stderr}`.slice(0, 20_000)));
      else resolve(stdout);
    });
  });
}

/** Packs the checkout into `dir` (the build runs as `prepack`). */
export async function packInto(dir: string): Promise<PackResult> {
  const out = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, timeoutMs: 300_000 });
  const [result] = JSON.parse(out) as PackResult[];
  return result;
}

/** The version of a dev tool installed in the checkout, so the project installs the same one (from the npm cache when it can). */
function checkoutVersion(name: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Creates the user's project in `dir`: its package.json depends on the tarball only, plus
 * typescript, vite and @types/node; the smoke scripts of test/package/fixtures are copied in.
 */
export async function installProject(dir: string, tarball: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const pkg = {
    name: 'flotilla-user',
    private: true,
    type: 'module',
    dependencies: { flotilla: `file:${tarball}` },
    devDependencies: Object.fromEntries(['typescript', 'vite', '@types/node'].map((n) => [n, checkoutVersion(n)])),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  cpSync(join(import.meta.dirname, 'fixtures'), dir, { recursive: true });
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'], { cwd: dir, timeoutMs: 300_000 });
}

/** Every file a `package.json` field points at: `exports` targets (all conditions), `bin`, `main`, `types`. */
export function declaredFiles(pkg: { exports?: unknown; bin?: unknown; main?: string; types?: string }): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(posix.normalize(v));
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(pkg.exports);
  walk(typeof pkg.bin === 'string' ? [pkg.bin] : pkg.bin);
  walk(pkg.main);
  walk(pkg.types);
  return [...new Set(out)];
}

const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/**
 * The files of the tarball that a packaged file needs and the tarball lacks: the targets of the
 * package.json fields, and every relative import of a packaged `.js`, `.mjs` or `.d.ts` file.
 * @param files - the tarball's file paths (relative, `/`-separated).
 * @param read - reads a packaged file's text.
 */
export function missingFiles(files: readonly string[], read: (path: string) => string): string[] {
  const have = new Set(files);
  const missing = new Set<string>();
  for (const f of declaredFiles(JSON.parse(read('package.json')))) if (!have.has(f)) missing.add(`${f} (named in package.json)`);
  for (const f of files) {
    if (!/\.(m?js|d\.ts)$/.test(f)) continue;
    // Comments may show imports as examples; only code counts.
    const code = read(f).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of code.matchAll(RELATIVE_IMPORT)) {
      const target = posix.normalize(posix.join(posix.dirname(f), m[1]));
      // tsc keeps `.ts` specifiers in declarations (TypeScript resolves them to the `.d.ts`).
      const candidates = f.endsWith('.d.ts') ? [target, target.replace(/\.(js|ts)$/, '.d.ts')] : [target];
      if (!candidates.some((c) => have.has(c))) missing.add(`${target} (imported by ${f})`);
    }
  }
  return [...missing].sort();
}
