/**
 * The issue-17 disk-full drill with a real full disk (root only: mounts a tmpfs): one
 * `flotilla serve` store on a 3 MB volume, a client writing 8 KiB values until the store fails,
 * then: the process must have exited non-zero (75), every acknowledged write must be there after
 * the volume is grown and the store restarted. Run: `node --import tsx scripts/disk-full-drill.ts [fs|lmdb]`.
 */
import { execSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import process from 'node:process';
import { connect } from '../adapters/client/remote.ts';
import { freePorts, restartProcess, serveArgs, spawnFlotilla, waitListening } from './cluster-processes.ts';

const engine = process.argv[2] ?? 'lmdb';
const mnt = `/tmp/flotilla-disk-full-${process.pid}`;
const SECRET = 'flotilla disk-full drill secret!';
mkdirSync(mnt, { recursive: true });
execSync(`mount -t tmpfs -o size=3m tmpfs ${mnt}`);
try {
  const [port, http] = await freePorts(2);
  const p = spawnFlotilla('node', serveArgs(1, [port], [http], mnt, ['--no-pd', '--replicas', '1', '--engine', engine, '--log-level', 'warn']), { FLOTILLA_SECRET: SECRET });
  await waitListening(p, 60_000);
  const client = await connect({ endpoints: [`ws://127.0.0.1:${port}`], secret: SECRET, client: { retry: { timeoutMs: 3000 } } });
  const acked: number[] = [];
  let firstError = '';
  for (let i = 0; i < 10_000; i++) {
    try {
      // Raced with a timer: when the only store exits, the client's put may never settle (seen here).
      await Promise.race([client.put(`k${i}`, new Uint8Array(8192).fill(i & 0xff)), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000))]);
      acked.push(i);
    } catch (e) {
      firstError = String(e);
      break;
    }
  }
  const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
  console.log(`${engine}: ${acked.length} writes acknowledged; first failure: ${firstError.slice(0, 160)}`);
  console.log(`${engine}: store process exit: ${code}; its last log line: ${p.stderr.trim().split('\n').pop()?.slice(0, 240)}`);
  client.close();
  execSync(`mount -o remount,size=64m ${mnt}`);
  restartProcess(p, { FLOTILLA_SECRET: SECRET });
  await waitListening(p, 60_000);
  const again = await connect({ endpoints: [`ws://127.0.0.1:${port}`], secret: SECRET });
  let missing = 0;
  for (const i of acked) if ((await again.get(`k${i}`))?.[0] !== (i & 0xff)) missing++;
  await again.put('after', 'grown');
  console.log(`${engine}: after growing the volume and restarting: ${acked.length - missing}/${acked.length} acknowledged writes present, new writes accepted`);
  again.close();
  p.child.kill('SIGTERM');
  await p.exited;
  if (missing > 0 || code !== 75) process.exitCode = 1;
} finally {
  execSync(`umount ${mnt}`);
}
