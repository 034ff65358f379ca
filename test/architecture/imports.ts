/**
 * The import graph of `src/` and the rules it must keep (docs/architecture.md, "Layers"): no
 * cycles, every arrow downward through {@link LAYERS}, the Raft core on nothing but itself and
 * `src/ports.ts`. Pure functions over a map of path → source text, so that the tests can feed
 * the real tree with one edge added and watch the check fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';

/** Repository-relative path (posix) → source text. */
export type Sources = ReadonlyMap<string, string>;
/** Importing file → what it imports: repository-relative paths, or {@link PACKAGE} and the name as written. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/**
 * The layers of `src/`, bottom first. A file may import its own module and modules of lower
 * layers, never one of its own layer or above. A module is a directory under `src/` or a file
 * directly in it; `region/types.ts` is one of its own, since it imports nothing and `errors.ts`
 * names the Region it declares while the rest of `region/` throws the errors of `errors.ts`.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['ports.ts', 'region/types.ts'],
  ['util', 'storage', 'errors.ts'],
  ['raft'],
  ['region', 'codec'],
  ['transport', 'kv', 'pd', 'linearizability'],
  ['auth'],
  ['store'],
  ['server'],
  ['client'],
  ['index.ts'],
];

/** Prefix of a bare specifier (a package or a `node:` built-in) in an {@link ImportGraph}. */
export const PACKAGE = 'package:';

/** What the Raft core may reach, directly or through other files: itself and the ports. */
const RAFT_REACH = (target: string) => target.startsWith('src/raft/') || target === 'src/ports.ts';

/** Every `.ts` file under `dir` (repository-relative, e.g. `src`), read from disk. */
export function readSources(root: string, dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const abs = join(entry.parentPath, entry.name);
    out.set(posix.normalize(abs.slice(root.length + 1).replaceAll('\\', '/')), readFileSync(abs, 'utf8'));
  }
  return out;
}

/** The specifiers of every import, re-export and dynamic import in `source`, type-only ones included. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Resolves every file's specifiers: relative ones to repository paths, bare ones to {@link PACKAGE} + name. */
export function buildGraph(sources: Sources): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    graph.set(file, importSpecifiers(text).map((s) => (s.startsWith('.') ? posix.join(posix.dirname(file), s) : PACKAGE + s)));
  }
  return graph;
}

/** Every import cycle, as the files of each strongly connected component (Tarjan), self-imports included. */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)!.includes(v)) cycles.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** The module of a file under `src/` (see {@link LAYERS}). */
export function moduleOf(file: string): string {
  const rest = file.slice('src/'.length);
  if (rest === 'region/types.ts') return rest;
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

/** Every import that breaks a layering rule, one sentence each; empty when the graph keeps them all. */
export function layerViolations(graph: ImportGraph): string[] {
  const layerOf = new Map(LAYERS.flatMap((mods, i) => mods.map((m) => [m, i] as const)));
  const out: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith('src/')) continue;
    const from = moduleOf(file);
    if (!layerOf.has(from)) out.push(`${file}: module ${from} is in no layer of LAYERS (place it there and in docs/architecture.md)`);
    for (const t of targets) {
      if (t.startsWith(PACKAGE)) continue;
      if (!t.startsWith('src/')) {
        out.push(`${file} imports ${t}, outside src/`);
        continue;
      }
      if (!graph.has(t)) {
        out.push(`${file} imports ${t}, which is not a file`);
        continue;
      }
      const to = moduleOf(t);
      if (to === from || !layerOf.has(from) || !layerOf.has(to)) continue;
      if (layerOf.get(to)! >= layerOf.get(from)!) out.push(`${file} imports ${t}: ${from} may not import ${to} (same layer or above)`);
    }
  }
  return out.concat(raftReachViolations(graph));
}

/** Files and packages the Raft core reaches that are neither `src/raft/` nor the ports, with the path to each. */
function raftReachViolations(graph: ImportGraph): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const queue: Array<{ file: string; path: string[] }> = [...graph.keys()].filter((f) => f.startsWith('src/raft/')).map((f) => ({ file: f, path: [f] }));
  while (queue.length > 0) {
    const { file, path } = queue.shift()!;
    for (const t of graph.get(file) ?? []) {
      if (seen.has(t)) continue;
      seen.add(t);
      if (!RAFT_REACH(t)) out.push(`the Raft core reaches ${t}: ${[...path, t].join(' -> ')}`);
      else queue.push({ file: t, path: [...path, t] });
    }
  }
  return out;
}
