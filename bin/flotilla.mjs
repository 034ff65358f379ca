#!/usr/bin/env node
// The `flotilla` command as installed from the package: plain JavaScript that runs the compiled
// CLI (dist/bin/cli.js, built by `npm run build`, which `prepack` runs), so Node, Deno
// (`deno run -A npm:flotilla ...`) and Bun need no TypeScript loader. In a git checkout, run the
// sources instead: `npx tsx bin/cli.ts ...` or `deno run -A bin/cli.ts ...`.
import { main } from '../dist/bin/cli.js';

const deno = globalThis.Deno;
const code = await main(deno ? deno.args : process.argv.slice(2));
// -1: a server keeps running and exits from its own signal handler.
if (code >= 0) process.exit(code);
