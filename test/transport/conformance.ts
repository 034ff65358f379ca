/**
 * The transport conformance suite under vitest: every adapter's test file calls
 * {@link describeTransport} with a harness that starts connected endpoints, lets frames flow, and
 * breaks a link. The cases themselves live in `conformance-cases.ts` (no vitest imports), so that
 * Deno runs the very same ones (`deno-conformance.ts`).
 */
import { afterEach, describe, it } from 'vitest';
import { conformanceCases, type TransportHarness } from './conformance-cases.ts';

export { type HarnessOptions, record, req, settleUntil, type TransportHarness } from './conformance-cases.ts';

/**
 * Runs the conformance suite against one adapter.
 * @param name - the adapter's name in test titles.
 * @param makeHarness - a fresh harness per test.
 */
export function describeTransport(name: string, makeHarness: () => TransportHarness): void {
  describe(`Transport conformance: ${name}`, () => {
    let h: TransportHarness | undefined;
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });
    for (const c of conformanceCases) {
      it(c.name, async () => {
        h = makeHarness();
        await c.run(h);
      });
    }
  });
}
