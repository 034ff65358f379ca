/**
 * Argument parsing for transcript commands: typed access to `key=value` and positional words,
 * and the parsers shared by several commands (node options, message filters, conf changes).
 */
import type { ConfChange, ConfChangeSingle, ConfChangeTransition } from './core.ts';
import type { CmdArg } from './datadriven.ts';
import type { MsgFilter, NodeOptions } from './env.ts';
import { EnvError } from './env.ts';

/** Typed access to a command's arguments. */
export class Args {
  readonly list: CmdArg[];
  private readonly used = new Set<string>();
  constructor(list: CmdArg[]) {
    this.list = list;
  }

  /** Positional bare words. */
  words(): string[] {
    return this.list.filter((a) => a.vals.length === 0 && !a.isList && a.key !== '').map((a) => a.key);
  }

  /** Positional integers (node ids, counts). */
  ints(): number[] {
    return this.words().map((w) => toInt(w, 'argument'));
  }

  /** Positional `(a,b)` groups. */
  groups(): number[][] {
    return this.list.filter((a) => a.key === '' && a.isList).map((a) => a.vals.map((v) => toInt(v, 'group member')));
  }

  private find(key: string): CmdArg | undefined {
    this.used.add(key);
    return this.list.find((a) => a.key === key && (a.vals.length > 0 || a.isList));
  }

  str(key: string): string | undefined {
    return this.find(key)?.vals[0];
  }

  int(key: string): number | undefined {
    const v = this.str(key);
    return v === undefined ? undefined : toInt(v, key);
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new EnvError(`${key} must be true or false, got ${v}`);
    return v === 'true';
  }

  intList(key: string): number[] | undefined {
    const a = this.find(key);
    return a ? a.vals.map((v) => toInt(v, key)) : undefined;
  }

  strList(key: string): string[] | undefined {
    return this.find(key)?.vals;
  }

  /** Throws on a key=value argument that no handler asked for (a typo would otherwise pass silently). */
  checkUnused(): void {
    for (const a of this.list) {
      if (a.key !== '' && (a.vals.length > 0 || a.isList) && !this.used.has(a.key)) {
        throw new EnvError(`unknown argument ${a.key}`);
      }
    }
  }
}

export function toInt(v: string, what: string): number {
  if (!/^-?\d+$/.test(v)) throw new EnvError(`${what} must be an integer, got ${v}`);
  return Number(v);
}

export function nodeOptions(args: Args): NodeOptions {
  const o: NodeOptions = {};
  const set = <K extends keyof NodeOptions>(k: K, v: NodeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('preVote', args.bool('prevote'));
  set('checkQuorum', args.bool('checkquorum'));
  set('electionTick', args.int('election-tick'));
  set('heartbeatTick', args.int('heartbeat-tick'));
  set('maxInflightMsgs', args.int('max-inflight'));
  set('maxInflightBytes', args.int('max-inflight-bytes'));
  set('maxSizePerMsg', args.int('max-msg-size'));
  set('maxUncommittedEntriesSize', args.int('max-uncommitted-size'));
  set('leaseDriftTicks', args.int('lease-drift'));
  set('disableProposalForwarding', args.bool('disable-forwarding'));
  const ro = args.str('read-only');
  if (ro !== undefined) {
    if (ro !== 'safe' && ro !== 'lease-based') throw new EnvError(`read-only must be safe or lease-based, got ${ro}`);
    o.readOnlyOption = ro === 'safe' ? 'safe' : 'leaseBased';
  }
  return o;
}

export function msgFilter(args: Args, positionalTo: boolean): MsgFilter {
  const f: MsgFilter = {};
  const to = positionalTo ? args.ints() : (args.intList('to') ?? []);
  if (to.length > 0) f.to = to;
  const from = args.intList('from');
  if (from) f.from = from;
  const types = args.strList('type');
  if (types) f.types = types;
  const count = args.int('count');
  if (count !== undefined) f.count = count;
  return f;
}

const TRANSITIONS: Record<string, ConfChangeTransition> = { auto: 'auto', joint: 'joint', explicit: 'jointExplicit' };
const CHANGE_TYPES: Record<string, ConfChangeSingle['type']> = { v: 'addNode', l: 'addLearner', r: 'removeNode' };

export function parseConfChange(args: Args): ConfChange {
  const changes: ConfChangeSingle[] = [];
  for (const w of args.words().slice(1)) {
    const m = /^([vlr])(\d+)$/.exec(w);
    if (!m) throw new EnvError(`bad change ${w}: want v<id>, l<id> or r<id>`);
    changes.push({ type: CHANGE_TYPES[m[1]], nodeId: Number(m[2]) });
  }
  const t = args.str('transition') ?? 'auto';
  const transition = TRANSITIONS[t];
  if (!transition) throw new EnvError(`transition must be auto, joint or explicit, got ${t}`);
  return { transition, changes };
}
