/**
 * The serve configuration: flags, a JSON file and FLOTILLA_SECRET (or a secret file) merged (flags
 * win) and validated, every refusal naming its field; the secret never from argv or the config file.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadServeConfig, parseFlags, toWsUrl } from '../../adapters/server/config.ts';

const SECRET = 'sixteen chars at least';
const files = (content: Record<string, string>) => async (path: string) => {
  if (!(path in content)) throw new Error(`ENOENT: ${path}`);
  return content[path];
};

describe('serve configuration', () => {
  it('parses every flag form: values, --k=v, switches, peers and lists', () => {
    expect(parseFlags(['--id', '2', '--listen=0.0.0.0:7002', '--no-pd', '--peers', '1=a:1,2=b:2', '--initial-split-keys', 'g,p', '--tick-ms', '20'])).toEqual({
      id: 2,
      listen: '0.0.0.0:7002',
      pd: false,
      peers: { 1: 'a:1', 2: 'b:2' },
      initialSplitKeys: ['g', 'p'],
      tickMs: 20,
    });
    expect(() => parseFlags(['--peers', 'nonsense'])).toThrow(ConfigError);
    expect(() => parseFlags(['--id'])).toThrow(/id: --id needs a value/);
    expect(() => parseFlags(['serve'])).toThrow(/unexpected argument/);
  });

  it('merges the file, the flags (which win) and FLOTILLA_SECRET, with defaults', async () => {
    const read = files({ 'c.json': JSON.stringify({ id: 1, peers: { 1: '127.0.0.1:7001', 2: 'ws://127.0.0.1:7002' }, replicas: 2, tickMs: 30 }) });
    const c = await loadServeConfig(['--config', 'c.json', '--tick-ms', '20'], { FLOTILLA_SECRET: SECRET }, read);
    expect(c).toMatchObject({ id: 1, replicas: 2, tickMs: 20, secret: SECRET, listen: '127.0.0.1:7001', cluster: 'flotilla', pd: true, electionTick: 10, heartbeatTick: 2 });
    expect(Object.keys(c.peers)).toEqual(['1', '2']);
    expect(toWsUrl('h:1')).toBe('ws://h:1');
    expect(toWsUrl('h:1', true)).toBe('wss://h:1');
    expect(toWsUrl('wss://h:1/')).toBe('wss://h:1');
  });

  it('takes the load-shedding limits from flags and the file (docs/overload.md), refusing non-positive ones', async () => {
    const read = files({ 'c.json': JSON.stringify({ id: 1, requestsInFlightBytesMax: 1048576 }) });
    const c = await loadServeConfig(['--config', 'c.json', '--requests-in-flight-max', '64', '--latency-target-ms', '250'], { FLOTILLA_SECRET: SECRET }, read);
    expect(c).toMatchObject({ requestsInFlightMax: 64, requestsInFlightBytesMax: 1048576, latencyTargetMs: 250 });
    const d = await loadServeConfig(['--id', '1'], { FLOTILLA_SECRET: SECRET }, read);
    expect(d.requestsInFlightMax).toBeUndefined(); // the defaults of src/server/request-admission.ts apply
    const msg = await loadServeConfig(['--id', '1', '--requests-in-flight-max', '0'], { FLOTILLA_SECRET: SECRET }, read).catch((e: Error) => e.message);
    expect(msg).toMatch(/^requestsInFlightMax: /);
  });

  it('takes the secret from --secret-file (over FLOTILLA_SECRET), never from argv or the config file', async () => {
    const read = files({ 's.txt': 'a secret from a file, long\n', 'c.json': JSON.stringify({ id: 1, secretFile: 's.txt' }), 'bad.json': JSON.stringify({ id: 1, secret: SECRET }) });
    expect((await loadServeConfig(['--id', '1', '--secret-file', 's.txt'], { FLOTILLA_SECRET: SECRET }, read)).secret).toBe('a secret from a file, long');
    expect((await loadServeConfig(['--config', 'c.json'], {}, read)).secret).toBe('a secret from a file, long');
    const refused = (argv: string[]) => loadServeConfig(argv, { FLOTILLA_SECRET: SECRET }, read).then(() => 'accepted', (e: Error) => e);
    for (const argv of [['--id', '1', '--secret', SECRET], ['--id', '1', `--secret=${SECRET}`]]) {
      const e = await refused(argv);
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/^secret: --secret is not accepted .*FLOTILLA_SECRET.*--secret-file/);
      expect((e as Error).message).not.toContain(SECRET);
    }
    expect(((await refused(['--config', 'bad.json'])) as Error).message).toMatch(/^secret: the config file may not hold the secret itself/);
    expect(((await refused(['--id', '1', '--secret-file', 'gone.txt'])) as Error).message).toMatch(/^secretFile: cannot read gone.txt/);
    expect(await loadServeConfig(['--id', '1'], {}, read).catch((e: Error) => e.message)).toMatch(/^secret: the cluster secret is required: set FLOTILLA_SECRET or name a file with --secret-file/);
  });

  it('TLS flags: --cert with --key, --ca and --peer-client-cert-auth need --cert, mutual TLS needs --ca', async () => {
    const env = { FLOTILLA_SECRET: SECRET };
    const c = await loadServeConfig(['--id', '1', '--cert', 'c.pem', '--key', 'k.pem', '--ca', 'ca.pem', '--peer-client-cert-auth'], env, files({}));
    expect(c).toMatchObject({ cert: 'c.pem', key: 'k.pem', ca: 'ca.pem', peerClientCertAuth: true });
    expect((await loadServeConfig(['--id', '1'], env, files({}))).peerClientCertAuth).toBe(false);
    const fail = (argv: string[]) => loadServeConfig(['--id', '1', ...argv], env, files({})).then(() => 'accepted', (e: Error) => e.message);
    expect(await fail(['--cert', 'c.pem'])).toMatch(/^key: --cert and --key go together/);
    expect(await fail(['--ca', 'ca.pem'])).toMatch(/^cert: TLS needs --cert and --key/);
    expect(await fail(['--cert', 'c.pem', '--key', 'k.pem', '--peer-client-cert-auth'])).toMatch(/^ca: --peer-client-cert-auth needs --ca/);
    expect(await fail(['--cert', 'c.pem', '--key', 'k.pem', '--peer-cert', 'p.pem'])).toMatch(/^peerKey: --peer-cert and --peer-key go together/);
  });

  it('refuses bad values naming the field', async () => {
    const env = { FLOTILLA_SECRET: SECRET };
    const fail = (argv: string[], read = files({})) => loadServeConfig(argv, env, read).then(() => 'accepted', (e: Error) => e.message);
    expect(await fail(['--id', 'x'])).toMatch(/^id: /);
    expect(await fail(['--id', '1', '--heartbeat-tick', '10'])).toMatch(/^heartbeatTick: must be below electionTick/);
    expect(await fail(['--listen', '127.0.0.1:1'])).toMatch(/^id: is required unless/);
    expect(await fail(['--id', '1', '--peers', '1=nowhere'])).toMatch(/^peers\.1: /);
    expect(await loadServeConfig(['--id', '1'], {}, files({})).catch((e: Error) => e.message)).toMatch(/^secret: /);
    expect(await fail(['--config', 'missing.json'])).toMatch(/^config: cannot read missing.json/);
    expect(await fail(['--config', 'c.json'], files({ 'c.json': '{"id": 1,' }))).toMatch(/^config: c.json is not JSON/);
    expect(await fail(['--config', 'c.json'], files({ 'c.json': '{"id": 1, "tik": 3}' }))).toMatch(/^config: unknown field\(s\) tik/);
    expect(await fail(['--config', 'c.json'], files({ 'c.json': '{"id": 1, "http": 8080}' }))).toMatch(/^http: /);
    expect(await fail(['--id', '1', '--initial-cluster-state', 'fresh'])).toMatch(/^initialClusterState: /);
  });

  it('--initial-cluster-state and --peer-probe-ms (auto and 3 s by default)', async () => {
    const env = { FLOTILLA_SECRET: SECRET };
    expect(await loadServeConfig(['--id', '1'], env, files({}))).toMatchObject({ initialClusterState: 'auto', peerProbeMs: 3000 });
    expect(await loadServeConfig(['--id', '1', '--initial-cluster-state', 'new', '--peer-probe-ms', '500'], env, files({}))).toMatchObject({ initialClusterState: 'new', peerProbeMs: 500 });
  });
});
