// The storage conformance suite against the real IndexedDB of headless Chromium.
import { expect, it } from 'vitest';
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb.ts';
import { describeStorageConformance } from '../storage/conformance.ts';

let next = 0;

it('runs in a real browser with a real IndexedDB', () => {
  expect(navigator.userAgent).toMatch(/Chrome\//);
  expect(typeof indexedDB.open).toBe('function');
  expect(String(indexedDB)).toBe('[object IDBFactory]');
});

describeStorageConformance('indexeddb (Chromium)', {
  persistent: true,
  async fresh() {
    const name = `conformance-${Date.now()}-${next++}`;
    return {
      open: (options) => createIndexedDbStorage({ name, ...options }),
      async dispose() {
        await new Promise<void>((resolve, reject) => {
          const req = indexedDB.deleteDatabase(name);
          req.onsuccess = () => resolve();
          req.onerror = () => reject(req.error);
        });
      },
    };
  },
});
