/**
 * Seeded fuzzing of every parser a peer's bytes reach, unauthenticated and authenticated:
 * handshake messages (server and client side), FrameGuard.check, chunk reassembly and the client
 * request decoder. 10^5 cases each under `npm run fuzz` (a 25,000-case slice in npm test), mutations of valid inputs (bit flips, truncation, length
 * lies, huge counts, deep nesting, wrong types) and random bytes. Every case must end in a typed
 * outcome (a refusal, a FrameError, an InvalidArgumentError, a dropped stream), never a throw of
 * anything else; memory must stay bounded. FUZZ_SEED=... replays a run; FUZZ_CASES=... scales it.
 */
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/codec/errors.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { InvalidArgumentError } from '../../src/errors.ts';
import { decodeCall, encodeCall, type ServerCall } from '../../src/server/protocol.ts';
import { createChunkAssembler } from '../../src/transport/chunks.ts';
import { createFrameGuard } from '../../src/transport/guard.ts';
import { createClientHandshake, createNonceRegistry, createServerHandshake, type HandshakeIdentity, type HandshakeStep } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { mutatedBinaryFrame } from '../codec/binary-hostile.ts';
import { randomBytes } from '../codec/gen.ts';
import { mutatedFrame, validFrameBytes } from '../codec/hostile.ts';
import { mutateBytes, mutateText } from './mutate.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 16_0316);
// npm test runs a seeded slice; `npm run fuzz` runs 10^5 cases of each (FUZZ_CASES=100000).
const CASES = Number(process.env.FUZZ_CASES ?? 25_000);
const HEAP_GROWTH_MAX = 256 * 1024 * 1024;
const FAILURES = new Set(['WrongVersion', 'WrongCluster', 'BadProof', 'DuplicateStoreId', 'UnexpectedPeer', 'Replay', 'Malformed']);

function tally(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Runs `body` over `CASES` cases, keeps the slowest case's time, and checks the heap afterwards. */
async function fuzz(name: string, seedOffset: number, body: (rand: ReturnType<typeof createSeededRand>, i: number) => unknown): Promise<void> {
  console.log(`${name}: seed ${SEED + seedOffset}, ${CASES} cases (FUZZ_SEED=${SEED} to replay)`);
  const rand = createSeededRand(SEED + seedOffset);
  const heapBefore = process.memoryUsage().heapUsed;
  let slowestMs = 0;
  for (let i = 0; i < CASES; i++) {
    const t0 = performance.now();
    await body(rand, i);
    slowestMs = Math.max(slowestMs, performance.now() - t0);
  }
  console.log(`${name}: slowest case ${slowestMs.toFixed(1)} ms`);
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(HEAP_GROWTH_MAX);
}

/** Fails the test unless `ok` (cheaper than expect() in a loop of 10^5). */
function check(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(what());
}

function expectStep(step: HandshakeStep, counts: Map<string, number>): void {
  if (step.kind === 'refuse') {
    check(FAILURES.has(step.code), () => `unknown refusal ${JSON.stringify(step)}`);
    tally(counts, step.code);
  } else tally(counts, step.kind);
}

async function identity(localId: number, secret: string): Promise<HandshakeIdentity> {
  return { clusterId: 'fuzz', localId, crypto: globalThis.crypto, key: await importClusterSecret(globalThis.crypto, secret), incarnation: 'inc-1' };
}

const NON_TEXT: unknown[] = [undefined, null, 0, new ArrayBuffer(8), new Uint8Array(4), {}, [], 'x'.repeat(1025), '\ud800'];

describe(`parser fuzz (seed ${SEED}; FUZZ_SEED=... to replay)`, { timeout: 240_000 }, () => {
  it(`server handshake: ${CASES} mutated hellos and proofs and non-text messages end in a step, never a throw`, async () => {
    const server = await identity(1, 'fuzz secret of sixteen+');
    const client = await identity(2, 'fuzz secret of sixteen+');
    const nonces = createNonceRegistry(1024);
    const counts = new Map<string, number>();
    await fuzz('server handshake', 0, async (rand) => {
      const hs = createServerHandshake(server, nonces);
      const c = createClientHandshake(client, 1);
      const hello = c.hello();
      const r = rand.int(10);
      if (r === 0) return expectStep(await hs.receive(NON_TEXT[rand.int(NON_TEXT.length)]), counts);
      if (r < 5) return expectStep(await hs.receive(mutateText(rand, hello)), counts);
      const challenge = await hs.receive(hello);
      check(challenge.kind === 'send', () => `valid hello refused: ${JSON.stringify(challenge)}`);
      const answer = await c.receive((challenge as { message: string }).message);
      check(answer.kind === 'send', () => `valid challenge refused: ${JSON.stringify(answer)}`);
      const proof = (answer as { message: string }).message;
      expectStep(await hs.receive(r === 9 ? proof : mutateText(rand, proof)), counts);
    });
    console.log('server handshake outcomes', Object.fromEntries(counts));
    expect(counts.get('done') ?? 0).toBeGreaterThan(0);
    expect(counts.get('Malformed') ?? 0).toBeGreaterThan(0);
  });

  it(`client handshake: ${CASES} mutated challenges and welcomes end in a step, never a throw`, async () => {
    const server = await identity(1, 'fuzz secret of sixteen+');
    const client = await identity(2, 'fuzz secret of sixteen+');
    // One real challenge to mutate (the client's nonce differs per case, so it never verifies anyway).
    const hs = createServerHandshake(server, createNonceRegistry());
    const challenge = ((await hs.receive(createClientHandshake(client, 1).hello())) as { message: string }).message;
    const counts = new Map<string, number>();
    await fuzz('client handshake', 1, async (rand) => {
      const c = createClientHandshake(client, 1);
      c.hello();
      const r = rand.int(10);
      const text = r === 0 ? NON_TEXT[rand.int(NON_TEXT.length)] : r === 1 ? mutateText(rand, '{"h":"welcome"}') : mutateText(rand, challenge);
      expectStep(await c.receive(text), counts);
    });
    console.log('client handshake outcomes', Object.fromEntries(counts));
  });

  it(`FrameGuard.check: ${CASES} mutated MessagePack and binary frames and random bytes are accepted or refused with a FrameError`, async () => {
    const limits = resolveFrameLimits({ frameBytesMax: 64 * 1024 });
    const guard = createFrameGuard({ clusterId: 'fuzz', localId: 4, limits, offencesMax: Number.MAX_SAFE_INTEGER });
    const header = { clusterId: 'fuzz', from: 3, to: 4 };
    const counts = new Map<string, number>();
    await fuzz('FrameGuard.check', 2, (rand) => {
      const r = rand.int(4);
      const bytes = r === 0 ? mutatedFrame(rand, header) : r === 1 ? mutatedBinaryFrame(rand, header) : r === 2 ? mutateBytes(rand, validFrameBytes(rand, header)) : randomBytes(rand, rand.int(256));
      let verdict: ReturnType<typeof guard.check>;
      try {
        verdict = guard.check(3, bytes);
      } catch (err) {
        throw new Error(`FrameGuard.check threw on ${Buffer.from(bytes).toString('hex').slice(0, 200)}: ${String(err)}`);
      }
      if (verdict.ok) tally(counts, 'accepted');
      else {
        check(verdict.error instanceof FrameError, () => `not a FrameError: ${String(verdict.error)}`);
        tally(counts, verdict.error.code);
      }
    });
    console.log('FrameGuard outcomes', Object.fromEntries(counts));
    expect(guard.stats().accepted + guard.stats().rejected).toBe(CASES);
  });

  it(`chunk reassembly: ${CASES} chunks with lying seq, total and sizes hold bounded bytes and end typed`, async () => {
    const payloadBytesMax = 64 * 1024;
    const streamsPerPeerMax = 4;
    const peers = 3;
    const assembler = createChunkAssembler({ payloadBytesMax, streamsPerPeerMax });
    const counts = new Map<string, number>();
    const totals = [1, 2, 3, 8, 0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER];
    const pool = randomBytes(createSeededRand(SEED), 40_000);
    await fuzz('chunk reassembly', 3, (rand) => {
      const from = 1 + rand.int(peers);
      const total = totals[rand.int(totals.length)];
      const seq = rand.int(3) === 0 ? 0 : rand.int(4);
      // Contents do not matter to reassembly, only sizes: views of one random buffer.
      const payload = pool.subarray(0, rand.int(5) === 0 ? 40_000 : rand.int(64));
      const res = assembler.add(from, { streamId: rand.int(6), seq, total, payload });
      tally(counts, res.kind);
      if (res.kind === 'complete') check(res.payload.length <= payloadBytesMax, () => `completed ${res.payload.length} bytes`);
      // Held bytes never exceed what the limits allow, whatever the chunks claim.
      const held = assembler.heldBytes();
      check(held >= 0 && held <= peers * streamsPerPeerMax * payloadBytesMax, () => `holds ${held} bytes`);
      if (rand.int(1000) === 0) assembler.forget(from);
    });
    console.log('chunk outcomes', Object.fromEntries(counts));
    for (let p = 1; p <= peers; p++) assembler.forget(p);
    expect(assembler.heldBytes()).toBe(0);
  });

  it(`client request decoding: ${CASES} mutated calls and random bytes decode to a call or an InvalidArgumentError`, async () => {
    const k = new Uint8Array([1, 2, 3]);
    const epoch = { confVer: 1, version: 2 };
    const valid: ServerCall[] = [
      { t: 'kv', r: { type: 'write', regionId: 1, epoch, clientId: 'c1', seq: 7, op: { type: 'put', key: k, value: k } } },
      { t: 'kv', r: { type: 'write', regionId: 1, epoch, clientId: 'c1', seq: 8, op: { type: 'batchPut', entries: [{ key: k, value: k }, { key: k, value: k }] } } },
      { t: 'kv', r: { type: 'read', regionId: 2, epoch, op: { type: 'scan', start: k, end: k, limit: 10 }, consistency: 'linearizable' } },
      { t: 'kv', r: { type: 'admin', regionId: 3, epoch, op: { kind: 'changePeer', change: 'addLearner', storeId: 4 } } },
      { t: 'announce', stores: [{ id: 1, url: 'ws://127.0.0.1:1' }, { id: 2, url: 'ws://127.0.0.1:2' }] },
      { t: 'join', url: 'ws://127.0.0.1:3' },
      { t: 'stores' },
    ] as ServerCall[];
    const encoded = valid.map((c) => Uint8Array.from(encodeCall(c)));
    const counts = new Map<string, number>();
    await fuzz('client request decoding', 4, (rand) => {
      const bytes = mutateBytes(rand, encoded[rand.int(encoded.length)]);
      let out: ReturnType<typeof decodeCall>;
      try {
        out = decodeCall(bytes);
      } catch (err) {
        throw new Error(`decodeCall threw on ${Buffer.from(bytes).toString('hex').slice(0, 200)}: ${String(err)}`);
      }
      tally(counts, out instanceof InvalidArgumentError ? 'invalid' : 'call');
    });
    console.log('decodeCall outcomes', Object.fromEntries(counts));
    expect(counts.get('invalid') ?? 0).toBeGreaterThan(0);
  });
});

describe('client request decoding: regressions found by reading the fuzzers', () => {
  it('refuses a deeply nested call for its depth, before msgpackr recurses into it', () => {
    const deep = new Uint8Array(100_000).fill(0x91);
    const out = decodeCall(deep);
    expect(out).toBeInstanceOf(InvalidArgumentError);
    expect((out as Error).message).toMatch(/nest|deep/);
  });

  it('refuses a call of more values than a frame may hold, before allocating an array for them', () => {
    // An array32 of 2^22 nils: 4 MiB on the wire, 32 MiB as a JS array.
    const n = 1 << 22;
    const bytes = new Uint8Array(5 + n).fill(0xc0);
    bytes.set([0xdd, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
    const out = decodeCall(bytes);
    expect(out).toBeInstanceOf(InvalidArgumentError);
    expect((out as Error).message).toMatch(/more than \d+ values/);
  });
});
