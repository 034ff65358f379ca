/**
 * A store process's data directory: the storage engine (lmdb or fs, see `adapters/storage/disk.ts`;
 * both lock the directory against a second process) and `flotilla-store.json`, the store's identity (id, cluster, the initial and PD
 * stores, the addresses it knew), written once the store has bootstrapped or joined, so that a
 * restart never bootstraps or joins again. Also: joining a running cluster through one of its stores.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger, StorageEngine } from '../../src/ports.ts';
import { STORE_ID_MAX, type ClusterInfo, type StoreAddress } from '../../src/server/protocol.ts';
import { createClientIdentity, createRemoteCaller } from '../client/remote-caller.ts';
import { type DiskEngineKind, openDiskStorage } from '../storage/disk.ts';
import type { WebSocketConstructor } from '../transport/websocket-link.ts';

/** Who a store is, as recorded in its data directory. */
export interface StoreIdentity {
  storeId: number;
  clusterId: string;
  /** Stores and addresses known when the identity was made. */
  stores: StoreAddress[];
  /** The stores the cluster was bootstrapped with (they share the initial regions). */
  initialStoreIds: number[];
  /** Stores hosting PD's group; empty without PD. */
  pdStoreIds: number[];
  /** The store this one replaced after that store lost its data (it rejoined under a new id). */
  replacesStoreId?: number;
}

const IDENTITY_FILE = 'flotilla-store.json';
const id = z.int().positive().max(STORE_ID_MAX);
const identitySchema = z.object({
  storeId: id,
  clusterId: z.string().min(1),
  stores: z.array(z.object({ id, url: z.string() })),
  initialStoreIds: z.array(id),
  pdStoreIds: z.array(id),
  replacesStoreId: id.optional(),
});

/** An opened data directory. */
export interface StoreData {
  engine: StorageEngine;
  /** Which engine the directory uses (see `adapters/storage/disk.ts`). */
  engineKind: DiskEngineKind;
  /** The recorded identity; undefined for a new directory. */
  identity: StoreIdentity | undefined;
  /** Records the identity (synced: written to a temp file, fsynced, renamed). */
  save(identity: StoreIdentity): Promise<void>;
}

/**
 * Opens (creating if missing) a data directory, or nothing without one (memory storage).
 * @param dir - the directory; rejects with the engine's `LockedError` when another process holds it.
 * @param options - the engine wanted (default: lmdb, or what the directory holds) and the logger of its warnings.
 */
export async function openStoreData(dir: string | undefined, options: { engine?: DiskEngineKind; logger?: Logger } = {}): Promise<StoreData | undefined> {
  if (dir === undefined) return undefined;
  // Only the store's user may enter its data directory, whatever the umask or an earlier mkdir made.
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700);
  const { engine, kind: engineKind } = await openDiskStorage({ dir, engine: options.engine, logger: options.logger });
  const file = join(dir, IDENTITY_FILE);
  let identity: StoreIdentity | undefined;
  try {
    const text = await fsp.readFile(file, 'utf8');
    const parsed = identitySchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${file} is not a store identity: ${parsed.error.issues[0]?.message}`);
    identity = parsed.data;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') {
      await engine.close();
      throw e;
    }
  }
  return {
    engine,
    engineKind,
    identity,
    async save(next) {
      const tmp = `${file}.tmp`;
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(next, null, 2));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    },
  };
}

/**
 * Joins a running cluster: asks the store at `options.join` for the cluster's stores and an id
 * (unless `options.storeId` is given), and announces this store's address.
 * @param options - `join` (a URL), `secret`, `clusterId`, and `storeId` if chosen.
 * @param advertise - the URL this store will listen at.
 * @param WebSocket - the constructor to dial with.
 */
export async function joinCluster(
  options: { join?: string; secret: string; clusterId: string; storeId?: number; replaces?: number },
  advertise: string,
  WebSocket: WebSocketConstructor,
): Promise<StoreIdentity> {
  const url = options.join!;
  const caller = createRemoteCaller({
    identity: await createClientIdentity(options.clusterId, options.secret),
    WebSocket,
    endpoints: [url],
    connectTimeoutMs: 5000,
    callTimeoutMs: 10_000,
  });
  try {
    const answer = (await caller.callUrl(url, { t: 'join', storeId: options.storeId, url: advertise, replaces: options.replaces })) as ClusterInfo & { assignedId: number; initialStoreIds: number[] };
    return {
      storeId: answer.assignedId,
      clusterId: options.clusterId,
      // The store replaced had this very address: it is no one to dial any more.
      stores: answer.stores.filter((s) => s.id !== options.replaces),
      initialStoreIds: answer.initialStoreIds,
      pdStoreIds: answer.pdStoreIds,
      ...(options.replaces !== undefined ? { replacesStoreId: options.replaces } : {}),
    };
  } catch (e) {
    throw new Error(`cannot join the cluster through ${url}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    caller.close();
  }
}

/** A peer that answered {@link probePeers}. */
export interface PeerAnswer {
  url: string;
  /** The first incarnation of the asking store id it recorded; null if it never heard of it. */
  seen: string | null;
  /** How many of its replicas' regions have a replica on the asking store id. */
  replicas: number;
}

/**
 * Asks each of `urls`, all at once, what it knows of store `storeId`: whether a cluster is running,
 * and whether it has known this store before (then this store lost its data). Tries again until
 * some peer answers or `timeoutMs` passed; with `timeoutMs` 0, one round only.
 * @param urls - the peers' URLs.
 * @param options - `secret` and `clusterId` to authenticate with, the store id asked about, how long to try.
 * @param WebSocket - the constructor to dial with.
 */
export async function probePeers(urls: readonly string[], options: { secret: string; clusterId: string; storeId: number; timeoutMs: number }, WebSocket: WebSocketConstructor): Promise<PeerAnswer[]> {
  if (urls.length === 0) return [];
  const identity = await createClientIdentity(options.clusterId, options.secret);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const attempts = urls.map(async (url): Promise<PeerAnswer> => {
      const caller = createRemoteCaller({ identity, WebSocket, endpoints: [url], connectTimeoutMs: 1500, callTimeoutMs: 1500 });
      try {
        const a = (await caller.callUrl(url, { t: 'seen', storeId: options.storeId })) as { seen: string | null; replicas: number };
        return { url, seen: a.seen, replicas: a.replicas };
      } finally {
        caller.close();
      }
    });
    const answers = (await Promise.allSettled(attempts)).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (answers.length > 0 || Date.now() >= deadline) return answers;
    await new Promise((r) => setTimeout(r, 250));
  }
}
