#!/usr/bin/env node
// The `flotilla` command under Node: Node 20 cannot run TypeScript, so this launcher registers
// tsx's loader in this very process (signals and exit codes stay the command's own) and runs
// bin/cli.ts. Under Deno run bin/cli.ts directly: `deno run -A bin/cli.ts serve ...`.
import { register } from 'tsx/esm/api';

register();
globalThis.__flotillaBin = true;
await import('./cli.ts');
