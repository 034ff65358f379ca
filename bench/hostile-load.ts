/**
 * The attacker of `npm run soak:hostile`, run as its own process so that it does not share an event
 * loop with the honest client being measured: every hostile behaviour of test/server/hostile.test.ts
 * at once, in loops, against every given store, from loopback addresses 127.0.0.2 and up.
 * Usage: node --import tsx bench/hostile-load.ts <cluster> <wsPort,...> <httpPort,...>
 * Prints a JSON line of counts when it gets SIGTERM.
 */
import { closeCode, failedLogin, frameHeader, rawPeer, trickle, until, upgradedPeer, upgradeRequest } from '../test/server/hostile-peers.ts';

const [cluster, wsArg, httpArg] = process.argv.slice(2);
const wsPorts = wsArg.split(',').map(Number);
const httpPorts = httpArg.split(',').map(Number);
const counts: Record<string, number> = {};
let running = true;
const PACE_MS = Number(process.env.HOSTILE_PACE_MS ?? 50);

function count(name: string): void {
  counts[name] = (counts[name] ?? 0) + 1;
}

/** Runs `attack` forever (until SIGTERM), counting rounds and swallowing connection errors. */
async function loop(name: string, attack: () => Promise<void>): Promise<void> {
  while (running) {
    try {
      await attack();
      count(name);
      // Paced: a lane is a steady stream of hostile connections (about 20 a second per lane, 32
      // lanes), not a CPU burner; on a shared box the attacker's own CPU would be what is measured.
      await new Promise((r) => setTimeout(r, PACE_MS));
    } catch {
      count(`${name}:error`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
const address = (lo: number, hi: number) => `127.0.0.${lo + Math.floor(Math.random() * (hi - lo))}`;

const attacks: Array<[string, () => Promise<void>]> = [
  // Upgrade and never authenticate: held until the handshake timeout (or refused 429/503 at the cap).
  ['stalledUpgrade', async () => void (await (await upgradedPeer(pick(wsPorts), address(2, 4))).closed)],
  // TCP only, not a byte: cut by the idle/headers timeout.
  ['silentSocket', async () => void (await (await rawPeer(pick(wsPorts), address(10, 14))).closed)],
  // Slow-loris on both ports.
  [
    'slowHeaders',
    async () => {
      const p = await rawPeer(pick([...wsPorts, ...httpPorts]), address(14, 18));
      await trickle(p, Buffer.from(`GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(2000)}\r\n\r\n`), 100);
      await p.closed;
    },
  ],
  // Frame headers that lie about their length.
  [
    'hugeFrameHeader',
    async () => {
      const p = await upgradedPeer(pick(wsPorts), address(18, 22));
      p.socket.write(frameHeader(2, 2 ** 40));
      await p.closed;
    },
  ],
  // Pre-authentication flood: cut after 64 KiB.
  [
    'preAuthFlood',
    async () => {
      const p = await upgradedPeer(pick(wsPorts), address(22, 26));
      p.socket.write(frameHeader(2, 8 * 1024 * 1024));
      const chunk = Buffer.alloc(16 * 1024);
      for (let i = 0; i < 64 && !p.socket.destroyed; i++) if (!p.socket.write(chunk)) await Promise.race([new Promise((r) => p.socket.once('drain', r)), p.closed]);
      await p.closed;
    },
  ],
  // Failed logins: banned after a few, then refused with 429 at upgrade.
  [
    'failedLogin',
    async () => {
      const p = await failedLogin(pick(wsPorts), address(26, 40), cluster);
      if (closeCode(p) === undefined) await new Promise((r) => setTimeout(r, 20));
    },
  ],
  // Oversized request heads.
  [
    'hugeHeaders',
    async () => {
      const p = await rawPeer(pick([...wsPorts, ...httpPorts]), address(40, 44));
      p.socket.write(upgradeRequest(`X-Big: ${'b'.repeat(20_000)}\r\n`));
      await Promise.race([p.closed, until(() => p.received().length > 0, 10_000)]);
      p.socket.destroy();
    },
  ],
  // The status endpoints hammered with junk methods and paths.
  [
    'statusJunk',
    async () => {
      const p = await rawPeer(pick(httpPorts), address(44, 48));
      p.socket.write(`${pick(['GET', 'POST', 'BREW', 'DELETE'])} /${pick(['status', 'metrics', 'x'.repeat(3000), '%00'])} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await Promise.race([p.closed, until(() => p.received().length > 0, 10_000)]);
      p.socket.destroy();
    },
  ],
];

// Four lanes of each behaviour; forty of stalled upgrades from two addresses, over the per-address cap.
const lanes = attacks.flatMap(([name, attack]) => Array.from({ length: name === 'stalledUpgrade' ? 40 : 4 }, () => loop(name, attack)));
process.on('SIGTERM', () => {
  running = false;
  console.log(JSON.stringify(counts));
  process.exit(0);
});
await Promise.all(lanes);
