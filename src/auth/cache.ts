/**
 * The auth table a store enforces: the newest revision it has seen, from its own replica of PD's
 * group or from PD (stores outside the group ask each heartbeat round). Kept in the store's engine
 * under 0x05 0x01, outside PD's state (which a PD snapshot replaces), and written before the
 * revision is used, so a restarted store enforces the rules it had before it reaches PD — a store
 * whose disk came back empty knows no accounts and refuses every user login until PD tells it.
 */
import type { StorageEngine } from '../ports.ts';
import { type AuthTable, decodeAuthTable, EMPTY_AUTH_TABLE, encodeAuthTable } from './table.ts';

/** Engine prefix of the store-local auth copy. */
export const AUTH_CACHE_PREFIX = 0x05;
const CACHE_KEY = Uint8Array.of(AUTH_CACHE_PREFIX, 0x01);

/** See the module comment. */
export class AuthCache {
  private current: AuthTable;
  private readonly engine: StorageEngine | undefined;
  /** Writes of newer tables, one after the other. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(engine: StorageEngine | undefined, table: AuthTable) {
    this.engine = engine;
    this.current = table;
  }

  /** An empty cache that keeps nothing (in-process clusters without accounts). */
  static empty(): AuthCache {
    return new AuthCache(undefined, EMPTY_AUTH_TABLE);
  }

  /**
   * Loads the copy kept in `engine`, or the empty table. A damaged copy counts as none: PD's
   * copy replaces it within a heartbeat round.
   */
  static async load(engine: StorageEngine): Promise<AuthCache> {
    const b = await engine.get(CACHE_KEY);
    let table = EMPTY_AUTH_TABLE;
    if (b) {
      try {
        table = decodeAuthTable(b);
      } catch {
        table = EMPTY_AUTH_TABLE;
      }
    }
    return new AuthCache(engine, table);
  }

  /** The table in force. */
  get table(): AuthTable {
    return this.current;
  }

  /**
   * Takes `table` when it is newer than the one in force, once it is durable here.
   * @returns whether it was newer.
   */
  async adopt(table: AuthTable): Promise<boolean> {
    if (table.revision <= this.current.revision) return false;
    const write = this.writing.then(async () => {
      if (table.revision <= this.current.revision) return;
      await this.engine?.write([{ type: 'put', key: CACHE_KEY, value: encodeAuthTable(table) }], { sync: true });
      if (table.revision > this.current.revision) this.current = table;
    });
    this.writing = write.catch(() => undefined);
    await write;
    return true;
  }
}
