/**
 * Finds a Chromium (or Chrome) for the browser tests: `CHROMIUM_PATH`, then `CHROME_PATH`, then a
 * browser Playwright downloaded (`npx playwright install chromium`), then the usual system places
 * on Linux, macOS and Windows. Used by vitest.config.ts and the package test.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The flags every browser run uses: no sandbox (CI runs as root), no GPU, no network chatter of its own. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** What to tell someone who has none, in one line. */
export const CHROMIUM_MISSING =
  'no Chromium found: install one (Debian/Ubuntu: apt-get install chromium; macOS/Windows: Google Chrome; or npx playwright install chromium) or set CHROMIUM_PATH to its executable';

function playwrightChromium(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pw = require('playwright-core') as { chromium: { executablePath(): string } };
    return pw.chromium.executablePath();
  } catch {
    // playwright-core missing, or it knows no browser for this platform.
    return undefined;
  }
}

function systemPaths(): string[] {
  if (process.platform === 'darwin') {
    return ['Chromium', 'Google Chrome', 'Google Chrome Canary'].map((app) => `/Applications/${app}.app/Contents/MacOS/${app}`);
  }
  if (process.platform === 'win32') {
    const roots = [process.env.PROGRAMFILES, process.env['PROGRAMFILES(X86)'], process.env.LOCALAPPDATA].filter((r): r is string => r !== undefined);
    return roots.flatMap((r) => [join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'), join(r, 'Chromium', 'Application', 'chrome.exe')]);
  }
  const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
  return ['/usr/bin', '/usr/local/bin', '/snap/bin', '/opt/google/chrome'].flatMap((dir) => names.map((n) => join(dir, n)));
}

/**
 * The path of a Chromium executable, or undefined when there is none.
 * @param env - the environment to read `CHROMIUM_PATH` / `CHROME_PATH` from.
 */
export function findChromium(env: Record<string, string | undefined> = process.env): string | undefined {
  for (const name of ['CHROMIUM_PATH', 'CHROME_PATH']) {
    const p = env[name];
    // A path given explicitly wins even if wrong, so that the launch error names it.
    if (p !== undefined && p !== '') return p;
  }
  const candidates = [playwrightChromium(), ...systemPaths()].filter((p): p is string => p !== undefined);
  return candidates.find((p) => existsSync(p));
}
