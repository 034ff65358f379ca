/**
 * The import rules of `src/` (docs/architecture.md, "Layers"): no cycles, arrows only downward,
 * the Raft core on nothing above it. The checker is tested too, on small graphs and on the real
 * tree with one forbidden edge added, so that a check that cannot fail would show here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildGraph, findCycles, importSpecifiers, LAYERS, layerViolations, moduleOf, readSources } from './imports.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
const SRC = readSources(ROOT, 'src');

/** The real `src/` with `line` added at the top of `file`. */
function withLine(file: string, line: string): Map<string, string> {
  const text = SRC.get(file);
  if (text === undefined) throw new Error(`no ${file} in src/`);
  return new Map(SRC).set(file, `${line}\n${text}`);
}

describe('src/ imports', () => {
  it('form no cycle, type-only imports included', () => {
    expect(SRC.size).toBeGreaterThan(100);
    expect(findCycles(buildGraph(SRC))).toEqual([]);
  });

  it('run only downward through the layers, and the Raft core reaches only src/raft and src/ports.ts', () => {
    expect(layerViolations(buildGraph(SRC))).toEqual([]);
  });

  it('place every module of src/ in exactly one layer', () => {
    const placed = LAYERS.flat();
    expect(new Set(placed).size).toBe(placed.length);
    expect([...new Set([...SRC.keys()].map(moduleOf))].filter((m) => !placed.includes(m))).toEqual([]);
  });

  it('are the layers docs/architecture.md draws, top first', () => {
    const doc = readFileSync(`${ROOT}/docs/architecture.md`, 'utf8');
    const picture = doc.split('## Layers')[1]?.split('```')[1];
    expect(picture, 'docs/architecture.md has a "## Layers" section with a code block').toBeDefined();
    // Each line: the modules of one layer (three spaces apart), then, further right, a comment.
    const drawn = picture!.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s{6,}/)[0].split(/\s+/));
    expect(drawn.reverse()).toEqual(LAYERS);
  });
});

describe('the import checker', () => {
  it('reads static, type-only, multi-line, re-export and dynamic imports, not comments or strings', () => {
    const text = [
      "// import a from './comment.ts';",
      "import type { A } from './a.ts';",
      'import {\n  b,\n  type C,\n} from "./b.ts";',
      "export type * from './c.ts';",
      "const s = 'import d from \"./string.ts\"';",
      "const m = await import('./dyn.ts');",
      "import 'zod';",
    ].join('\n');
    expect(importSpecifiers(text)).toEqual(['./a.ts', './b.ts', './c.ts', './dyn.ts', 'zod']);
  });

  it('finds a type-only cycle the real tree would get back (leader.ts importing raft.ts)', () => {
    const graph = buildGraph(withLine('src/raft/leader.ts', "import type { Raft } from './raft.ts';"));
    const cycles = findCycles(graph);
    expect(cycles.length).toBe(1);
    expect(cycles[0]).toEqual(expect.arrayContaining(['src/raft/leader.ts', 'src/raft/raft.ts']));
  });

  it('finds a self-import and a three-file cycle', () => {
    const graph = buildGraph(
      new Map([
        ['src/a.ts', "import './b.ts';"],
        ['src/b.ts', "import type { C } from './c.ts';"],
        ['src/c.ts', "export * from './a.ts';"],
        ['src/d.ts', "import './d.ts';"],
      ]),
    );
    expect(findCycles(graph)).toEqual([['src/a.ts', 'src/b.ts', 'src/c.ts'], ['src/d.ts']]);
  });

  it('refuses src/store importing src/client (an upward arrow)', () => {
    const graph = buildGraph(withLine('src/store/dispatch.ts', "import type { StoreConnector } from '../client/connector.ts';"));
    expect(layerViolations(graph)).toEqual([
      'src/store/dispatch.ts imports src/client/connector.ts: store may not import client (same layer or above)',
    ]);
  });

  it('refuses an import between modules of one layer (kv and pd)', () => {
    const graph = buildGraph(withLine('src/kv/read.ts', "import type { PdConfig } from '../pd/config.ts';"));
    expect(layerViolations(graph)).toEqual(['src/kv/read.ts imports src/pd/config.ts: kv may not import pd (same layer or above)']);
  });

  it('refuses the Raft core reaching src/codec through another file, and a package', () => {
    const viaPorts = buildGraph(withLine('src/ports.ts', "import type { Frame } from './codec/schema.ts';"));
    const found = layerViolations(viaPorts);
    expect(found).toContain('src/ports.ts imports src/codec/schema.ts: ports.ts may not import codec (same layer or above)');
    expect(found.some((v) => v.startsWith('the Raft core reaches src/codec/schema.ts: src/raft/') && v.includes(' -> src/ports.ts -> src/codec/schema.ts'))).toBe(true);
    const pkg = layerViolations(buildGraph(withLine('src/raft/log.ts', "import { z } from 'zod';")));
    expect(pkg).toEqual(['the Raft core reaches package:zod: src/raft/log.ts -> package:zod']);
  });

  it('refuses src/ importing adapters/, a missing file, and a module in no layer', () => {
    const graph = buildGraph(
      new Map(SRC)
        .set('src/kv/read.ts', `import { createMemoryStorage } from '../../adapters/storage/memory.ts';\n${SRC.get('src/kv/read.ts')}`)
        .set('src/region/split.ts', `import './gone.ts';\n${SRC.get('src/region/split.ts')}`)
        .set('src/extra/new.ts', "import type { Clock } from '../ports.ts';"),
    );
    expect(layerViolations(graph)).toEqual([
      'src/kv/read.ts imports adapters/storage/memory.ts, outside src/',
      'src/region/split.ts imports src/region/gone.ts, which is not a file',
      'src/extra/new.ts: module extra is in no layer of LAYERS (place it there and in docs/architecture.md)',
    ]);
  });
});
