/**
 * A minimal synchronous driver for a few RawNodes, for unit tests: persist to MemoryRaftStorage,
 * deliver every message, apply, advance — until nothing moves.
 */
import { MemoryRaftStorage, type Message, type RaftConfig, RawNode } from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';

export interface TestCluster {
  nodes: Map<number, RawNode>;
  storages: Map<number, MemoryRaftStorage>;
  applied: Map<number, string[]>;
  /** Drops messages to or from these nodes. */
  isolated: Set<number>;
  stabilize(): void;
  tickAll(n: number): void;
  leader(): RawNode | undefined;
}

export function testCluster(n: number, opts: Partial<RaftConfig> = {}): TestCluster {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const nodes = new Map<number, RawNode>();
  const storages = new Map<number, MemoryRaftStorage>();
  const applied = new Map<number, string[]>();
  const isolated = new Set<number>();
  for (const id of ids) {
    const storage = MemoryRaftStorage.withVoters(ids);
    storages.set(id, storage);
    nodes.set(id, new RawNode({ id, storage, rand: createSeededRand(id), ...opts }));
    applied.set(id, []);
  }
  const decoder = new TextDecoder();
  const stabilize = () => {
    for (let round = 0; round < 10_000; round++) {
      const inflight: Message[] = [];
      for (const [id, node] of nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          const s = storages.get(id)!;
          if (rd.snapshot) s.applySnapshot(rd.snapshot);
          s.append(rd.entries);
          if (rd.hardState) s.setHardState(rd.hardState);
          inflight.push(...rd.messages);
          for (const e of rd.committedEntries) {
            if (e.type === 'normal' && e.data.length > 0) applied.get(id)!.push(decoder.decode(e.data));
          }
          node.advance(rd);
        }
      }
      if (inflight.length === 0) return;
      for (const m of inflight) {
        if (isolated.has(m.from) || isolated.has(m.to)) continue;
        nodes.get(m.to)?.step(m);
      }
    }
    throw new Error('cluster did not stabilize');
  };
  const tickAll = (k: number) => {
    for (let i = 0; i < k; i++) {
      for (const node of nodes.values()) node.tick();
      stabilize();
    }
  };
  const leader = () => [...nodes.values()].find((x) => x.raft.state === 'leader');
  return { nodes, storages, applied, isolated, stabilize, tickAll, leader };
}
