/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`) as the tables in BENCHMARKS.md:
 * self time by function and by file, top N, as a share of the sampled time (idle excluded).
 *
 *   node --import tsx bench/cpu-profile-summary.ts <file.cpuprofile>... [--top=15]
 *
 * Several files are summed (for example every store's main thread). Not part of `npm run bench`.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 15);
const files = args.filter((a) => !a.startsWith('--'));
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
let idle = 0;

const shortUrl = (url: string) => {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const src = url.search(/\/(src|adapters|bench|bin)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
};

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node: each sample's time delta belongs to the sampled (leaf) node.
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  for (const [id, us] of self) {
    const f = nodes.get(id)!.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const url = shortUrl(f.url);
    const name = `${f.functionName || '(anonymous)'} ${url}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(url, (byFile.get(url) ?? 0) + us);
  }
}

const table = (title: string, m: Map<string, number>) => {
  console.log(`| ${title} | self ms | share |\n|---|--:|--:|`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| \`${k}\` | ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} % |`);
  console.log('');
};
console.log(`${files.length} profile(s): ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle\n`);
table('function (self time)', byFunction);
table('file (self time)', byFile);
