import { describe, expect, it } from 'vitest';
import { testCluster } from './cluster-helper.ts';

describe('raft smoke', () => {
  for (const preVote of [false, true]) {
    it(`elects a leader by timeout and replicates (preVote=${preVote})`, () => {
      const c = testCluster(3, { preVote, checkQuorum: true });
      for (let i = 0; i < 40 && !c.leader(); i++) c.tickAll(1);
      const leaders = [...c.nodes.values()].filter((n) => n.raft.state === 'leader');
      expect(leaders).toHaveLength(1);
      leaders[0].propose(new TextEncoder().encode('hello'));
      c.stabilize();
      for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(['hello']);
    });
  }
});
