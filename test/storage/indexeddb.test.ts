import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb.ts';
import { describeStorageConformance } from './conformance.ts';

describeStorageConformance('indexeddb (fake-indexeddb)', {
  persistent: true,
  async fresh() {
    // A factory per test: an isolated set of databases that still outlives close() for reopening.
    const indexedDB = new IDBFactory();
    return { open: (options) => createIndexedDbStorage({ name: 'conformance', indexedDB, ...options }) };
  },
});
