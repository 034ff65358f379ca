/**
 * `flotilla --help` documents every command and flag: every key of the serve config schema has
 * its `--flag` in `flotilla help serve`, every command of the overview has its own help, and
 * `--help` prints all of it. A flag or command added without help fails here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveConfigSchema } from '../../adapters/server/config.ts';
import { main } from '../../bin/cli.ts';
import { COMMAND_HELP } from '../../bin/help.ts';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

async function output(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('flotilla help', () => {
  it('describes every serve config key as a flag', () => {
    const keys = Object.keys(serveConfigSchema.shape);
    expect(keys.length).toBeGreaterThan(10);
    for (const key of keys) {
      const flag = key === 'pd' ? '--no-pd' : `--${kebab(key)}`;
      expect(COMMAND_HELP.serve, `flotilla help serve lacks ${flag}`).toContain(flag);
    }
  });

  it('has a page for every command, and --help prints them all', async () => {
    const all = await output(['--help']);
    expect(all.code).toBe(0);
    for (const [command, text] of Object.entries(COMMAND_HELP)) {
      const one = await output(['help', command]);
      expect(one.code, command).toBe(0);
      expect(one.out.trim()).toBe(text);
      expect(all.out).toContain(text);
      expect(all.out, `the overview lists ${command}`).toMatch(new RegExp(`^  ${command}\\b|[|] ${command}\\b`, 'm'));
    }
  });

  it('answers an unknown command with the overview and exit code 2', async () => {
    const r = await output(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "frobnicate"');
    expect((await output(['help', 'frobnicate'])).code).toBe(2);
    expect((await output(['serve', '--help'])).out).toContain('--peers');
  });
});
