/**
 * Operators in flight: recorded per region, finished by the heartbeat that shows the epoch moved
 * (or the leader arrived), forgotten after the timeout; a merge holds both regions. Also the
 * store-side epoch check of an instruction and the config validation.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import {
  advanceClock,
  DEFAULT_PD_CONFIG,
  handleRegionHeartbeat,
  type Instruction,
  isInstructionCurrent,
  operatorsInFlight,
  recordOperators,
  resolvePdConfig,
} from '../../src/pd/index.ts';
import { buildView, cfg, mkRegion, regionHb } from './fixtures.ts';

const r1 = mkRegion(1, '', 'm', [1, 2, 3]);
const r2 = mkRegion(2, 'm', '', [1, 2, 3]);
const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r1), regionHb(r2)], nowMs: 1000 });
const add: Instruction = { type: 'addLearner', regionId: 1, epoch: { ...r1.epoch }, storeId: 4, peerId: 104 };
const transfer: Instruction = { type: 'transferLeader', regionId: 1, epoch: { ...r1.epoch }, toStoreId: 2, toPeerId: 102 };
const merge: Instruction = { type: 'mergeRegions', sourceId: 1, targetId: 2, epochs: { source: { ...r1.epoch }, target: { ...r2.epoch } } };

function accept(v: typeof view, hb: ReturnType<typeof regionHb>, nowMs: number) {
  const r = handleRegionHeartbeat(v, hb, nowMs);
  if (!r.ok) throw r.error;
  return r.view;
}

describe('operators in flight', () => {
  it('stays while heartbeats show the same epoch; finishes when confVer moves', () => {
    let v = recordOperators(view, [add], 1000);
    expect(operatorsInFlight(v).map((o) => o.instruction)).toEqual([add]);
    v = accept(v, regionHb(r1), 2000);
    expect(v.operators.has(1)).toBe(true);
    v = accept(v, regionHb(mkRegion(1, '', 'm', [1, 2, 3], { learners: [4], confVer: 2 })), 3000);
    expect(v.operators.size).toBe(0);
  });

  it('a leader transfer finishes when the target leads, with the epoch unchanged', () => {
    let v = recordOperators(view, [transfer], 1000);
    v = accept(v, regionHb(r1, { leaderStore: 1 }), 2000);
    expect(v.operators.has(1)).toBe(true);
    v = accept(v, regionHb(r1, { leaderStore: 2, term: 2 }), 3000);
    expect(v.operators.has(1)).toBe(false);
  });

  it('times out after operatorTimeoutMs, measured by advanceClock', () => {
    const v = recordOperators(view, [add], 1000);
    expect(advanceClock(v, 1000 + DEFAULT_PD_CONFIG.operatorTimeoutMs).operators.size).toBe(1);
    expect(advanceClock(v, 1001 + DEFAULT_PD_CONFIG.operatorTimeoutMs).operators.size).toBe(0);
    expect(advanceClock(v, 5).nowMs).toBe(1000);
  });

  it('a merge holds both regions and is forgotten under both when the target moves on', () => {
    let v = recordOperators(view, [merge], 1000);
    expect([...v.operators.keys()].sort()).toEqual([1, 2]);
    expect(operatorsInFlight(v)).toHaveLength(1);
    v = accept(v, regionHb({ ...r2, startKey: r1.startKey, epoch: { confVer: 1, version: 2 } }), 2000);
    expect(v.operators.size).toBe(0);
    expect(v.regions.has(1)).toBe(false);
  });

  it('does not record a second operator for a busy region', () => {
    const v = recordOperators(recordOperators(view, [add], 1000), [transfer, merge], 1000);
    expect(operatorsInFlight(v).map((o) => o.instruction)).toEqual([add]);
  });
});

describe('isInstructionCurrent (the store-side epoch check)', () => {
  const regions = new Map([
    [1, r1],
    [2, r2],
  ]);
  it('is true only while every involved region has the epoch the instruction was computed from', () => {
    expect(isInstructionCurrent(add, (id) => regions.get(id))).toBe(true);
    expect(isInstructionCurrent(merge, (id) => regions.get(id))).toBe(true);
    const moved = new Map(regions).set(2, { ...r2, epoch: { confVer: 2, version: 1 } });
    expect(isInstructionCurrent(merge, (id) => moved.get(id))).toBe(false);
    expect(isInstructionCurrent(add, () => undefined)).toBe(false);
  });
});

describe('resolvePdConfig', () => {
  it('fills defaults and refuses bad values by name', () => {
    expect(resolvePdConfig()).toEqual(DEFAULT_PD_CONFIG);
    expect(cfg({ splitKeys: 200_000 }).splitKeys).toBe(200_000);
    expect(() => resolvePdConfig({ replicationFactor: 0 })).toThrow(InvalidArgumentError);
    expect(() => resolvePdConfig({ storeDownMs: 1.5 })).toThrow(/storeDownMs/);
    expect(() => resolvePdConfig({ lowSpaceRatio: 1.5 })).toThrow(/lowSpaceRatio/);
    expect(() => resolvePdConfig({ mergeKeys: 60_000 })).toThrow(/mergeKeys/);
    expect(() => resolvePdConfig({ mergeBytes: 40 << 20 })).toThrow(/mergeBytes/);
  });
});
