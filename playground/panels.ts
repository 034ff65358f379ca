/**
 * The side panels: wiring of the controls (data, regions, network, cluster, scenarios) and the
 * rendering of the KV table, the client operation log, the timeline and the store pickers.
 */
import type { Scenario } from './scenarios.ts';
import type { Action, Session } from './session.ts';
import { type PlaygroundConfig, regionName } from './sim.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

export interface ControlHooks {
  enqueue(a: Action): void;
  togglePlay(): void;
  step(): void;
  setSpeed(v: number): void;
  rebuild(config: PlaygroundConfig, wipe: boolean): Promise<void>;
  runScenario(sc: Scenario): Promise<void>;
  scenarios: Scenario[];
}

export function bindControls(session: Session, h: ControlHooks): void {
  const val = (id: string) => ($(id) as HTMLInputElement).value;
  const on = (id: string, fn: () => void) => $(id).addEventListener('click', fn);
  on('play', h.togglePlay);
  on('step', h.step);
  $('speed').addEventListener('change', () => h.setSpeed(Number(val('speed'))));
  on('put', () => h.enqueue({ type: 'put', key: val('key'), value: val('value') }));
  on('get', () => h.enqueue({ type: 'get', key: val('key') }));
  on('del', () => h.enqueue({ type: 'delete', key: val('key') }));
  on('scan', () => h.enqueue({ type: 'scan' }));
  on('workload', () => h.enqueue({ type: 'workload', on: !session.workload }));
  on('split', () => h.enqueue({ type: 'split', regionId: Number(val('region')), key: val('split-key') || undefined }));
  on('merge', () => h.enqueue({ type: 'merge', regionId: Number(val('region')) }));
  on('transfer', () => h.enqueue({ type: 'transfer', regionId: Number(val('region')), store: Number(val('to-store')) }));
  on('add-store', () => h.enqueue({ type: 'addStore' }));
  on('heal', () => h.enqueue({ type: 'heal' }));
  on('partition', () => {
    const b = [...document.querySelectorAll<HTMLInputElement>('#groups input:checked')].map((i) => Number(i.value));
    const a = session.sim.cluster.storeIds.filter((id) => !b.includes(id));
    if (a.length > 0 && b.length > 0) h.enqueue({ type: 'partition', groups: [a, b] });
  });
  const zone = $('cut-zone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const id = e.dataTransfer?.getData('text/x-flotilla-store');
    const box = document.querySelector<HTMLInputElement>(`#groups input[value="${id}"]`);
    if (!box) return;
    box.checked = true;
    $('partition').click();
  });
  on('link', () => {
    const from = Number(val('link-a'));
    const to = Number(val('link-b'));
    if (from !== to) h.enqueue({ type: 'link', from, to, mode: val('link-mode') as 'slow' | 'lossy' | 'normal' });
  });
  on('rebuild', () => {
    const storage = val('storage') as 'memory' | 'indexeddb';
    const config = { ...session.config, seed: Number(val('seed')) || 1, stores: Math.min(7, Math.max(1, Number(val('store-count')) || 3)), storage };
    void h.rebuild(config, true);
  });
  const sel = $('scenario') as HTMLSelectElement;
  for (const sc of h.scenarios) sel.add(new Option(sc.title, sc.id));
  const describe = () => ($('scenario-text').textContent = h.scenarios.find((s) => s.id === sel.value)?.text ?? '');
  sel.addEventListener('change', describe);
  describe();
  on('run-scenario', () => {
    const sc = h.scenarios.find((s) => s.id === sel.value);
    if (sc) void h.runScenario(sc);
  });
  ($('storage') as HTMLSelectElement).value = session.config.storage;
  ($('seed') as HTMLInputElement).value = String(session.config.seed);
}

/** Replaces a select's options when the set changed, keeping the selection. */
function fillSelect(id: string, values: Array<[string, string]>): void {
  const s = $(id) as HTMLSelectElement;
  const key = values.map((v) => v[0]).join(',');
  if (s.dataset.key === key) return;
  const was = s.value;
  s.innerHTML = '';
  for (const [v, label] of values) s.add(new Option(label, v));
  if (values.some((v) => v[0] === was)) s.value = was;
  s.dataset.key = key;
}

let groupsKey = '';
const timelineRows = new Map<number, HTMLLIElement>();
/** Rows kept in the timeline list. */
const TIMELINE_ROWS = 80;
let opsKey = '';

export function renderPanels(session: Session, goBack: (atMs: number) => void): void {
  const c = session.sim.cluster;
  const storeOpts: Array<[string, string]> = c.storeIds.map((id) => [String(id), `store ${id}`]);
  fillSelect('to-store', storeOpts);
  fillSelect('link-a', storeOpts);
  fillSelect('link-b', storeOpts);
  if ($('link-b').dataset.init !== '1' && storeOpts.length > 1) {
    ($('link-b') as HTMLSelectElement).value = storeOpts[1][0];
    $('link-b').dataset.init = '1';
  }
  const regionIds = new Set<number>();
  for (const id of c.storeIds) for (const r of c.store(id)?.regions() ?? []) regionIds.add(r.region.id);
  fillSelect('region', [...regionIds].sort((a, b) => a - b).map((id) => [String(id), `region ${regionName(id)}`]));
  const gk = c.storeIds.join(',');
  if (gk !== groupsKey) {
    groupsKey = gk;
    $('groups').innerHTML = c.storeIds.map((id) => `<label><input type="checkbox" value="${id}" aria-label="Store ${id} in group B"/> s${id}</label>`).join(' ');
  }
  // The cluster inputs follow the running cluster (a scenario may have changed it) unless being edited.
  for (const [id, v] of [['store-count', c.storeIds.length], ['seed', session.config.seed]] as const) {
    const input = $(id) as HTMLInputElement;
    if (document.activeElement !== input) input.value = String(v);
  }
  const w = $('workload');
  w.textContent = session.workload ? 'Stop workload' : 'Start workload';
  w.setAttribute('aria-pressed', String(session.workload));
  const rows = [...session.table].sort((a, b) => (a[0] < b[0] ? -1 : 1)).slice(0, 200);
  $('kv-rows').innerHTML = rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('');
  const ok = `${session.ops.length}:${session.ops.at(-1)?.atMs}:${session.ops.at(-1)?.text}`;
  if (ok !== opsKey) {
    opsKey = ok;
    $('ops').innerHTML = session.ops
      .slice(-40)
      .reverse()
      .map((o) => `<li class="${o.ok ? '' : 'bad'}">${(o.atMs / 1000).toFixed(2)} s ${esc(o.text)}</li>`)
      .join('');
  }
  // Keyed rows, newest first: rows already shown stay, so a focused button keeps its focus.
  const list = $('timeline');
  const shown = session.timeline.slice(-TIMELINE_ROWS);
  const keep = new Set(shown.map((e) => e.seq));
  for (const [seq, li] of timelineRows) {
    if (!keep.has(seq)) {
      li.remove();
      timelineRows.delete(seq);
    }
  }
  for (const e of shown) {
    if (timelineRows.has(e.seq)) continue;
    const li = document.createElement('li');
    li.className = `ev-${e.kind}`;
    const b = document.createElement('button');
    b.textContent = `${(e.atMs / 1000).toFixed(2)} s`;
    b.setAttribute('aria-label', `Go back to ${(e.atMs / 1000).toFixed(2)} s: ${e.text}`);
    b.addEventListener('click', () => goBack(e.atMs));
    li.append(b, ` ${e.text}`);
    list.prepend(li);
    timelineRows.set(e.seq, li);
  }
}
