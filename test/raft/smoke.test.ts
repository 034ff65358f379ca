import { describe, expect, it } from 'vitest';
import { MemoryRaftStorage, type Message, RawNode } from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';

function cluster(n: number, opts: { preVote?: boolean; checkQuorum?: boolean } = {}) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const storages = new Map<number, MemoryRaftStorage>();
  const nodes = new Map<number, RawNode>();
  const applied = new Map<number, string[]>();
  for (const id of ids) {
    const storage = MemoryRaftStorage.withVoters(ids);
    storages.set(id, storage);
    nodes.set(id, new RawNode({ id, storage, rand: createSeededRand(id), ...opts }));
    applied.set(id, []);
  }
  const stabilize = () => {
    for (let round = 0; round < 1000; round++) {
      const inflight: Message[] = [];
      for (const [id, node] of nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          const s = storages.get(id)!;
          if (rd.snapshot) s.applySnapshot(rd.snapshot);
          s.append(rd.entries);
          if (rd.hardState) s.setHardState(rd.hardState);
          inflight.push(...rd.messages);
          for (const e of rd.committedEntries) if (e.data.length) applied.get(id)!.push(new TextDecoder().decode(e.data));
          node.advance(rd);
        }
      }
      if (inflight.length === 0) return;
      for (const m of inflight) nodes.get(m.to)?.step(m);
    }
    throw new Error('did not stabilize');
  };
  return { nodes, applied, stabilize };
}

describe('raft smoke', () => {
  for (const preVote of [false, true]) {
    it(`elects a leader and replicates (preVote=${preVote})`, () => {
      const c = cluster(3, { preVote, checkQuorum: true });
      for (let i = 0; i < 12; i++) for (const n of c.nodes.values()) n.tick();
      c.stabilize();
      for (let i = 0; i < 30 && ![...c.nodes.values()].some((n) => n.raft.state === 'leader'); i++) {
        for (const n of c.nodes.values()) n.tick();
        c.stabilize();
      }
      const leaders = [...c.nodes.values()].filter((n) => n.raft.state === 'leader');
      expect(leaders).toHaveLength(1);
      leaders[0].propose(new TextEncoder().encode('hello'));
      c.stabilize();
      for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(['hello']);
    });
  }
});
