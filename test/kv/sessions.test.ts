/**
 * At-most-once application of retried writes (Raft thesis §6.3): the session table answers a
 * retried seq with the remembered result, refuses an older seq, survives split and merge through
 * copySessions, and is bounded by expireSessions judged by command time.
 */
import { describe, expect, it } from 'vitest';
import { StaleCommandError } from '../../src/errors.ts';
import { copySessions, readSession, sessionRange, WriteOverlay } from '../../src/kv/index.ts';
import { encodeUtf8 } from '../../src/codec/utf8.ts';
import { b, Harness, s } from './harness.ts';

describe('deduplication of retried writes', () => {
  it('a retried seq returns the same result and is applied once', async () => {
    const h = new Harness();
    const merge = h.command({ type: 'merge', key: b('k'), value: b('x'), separator: b(',') });
    const first = await h.apply(merge);
    const again = await h.apply({ ...merge });
    expect(first).toEqual({ ok: true, result: true, deduplicated: false });
    expect(again).toEqual({ ok: true, result: true, deduplicated: true });
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('x');

    const seq = h.command({ type: 'getSequence', key: b('q'), step: 5 });
    const r1 = await h.apply(seq);
    await h.apply({ ...h.command({ type: 'getSequence', key: b('q'), step: 5 }), clientId: 'other' });
    const r2 = await h.apply(seq);
    expect(r1.ok && r1.result).toEqual({ startValue: 0, endValue: 5 });
    expect(r2).toEqual({ ok: true, result: { startValue: 0, endValue: 5 }, deduplicated: true });
    expect(await h.read({ type: 'getLatestSequence', key: b('q') })).toBe(10);
  });

  it('a retry in the same turn as the original is deduplicated too', async () => {
    const h = new Harness();
    const gp = h.command({ type: 'getAndPut', key: b('k'), value: b('new') });
    await h.write({ type: 'put', key: b('k'), value: b('old') });
    const [a, c] = await h.applyTurn([gp, { ...gp }]);
    // gp carries an older seq than the put: it is stale, and so is its retry.
    expect(a.ok ? a : a.error).toBeInstanceOf(StaleCommandError);
    expect(c.ok ? c : c.error).toBeInstanceOf(StaleCommandError);
    const next = h.command({ type: 'getAndPut', key: b('k'), value: b('new') });
    const [x, y] = await h.applyTurn([next, { ...next }]);
    expect(x.ok && s(x.result as Uint8Array)).toBe('old');
    expect(y.ok && y.deduplicated && s(y.result as Uint8Array)).toBe('old');
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('new');
  });

  it('a seq below the remembered one is refused with StaleCommand and not applied', async () => {
    const h = new Harness();
    const old = h.command({ type: 'put', key: b('k'), value: b('old') });
    await h.apply(old);
    await h.write({ type: 'put', key: b('k'), value: b('new') });
    const out = await h.apply(old);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error.code).toBe('StaleCommand');
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('new');
  });

  it('errors are not remembered: a retry of a failed command is decided afresh', async () => {
    const h = new Harness({ id: 3, startKey: b('m'), endKey: new Uint8Array(0) });
    const put = h.command({ type: 'put', key: b('a'), value: b('v') });
    expect((await h.apply(put)).ok).toBe(false);
    expect(await readSession(h.engine, 3, encodeUtf8(h.clientId))).toBeUndefined();
    h.region = { id: 3, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
    expect(await h.apply(put)).toEqual({ ok: true, result: true, deduplicated: false });
  });

  it('clients are independent, and an empty clientId opts out of deduplication', async () => {
    const h = new Harness();
    const cmd = { clientId: '', seq: 0, nowMs: 1, op: { type: 'merge' as const, key: b('k'), value: b('x'), separator: b('') } };
    await h.apply(cmd);
    await h.apply(cmd);
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('xx');
    await h.apply({ ...cmd, clientId: 'a', seq: 1 });
    await h.apply({ ...cmd, clientId: 'b', seq: 1 });
    await h.apply({ ...cmd, clientId: 'a', seq: 1 });
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('xxxx');
  });
});

describe('session bounds and region changes', () => {
  it('expireSessions forgets sessions idle for idleMs by command time, at most limit per command', async () => {
    const h = new Harness();
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) {
      h.nowMs = 1000 + i * 100;
      await h.apply({ clientId: id, seq: 1, nowMs: h.nowMs, op: { type: 'put', key: b(id), value: b('v') } });
    }
    const expire = (nowMs: number, idleMs: number, limit: number) => h.apply({ clientId: '', seq: 0, nowMs, op: { type: 'expireSessions', idleMs, limit } });
    expect(await expire(1500, 400, 10)).toEqual({ ok: true, result: 2, deduplicated: false }); // a (1000), b (1100)
    expect(await readSession(h.engine, 1, encodeUtf8('b'))).toBeUndefined();
    expect(await readSession(h.engine, 1, encodeUtf8('c'))).toBeDefined();
    expect(await expire(5000, 400, 1)).toEqual({ ok: true, result: 1, deduplicated: false });
    expect(await expire(5000, 400, 1)).toEqual({ ok: true, result: 1, deduplicated: false });
    expect(await expire(5000, 400, 1)).toEqual({ ok: true, result: 0, deduplicated: false });
    expect(await h.engine.scan(sessionRange(1))).toEqual([]);
  });

  it('copySessions gives the child of a split the parent sessions, so a retry there is deduplicated', async () => {
    const h = new Harness({ id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0) });
    const put = h.command({ type: 'merge', key: b('x'), value: b('1'), separator: b(',') });
    await h.apply(put);
    await h.engine.write(await copySessions(h.engine, 1, 2));
    h.region = { id: 2, startKey: b('m'), endKey: new Uint8Array(0) };
    expect(await h.apply(put)).toEqual({ ok: true, result: true, deduplicated: true });
    expect(s((await h.read({ type: 'get', key: b('x') })) as Uint8Array)).toBe('1');
    // Without the copy, the child would apply the retry a second time.
    h.region = { id: 3, startKey: b('m'), endKey: new Uint8Array(0) };
    expect(await h.apply(put)).toEqual({ ok: true, result: true, deduplicated: false });
    expect(s((await h.read({ type: 'get', key: b('x') })) as Uint8Array)).toBe('1,1');
  });

  it('copySessions on merge keeps, per client, the session with the higher seq', async () => {
    const h = new Harness();
    const at = (region: number, clientId: string, seq: number) => {
      h.region = { id: region, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
      return h.apply({ clientId, seq, nowMs: 1, op: { type: 'put', key: b(`${region}`), value: b(`${seq}`) } });
    };
    await at(1, 'a', 5);
    await at(2, 'a', 9);
    await at(1, 'b', 7);
    await at(2, 'b', 3);
    const overlay = new WriteOverlay(h.engine);
    overlay.stage(await copySessions(overlay, 2, 1));
    overlay.stage([{ type: 'deleteRange', ...sessionRange(2) }]);
    await h.engine.write(overlay.toWriteOps());
    expect((await readSession(h.engine, 1, encodeUtf8('a')))?.seq).toBe(9);
    expect((await readSession(h.engine, 1, encodeUtf8('b')))?.seq).toBe(7);
    expect(await h.engine.scan(sessionRange(2))).toEqual([]);
  });
});
