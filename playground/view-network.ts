/**
 * Messages in flight as dots moving along arrows between store cards (labelled by kind and
 * region), a keyboard-reachable list of them to drop one, and the key space bar cut into regions.
 */
import type { Session } from './session.ts';
import { type FlightItem, regionName } from './sim.ts';
import { termColour } from './view-stores.ts';

/** Dots drawn at once; the rest are still in flight, only not drawn. */
const DOTS_MAX = 60;
/** Rows in the drop list. */
const LIST_MAX = 12;

const KIND_COLOUR: Record<string, string> = {
  'pre-vote': '#c78bff',
  vote: '#ff6b9a',
  append: '#4fb3ff',
  heartbeat: '#7ddc8a',
  snapshot: '#ffb347',
  TimeoutNow: '#ff4444',
};
const colourOf = (kind: string) => KIND_COLOUR[kind.replace(/ ack$/, '')] ?? '#aaa';

export function createNetworkView(svg: SVGSVGElement, list: HTMLElement, onDrop: (frameId: number) => void) {
  const rows = new Map<number, HTMLLIElement>();
  // A dot is redrawn every frame, so a press (not a click, which needs the same element twice) drops it.
  svg.addEventListener('pointerdown', (e) => {
    const id = (e.target as Element).closest<SVGGElement>('.msg')?.dataset.frame;
    if (id) onDrop(Number(id));
  });
  return {
    render(session: Session, anchor: (store: number, regionId: number) => { x: number; y: number } | undefined, showHeartbeats: boolean) {
      const now = session.now;
      const flights: FlightItem[][] = [...session.sim.flights.values()];
      const parts: string[] = [];
      let drawn = 0;
      for (const frame of flights) {
        for (const f of frame) {
          if (drawn >= DOTS_MAX) break;
          if (!showHeartbeats && f.kind.startsWith('heartbeat')) continue;
          // From the region's replica on one store to its replica on the other: per region, visibly.
          const a = anchor(f.from, f.regionId);
          const b = anchor(f.to, f.regionId);
          if (!a || !b) continue;
          const t = Math.min(1, Math.max(0, (now - f.sentMs) / Math.max(1, f.deliverMs - f.sentMs)));
          // Replies travel on a line beside requests so that both directions stay readable.
          const off = f.from < f.to ? -4 : 4;
          const x = a.x + (b.x - a.x) * t;
          const y = a.y + (b.y - a.y) * t + off;
          const c = colourOf(f.kind);
          parts.push(`<line x1="${a.x}" y1="${a.y + off}" x2="${b.x}" y2="${b.y + off}" stroke="${c}" stroke-opacity="0.25"/>`);
          parts.push(`<g class="msg" data-kind="${f.kind}" data-frame="${f.frameId}"><circle cx="${x}" cy="${y}" r="6" fill="${c}"/><text x="${x + 8}" y="${y - 6}">${f.kind} ${regionName(f.regionId)}</text></g>`);
          drawn++;
        }
      }
      svg.innerHTML = parts.join('');
      // The drop list: newest frames first, keyed so that focus survives updates.
      const shown = flights.filter((fr) => showHeartbeats || fr.some((f) => !f.kind.startsWith('heartbeat'))).slice(-LIST_MAX).reverse();
      const keep = new Set(shown.map((fr) => fr[0].frameId));
      for (const [id, li] of rows) {
        if (!keep.has(id)) {
          li.remove();
          rows.delete(id);
        }
      }
      for (const fr of shown) {
        const f = fr[0];
        if (rows.has(f.frameId)) continue;
        const li = document.createElement('li');
        const b = document.createElement('button');
        const what = fr.map((x) => `${x.kind} ${regionName(x.regionId)}`).join(', ');
        b.textContent = `✕ #${f.frameId} s${f.from}→s${f.to}: ${what}`.slice(0, 70);
        b.setAttribute('aria-label', `Drop message ${f.frameId} from store ${f.from} to store ${f.to}: ${what}`);
        b.addEventListener('click', () => onDrop(f.frameId));
        li.append(b);
        list.prepend(li);
        rows.set(f.frameId, li);
      }
    },
  };
}

/** A key as text, escaped for HTML (keys are whatever a person typed). */
const keyText = (k: Uint8Array) => new TextDecoder().decode(k).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Draws the key space bar: one segment per region, width by a rough position of its start key. */
export function renderKeyBar(bar: HTMLElement, session: Session): void {
  const byId = new Map<number, { start: string; end: string; version: number; confVer: number; leader: number; peers: number[] }>();
  const c = session.sim.cluster;
  for (const id of c.storeIds) {
    const store = c.store(id);
    if (!store) continue;
    for (const st of store.status()) {
      if (st.region.id === Number.MAX_SAFE_INTEGER) continue;
      const old = byId.get(st.region.id);
      const r = st.region;
      if (old && old.version > r.epoch.version) continue;
      const leader = st.raft.role === 'leader' ? id : (old?.leader ?? 0);
      byId.set(r.id, { start: keyText(r.startKey), end: keyText(r.endKey), version: r.epoch.version, confVer: r.epoch.confVer, leader, peers: r.peers.map((p) => p.storeId) });
    }
  }
  // Position of a key on [0, 1]: its first two characters read as base-27 digits (a..z).
  const pos = (k: string) => {
    if (k === '') return 0;
    const d = (i: number) => Math.min(26, Math.max(0, (k.charCodeAt(i) || 96) - 96));
    return (d(0) * 27 + d(1)) / (27 * 27);
  };
  const regions = [...byId.entries()].sort((a, b) => (a[1].start < b[1].start ? -1 : 1));
  bar.innerHTML = regions
    .map(([id, r]) => {
      const w = Math.max(0.06, (r.end === '' ? 1 : pos(r.end)) - pos(r.start));
      const range = `[${r.start || '−∞'}, ${r.end || '+∞'})`;
      return `<li class="segment" data-region="${id}" style="flex:${w.toFixed(3)};border-color:${termColour(id)}" aria-label="region ${regionName(id)} ${range}, epoch ${r.confVer}/${r.version}, leader ${r.leader ? `store ${r.leader}` : 'none'}">
<b>${regionName(id)}</b> <span>${range}</span><span class="muted">epoch ${r.confVer}/${r.version} · leader ${r.leader ? `s${r.leader}` : '—'} · on ${r.peers.map((p) => `s${p}`).join(' ')}</span></li>`;
    })
    .join('');
}
