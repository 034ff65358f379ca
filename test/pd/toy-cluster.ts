/**
 * A toy cluster for the PD evolution tests, in pure code: stores that join and die, regions that
 * grow by seeded writes, split, merge and change membership exactly as PD's instructions say, and
 * a PD loop (heartbeats → advanceClock → schedule → recordOperators) every step of 10 s. Raft is
 * reduced to its outcomes: an instruction applies at once when its epoch is current, a learner
 * catches up one step after it is added, and a region whose leader's store died elects its
 * lowest live voter when a majority of its voters live.
 */
import {
  advanceClock,
  type ClusterView,
  createClusterView,
  handleRegionHeartbeat,
  handleStoreHeartbeat,
  type Instruction,
  isInstructionCurrent,
  type PdConfig,
  recordOperators,
  schedule,
} from '../../src/pd/index.ts';
import { compareKeys, mergeRegions, type Region, splitRegion } from '../../src/region/index.ts';
import type { Rand } from '../../src/ports.ts';

/** Milliseconds of PD time per step. */
export const STEP_MS = 10_000;

interface ToyRegion {
  region: Region;
  leaderPeerId: number;
  term: number;
  keys: number;
  /** Learner peer ids still catching up. */
  pending: Set<number>;
}

function keyToNumber(key: Uint8Array, empty: number): number {
  return key.length === 0 ? empty : new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0);
}

function numberToKey(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** The toy cluster: the ground truth the PD view should track. */
export class ToyCluster {
  readonly stores = new Map<number, { alive: boolean; diedAtMs: number }>();
  readonly regions = new Map<number, ToyRegion>();
  view: ClusterView;
  nowMs = 0;
  /** Heartbeats PD refused (none expected: the toy reports promptly and truthfully). */
  refused = 0;
  /** Instructions the toy dropped because their epoch was no longer current. */
  dropped = 0;
  #nextId = 100;
  readonly #config: PdConfig;
  readonly #rand: Rand;

  constructor(storeIds: number[], config: PdConfig, rand: Rand) {
    this.#config = config;
    this.#rand = rand;
    this.view = createClusterView(config, 0);
    for (const id of storeIds) this.stores.set(id, { alive: true, diedAtMs: 0 });
    const voters = storeIds.slice(0, config.replicationFactor);
    const region: Region = { id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0), epoch: { confVer: 1, version: 1 }, peers: voters.map((s, i) => ({ id: 2 + i, storeId: s, role: 'voter' })) };
    this.regions.set(1, { region, leaderPeerId: 2, term: 1, keys: 0, pending: new Set() });
  }

  /** PD's id allocator. */
  readonly allocId = (): number => this.#nextId++;

  /** A new, empty store. */
  addStore(id: number): void {
    this.stores.set(id, { alive: true, diedAtMs: 0 });
  }

  /** The store stops: no heartbeats, its replicas stop answering. */
  killStore(id: number): void {
    this.stores.set(id, { alive: false, diedAtMs: this.nowMs });
  }

  /** Adds `n` keys, one at a time, each to a region chosen uniformly at random. */
  write(n: number): void {
    const ids = [...this.regions.keys()].sort((a, b) => a - b);
    for (let i = 0; i < n; i++) this.regions.get(ids[this.#rand.int(ids.length)])!.keys++;
  }

  /** Sets every region's key count (e.g. to 0, as if the data were deleted). */
  setKeys(keys: number): void {
    for (const r of this.regions.values()) r.keys = keys;
  }

  #alive(storeId: number): boolean {
    return this.stores.get(storeId)?.alive === true;
  }

  #electLeaders(): void {
    for (const r of this.regions.values()) {
      const leader = r.region.peers.find((p) => p.id === r.leaderPeerId);
      if (leader !== undefined && this.#alive(leader.storeId)) continue;
      const voters = r.region.peers.filter((p) => p.role === 'voter');
      const live = voters.filter((p) => this.#alive(p.storeId) && !r.pending.has(p.id));
      if (live.length * 2 <= voters.length) continue;
      r.leaderPeerId = live.sort((a, b) => a.storeId - b.storeId)[0].id;
      r.term++;
    }
  }

  #heartbeats(): void {
    for (const [id, s] of this.stores) {
      if (!s.alive) continue;
      const hosted = [...this.regions.values()].filter((r) => r.region.peers.some((p) => p.storeId === id));
      const leading = hosted.filter((r) => r.region.peers.find((p) => p.id === r.leaderPeerId)?.storeId === id);
      const hb = { storeId: id, capacityBytes: 0, availableBytes: 0, regionCount: hosted.length, leaderCount: leading.length, bytesWritten: 0, keysWritten: 0, bytesRead: 0, keysRead: 0 };
      this.view = handleStoreHeartbeat(this.view, { ...hb, timestampMs: this.nowMs, state: 'up' }, this.nowMs);
    }
    for (const r of [...this.regions.values()].sort((a, b) => a.region.id - b.region.id)) {
      const leader = r.region.peers.find((p) => p.id === r.leaderPeerId)!;
      if (!this.#alive(leader.storeId)) continue;
      const downPeers = r.region.peers.filter((p) => !this.#alive(p.storeId)).map((p) => ({ peer: { ...p }, downSeconds: (this.nowMs - this.stores.get(p.storeId)!.diedAtMs) / 1000 }));
      const pendingPeers = r.region.peers.filter((p) => r.pending.has(p.id)).map((p) => ({ ...p }));
      const stats = { approximateKeys: r.keys, approximateBytes: r.keys * 100, bytesWritten: 0, keysWritten: 0, bytesRead: 0, keysRead: 0 };
      const result = handleRegionHeartbeat(this.view, { region: r.region, leader: { ...leader }, downPeers, pendingPeers, ...stats, term: r.term }, this.nowMs);
      if (result.ok) this.view = result.view;
      else this.refused++;
    }
  }

  /** One step: time passes, learners catch up, leaders are elected, heartbeats flow, PD schedules and the toy applies. Returns what PD issued. */
  step(): Instruction[] {
    this.nowMs += STEP_MS;
    for (const r of this.regions.values()) r.pending.clear();
    this.#electLeaders();
    this.#heartbeats();
    this.view = advanceClock(this.view, this.nowMs);
    const instructions = schedule(this.view, this.#config, this.allocId);
    this.view = recordOperators(this.view, instructions, this.nowMs);
    for (const instruction of instructions) this.#apply(instruction);
    return instructions;
  }

  #apply(ins: Instruction): void {
    if (!isInstructionCurrent(ins, (id) => this.regions.get(id)?.region)) {
      this.dropped++;
      return;
    }
    if (ins.type === 'mergeRegions') {
      this.#merge(ins.sourceId, ins.targetId);
      return;
    }
    const r = this.regions.get(ins.regionId)!;
    const bump = () => {
      r.region = { ...r.region, epoch: { ...r.region.epoch, confVer: r.region.epoch.confVer + 1 } };
    };
    switch (ins.type) {
      case 'addLearner':
        if (r.region.peers.some((p) => p.storeId === ins.storeId)) throw new Error(`region ${r.region.id} already has a peer on store ${ins.storeId}`);
        r.region = { ...r.region, peers: [...r.region.peers, { id: ins.peerId, storeId: ins.storeId, role: 'learner' }] };
        r.pending.add(ins.peerId);
        bump();
        return;
      case 'promoteLearner':
        r.region = { ...r.region, peers: r.region.peers.map((p) => (p.id === ins.peerId ? { ...p, role: 'voter' } : p)) };
        bump();
        return;
      case 'removePeer':
        if (ins.peerId === r.leaderPeerId) throw new Error(`PD removed the leader of region ${r.region.id}`);
        r.region = { ...r.region, peers: r.region.peers.filter((p) => p.id !== ins.peerId) };
        bump();
        return;
      case 'transferLeader': {
        const to = r.region.peers.find((p) => p.id === ins.toPeerId);
        if (to === undefined || to.role !== 'voter' || to.storeId !== ins.toStoreId) throw new Error(`bad transfer target in region ${r.region.id}`);
        if (this.#alive(to.storeId)) r.leaderPeerId = to.id;
        r.term++;
        return;
      }
      case 'splitRegion': {
        const lo = keyToNumber(r.region.startKey, 0);
        const hi = keyToNumber(r.region.endKey, 2 ** 32);
        if (hi - lo < 2) return;
        const { left, right } = splitRegion(r.region, numberToKey(Math.floor((lo + hi) / 2)), ins.newRegionId, ins.newPeerIds);
        const leaderStore = r.region.peers.find((p) => p.id === r.leaderPeerId)!.storeId;
        const half = Math.floor(r.keys / 2);
        this.regions.set(left.id, { region: left, leaderPeerId: r.leaderPeerId, term: r.term, keys: half, pending: new Set() });
        const rightLeader = right.peers.find((p) => p.storeId === leaderStore)!;
        this.regions.set(right.id, { region: right, leaderPeerId: rightLeader.id, term: 1, keys: r.keys - half, pending: new Set() });
        return;
      }
    }
  }

  #merge(sourceId: number, targetId: number): void {
    const source = this.regions.get(sourceId)!;
    const target = this.regions.get(targetId)!;
    const sourceLeft = compareKeys(source.region.startKey, target.region.startKey) < 0;
    const merged = sourceLeft ? mergeRegions(source.region, target.region, 'right') : mergeRegions(target.region, source.region, 'left');
    this.regions.delete(sourceId);
    this.regions.set(targetId, { ...target, region: merged, keys: source.keys + target.keys });
  }
}
