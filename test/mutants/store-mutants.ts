/**
 * Mutants of the store layer (beside `mutants.ts`, which patches the Raft core): each a textual
 * patch of `src/`, judged by issue 22's wipe scenario (`test/store/wipe-scenario.ts`) run against a
 * patched copy of `src/` and `adapters/` in a temporary folder (the working tree is never
 * touched). A mutant is killed when the scenario loses the acknowledged write or fails to recover.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runWipeScenario, type WipeScenarioDeps, type WipeScenarioResult } from '../store/wipe-scenario.ts';
import type { Mutant } from './mutants.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Two layers keep a wiped store that bootstrapped again from making a majority with a lagging one:
 * the incarnation guard (the lagging store refuses the wiped store's messages) and the withheld
 * vote (the wiped store's fresh replica votes for no candidate holding data). Either alone holds
 * the scenario, so each layer's mutants are judged with the other layer switched off: that shows
 * each one does its job by itself.
 */
const VOTE_RULE_OFF = {
  file: 'store/inbound.ts',
  search: "if ((message.type === 'MsgVote' || message.type === 'MsgPreVote') && withholdsVote(peer, message)) {",
  replace: 'if (false) {',
};
const GUARD_OFF = {
  file: 'store/inbound.ts',
  search: 'if (checked && peer.storage.initialized && !ctx.guard.admits(peer.region, message.from, fromStoreId, incarnation)) continue;',
  replace: '',
};

export const STORE_MUTANTS: readonly Mutant[] = [
  {
    name: 'no-incarnation-check',
    description: 'the store steps messages from replicas whose store came back with other data (a wiped disk), so a wiped store and a lagging one form a majority without the acknowledged write (withheld votes off)',
    patches: [GUARD_OFF, VOTE_RULE_OFF],
  },
  {
    name: 'incarnation-first-seen-forgotten',
    description: 'the first incarnation seen of a store is not remembered, so every incarnation is trusted on first use (again after a wipe) (withheld votes off)',
    patches: [
      {
        file: 'store/incarnation-guard.ts',
        search: 'const expected = member?.incarnation ?? this.seen.get(storeId);',
        replace: 'const expected = member?.incarnation;',
      },
      VOTE_RULE_OFF,
    ],
  },
  {
    name: 'no-withheld-vote',
    description: 'a replica as bootstrap left it votes for a candidate holding data, so a wiped store that bootstrapped again makes a majority with a lagging one (incarnation check off)',
    patches: [
      {
        file: 'store/inbound.ts',
        search: 'return vote.index > RAFT_INIT_INDEX || vote.logTerm > RAFT_INIT_TERM;',
        replace: 'return false;',
      },
      GUARD_OFF,
    ],
  },
];

/** The scenario's verdict: null when the code behaved, else what went wrong. */
export function wipeScenarioFailure(r: WipeScenarioResult): string | null {
  if (r.step5 === 'base' || r.afterStore1 !== 'acked') return `the acknowledged write was lost: ${JSON.stringify(r)}`;
  if (r.afterRejoin !== 'acked') return `the wiped store did not come back: ${JSON.stringify(r)}`;
  return null;
}

/** Copies `src/` and `adapters/` with the patches applied; throws if a search string is not found exactly once. */
function materialize(m: Mutant): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-store-mutant-'));
  for (const sub of ['src', 'adapters']) cpSync(join(ROOT, sub), join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  // The copy imports the same packages (zod, sorted-btree, ...).
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const p of m.patches) {
    const path = join(dir, 'src', p.file);
    const text = readFileSync(path, 'utf8');
    const count = text.split(p.search).length - 1;
    if (count !== 1) throw new Error(`mutant ${m.name}: search string found ${count} times in src/${p.file} (expected once): ${JSON.stringify(p.search)}`);
    writeFileSync(path, text.replace(p.search, () => p.replace));
  }
  return dir;
}

/**
 * Judges a store mutant (`null`: the unmutated code) with the wipe scenario over `seeds`.
 * @returns what killed it (the seed and the failure), or null if it survived.
 */
export async function judgeStoreMutant(m: Mutant | null, seeds: readonly number[]): Promise<string | null> {
  const dir = m ? materialize(m) : ROOT;
  try {
    const at = (path: string) => pathToFileURL(join(dir, path)).href;
    const deps: WipeScenarioDeps = {
      createLocalCluster: ((await import(at('adapters/local-cluster.ts'))) as WipeScenarioDeps & Record<string, unknown>).createLocalCluster,
      createVirtualClock: ((await import(at('adapters/runtime/virtual-clock.ts'))) as WipeScenarioDeps & Record<string, unknown>).createVirtualClock,
    };
    for (const seed of seeds) {
      const failure = wipeScenarioFailure(await runWipeScenario(deps, seed, { bootstrapAgain: true }));
      if (failure) return `wipe scenario seed ${seed} (the wiped store bootstraps again): ${failure}`;
    }
    return null;
  } finally {
    if (m) rmSync(dir, { recursive: true, force: true });
  }
}
