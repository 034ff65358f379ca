/**
 * The request admission control of a store (src/server/request-admission.ts): hard caps on
 * requests and bytes in flight, dropping requests that arrive past their deadline, refusing
 * requests the work ahead of which would outlast their deadline, and slots that always come back.
 */
import { describe, expect, it } from 'vitest';
import { ServerBusyError } from '../../src/errors.ts';
import { type AdmissionTicket, createRequestAdmission, REQUESTS_ALWAYS_ADMITTED } from '../../src/server/request-admission.ts';
import { createSeededRand } from '../../src/util/rand.ts';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function ticket(x: AdmissionTicket | ServerBusyError): AdmissionTicket {
  if (x instanceof ServerBusyError) throw x;
  return x;
}

describe('request admission', () => {
  it('refuses over requestsMax with ServerBusy naming the store and what is in flight, and admits again once one is released', () => {
    const c = clock();
    const a = createRequestAdmission(7, { requestsMax: 3, queueWaitMaxMs: 60_000 }, c.now);
    const held = [0, 1, 2].map(() => ticket(a.admit(100)));
    const refused = a.admit(100);
    expect(refused).toBeInstanceOf(ServerBusyError);
    expect((refused as ServerBusyError).code).toBe('ServerBusy');
    expect((refused as ServerBusyError).message).toContain('store 7 is overloaded: 3 requests / 300 bytes in flight');
    expect(a.stats()).toMatchObject({ admitted: 3, inFlight: 3, inFlightBytes: 300, shed: { requests: 1, bytes: 0, wait: 0, expired: 0 } });
    held[1].release();
    expect(a.admit(100)).not.toBeInstanceOf(ServerBusyError);
  });

  it('refuses over bytesMax, but admits one request larger than the cap when nothing else is in flight', () => {
    const c = clock();
    const a = createRequestAdmission(1, { bytesMax: 1000, queueWaitMaxMs: 60_000 }, c.now);
    const big = ticket(a.admit(5000));
    expect(a.admit(1)).toBeInstanceOf(ServerBusyError);
    big.release();
    const t1 = ticket(a.admit(600));
    expect(a.admit(400)).not.toBeInstanceOf(ServerBusyError);
    expect(a.admit(1)).toBeInstanceOf(ServerBusyError);
    expect(a.stats().shed.bytes).toBe(2);
    t1.release();
    expect(a.stats().inFlightBytes).toBe(400);
  });

  it('drops a request that arrives after its deadline', () => {
    const a = createRequestAdmission(1, {}, clock().now);
    expect(a.admit(10, 0)).toBeInstanceOf(ServerBusyError);
    expect(a.admit(10, -5)).toBeInstanceOf(ServerBusyError);
    expect(a.stats()).toMatchObject({ admitted: 0, inFlight: 0, shed: { expired: 2 } });
    expect(a.admit(10, 1)).not.toBeInstanceOf(ServerBusyError);
  });

  it('refuses a request when the work ahead of it would take longer than half its deadline (or queueWaitMaxMs)', () => {
    const c = clock();
    const a = createRequestAdmission(1, { queueWaitMaxMs: 1000 }, c.now);
    // The store answers 8 requests per 80 ms of busy time: 100 per second.
    let held = Array.from({ length: REQUESTS_ALWAYS_ADMITTED }, () => ticket(a.admit(10)));
    c.advance(80);
    for (const t of held) t.release();
    expect(a.stats().completionsPerSec).toBe(100);
    // 40 in flight at 100/s: 400 ms of work ahead.
    held = Array.from({ length: 40 }, () => ticket(a.admit(10, 10_000)));
    expect(a.stats().expectedWaitMs).toBe(400);
    expect(a.admit(10, 700)).toBeInstanceOf(ServerBusyError); // may wait 350 ms
    expect(a.admit(10, 900)).not.toBeInstanceOf(ServerBusyError); // may wait 450 ms
    // Without a deadline, queueWaitMaxMs bounds the wait: 1000 ms, 100 requests ahead (the 101st still fits).
    while (!(a.admit(10) instanceof ServerBusyError)) {
      if (a.stats().inFlight > 200) throw new Error('never refused');
    }
    expect(a.stats().inFlight).toBe(101);
    expect(a.stats().shed.wait).toBe(2);
    expect(held.length).toBe(40);
  });

  it('always admits a few requests, even when nothing completed lately; beyond them a stalled store sheds', () => {
    const c = clock();
    const a = createRequestAdmission(1, {}, c.now);
    for (let i = 0; i < REQUESTS_ALWAYS_ADMITTED; i++) ticket(a.admit(10, 1000));
    c.advance(5000);
    const refused = a.admit(10, 1000);
    expect(refused).toBeInstanceOf(ServerBusyError);
    expect((refused as ServerBusyError).message).toContain('unbounded ms of work queued');
    expect(a.stats().expectedWaitMs).toBe(-1);
  });

  it('judges a store coming out of idleness by its busy time, not by the idle second before', () => {
    const c = clock();
    const a = createRequestAdmission(1, {}, c.now);
    // Idle for a long time, then 8 requests answered within 10 ms: 800/s.
    c.advance(10_000);
    const held = Array.from({ length: REQUESTS_ALWAYS_ADMITTED }, () => ticket(a.admit(10, 1000)));
    c.advance(10);
    for (const t of held) t.release();
    c.advance(500); // idle again, within the window
    expect(a.stats().completionsPerSec).toBe(800);
    for (let i = 0; i < 200; i++) expect(a.admit(10, 1000)).not.toBeInstanceOf(ServerBusyError);
  });

  it('drops a request whose deadline is no longer than the time it waited to be read (the arrival delay)', () => {
    let lagMs = 300;
    const a = createRequestAdmission(1, {}, clock().now, () => lagMs);
    const refused = a.admit(10, 300);
    expect(refused).toBeInstanceOf(ServerBusyError);
    expect((refused as ServerBusyError).message).toContain('passed before it was read (300 ms late)');
    expect(a.admit(10, 301)).not.toBeInstanceOf(ServerBusyError);
    lagMs = 0;
    expect(a.admit(10, 1)).not.toBeInstanceOf(ServerBusyError);
    expect(a.stats()).toMatchObject({ admitted: 2, shed: { expired: 1 }, arrivalDelayMs: 0 });
  });

  it('adds the arrival delay to the expected wait', () => {
    const c = clock();
    let lagMs = 0;
    const a = createRequestAdmission(1, { queueWaitMaxMs: 1000 }, c.now, () => lagMs);
    const first = Array.from({ length: REQUESTS_ALWAYS_ADMITTED }, () => ticket(a.admit(10)));
    c.advance(80);
    for (const t of first) t.release(); // 100 per second
    for (let i = 0; i < 10; i++) ticket(a.admit(10, 10_000)); // 100 ms of work ahead
    expect(a.admit(10, 10_000)).not.toBeInstanceOf(ServerBusyError);
    lagMs = 950; // 950 + 110 ms > 1000
    expect(a.admit(10, 10_000)).toBeInstanceOf(ServerBusyError);
    expect(a.stats()).toMatchObject({ expectedWaitMs: 1060, shed: { wait: 1 } });
  });

  it('counts an admitted request answered after its deadline as late', () => {
    const c = clock();
    const a = createRequestAdmission(1, {}, c.now);
    const onTime = ticket(a.admit(10, 100));
    const tooLate = ticket(a.admit(10, 100));
    const noDeadline = ticket(a.admit(10));
    c.advance(100);
    onTime.release();
    c.advance(1);
    tooLate.release();
    c.advance(60_000);
    noDeadline.release();
    expect(a.stats()).toMatchObject({ admitted: 3, late: 1, inFlight: 0 });
  });

  it('a ticket released twice gives its slot back once', () => {
    const a = createRequestAdmission(1, { requestsMax: 2 }, clock().now);
    const t = ticket(a.admit(10));
    ticket(a.admit(10));
    t.release();
    t.release();
    expect(a.stats()).toMatchObject({ inFlight: 1, inFlightBytes: 10 });
  });

  it('leaks no slot: after random admissions, completions, errors and timeouts every slot is back (seeded)', async () => {
    const seed = Number(process.env.ADMISSION_SEED ?? Date.now() % 100_000);
    console.log(`request admission leak test seed ${seed} (ADMISSION_SEED=${seed} repeats it)`);
    const rand = createSeededRand(seed);
    const c = clock();
    const a = createRequestAdmission(1, { requestsMax: 50, bytesMax: 5000 }, c.now);
    // Each admitted request ends as a call in calls.ts does: the work resolves, rejects, or the
    // caller's deadline passes first; the ticket is released in a finally whatever happened.
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      c.advance(rand.int(3));
      const x = a.admit(1 + rand.int(300), rand.int(10) === 0 ? 0 : 1 + rand.int(2000));
      if (x instanceof ServerBusyError) continue;
      const fate = rand.int(3);
      const work = new Promise<void>((resolve, reject) => queueMicrotask(() => (fate === 0 ? resolve() : fate === 1 ? reject(new Error('store error')) : resolve())));
      calls.push(
        work
          .then(() => (fate === 2 ? Promise.reject(new Error('deadline')) : undefined))
          .catch(() => undefined)
          .finally(() => x.release()),
      );
      if (rand.int(4) === 0) await Promise.all(calls.splice(0));
    }
    await Promise.all(calls);
    const s = a.stats();
    expect(s.inFlight).toBe(0);
    expect(s.inFlightBytes).toBe(0);
    expect(s.admitted).toBeGreaterThan(0);
    expect(s.admitted + s.shed.requests + s.shed.bytes + s.shed.wait + s.shed.expired).toBe(2000);
  });

  it('refuses limits that are not positive integers', () => {
    expect(() => createRequestAdmission(1, { requestsMax: 0 }, clock().now)).toThrow(RangeError);
    expect(() => createRequestAdmission(1, { bytesMax: 1.5 }, clock().now)).toThrow(RangeError);
  });
});
