/**
 * End to end: the playground in headless Chromium, driven through its controls as a person would.
 * Screenshots of the main states are saved to test-results/playground/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commits, keyBar, leaderStore, openPage, type Playground, shot, startPlayground, virtualSeconds, waitVirtual } from './browser.ts';

let pg: Playground;
beforeAll(async () => {
  pg = await startPlayground();
}, 60_000);
afterAll(async () => {
  await pg?.close();
});

// As fast as the page can go: the tests wait on virtual time, so a loaded machine only makes them slower.
const fast = (page: Page) => page.getByLabel('Speed of time').selectOption('16');

/** Waits until every region in the key bar has a leader; returns them. */
async function allLed(page: Page): Promise<Array<{ region: number; leader: number }>> {
  await page.waitForFunction(() => {
    const segs = [...document.querySelectorAll('#keybar .segment')];
    return segs.length > 0 && segs.every((s) => /leader s\d+/.test(s.textContent ?? ''));
  }, undefined, { timeout: 180_000 });
  return keyBar(page);
}

/** Waits until the client operation log has a line containing `text`. */
const opLogged = (page: Page, text: string) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#ops li')].some((li) => li.textContent?.includes(t)), text, { timeout: 180_000 });

describe('playground', { timeout: 240_000 }, () => {
  it('loads without console errors and elects a leader for every region, PD group included', async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    const regions = await allLed(page);
    expect(regions.length).toBeGreaterThanOrEqual(1);
    for (const r of regions) expect(await leaderStore(page, r.region)).toBe(r.leader);
    await page.waitForSelector('.replica[data-region="9007199254740991"][data-role="leader"]');
    await shot(page, '01-elected');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: 'test-results/playground/01-elected-phone.png', fullPage: true });
    expect(errors).toEqual([]);
    // Every control has an accessible name.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button, select, input')].filter((el) => !(el.getAttribute('aria-label') || el.textContent?.trim() || el.closest('label')?.textContent?.trim())).map((el) => el.outerHTML),
    );
    expect(unnamed).toEqual([]);
    await page.close();
  });

  it('drops a chosen message in flight', async () => {
    const { page, errors } = await openPage(pg);
    // Paused for sure (the list of messages in flight no longer changes), then the button of one
    // message by its own label: a list redrawn between reading a label and clicking must not
    // make the test drop another message than the one it waits for. Idle regions quiesce (no
    // heartbeats), so a pause can catch an empty list: then resume and pause again.
    for (let attempt = 0; ; attempt++) {
      await page.locator('#flights button').first().waitFor();
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.getByRole('button', { name: 'Resume' }).waitFor();
      if ((await page.locator('#flights button').count()) > 0) break;
      expect(attempt, 'a pause caught messages in flight').toBeLessThan(20);
      await page.getByRole('button', { name: 'Resume' }).click();
    }
    const label = (await page.locator('#flights button').first().getAttribute('aria-label')) ?? '';
    const id = /Drop message (\d+)/.exec(label)?.[1];
    expect(id).toBeDefined();
    await page.getByRole('button', { name: label, exact: true }).click();
    await page.waitForFunction((i) => document.getElementById('timeline')?.textContent?.includes(`message #${i} dropped`), id);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("crashing a leader's store leads to a new leader on another store", async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    await allLed(page);
    const old = await leaderStore(page, 1);
    expect(old).toBeGreaterThan(0);
    await page.getByRole('button', { name: `Crash store ${old}` }).click();
    await page.waitForSelector(`.store[data-store="${old}"].down`);
    await page.waitForFunction((o) => {
      const el = document.querySelector('.store:not(.down) .replica[data-region="1"][data-role="leader"]');
      const s = Number(el?.closest<HTMLElement>('.store')?.dataset.store ?? 0);
      return s > 0 && s !== o;
    }, old, { timeout: 180_000 });
    await shot(page, '02-new-leader-after-crash');
    await page.getByRole('button', { name: `Restart store ${old}` }).click();
    await page.waitForSelector(`.store[data-store="${old}"]:not(.down)`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('transfers a leader to the chosen store', async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    await allLed(page);
    const from = await leaderStore(page, 1);
    const to = from === 3 ? 2 : 3;
    await page.getByLabel('Region', { exact: true }).selectOption('1');
    await page.getByLabel('Transfer leader to store').selectOption(String(to));
    await page.getByRole('button', { name: 'Transfer leader' }).click();
    await page.waitForFunction((t) => document.querySelector(`.store[data-store="${t}"] .replica[data-region="1"][data-role="leader"]`) !== null, to, { timeout: 180_000 });
    await opLogged(page, `transfer region 1 to store ${to} → ok`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a partitioned minority commits nothing while the majority keeps committing', async () => {
    const { page, errors } = await openPage(pg);
    await page.getByLabel('Scenario', { exact: true }).selectOption('minority');
    await page.getByRole('button', { name: 'Run scenario' }).click();
    await fast(page);
    await page.waitForFunction(() => document.querySelectorAll('.store').length === 5);
    // The scenario cuts the leader and one follower off at 3 s and starts writes; let it settle.
    await waitVirtual(page, 5);
    const text = (await page.locator('#timeline').textContent()) ?? '';
    const m = /partition: \{(\d+), (\d+)\} \| \{([\d, ]+)\}/.exec(text);
    expect(m).not.toBeNull();
    const minority = [Number(m![1]), Number(m![2])];
    const majority = m![3].split(', ').map(Number);
    const before = await commits(page, 1);
    const t0 = await virtualSeconds(page);
    await waitVirtual(page, t0 + 4);
    const after = await commits(page, 1);
    for (const s of minority) expect(after[s]).toBe(before[s]);
    for (const s of majority) expect(after[s]).toBeGreaterThan(before[s]);
    const majorityLeader = await leaderStore(page, 1);
    expect(majority).toContain(majorityLeader);
    await shot(page, '03-minority-partition');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a split shows two regions in the key bar, a value written through the UI is read back, a merge joins the regions', async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    await allLed(page);
    expect(await keyBar(page)).toHaveLength(1);
    for (const [k, v] of [['apple', 'red'], ['zebra', 'striped']]) {
      await page.getByLabel('Key', { exact: true }).fill(k);
      await page.getByLabel('Value', { exact: true }).fill(v);
      await page.getByRole('button', { name: 'Put' }).click();
      await opLogged(page, `put ${k}=${v} → ok`);
    }
    await page.getByLabel('Split key (empty: middle)').fill('m');
    await page.getByRole('button', { name: 'Split' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keybar .segment').length === 2, undefined, { timeout: 180_000 });
    const regions = await allLed(page);
    expect(regions).toHaveLength(2);
    expect(await page.locator('#keybar').textContent()).toContain('[m, +∞)');
    await page.getByLabel('Key', { exact: true }).fill('zebra');
    await page.getByRole('button', { name: 'Get' }).click();
    await opLogged(page, 'get zebra = striped');
    await shot(page, '04-split-and-read');
    // A merge joins them again.
    await page.getByLabel('Region', { exact: true }).selectOption({ label: 'region r1' });
    await page.getByRole('button', { name: 'Merge the region with its right neighbour' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#keybar .segment').length === 1, undefined, { timeout: 180_000 });
    expect(await page.locator('#keybar').textContent()).toContain('[−∞, +∞)');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('goes back to an event and replays the same history from the seed', async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    await allLed(page);
    await page.getByRole('button', { name: 'Start workload' }).click();
    await waitVirtual(page, 3);
    await page.getByRole('button', { name: `Crash store ${await leaderStore(page, 1)}` }).click();
    await waitVirtual(page, 9);
    await page.getByRole('button', { name: 'Pause' }).click();
    const events = () =>
      page.locator('#timeline li').evaluateAll((lis) =>
        lis.map((li) => li.textContent?.trim() ?? '').filter((t) => !t.includes('went back')).map((t) => ({ at: Number.parseFloat(t), t })),
      );
    const first = await events();
    const crash = first.find((e) => e.t.includes('crashed'))!;
    expect(crash).toBeDefined();
    const eventsAfterCrash = (es: Array<{ at: number; t: string }>, to: number) => es.filter((e) => e.at > crash.at && e.at <= to).map((e) => e.t).sort();
    const expected = eventsAfterCrash(first, 8);
    expect(expected.some((t) => /leads region r1/.test(t))).toBe(true);
    await page.getByRole('button', { name: new RegExp(`^Go back to ${crash.at.toFixed(2)} s: store \\d crashed`) }).click();
    await page.waitForFunction(() => document.getElementById('replay-note')?.textContent?.startsWith('Back at'), undefined, { timeout: 180_000 });
    expect(await virtualSeconds(page)).toBeCloseTo(crash.at, 1);
    await page.getByRole('button', { name: 'Resume' }).click();
    await waitVirtual(page, 9);
    expect(eventsAfterCrash(await events(), 8)).toEqual(expected);
    await shot(page, '05-replayed');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stays bounded running a workload at full speed', { timeout: 240_000 }, async () => {
    const { page, errors } = await openPage(pg);
    await fast(page);
    await page.getByRole('button', { name: 'Start workload' }).click();
    const size = () =>
      page.evaluate(() => ({
        elements: document.getElementsByTagName('*').length,
        regions: document.querySelectorAll('#keybar .segment').length,
        timeline: document.querySelectorAll('#timeline li').length,
        flights: document.querySelectorAll('#flights li').length,
        dots: document.querySelectorAll('#wires .msg').length,
      }));
    // A bounded amount of simulated work (the page steps the cluster as fast as the CPU allows, so
    // virtual seconds cost real ones): by 12 s the workload has written its 160 keys and PD has
    // split them; from 12 s to 24 s the page must not grow.
    await waitVirtual(page, 12, 180_000);
    const early = await size();
    await waitVirtual(page, 24, 180_000);
    const late = await size();
    console.log(`playground workload: early ${JSON.stringify(early)}, late ${JSON.stringify(late)}`);
    // PD split the workload's 160 keys into several regions, and no more than they can fill.
    expect(late.regions).toBeGreaterThan(2);
    expect(late.regions).toBeLessThanOrEqual(14);
    expect(late.timeline).toBeLessThanOrEqual(80);
    expect(late.flights).toBeLessThanOrEqual(12);
    expect(late.dots).toBeLessThanOrEqual(60);
    // The page does not grow with time: twice as long, (nearly) the same size.
    expect(late.elements).toBeLessThan(early.elements * 1.5 + 200);
    await shot(page, '07-workload-20s');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keeps the data across a reload with IndexedDB storage', async () => {
    const { page, errors } = await openPage(pg);
    await page.getByLabel('Storage').selectOption('indexeddb');
    await page.getByRole('button', { name: 'New cluster' }).click();
    await page.waitForFunction(() => document.getElementById('timeline')?.textContent?.includes('indexeddb'));
    await fast(page);
    await allLed(page);
    await page.getByLabel('Key', { exact: true }).fill('durable');
    await page.getByLabel('Value', { exact: true }).fill('yes');
    await page.getByRole('button', { name: 'Put' }).click();
    await opLogged(page, 'put durable=yes → ok');
    const before = await virtualSeconds(page);
    await page.reload();
    await page.locator('.store').first().waitFor();
    expect(await page.getByLabel('Storage').inputValue()).toBe('indexeddb');
    await fast(page);
    await allLed(page);
    // The virtual clock resumes where it was, not at zero.
    expect(await virtualSeconds(page)).toBeGreaterThanOrEqual(before);
    await page.getByLabel('Key', { exact: true }).fill('durable');
    await page.getByRole('button', { name: 'Get' }).click();
    await opLogged(page, 'get durable = yes');
    await shot(page, '06-indexeddb-after-reload');
    // Back to memory so that the next visit starts fresh.
    await page.getByLabel('Storage').selectOption('memory');
    await page.getByRole('button', { name: 'New cluster' }).click();
    expect(errors).toEqual([]);
    await page.close();
  });
});
