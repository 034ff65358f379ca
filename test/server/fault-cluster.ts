/**
 * A loopback cluster of `flotilla serve` processes for the black-box fault tests, every store
 * behind its own {@link FaultProxy} (test/server/fault-proxy.ts), with the faults the nemesis
 * injects: per-link cuts (reset, silent, one-way), clients cut from a store, kill -9 and restart,
 * SIGSTOP/SIGCONT, and a wiped data directory.
 *
 * No address a store can learn bypasses the proxies: its `--peers` name only proxies, its
 * `--advertise` is its own proxy, so the announcements, join answers and `stores` answers a store
 * or client hears carry only proxy addresses; the real port appears only in its `--listen`.
 * {@link FaultCluster.bypasses} checks that at the end (the address lists in every /status, and
 * that the proxies identified the diallers of every store link).
 *
 * Slots (1..n) name processes; a store's id is its slot until a wipe with PD, after which it
 * rejoins under a new id (read from its "listening" line).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreStatus } from '../../adapters/server/http-status.ts';
import { freePorts, restartProcess, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { CLIENT_ID_MIN } from '../../src/server/protocol.ts';
import { type FaultProxy, LINK_UP, type LinkPolicy, startFaultProxy } from './fault-proxy.ts';
import { FAST, SECRET } from './helpers.ts';

/** How a process is now. */
export type SlotState = 'running' | 'stopped' | 'dead';

/** See the module comment. */
export interface FaultCluster {
  readonly slots: number[];
  readonly pd: boolean;
  /** The proxy URL of slot `s` (what stores and clients dial). */
  url(slot: number): string;
  process(slot: number): StoreProcess;
  state(slot: number): SlotState;
  /** The store id slot `s` runs now. */
  idOf(slot: number): number;
  /** /status of slot `s`, or undefined when it does not answer within `timeoutMs`. */
  status(slot: number, timeoutMs?: number): Promise<StoreStatus | undefined>;
  /** Silently drops every byte `from` sends to `to` (both directions: call it twice). */
  dropDirection(from: number, to: number): void;
  /** Closes the link between `a` and `b` and keeps refusing it. */
  reset(a: number, b: number): void;
  /** Cuts every client from slot `s` (their connections closed and refused). */
  cutClients(slot: number): void;
  /** Every link and client path back up. */
  healLinks(): void;
  kill(slot: number): Promise<void>;
  /** Starts a killed slot again with the same flags and waits until it listens. */
  restart(slot: number): Promise<void>;
  pause(slot: number): void;
  resume(slot: number): void;
  /** Kills slot `s`, deletes its data directory and starts it again (same flags). */
  wipe(slot: number): Promise<void>;
  /** What the proxies' faults did, summed: bytes dropped, connections closed. */
  faulted(): { droppedBytes: number; closed: number };
  /** Problems with the proxies' coverage (see the module comment); empty when none. */
  bypasses(): Promise<string[]>;
  /** Each store's log tail. */
  logs(tailChars?: number): string;
  close(): Promise<void>;
}

/** Options of {@link startFaultCluster}. */
export interface FaultClusterOptions {
  stores: number;
  /** With the placement driver (else `--no-pd`). */
  pd: boolean;
  /** A fresh directory for the stores' data. */
  dir: string;
  /** More `serve` flags. */
  extra?: string[];
}

const pairKey = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`);

/**
 * Starts the proxies and the stores and waits until every store listens.
 * @param options - how many stores, PD or not, where their data goes.
 */
export async function startFaultCluster(options: FaultClusterOptions): Promise<FaultCluster> {
  const slots = Array.from({ length: options.stores }, (_, i) => i + 1);
  const ports = await freePorts(2 * slots.length);
  const real = (s: number) => ports[s - 1];
  const http = (s: number) => ports[slots.length + s - 1];
  const dropped = new Set<string>();
  const resets = new Set<string>();
  const clientCuts = new Set<number>();
  const procs = new Map<number, StoreProcess>();
  const states = new Map<number, SlotState>();
  const idOf = (s: number): number => {
    const m = /store (\d+) listening/.exec(procs.get(s)?.stdout ?? '');
    return m ? Number(m[1]) : s;
  };
  const slotOf = (id: number): number | undefined => slots.find((s) => idOf(s) === id);
  const policyAt =
    (target: number) =>
    (dialler: number): LinkPolicy => {
      if (dialler >= CLIENT_ID_MIN) return clientCuts.has(target) ? { reset: true, fromDialler: false, toDialler: false } : LINK_UP;
      const from = slotOf(dialler);
      if (from === undefined) return LINK_UP;
      return { reset: resets.has(pairKey(from, target)), fromDialler: !dropped.has(`${from}>${target}`), toDialler: !dropped.has(`${target}>${from}`) };
    };
  const proxies = new Map<number, FaultProxy>();
  for (const s of slots) proxies.set(s, await startFaultProxy(real(s), policyAt(s)));
  const url = (s: number) => `ws://127.0.0.1:${proxies.get(s)!.port}`;
  const peers = slots.map((s) => `${s}=127.0.0.1:${proxies.get(s)!.port}`).join(',');
  const refresh = () => {
    for (const p of proxies.values()) p.refresh();
  };
  for (const s of slots) {
    const args = ['serve', '--id', String(s), '--listen', `127.0.0.1:${real(s)}`, '--advertise', url(s), '--peers', peers, '--data', join(options.dir, `store-${s}`), '--http', `127.0.0.1:${http(s)}`, '--initial-cluster-state', 'new', ...FAST, ...(options.pd ? [] : ['--no-pd']), ...(options.extra ?? [])];
    procs.set(s, spawnFlotilla('node', args, { FLOTILLA_SECRET: SECRET }));
    states.set(s, 'running');
  }
  await Promise.all([...procs.values()].map((p) => waitListening(p, 90_000)));

  const cluster: FaultCluster = {
    slots,
    pd: options.pd,
    url,
    process: (s) => procs.get(s)!,
    state: (s) => states.get(s)!,
    idOf,
    async status(s, timeoutMs = 2000) {
      if (states.get(s) !== 'running') return undefined;
      try {
        const res = await fetch(`http://127.0.0.1:${http(s)}/status`, { signal: AbortSignal.timeout(timeoutMs) });
        return (await res.json()) as StoreStatus;
      } catch {
        return undefined;
      }
    },
    dropDirection(from, to) {
      dropped.add(`${from}>${to}`);
      refresh();
    },
    reset(a, b) {
      resets.add(pairKey(a, b));
      refresh();
    },
    cutClients(s) {
      clientCuts.add(s);
      refresh();
    },
    healLinks() {
      dropped.clear();
      resets.clear();
      clientCuts.clear();
      // Connections that lost bytes close now; their diallers dial again.
      refresh();
    },
    async kill(s) {
      const p = procs.get(s)!;
      // A stopped process takes SIGKILL as well; it never runs again.
      await stopProcess(p, 'SIGKILL');
      states.set(s, 'dead');
    },
    async restart(s) {
      const p = procs.get(s)!;
      restartProcess(p, { FLOTILLA_SECRET: SECRET });
      states.set(s, 'running');
      await waitListening(p, 90_000);
    },
    pause(s) {
      procs.get(s)!.child.kill('SIGSTOP');
      states.set(s, 'stopped');
    },
    resume(s) {
      procs.get(s)!.child.kill('SIGCONT');
      states.set(s, 'running');
    },
    async wipe(s) {
      await cluster.kill(s);
      rmSync(join(options.dir, `store-${s}`), { recursive: true, force: true });
      await cluster.restart(s);
    },
    faulted() {
      const all = [...proxies.values()].map((p) => p.faulted());
      return { droppedBytes: all.reduce((n, f) => n + f.droppedBytes, 0), closed: all.reduce((n, f) => n + f.closed, 0) };
    },
    async bypasses() {
      const problems: string[] = [];
      const proxyUrls = new Set(slots.map(url));
      for (const s of slots) {
        const st = await cluster.status(s, 10_000);
        if (!st) {
          problems.push(`slot ${s}: no /status`);
          continue;
        }
        for (const a of st.stores) if (!proxyUrls.has(a.url)) problems.push(`store ${st.storeId} knows store ${a.id} at ${a.url}, which is no proxy`);
      }
      for (const s of slots) {
        const p = proxies.get(s)!;
        if (p.unreadable() > 0) problems.push(`proxy of slot ${s}: ${p.unreadable()} connections whose hello it could not read`);
        // Each store dials every store of lower id: the proxies must have seen those links.
        const seen = p.diallers();
        for (const t of slots) if (idOf(t) > idOf(s) && !seen.has(idOf(t))) problems.push(`proxy of slot ${s} never carried the link from store ${idOf(t)}`);
      }
      return problems;
    },
    logs(tailChars = 6000) {
      return slots.map((s) => `--- slot ${s} (store ${idOf(s)}) stderr, last ${tailChars} chars ---\n${procs.get(s)!.stderr.slice(-tailChars)}`).join('\n');
    },
    async close() {
      for (const s of slots) if (states.get(s) === 'stopped') procs.get(s)!.child.kill('SIGCONT');
      await Promise.all([...procs.values()].map((p) => stopProcess(p, 'SIGKILL')));
      for (const p of proxies.values()) await p.close();
    },
  };
  return cluster;
}
