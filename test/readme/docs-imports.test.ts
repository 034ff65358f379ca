/**
 * The README and docs/*.md stay true to the package: every `import { ... } from 'flotilla...'` in
 * their code blocks names a subpath of package.json `exports`, and every value it imports is
 * exported by that subpath's module (read from the sources the build compiles); every relative
 * link between them points at a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { default?: string } | string> };
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The source module a subpath's `default` target is compiled from: dist/x/y.js -> x/y.ts. */
function sourceOf(subpath: string): string {
  const target = pkg.exports[subpath];
  const js = typeof target === 'string' ? target : target.default!;
  return join(root, js.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
}

describe('README and docs', () => {
  for (const page of pages) {
    it(`${page}: flotilla imports exist`, async () => {
      const text = readFileSync(join(root, page), 'utf8');
      const blocks = [...text.matchAll(/```(?:ts|js|typescript|javascript)\n([\s\S]*?)```/g)].map((m) => m[1]);
      for (const code of blocks) {
        for (const m of code.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(flotilla(?:\/[^']*)?)'/g)) {
          const subpath = m[3] === 'flotilla' ? '.' : `./${m[3].slice('flotilla/'.length)}`;
          expect(Object.keys(pkg.exports), `${page} imports ${m[3]}`).toContain(subpath);
          if (m[1]) continue;
          const names = m[2]
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n.length > 0 && !n.startsWith('type '))
            .map((n) => n.split(/\s+as\s+/)[0]);
          const mod = (await import(sourceOf(subpath))) as Record<string, unknown>;
          for (const name of names) expect(mod[name], `${page}: ${name} from ${m[3]}`).toBeDefined();
        }
      }
    });

    it(`${page}: relative links resolve`, () => {
      const text = readFileSync(join(root, page), 'utf8');
      for (const m of text.matchAll(/\]\(((?!https?:|#|mailto:)[^)#\s]+)(#[^)]*)?\)/g)) {
        expect(existsSync(join(root, dirname(page), m[1])), `${page} links to ${m[1]}`).toBe(true);
      }
    });
  }
});
