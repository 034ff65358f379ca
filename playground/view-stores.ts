/**
 * Store cards: one per store, each listing its replicas with role, term, an election timer counting
 * down, the log as a strip coloured by term with commit and applied marks, and (on a leader) its
 * view of every follower's match and next index. Cards are keyed by store id so that their buttons
 * keep keyboard focus while the contents update.
 */
import { regionName } from './sim.ts';
import type { Session } from './session.ts';

/** Entries drawn per log strip. */
const STRIP_MAX = 40;

export const termColour = (term: number) => `hsl(${(term * 67) % 360} 65% 55%)`;

const ROLE: Record<string, string> = { leader: 'leader', follower: 'follower', candidate: 'candidate', preCandidate: 'pre-candidate' };

interface Card {
  root: HTMLElement;
  state: HTMLElement;
  body: HTMLElement;
  crash: HTMLButtonElement;
  remove: HTMLButtonElement;
}

export interface StoreViewHooks {
  crashOrRestart(store: number, running: boolean): void;
  remove(store: number): void;
}

export function createStoresView(container: HTMLElement, hooks: StoreViewHooks) {
  const cards = new Map<number, Card>();

  const card = (id: number): Card => {
    let c = cards.get(id);
    if (c) return c;
    const root = document.createElement('article');
    root.className = 'store';
    root.dataset.store = String(id);
    root.setAttribute('aria-label', `Store ${id}`);
    // Dragged onto the "cut off" zone of the network panel, a store joins partition group B.
    root.draggable = true;
    root.addEventListener('dragstart', (e) => e.dataTransfer?.setData('text/x-flotilla-store', String(id)));
    const head = document.createElement('header');
    const title = document.createElement('h3');
    title.textContent = `Store ${id}`;
    const state = document.createElement('span');
    state.className = 'state';
    const crash = document.createElement('button');
    const remove = document.createElement('button');
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove store ${id} (drained by PD)`);
    crash.addEventListener('click', () => hooks.crashOrRestart(id, crash.dataset.running === 'true'));
    remove.addEventListener('click', () => hooks.remove(id));
    head.append(title, state, crash, remove);
    const body = document.createElement('div');
    body.className = 'replicas';
    root.append(head, body);
    container.append(root);
    c = { root, state, body, crash, remove };
    cards.set(id, c);
    return c;
  };

  return {
    /** The card element of a store (message arrows start and end at its centre). */
    element: (id: number) => cards.get(id)?.root,
    render(session: Session) {
      const cluster = session.sim.cluster;
      const ids = new Set(cluster.storeIds);
      for (const [id, c] of cards) {
        if (!ids.has(id)) {
          c.root.remove();
          cards.delete(id);
        }
      }
      for (const id of cluster.storeIds) {
        const c = card(id);
        const store = cluster.store(id);
        const running = store !== undefined;
        c.root.classList.toggle('down', !running);
        c.state.textContent = running ? 'up' : 'crashed';
        c.crash.dataset.running = String(running);
        c.crash.textContent = running ? 'Crash' : 'Restart';
        c.crash.setAttribute('aria-label', `${running ? 'Crash' : 'Restart'} store ${id}`);
        if (!store) {
          c.body.innerHTML = '<p class="muted">stopped: its disk is kept for a restart</p>';
          continue;
        }
        const rows = store.status().sort((a, b) => (a.region.startKey.join(',') < b.region.startKey.join(',') ? -1 : 1));
        const html: string[] = [];
        for (const st of rows) {
          const r = st.raft;
          const storeOf = (peerId: number) => st.region.peers.find((p) => p.id === peerId)?.storeId ?? 0;
          const isLearner = st.region.peers.find((p) => p.id === st.peerId)?.role === 'learner';
          const role = isLearner ? 'learner' : (ROLE[r.role] ?? r.role);
          const timer = r.role === 'leader' ? 1 : Math.max(0, 1 - r.electionElapsed / r.randomizedElectionTimeout);
          const ticksLeft = Math.max(0, r.randomizedElectionTimeout - r.electionElapsed);
          const log = store.logTerms(st.region.id, STRIP_MAX);
          const cells = log.terms
            .map((t, i) => {
              const idx = log.firstIndex + i;
              const cls = `${idx <= r.commit ? 'c' : ''}${idx <= st.applied ? ' a' : ''}`;
              return `<i class="${cls}" style="background:${termColour(t)}" title="index ${idx}, term ${t}"></i>`;
            })
            .join('');
          let progress = '';
          if (r.role === 'leader') {
            const items = [...r.progress].filter(([pid]) => pid !== r.id);
            progress = `<ul class="progress">${items
              .map(([pid, p]) => `<li>→ s${storeOf(pid)}: match ${p.match}, next ${p.next} <span class="muted">${p.state}</span></li>`)
              .join('')}</ul>`;
          }
          html.push(`<div class="replica role-${role}" data-region="${st.region.id}" data-role="${role}" data-commit="${r.commit}">
  <div class="line"><b>${regionName(st.region.id)}</b> <span class="role">${role}</span> <span>term ${r.term}</span>
  <span class="muted">lead ${r.lead ? `s${storeOf(r.lead)}` : '—'}</span>${r.role === 'leader' ? '' : ` <span class="muted" title="ticks until this replica's election timeout">timer ${ticksLeft}</span>`}</div>
  <div class="timer" title="election timer: ${ticksLeft} ticks left" aria-label="election timer ${ticksLeft} ticks left"><span style="width:${(timer * 100).toFixed(0)}%"></span></div>
  <div class="strip" aria-label="log: last index ${r.lastIndex}, commit ${r.commit}, applied ${st.applied}">${cells}</div>
  <div class="line muted">last ${r.lastIndex} · commit ${r.commit} · applied ${st.applied}</div>${progress}
</div>`);
        }
        c.body.innerHTML = html.join('') || '<p class="muted">no replicas</p>';
      }
    },
  };
}
