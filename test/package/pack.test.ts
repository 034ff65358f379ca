/**
 * The published package, installed the way a user installs it: `npm pack` (so `prepack` builds),
 * then a fresh project under the OS temp directory that installs only the tarball (and typescript,
 * vite, @types/node). From there: every `exports` subpath loads in Node and Deno and type-checks
 * under `moduleResolution` bundler and node16; the CLI starts (`npx flotilla --help`); a 3-store
 * cluster runs from the installed CLI (two Node stores and a Deno store, over WebSocket); clients
 * in Node, Chromium (a Vite bundle), Bun and workerd (Miniflare) write and read through it; the
 * store leading the data region is killed with SIGKILL and every write is still read back.
 * Nothing here touches the checkout's node_modules except the tools that run the checks
 * (Deno, Bun, Miniflare, Playwright, Chromium).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../scripts/cluster-processes.ts';
import { CHROMIUM_ARGS, CHROMIUM_MISSING, findChromium } from '../../scripts/find-chromium.ts';
import { cleanEnv, installProject, missingFiles, type PackResult, packInto, run } from './pack-project.ts';

const root = join(import.meta.dirname, '..', '..');
const tool = (name: string) => join(root, 'node_modules', '.bin', name);
const SECRET = 'pack test secret of 32 bytes....';

let work = '';
let project = '';
let pack: PackResult;
let exportsMap: Record<string, unknown> = {};
/** Subpaths whose optional dependency is not installed here (reported by the Node import check). */
const optionalMissing = new Set<string>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'flotilla-pack-'));
  project = join(work, 'project');
  pack = await packInto(work);
  await installProject(project, join(work, pack.filename));
  exportsMap = JSON.parse(readFileSync(join(project, 'node_modules', 'flotilla', 'package.json'), 'utf8')).exports;
  console.log(`flotilla pack: ${pack.filename}, ${pack.files.length} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked (in ${work})`);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds every file its package.json and its modules name', () => {
    const files = pack.files.map((f) => f.path);
    const installed = join(project, 'node_modules', 'flotilla');
    const missing = missingFiles(files, (p) => readFileSync(join(installed, p), 'utf8'));
    expect(missing, `files missing from ${pack.filename}`).toEqual([]);
  });

  it('holds only what a user needs: the build, the launcher, README, LICENSE', () => {
    const extra = pack.files.map((f) => f.path).filter((p) => !/^(dist\/(src|adapters|bin)\/.+\.(js|d\.ts)|bin\/flotilla\.mjs|README\.md|LICENSE|package\.json)$/.test(p));
    expect(extra).toEqual([]);
    for (const f of ['LICENSE', 'README.md', 'bin/flotilla.mjs', 'dist/bin/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts']) expect(pack.files.map((x) => x.path)).toContain(f);
  });

  it('is as large as the README says (within 25 %)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const m = /<!-- pack-size -->(\d+) kB packed, ([\d.]+) MB unpacked, (\d+) files<!-- \/pack-size -->/.exec(readme);
    expect(m, 'README.md states the pack size between <!-- pack-size --> markers').not.toBeNull();
    const near = (said: number, real: number) => Math.abs(said - real) <= 0.25 * real;
    const actual = `${Math.round(pack.size / 1000)} kB packed, ${(pack.unpackedSize / 1e6).toFixed(1)} MB unpacked, ${pack.files.length} files`;
    expect(near(Number(m![1]) * 1000, pack.size) && near(Number(m![2]) * 1e6, pack.unpackedSize) && near(Number(m![3]), pack.files.length), `README says ${m![0]}; the tarball is ${actual}`).toBe(true);
  });

  it('runs no TypeScript at run time: the launcher and the build have no .ts imports and no tsx', () => {
    const installed = join(project, 'node_modules', 'flotilla');
    for (const f of pack.files.map((x) => x.path).filter((p) => /\.m?js$/.test(p))) {
      const code = readFileSync(join(installed, f), 'utf8');
      expect(code, f).not.toMatch(/from\s*['"][^'"]+\.ts['"]|import\(\s*['"][^'"]+\.ts['"]|['"]tsx(\/[^'"]*)?['"]/);
    }
  });
});

describe('every exports subpath', () => {
  it('loads in Node (ESM import)', async () => {
    const out = JSON.parse(await run(process.execPath, ['node-imports.mjs'], { cwd: project })) as Record<string, string>;
    expect(Object.keys(out).sort()).toEqual(Object.keys(exportsMap).sort());
    for (const [sub, result] of Object.entries(out)) {
      if (result.startsWith('optional: ')) optionalMissing.add(sub);
      else expect(result, sub).toBe('ok');
    }
  }, 120_000);

  it('loads in Bun', async () => {
    const out = JSON.parse((await run(tool('bun'), ['node-imports.mjs'], { cwd: project })).trim().split('\n').pop()!) as Record<string, string>;
    for (const [sub, result] of Object.entries(out)) if (!optionalMissing.has(sub)) expect(result, sub).toBe('ok');
  }, 120_000);

  it('loads in Deno (from the project node_modules)', async () => {
    const out = JSON.parse((await run(tool('deno'), ['run', '-A', '--quiet', 'node-imports.mjs'], { cwd: project, timeoutMs: 240_000 })).trim().split('\n').pop()!) as Record<string, string>;
    for (const [sub, result] of Object.entries(out)) if (!optionalMissing.has(sub)) expect(result, sub).toBe('ok');
  }, 300_000);

  // Both checks at once: each is a full tsc over the package's declarations.
  it('type-checks under moduleResolution bundler and node16', async () => {
    const check = async (resolution: 'bundler' | 'node16') => {
      const subs = Object.keys(exportsMap).filter((s) => s !== './package.json' && !optionalMissing.has(s));
      const lines = subs.map((s, i) => `import * as m${i} from '${s === '.' ? 'flotilla' : `flotilla/${s.slice(2)}`}';`);
      const usage = `
import { connect, type RemoteKvClient } from 'flotilla/client';
import { createLocalCluster } from 'flotilla/local';
export async function use(): Promise<string | null> {
  const kv: RemoteKvClient = await connect({ endpoints: ['ws://127.0.0.1:1'], secret: 'x'.repeat(16) });
  const cluster = await createLocalCluster({ stores: 3 });
  const v = await cluster.client().get('k');
  kv.close();
  return v === null ? null : new TextDecoder().decode(v);
}
export const all = [${subs.map((_, i) => `m${i}`).join(', ')}];
`;
      writeFileSync(join(project, `types-${resolution}.ts`), `${lines.join('\n')}\n${usage}`);
      const module = resolution === 'bundler' ? 'preserve' : 'node16';
      const config = { compilerOptions: { module, moduleResolution: resolution, target: 'es2023', lib: ['es2023', 'dom'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false }, files: [`types-${resolution}.ts`] };
      writeFileSync(join(project, `tsconfig.${resolution}.json`), JSON.stringify(config, null, 2));
      await run(join(project, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${resolution}.json`], { cwd: project, timeoutMs: 240_000 });
    };
    await Promise.all([check('bundler'), check('node16')]);
  }, 300_000);
});

describe('the CLI', () => {
  it('npx flotilla --help documents every command', async () => {
    const out = await run('npx', ['--no-install', 'flotilla', '--help'], { cwd: project });
    for (const command of ['serve', 'status', 'regions', 'stores', 'split', 'transfer-leader', 'add-replica', 'remove-replica', 'remove-store', 'demo', 'help']) expect(out).toContain(`flotilla ${command}`);
    expect(out).toContain('--peers');
  }, 120_000);
});

/** A store process of the cluster. */
interface Store {
  id: number;
  runtime: 'node' | 'deno';
  child: ChildProcess;
  out: string;
  exited: Promise<unknown>;
}

describe('a cluster from the installed package', () => {
  const stores: Store[] = [];
  let ports: number[] = [];
  let endpoints: string[] = [];
  const written: string[] = [];

  const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stores.map((s) => `store ${s.id}: ${s.out.slice(-1500)}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const status = async (s: Store) => (await (await fetch(`http://127.0.0.1:${ports[s.id + 2]}/status`)).json()) as { regions: Array<{ id: number; role: string; leaderStoreId: number; applied: number }> };

  beforeAll(async () => {
    ports = await freePorts(6);
    endpoints = ports.slice(0, 3).map((p) => `ws://127.0.0.1:${p}`);
    const peers = ports.slice(0, 3).map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
    for (const [id, runtime] of [[1, 'node'], [2, 'node'], [3, 'deno']] as const) {
      const args = ['serve', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peers, '--http', `127.0.0.1:${ports[id + 2]}`, '--data', join(work, `data-${id}`), '--log-level', 'warn'];
      // Node through the installed bin link; Deno through an npm: specifier, served from the project's node_modules.
      const [cmd, pre] = runtime === 'node' ? [process.execPath, [join(project, 'node_modules', '.bin', 'flotilla')]] : [tool('deno'), ['run', '-A', '--quiet', 'npm:flotilla']];
      const child = spawn(cmd, [...pre, ...args], { cwd: project, env: cleanEnv({ FLOTILLA_SECRET: SECRET }) });
      const s: Store = { id, runtime, child, out: '', exited: new Promise((r) => child.once('exit', r)) };
      child.stdout.on('data', (d) => (s.out += d));
      child.stderr.on('data', (d) => (s.out += d));
      stores.push(s);
    }
    await waitFor('the stores to listen', () => stores.every((s) => /listening on/.test(s.out)), 240_000);
    await waitFor('a leader of the data region', async () => {
      try {
        const st = await status(stores[0]);
        return st.regions.some((r) => r.id !== Number.MAX_SAFE_INTEGER && r.leaderStoreId > 0);
      } catch {
        return false;
      }
    }, 120_000);
  }, 400_000);

  afterAll(async () => {
    for (const s of stores) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(stores.map((s) => s.exited));
  });

  it('serves a Node client (put, get, scan) and runs an in-process cluster', async () => {
    const out = JSON.parse(await run(process.execPath, ['node-smoke.mjs', endpoints.join(','), 'node'], { cwd: project, env: { FLOTILLA_SECRET: SECRET } }));
    expect(out.remote).toEqual({ got: 'node-b', scanned: ['node/a=node-a', 'node/b=node-b', 'node/c=node-c'] });
    expect(out.local).toEqual({ got: 'red', scanned: ['apple', 'zebra'] });
    written.push('node');
  }, 120_000);

  it('replicates to the Deno store over WebSocket', async () => {
    const deno = stores[2];
    await waitFor('the Deno store to apply the writes', async () => (await status(deno)).regions.some((r) => r.id !== Number.MAX_SAFE_INTEGER && r.applied > 3), 60_000);
  }, 90_000);

  it('runs in Chromium from a Vite bundle that pulls neither fs, net nor ws', async () => {
    const executablePath = findChromium();
    if (executablePath === undefined) throw new Error(CHROMIUM_MISSING);
    const subs = writeAllSubpaths();
    await run(join(project, 'node_modules', '.bin', 'vite'), ['build', '--config', 'vite.browser.config.mjs', '--logLevel', 'warn'], { cwd: project, timeoutMs: 180_000 });
    const modules = JSON.parse(readFileSync(join(project, 'dist-browser', 'modules.json'), 'utf8')) as string[];
    expect(modules.some((m) => m.includes('/node_modules/flotilla/dist/'))).toBe(true);
    const pulled = modules.filter((m) => /vite-browser-external|^node:|\/node_modules\/(ws|bufferutil|utf-8-validate)\/|\bnode:(fs|net|http)/.test(m));
    expect(pulled, 'node-only modules in the browser bundle').toEqual([]);
    const server = await serveDir(join(project, 'dist-browser'));
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/index.html`);
      await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 60_000 });
      const { loaded, ...out } = (await page.evaluate(([e, s]) => (window as unknown as { flotillaSmoke(e: string[], s: string): Promise<unknown> }).flotillaSmoke(e, s), [endpoints, SECRET] as const)) as { loaded: Record<string, number> };
      expect(Object.keys(loaded).sort()).toEqual([...subs].sort());
      for (const [sub, names] of Object.entries(loaded)) expect(names, sub).toBeGreaterThan(0);
      expect(out).toEqual({
        stubs: { fs: 'Unsupported', wsServer: 'Unsupported' },
        memory: { got: 'red', scanned: ['apple', 'zebra'] },
        indexeddb: { got: 'red', scanned: ['apple', 'zebra'] },
        channelFrom: '1:7:hi',
        remote: { got: 'chromium-b', scanned: ['chromium/a=chromium-a', 'chromium/b=chromium-b', 'chromium/c=chromium-c'] },
      });
      expect(errors).toEqual([]);
      written.push('chromium');
    } finally {
      await browser.close();
      server.close();
    }
  }, 300_000);

  it('runs in Bun: the client over WebSocket and an in-process cluster', async () => {
    const out = JSON.parse((await run(tool('bun'), ['bun-smoke.mjs'], { cwd: project, env: { FLOTILLA_SECRET: SECRET, ENDPOINTS: endpoints.join(',') } })).trim().split('\n').pop()!);
    expect(out.remote).toEqual({ got: 'bun-b', scanned: ['bun/a=bun-a', 'bun/b=bun-b', 'bun/c=bun-c'] });
    expect(out.local).toEqual({ got: 'red', scanned: ['apple', 'zebra'] });
    written.push('bun');
  }, 120_000);

  it('runs in workerd (Miniflare): the client over WebSocket and an in-memory cluster', async () => {
    const subs = writeAllSubpaths();
    await run(join(project, 'node_modules', '.bin', 'vite'), ['build', '--config', 'vite.worker.config.mjs', '--logLevel', 'warn'], { cwd: project, timeoutMs: 180_000 });
    const { Miniflare } = await import('miniflare');
    const mf = new Miniflare({
      // The modules are given, not located: Miniflare refuses to trace the client's `import(variable)`
      // (Node 20's ws fallback, never reached where a global WebSocket exists).
      modules: [{ type: 'ESModule', path: 'worker.js', contents: readFileSync(join(project, 'dist-worker', 'worker.js'), 'utf8') }],
      compatibilityDate: '2025-09-01',
      bindings: { ENDPOINTS: endpoints.join(','), SECRET },
    });
    try {
      const res = await mf.dispatchFetch('http://localhost/');
      const { loaded, ...out } = (await res.json()) as { loaded: Record<string, number> };
      expect(Object.keys(loaded ?? {}).sort(), JSON.stringify(out)).toEqual([...subs].sort());
      for (const [sub, names] of Object.entries(loaded)) expect(names, sub).toBeGreaterThan(0);
      expect(out).toEqual({
        remote: { got: 'workerd-b', scanned: ['workerd/a=workerd-a', 'workerd/b=workerd-b', 'workerd/c=workerd-c'] },
        local: { got: 'red', scanned: ['apple', 'zebra'] },
      });
      written.push('workerd');
    } finally {
      await mf.dispose();
    }
  }, 240_000);

  it('reads every write back after the leader of the data region is killed with SIGKILL', async () => {
    const view = await status(stores[0]);
    const leaderId = view.regions.find((r) => r.id !== Number.MAX_SAFE_INTEGER)!.leaderStoreId;
    const leader = stores[leaderId - 1];
    leader.child.kill('SIGKILL');
    await leader.exited;
    const out = JSON.parse(await run(process.execPath, ['read-all.mjs', endpoints.join(','), ...written], { cwd: project, env: { FLOTILLA_SECRET: SECRET }, timeoutMs: 120_000 }));
    const expected = Object.fromEntries(written.flatMap((p) => ['a', 'b', 'c'].map((k) => [`${p}/${k}`, `${p}-${k}`])));
    expect(out.gets).toEqual(expected);
    for (const [k, v] of Object.entries(expected)) expect(out.rows).toContain(`${k}=${v}`);
    expect(out.after).toBe('yes');
    console.log(`flotilla pack: killed store ${leaderId} (${leader.runtime}), leader of the data region; ${Object.keys(expected).length} keys read back`);
  }, 180_000);
});

/**
 * Writes all-subpaths.mjs into the project: every subpath of the installed package's exports
 * imported, and how many names each exported (so a new subpath is bundled without a test edit).
 * Subpaths whose optional dependency is not installed are left out.
 */
function writeAllSubpaths(): string[] {
  const subs = Object.keys(exportsMap).filter((s) => s !== './package.json' && !optionalMissing.has(s));
  const spec = (s: string) => (s === '.' ? 'flotilla' : `flotilla/${s.slice(2)}`);
  const lines = subs.map((s, i) => `import * as m${i} from '${spec(s)}';`);
  lines.push(`export const loaded = { ${subs.map((s, i) => `${JSON.stringify(s)}: Object.keys(m${i}).length`).join(', ')} };`);
  writeFileSync(join(project, 'all-subpaths.mjs'), `${lines.join('\n')}\n`);
  return subs;
}

/** Serves a directory's files on a free loopback port. */
function serveDir(dir: string): Promise<Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\.\.+/g, '');
    try {
      const body = readFileSync(join(dir, path));
      res.writeHead(200, { 'content-type': types[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
