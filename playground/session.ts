/**
 * A playground session: the running simulation, the user's actions stamped with virtual time, the
 * timeline of events and the client operation log (both bounded), and going back: rebuild from the
 * seed and replay the recorded actions up to an earlier time.
 */
import type { KvClient } from '../src/index.ts';
import { createSim, isPdGroup, type PlaygroundConfig, regionName, resetNames, type Sim } from './sim.ts';

const name = (regionId: number) => (isPdGroup(regionId) ? 'the PD group' : `region ${regionName(regionId)}`);

/** Everything a person can do to the cluster; each is recorded so that a replay repeats it. */
export type Action =
  | { type: 'crash'; store: number }
  /** Crashes whichever store leads the region at that moment. */
  | { type: 'crashLeader'; regionId: number }
  | { type: 'restart'; store: number }
  | { type: 'partition'; groups: number[][] }
  | { type: 'heal' }
  | { type: 'link'; from: number; to: number; mode: 'normal' | 'slow' | 'lossy' }
  | { type: 'drop'; frameId: number }
  | { type: 'put'; key: string; value: string }
  | { type: 'get'; key: string }
  | { type: 'delete'; key: string }
  | { type: 'scan' }
  | { type: 'workload'; on: boolean }
  | { type: 'split'; regionId: number; key?: string }
  /** Merges the region with its right neighbour (the one starting where it ends). */
  | { type: 'merge'; regionId: number }
  | { type: 'transfer'; regionId: number; store: number }
  | { type: 'addStore' }
  | { type: 'removeStore'; store: number };

export interface TimelineEvent {
  /** Rises by one per event of a session (keys the rendered rows). */
  seq: number;
  atMs: number;
  text: string;
  kind: 'leader' | 'lost' | 'split' | 'merge' | 'fault' | 'action' | 'scenario';
}

export interface ClientOp {
  atMs: number;
  text: string;
  ok: boolean;
}

const TIMELINE_MAX = 300;
const OPS_MAX = 100;
/** Virtual ms between two workload writes. */
const WORKLOAD_EVERY_MS = 60;
/** Distinct keys the workload cycles through. */
const WORKLOAD_KEYS = 160;

export interface SessionHooks {
  /** Called after each action's effects begin, and when an async client op finishes. */
  changed(): void;
}

export class Session {
  sim!: Sim;
  config: PlaygroundConfig;
  readonly actions: Array<{ atMs: number; action: Action }> = [];
  readonly timeline: TimelineEvent[] = [];
  readonly ops: ClientOp[] = [];
  /** The last values the client read (key → value), shown as the KV table. */
  table = new Map<string, string>();
  workload = false;
  private eventSeq = 0;
  /** The last role of each replica (`store/region`), to notice a leader stepping down. */
  private readonly roles = new Map<string, string>();
  private workloadN = 0;
  private regionsSeen = new Map<number, string>();
  private readonly hooks: SessionHooks;
  /** Bumped on every rebuild so that late results of an old cluster's ops are ignored. */
  private generation = 0;

  constructor(config: PlaygroundConfig, hooks: SessionHooks) {
    this.config = config;
    this.hooks = hooks;
  }

  get now(): number {
    return this.sim.clock.now();
  }

  /** Builds a fresh cluster from the config (forgetting the action log unless `keepActions`). */
  async start(config = this.config, keepActions = false): Promise<void> {
    if (this.sim) await this.sim.close();
    this.generation++;
    this.config = config;
    resetNames();
    this.sim = await createSim(config);
    if (!keepActions) this.actions.length = 0;
    this.timeline.length = 0;
    this.ops.length = 0;
    this.table = new Map();
    this.workload = false;
    this.workloadN = 0;
    this.regionsSeen = new Map();
    const roles = this.roles;
    roles.clear();
    this.sim.cluster.onLeaderChange((e) => {
      const key = `${e.storeId}/${e.regionId}`;
      if (roles.get(key) === 'leader' && e.role !== 'leader') this.event('lost', `store ${e.storeId} is no longer leader of ${name(e.regionId)}`);
      roles.set(key, e.role);
      if (e.role === 'leader') this.event('leader', `store ${e.storeId} leads ${name(e.regionId)}`);
      else if (e.leaderStoreId === 0 && e.role !== 'follower') this.event('lost', `store ${e.storeId} campaigns for ${name(e.regionId)} (${e.role === 'preCandidate' ? 'pre-vote' : 'vote'})`);
    });
    this.startTimers();
    this.event('action', `cluster built: seed ${config.seed}, ${config.stores} stores, ${config.storage}`);
  }

  event(kind: TimelineEvent['kind'], text: string): void {
    this.timeline.push({ seq: ++this.eventSeq, atMs: this.sim.clock.now(), text, kind });
    if (this.timeline.length > TIMELINE_MAX) this.timeline.splice(0, this.timeline.length - TIMELINE_MAX);
  }

  private op(text: string, ok: boolean): void {
    this.ops.push({ atMs: this.sim.clock.now(), text, ok });
    if (this.ops.length > OPS_MAX) this.ops.splice(0, this.ops.length - OPS_MAX);
  }

  /** Records and performs an action now. */
  async act(action: Action): Promise<void> {
    await this.run({ atMs: this.now, action });
    this.hooks.changed();
  }

  /** Records and performs an action; one that fails (a store that cannot start, say) is reported, never thrown. */
  private async run(entry: { atMs: number; action: Action }): Promise<void> {
    this.actions.push(entry);
    try {
      await this.perform(entry.action);
    } catch (e) {
      this.op(`${entry.action.type} failed: ${(e as Error).message}`.slice(0, 160), false);
    }
  }

  /** Advances to the next timer (at most to `untilMs`); see `Sim.step`. */
  async step(untilMs: number): Promise<void> {
    await this.sim.step(untilMs);
  }

  /** The workload and the region watch run on the virtual clock, so that a replay repeats them exactly. */
  private startTimers(): void {
    const gen = this.generation;
    const watch = () => {
      if (gen !== this.generation) return;
      this.watchRegions();
      this.sim.clock.setTimer(200, watch);
    };
    this.sim.clock.setTimer(200, watch);
  }

  private workloadTick(gen: number): void {
    if (gen !== this.generation || !this.workload) return;
    const n = this.workloadN++;
    // Keys spread over the alphabet so that every region grows; a bounded set of them, so that
    // the number of regions (and the work per tick) stays bounded however long it runs.
    const k = n % WORKLOAD_KEYS;
    const key = `${String.fromCharCode(97 + ((k * 7) % 26))}${String(k).padStart(4, '0')}`;
    this.track(this.sim.client.put(key, `v${n}`), `put ${key}`, () => this.table.set(key, `v${n}`), true);
    this.sim.clock.setTimer(WORKLOAD_EVERY_MS, () => this.workloadTick(gen));
  }

  /** Goes back to `atMs`: rebuilds from the seed and replays the recorded actions before it. */
  async replayTo(atMs: number, onProgress?: (ms: number) => void): Promise<void> {
    const kept = this.actions.filter((a) => a.atMs <= atMs);
    await this.start(this.config, false);
    let i = 0;
    while (this.now < atMs) {
      while (i < kept.length && kept[i].atMs <= this.now) {
        await this.run(kept[i]);
        i++;
      }
      const before = this.now;
      await this.step(i < kept.length ? Math.min(kept[i].atMs, atMs) : atMs);
      if (Math.floor(this.now / 1000) > Math.floor(before / 1000)) onProgress?.(this.now);
    }
    // Actions at exactly `atMs` too: going back to an event shows it happened.
    for (; i < kept.length; i++) {
      await this.run(kept[i]);
    }
    this.event('action', `went back to ${(atMs / 1000).toFixed(1)} s`);
  }

  private watchRegions(): void {
    const now = new Map<number, string>();
    for (const id of this.sim.cluster.storeIds) {
      for (const info of this.sim.cluster.store(id)?.regions() ?? []) {
        const r = info.region;
        const desc = `[${r.startKey.length ? new TextDecoder().decode(r.startKey) : '−∞'}, ${r.endKey.length ? new TextDecoder().decode(r.endKey) : '+∞'})`;
        if (!now.has(r.id) || r.epoch.version > Number(now.get(r.id)?.split('|')[0])) now.set(r.id, `${r.epoch.version}|${desc}`);
      }
    }
    if (now.size === 0) return;
    for (const [id, v] of now) {
      const old = this.regionsSeen.get(id);
      if (old === undefined && this.regionsSeen.size > 0) this.event('split', `region ${regionName(id)} appears: ${v.split('|')[1]}`);
      else if (old !== undefined && old !== v) this.event('split', `region ${regionName(id)} is now ${v.split('|')[1]} (version ${v.split('|')[0]})`);
    }
    for (const id of this.regionsSeen.keys()) if (!now.has(id)) this.event('merge', `region ${regionName(id)} is gone (merged or moved away)`);
    this.regionsSeen = now;
  }

  private track<T>(p: Promise<T>, text: string, onOk: (v: T) => void, quiet = false): void {
    const gen = this.generation;
    p.then(
      (v) => {
        if (gen !== this.generation) return;
        onOk(v);
        if (!quiet) this.op(`${text} → ok`, true);
        this.hooks.changed();
      },
      (e: Error) => {
        if (gen !== this.generation) return;
        this.op(`${text} → ${(e as { code?: string }).code ?? e.name}: ${e.message}`.slice(0, 160), false);
        this.hooks.changed();
      },
    );
  }

  /** The store leading a region as the running stores see it (0 when none). */
  leaderOf(regionId: number): number {
    for (const id of this.sim.cluster.storeIds) {
      for (const st of this.sim.cluster.store(id)?.status() ?? []) if (st.region.id === regionId && st.raft.role === 'leader') return id;
    }
    return 0;
  }

  /** The region starting where `regionId` ends, as the running stores see it. */
  private rightNeighbour(regionId: number): number | undefined {
    const infos = this.sim.cluster.storeIds.flatMap((id) => this.sim.cluster.store(id)?.regions() ?? []);
    const left = infos.find((i) => i.region.id === regionId)?.region;
    if (!left || left.endKey.length === 0) return undefined;
    const end = left.endKey.join(',');
    return infos.find((i) => i.region.startKey.join(',') === end)?.region.id;
  }

  private get client(): KvClient {
    return this.sim.client;
  }

  private async perform(a: Action): Promise<void> {
    const c = this.sim.cluster;
    const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
    switch (a.type) {
      case 'crash':
        this.event('fault', `store ${a.store} crashed`);
        // Its replicas come back as followers: that is a restart, not a leader stepping down.
        for (const key of [...this.roles.keys()]) if (key.startsWith(`${a.store}/`)) this.roles.delete(key);
        await c.stopStore(a.store);
        break;
      case 'crashLeader': {
        const lead = this.leaderOf(a.regionId);
        if (lead > 0) await this.perform({ type: 'crash', store: lead });
        break;
      }
      case 'restart':
        this.event('fault', `store ${a.store} restarted`);
        await c.restartStore(a.store);
        break;
      case 'partition':
        c.partition(...a.groups);
        this.event('fault', `partition: ${a.groups.map((g) => `{${g.join(', ')}}`).join(' | ')}`);
        break;
      case 'heal':
        c.heal();
        for (const f of c.storeIds) for (const t of c.storeIds) c.network?.setLinkFaults(f, t, undefined);
        this.event('fault', 'network healed');
        break;
      case 'link': {
        const faults = a.mode === 'slow' ? { delayMs: { min: 400, max: 700 } } : a.mode === 'lossy' ? { dropRate: 0.5 } : undefined;
        c.network?.setLinkFaults(a.from, a.to, faults);
        c.network?.setLinkFaults(a.to, a.from, faults);
        this.event('fault', `link ${a.from}↔${a.to} ${a.mode}`);
        break;
      }
      case 'drop':
        if (c.network?.dropInFlight(a.frameId)) this.event('fault', `message #${a.frameId} dropped`);
        break;
      case 'put':
        this.track(this.client.put(a.key, a.value), `put ${a.key}=${a.value}`, () => this.table.set(a.key, a.value));
        break;
      case 'get':
        this.track(this.client.get(a.key), `get ${a.key}`, (v) => {
          const s = text(v);
          if (s === null) this.table.delete(a.key);
          else this.table.set(a.key, s);
          this.op(`get ${a.key} = ${s ?? '(absent)'}`, true);
        }, true);
        break;
      case 'delete':
        this.track(this.client.delete(a.key), `delete ${a.key}`, () => this.table.delete(a.key));
        break;
      case 'scan':
        this.track(this.client.scan('', '', { limit: 500 }), 'scan', (rows) => {
          this.table = new Map(rows.map((r) => [text(r.key) ?? '', text(r.value ?? null) ?? '']));
          this.op(`scan → ${rows.length} keys`, true);
        }, true);
        break;
      case 'workload':
        if (a.on && !this.workload) this.sim.clock.setTimer(0, () => this.workloadTick(this.generation));
        this.workload = a.on;
        this.event('action', a.on ? 'workload started' : 'workload stopped');
        break;
      case 'split':
        this.event('action', `split of region ${regionName(a.regionId)} requested${a.key ? ` at ${a.key}` : ''}`);
        this.track(this.client.admin.splitRegion(a.regionId, a.key || undefined), `split region ${a.regionId}`, () => {});
        break;
      case 'merge': {
        const right = this.rightNeighbour(a.regionId);
        if (right === undefined) {
          this.op(`merge ${regionName(a.regionId)} → no region to its right`, false);
          break;
        }
        this.event('action', `merge of regions ${regionName(a.regionId)} and ${regionName(right)} requested`);
        this.track(this.client.admin.mergeRegions(a.regionId, right), `merge ${regionName(a.regionId)} + ${regionName(right)}`, () => {});
        break;
      }
      case 'transfer':
        this.event('action', `leader of region ${regionName(a.regionId)} → store ${a.store} requested`);
        this.track(this.client.admin.transferLeader(a.regionId, a.store), `transfer region ${a.regionId} to store ${a.store}`, () => {});
        break;
      case 'addStore': {
        const id = await c.addStore();
        this.event('action', `store ${id} added`);
        break;
      }
      case 'removeStore':
        this.event('action', `store ${a.store} removing (drained by PD)`);
        this.track(c.removeStore(a.store, 60_000), `remove store ${a.store}`, () => this.event('action', `store ${a.store} removed`));
        break;
    }
  }
}
