/**
 * The stores of the cluster and the URLs they listen at, as one store knows them: from `--peers`,
 * its data directory, joins it answered, and the announcements other stores send it. A store's own
 * announcement of its address wins over hearsay; hearsay only fills gaps.
 */
import type { StoreAddress } from '../../src/server/protocol.ts';

/** See the module comment. */
export interface AddressBook {
  /** Records `url` for `storeId` unless an address is known already. */
  add(storeId: number, url: string): void;
  /** Merges an announcement from store `from` (authoritative for its own address). */
  merge(from: number, stores: readonly StoreAddress[]): void;
  get(storeId: number): string | undefined;
  /** Every known store, by id. */
  list(): StoreAddress[];
}

/**
 * Creates an address book.
 * @param selfId - this store (its own address never changes here).
 * @param selfUrl - the URL this store advertises.
 * @param known - addresses known at start.
 * @param rewrite - applied to every address recorded (a TLS store turns `ws://` into `wss://`).
 */
export function createAddressBook(selfId: number, selfUrl: string, known: readonly StoreAddress[], rewrite: (url: string) => string = (u) => u): AddressBook {
  const book = new Map<number, string>([[selfId, selfUrl]]);
  const add = (id: number, url: string) => {
    if (!book.has(id) && url.length > 0) book.set(id, rewrite(url));
  };
  for (const s of known) add(s.id, s.url);
  return {
    add,
    merge(from, stores) {
      for (const s of stores) {
        if (s.id === from && from !== selfId) book.set(s.id, rewrite(s.url));
        else add(s.id, s.url);
      }
    },
    get: (id) => book.get(id),
    list: () => [...book].map(([id, url]) => ({ id, url })).sort((a, b) => a.id - b.id),
  };
}
