// The memory engine in the browser: sorted-btree reaches the page through the bundler's CommonJS
// interop, a different path from Node's, so the conformance suite runs here too.
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { describeStorageConformance } from '../storage/conformance.ts';

describeStorageConformance('memory (Chromium)', {
  persistent: false,
  async fresh() {
    return { open: async (options) => createMemoryStorage(options) };
  },
});
