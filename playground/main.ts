/**
 * The playground's entry: builds the session, runs virtual time at the chosen speed, queues the
 * user's actions between steps (so that a replay performs them at the same point), and renders.
 */
import { SCENARIOS, type Scenario, scenarioConfig } from './scenarios.ts';
import { type Action, Session } from './session.ts';
import { DEFAULT_CONFIG, type PlaygroundConfig, saveClockMs, wipeIndexedDb } from './sim.ts';
import { bindControls, renderPanels } from './panels.ts';
import { createNetworkView, renderKeyBar } from './view-network.ts';
import { createStoresView } from './view-stores.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const CONFIG_KEY = 'flotilla-playground-config';
/** Real milliseconds of stepping per animation frame, so that rendering keeps up at high speed. */
const STEP_BUDGET_MS = 12;
/** At most this much virtual time per frame; beyond it time runs slower than asked rather than stalling. */
const FRAME_VIRTUAL_MAX_MS = 400;

function loadConfig(): PlaygroundConfig {
  try {
    const saved = JSON.parse(localStorage.getItem(CONFIG_KEY) ?? 'null');
    if (saved?.storage === 'indexeddb') return { ...DEFAULT_CONFIG, ...saved };
  } catch {
    // A config that does not parse is replaced by the default.
  }
  return { ...DEFAULT_CONFIG };
}

let dirty = true;
const session = new Session(loadConfig(), { changed: () => (dirty = true) });
const queue: Action[] = [];
let running = true;
let speed = 0.5;
let scenario: { sc: Scenario; startMs: number; next: number } | undefined;
let stepUntilMs = -1;

const stores = createStoresView($('stores'), {
  crashOrRestart: (id, up) => enqueue(up ? { type: 'crash', store: id } : { type: 'restart', store: id }),
  remove: (id) => enqueue({ type: 'removeStore', store: id }),
});
const network = createNetworkView($('wires') as unknown as SVGSVGElement, $('flights'), (frameId) => enqueue({ type: 'drop', frameId }));

function enqueue(a: Action): void {
  queue.push(a);
  dirty = true;
}

async function drain(): Promise<void> {
  while (queue.length > 0) await session.act(queue.shift()!);
}

async function runScenarioSteps(): Promise<void> {
  if (!scenario) return;
  const { sc, startMs } = scenario;
  while (scenario.next < sc.steps.length && session.now >= startMs + sc.steps[scenario.next].atMs) {
    const step = sc.steps[scenario.next++];
    const a = step.action(session);
    if (a) await session.act(a);
  }
}

/** One animation frame's worth of virtual time, within a real-time budget. */
async function advance(virtualMs: number): Promise<void> {
  const t0 = performance.now();
  const until = session.now + Math.min(virtualMs, FRAME_VIRTUAL_MAX_MS);
  while (session.now < until && performance.now() - t0 < STEP_BUDGET_MS) {
    await drain();
    await runScenarioSteps();
    await session.step(until);
  }
}

/** Stepping, rebuilding and replaying take turns: none starts while another is under way. */
let turn: Promise<void> = Promise.resolve();
function exclusive(fn: () => Promise<void>): Promise<void> {
  const p = turn.then(fn);
  turn = p.catch(() => {});
  return p;
}

let last = performance.now();
async function frame(now: number): Promise<void> {
  const dt = Math.min(100, now - last);
  last = now;
  await exclusive(async () => {
    try {
      await drain();
      if (stepUntilMs >= 0) {
        await advance(stepUntilMs - session.now);
        if (session.now >= stepUntilMs) stepUntilMs = -1;
      } else if (running) {
        await advance(Math.max(1, Math.round(dt * speed)));
      }
      if (session.config.storage === 'indexeddb') saveClockMs(session.now);
    } catch (e) {
      // The cluster failed under us (a store loop's storage error): say so and keep rendering.
      session.event('fault', `simulation error: ${(e as Error).message}`);
      setRunning(false);
    }
  });
  render();
  requestAnimationFrame((t) => void frame(t));
}

let lastPanelsMs = 0;
function render(): void {
  $('time').textContent = `${(session.now / 1000).toFixed(running ? 1 : 3)} s`;
  const stage = $('stores').getBoundingClientRect();
  const anchor = (id: number, regionId: number) => {
    const card = stores.element(id);
    const row = card?.querySelector(`.replica[data-region="${regionId}"]`) ?? card;
    const r = row?.getBoundingClientRect();
    return r ? { x: r.left - stage.left + r.width / 2, y: r.top - stage.top + Math.min(r.height / 2, 40) } : undefined;
  };
  network.render(session, anchor, ($('heartbeats') as HTMLInputElement).checked);
  // The text-heavy parts at most ten times a second, and at once after an action.
  const t = performance.now();
  if (dirty || t - lastPanelsMs > 100) {
    dirty = false;
    lastPanelsMs = t;
    stores.render(session);
    renderKeyBar($('keybar'), session);
    renderPanels(session, goBack);
  }
}

function rebuild(config: PlaygroundConfig): Promise<void> {
  return exclusive(async () => {
    queue.length = 0;
    scenario = undefined;
    stepUntilMs = -1;
    if (config.storage === 'indexeddb') localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    else localStorage.removeItem(CONFIG_KEY);
    await session.start(config);
    dirty = true;
  });
}

async function goBack(atMs: number): Promise<void> {
  if (session.config.storage === 'indexeddb') {
    session.event('action', 'going back needs memory storage (IndexedDB runs at the disk\'s real speed, not replayable)');
    return;
  }
  setRunning(false);
  $('replay-note').textContent = `Replaying to ${(atMs / 1000).toFixed(1)} s…`;
  await exclusive(async () => {
    scenario = undefined;
    stepUntilMs = -1;
    queue.length = 0;
    await session.replayTo(atMs, (ms) => ($('replay-note').textContent = `Replaying… ${(ms / 1000).toFixed(0)} s`));
    dirty = true;
    render();
    $('replay-note').textContent = `Back at ${(atMs / 1000).toFixed(1)} s (paused). Your actions after it were dropped.`;
  });
}

function setRunning(on: boolean): void {
  running = on;
  const b = $('play');
  b.textContent = on ? 'Pause' : 'Resume';
  b.setAttribute('aria-label', on ? 'Pause' : 'Resume');
}

bindControls(session, {
  enqueue,
  togglePlay: () => setRunning(!running),
  step: () => {
    setRunning(false);
    // One event: time moves to the next timer (a tick, a delivery) and runs it.
    const next = session.sim.clock.nextDeadline();
    stepUntilMs = next === undefined ? session.now + 1 : Math.max(next, session.now + 1);
  },
  setSpeed: (v) => (speed = v),
  rebuild: async (config, wipe) => {
    if (wipe && config.storage === 'indexeddb') await wipeIndexedDb();
    await rebuild(config);
  },
  runScenario: async (sc) => {
    await rebuild(scenarioConfig(sc, session.config.seed));
    scenario = { sc, startMs: session.now, next: 0 };
    session.event('scenario', `scenario: ${sc.title}`);
    $('scenario-text').textContent = sc.text;
    setRunning(true);
  },
  scenarios: SCENARIOS,
});

await rebuild(session.config);
requestAnimationFrame((t) => void frame(t));
