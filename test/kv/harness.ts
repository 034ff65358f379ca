/**
 * A tiny driver for KV state machine tests: one region on a memory engine, commands applied one
 * per "loop turn" (or many in one turn), with a region clock the test moves by hand.
 */
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { ApplyOutcome, KvCommand, KvReadOp, KvWriteOp, RegionRange } from '../../src/kv/index.ts';
import { KvStateMachine, WriteOverlay } from '../../src/kv/index.ts';
import type { StorageEngine } from '../../src/ports.ts';

/** UTF-8 bytes of a string (tests only; the core uses src/util/utf8.ts). */
export const b = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A string from UTF-8 bytes. */
export const s = (x: Uint8Array | null): string | null => (x === null ? null : new TextDecoder().decode(x));

/** The whole key space as one region. */
export const WHOLE: RegionRange = { id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };

/** One region's state machine over a fresh memory engine. */
export class Harness {
  readonly engine: StorageEngine;
  readonly sm = new KvStateMachine();
  region: RegionRange;
  nowMs = 1000;
  clientId = 'client-1';
  seq = 0;

  constructor(region: RegionRange = WHOLE, engine: StorageEngine = createMemoryStorage()) {
    this.region = region;
    this.engine = engine;
  }

  /** A command from this harness's client with the next seq and the current time. */
  command(op: KvWriteOp, over: Partial<KvCommand> = {}): KvCommand {
    return { clientId: this.clientId, seq: ++this.seq, nowMs: this.nowMs, op, ...over };
  }

  /** Applies commands in ONE turn (one overlay, one engine write) and returns their outcomes. */
  async applyTurn(commands: KvCommand[]): Promise<ApplyOutcome[]> {
    const overlay = new WriteOverlay(this.engine);
    const out: ApplyOutcome[] = [];
    for (const c of commands) out.push(await this.sm.apply(overlay, this.region, c));
    await this.engine.write(overlay.toWriteOps());
    return out;
  }

  /** Applies one command in its own turn. */
  async apply(command: KvCommand): Promise<ApplyOutcome> {
    return (await this.applyTurn([command]))[0];
  }

  /** Applies an op as the next command and returns its result; fails the test on an error outcome. */
  async write(op: KvWriteOp): Promise<unknown> {
    const out = await this.apply(this.command(op));
    if (!out.ok) throw out.error;
    return out.result;
  }

  /** Serves a read from the engine. */
  read(op: KvReadOp): Promise<unknown> {
    return this.sm.read(this.engine, this.region, op);
  }

  /** Every pair in the engine, as hex key → hex value, to compare states. */
  async dump(): Promise<Map<string, string>> {
    const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
    return new Map((await this.engine.scan()).map((kv) => [hex(kv.key), hex(kv.value)]));
  }
}
