/**
 * The placement driver's knobs (TiKV's `schedule` config, RheaKV's `leastKeysOnSplit`), each with
 * a documented default sized for in-page and small clusters, and their validation.
 */
import { InvalidArgumentError } from '../errors.ts';

/** Scheduling configuration. Every field has a default in {@link DEFAULT_PD_CONFIG}. */
export interface PdConfig {
  /** Voters every region should have (TiKV `max-replicas`). Default 3. */
  replicationFactor: number;
  /** A region with at least this many keys is split (RheaKV `leastKeysOnSplit` is 10,000; TiKV 960,000). Default 100,000. */
  splitKeys: number;
  /** A region of at least this many bytes is split (TiKV `region-max-size` is 144 MiB). Default 64 MiB. */
  splitBytes: number;
  /**
   * A region with fewer keys than this (and fewer bytes than `mergeBytes`) is small and may merge
   * with a small neighbour (TiKV `max-merge-region-keys`). Default 20,000 (a fifth of `splitKeys`).
   */
  mergeKeys: number;
  /** The byte half of "small" (TiKV `max-merge-region-size`). Default 16 MiB (a quarter of `splitBytes`). */
  mergeBytes: number;
  /**
   * A store silent this long is down, and so is a peer its leader has missed this long; their
   * replicas are rebuilt elsewhere (TiKV `max-store-down-time`, 30 min there). Default 30 s.
   */
  storeDownMs: number;
  /** Leader balance stops when the most and fewest leaders per usable store differ by at most this. Default 1. */
  leaderBalanceTolerance: number;
  /** Replica balance stops when the most and fewest replicas per usable store differ by at most this. Default 1. */
  replicaBalanceTolerance: number;
  /** Operators (in flight plus newly issued) that may involve one store at a time (TiKV's store limit). Default 4. */
  storeOperatorsMax: number;
  /** An operator not seen finished after this long is forgotten, freeing its region. Default 60 s. */
  operatorTimeoutMs: number;
  /**
   * A learner still pending after this long is removed, so that a replica that cannot catch up
   * (a failing snapshot) does not block its region's membership forever; the checker then adds
   * a fresh one. Default 5 min.
   */
  learnerCatchUpMs: number;
  /** A store whose used share of a known capacity is above this gets no new replicas (TiKV `low-space-ratio`). Default 0.8. */
  lowSpaceRatio: number;
}

/** The defaults of {@link PdConfig}. */
export const DEFAULT_PD_CONFIG: Readonly<PdConfig> = Object.freeze({
  replicationFactor: 3,
  splitKeys: 100_000,
  splitBytes: 64 * 1024 * 1024,
  mergeKeys: 20_000,
  mergeBytes: 16 * 1024 * 1024,
  storeDownMs: 30_000,
  leaderBalanceTolerance: 1,
  replicaBalanceTolerance: 1,
  storeOperatorsMax: 4,
  operatorTimeoutMs: 60_000,
  learnerCatchUpMs: 300_000,
  lowSpaceRatio: 0.8,
});

const POSITIVE_INTEGERS = [
  'replicationFactor',
  'splitKeys',
  'splitBytes',
  'mergeKeys',
  'mergeBytes',
  'storeDownMs',
  'leaderBalanceTolerance',
  'replicaBalanceTolerance',
  'storeOperatorsMax',
  'operatorTimeoutMs',
  'learnerCatchUpMs',
] as const;

/**
 * The defaults overlaid with `options`, checked. Throws {@link InvalidArgumentError} naming the
 * first bad option: every count and duration must be a positive safe integer, `lowSpaceRatio` lie
 * in (0, 1], and the merge thresholds be at most half the split ones, so that two merged small
 * regions stay below the split thresholds and a merge is never undone by a split.
 * @param options - the options to change; the rest keep their defaults.
 */
export function resolvePdConfig(options: Partial<PdConfig> = {}): PdConfig {
  const config: PdConfig = { ...DEFAULT_PD_CONFIG, ...options };
  for (const name of POSITIVE_INTEGERS) {
    const v = config[name];
    if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(name, `must be a positive safe integer, got ${String(v)}`);
  }
  if (typeof config.lowSpaceRatio !== 'number' || !(config.lowSpaceRatio > 0 && config.lowSpaceRatio <= 1)) {
    throw new InvalidArgumentError('lowSpaceRatio', `must lie in (0, 1], got ${String(config.lowSpaceRatio)}`);
  }
  if (config.mergeKeys * 2 > config.splitKeys) throw new InvalidArgumentError('mergeKeys', `must be at most half of splitKeys (${config.splitKeys}), got ${config.mergeKeys}`);
  if (config.mergeBytes * 2 > config.splitBytes) throw new InvalidArgumentError('mergeBytes', `must be at most half of splitBytes (${config.splitBytes}), got ${config.mergeBytes}`);
  return config;
}
