// Start-up of `xorigin serve` on large font trees: time until it answers and resident memory, with the
// ETag cache cold (every file hashed) and warm (nothing read), next to sirv on the same tree and to the
// machine's own `sha256sum` over the same files.
//
//   npm run build && node bench/startup.js [--files 1000,10000,100000] [--rounds 3] [--out DIR]
//
// Trees are generated once under the temp directory (xorigin-startup-N, kept for later runs; --fresh
// makes them again): directories of 12 files, sizes drawn from a log-normal like a web-font catalogue
// (median 20 KiB, most between 5 and 80 KiB, a tail of CJK-sized files up to 8 MiB; seeded, so every run
// has the same tree). The files stay in the page cache between runs (dropping it needs root), so "cold"
// means the ETag cache is cold, not the disk. Results go to DIR/startup.json and a Markdown table on stdout
// (DIR defaults to bench/partial/; nothing published is overwritten), and DIR/startup.svg, a chart of
// them: (a) ms until ready per tree (log scale), (b) RSS at ready.
//
//   node bench/startup.js --chart-from FILE.json [--out DIR]
//
// Draws startup.svg again from a startup.json, measuring nothing (into DIR, or beside FILE.json).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptArgs, wholeNumber, wholeNumbers } from './args.js';
import { fontTree, MIB } from './font-tree.js';
import { redrawFrom, startupChart } from './svg.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = dirname(HERE);
const { values: args } = scriptArgs({
  files: { type: 'string', default: '1000,10000,100000' },
  rounds: { type: 'string', default: '3' },
  out: { type: 'string' },
  fresh: { type: 'boolean', default: false },
  'chart-from': { type: 'string' },
});
if (args['chart-from'] !== undefined) {
  redrawFrom(args['chart-from'], args.out, 'startup.svg', startupChart);
}
args.out ??= join(HERE, 'partial');
const COUNTS = wholeNumbers(args.files, '--files');
const ROUNDS = wholeNumber(args.rounds, '--rounds');
const tree = (count) => fontTree(count, args.fresh);
/** Runs `cmd` and resolves the ms until it prints `ready`, and its resident memory then (MB). */
function startUntilReady(cmd, cmdArgs, ready, cwd = HERE) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, cmdArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (!ready.test(out)) return;
      const ms = performance.now() - started;
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]);
      resolve({ ms, rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, stderr: () => err, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGKILL'); }) });
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited (${code}) before it was ready: ${err}`)));
  }).then((r) => r);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function xorigin(root, cacheDir) {
  const r = await startUntilReady(process.execPath, [join(PROJECT, 'dist/cli/main.js'), 'serve', root, '--port', '0', '--etag-cache', cacheDir], /listening on/);
  // The ETag cache is written just after the server answers: wait for it before stopping.
  for (let i = 0; i < 600 && !execFileSync('ls', [cacheDir], { encoding: 'utf8' }).match(/etags-[0-9a-f]+\.(json|tsv)\n/); i++) await new Promise((ok) => setTimeout(ok, 50));
  await new Promise((ok) => setTimeout(ok, 200));
  r.progress = r.stderr().trim().split('\n').filter((l) => l.includes('scan')).pop() ?? '';
  await r.stop();
  return r;
}

async function sirv(root) {
  const script = `import sirv from 'sirv'; import http from 'node:http';
const files = sirv(${JSON.stringify(root)}, { etag: true, dev: false });
const s = http.createServer((q, r) => files(q, r, () => { r.statusCode = 404; r.end(); })).listen(0, '127.0.0.1', () => console.log('ready ' + s.address().port));`;
  const r = await startUntilReady(process.execPath, ['--input-type=module', '-e', script], /ready/);
  await r.stop();
  return r;
}

/** GET of a path: resolves its body. */
function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

/**
 * One file edited under a running server (in this process, to read its stats): ms from the write to
 * the first GET that returns the new bytes, and the paths the rescan stat'ed. The file is put back.
 */
async function changeCost(root, cacheDir) {
  const { serve } = await import(join(PROJECT, 'dist/index.js'));
  const server = await serve({ root, etagCache: cacheDir });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const file = join(root, 'family-1', 'font-12.woff2');
  const original = readFileSync(file);
  const edited = Buffer.from(original);
  edited.writeUInt32LE(0xfeedface, 0);
  try {
    const started = performance.now();
    writeFileSync(file, edited);
    while (!(await get(server.address().port, '/family-1/font-12.woff2')).subarray(0, 4).equals(edited.subarray(0, 4))) await new Promise((ok) => setTimeout(ok, 2));
    return { ms: performance.now() - started, stated: server.stats.lastScan.stated, files: server.stats.lastScan.files };
  } finally {
    writeFileSync(file, original);
    await server.shutdown(1000);
    // The edit's scan rewrites the ETag cache just after: let it land before the directory goes.
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

/** sha256sum over the tree: one process, and one per core; MB/s of file bytes. */
function sha256sum(root, bytes) {
  const rate = (parallel) => {
    const t = performance.now();
    execFileSync('sh', ['-c', `find "${root}" -type f -name '*.woff2' -print0 | xargs -0 -n 256 -P ${parallel} sha256sum > /dev/null`]);
    return bytes / MIB / ((performance.now() - t) / 1000);
  };
  return { one: rate(1), all: rate(os.availableParallelism()) };
}

const rows = [];
for (const count of COUNTS) {
  const t = tree(count);
  process.stderr.write(`tree of ${count} files, ${(t.bytes / MIB).toFixed(0)} MiB: ${t.root}\n`);
  const runs = { cold: [], warm: [], sirv: [], sha1: [], shaAll: [], change: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const cacheDir = mkdtempSync(join(os.tmpdir(), 'xorigin-startup-cache-'));
    try {
      runs.cold.push(await xorigin(t.root, cacheDir));
      runs.warm.push(await xorigin(t.root, cacheDir));
      runs.change.push(await changeCost(t.root, cacheDir));
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
    runs.sirv.push(await sirv(t.root));
    const sha = sha256sum(t.root, t.bytes);
    runs.sha1.push(sha.one);
    runs.shaAll.push(sha.all);
    process.stderr.write(`  r${round + 1}: cold ${runs.cold.at(-1).ms.toFixed(0)} ms, warm ${runs.warm.at(-1).ms.toFixed(0)} ms, sirv ${runs.sirv.at(-1).ms.toFixed(0)} ms, sha256sum ${sha.one.toFixed(0)} / ${sha.all.toFixed(0)} MB/s, one edit fresh in ${runs.change.at(-1).ms.toFixed(0)} ms (${runs.change.at(-1).stated} paths stat'ed)\n`);
  }
  const m = (list, f) => median(list.map(f));
  const coldMs = m(runs.cold, (r) => r.ms);
  rows.push({
    files: count,
    mib: t.bytes / MIB,
    coldMs,
    coldRssMb: m(runs.cold, (r) => r.rssMb),
    coldPeakMb: m(runs.cold, (r) => r.peakMb),
    warmMs: m(runs.warm, (r) => r.ms),
    warmRssMb: m(runs.warm, (r) => r.rssMb),
    sirvMs: m(runs.sirv, (r) => r.ms),
    sirvRssMb: m(runs.sirv, (r) => r.rssMb),
    hashMbPerS: t.bytes / MIB / (coldMs / 1000),
    sha256sumMbPerS: median(runs.sha1),
    sha256sumAllCoresMbPerS: median(runs.shaAll),
    progressLine: runs.cold.at(-1).progress,
    editFreshMs: m(runs.change, (r) => r.ms),
    editStated: m(runs.change, (r) => r.stated),
  });
}

const f = (x, d = 0) => x.toFixed(d);
const table = [
  `Start-up, median of ${ROUNDS} (node ${process.version}, ${os.availableParallelism()} cores; files in the page cache):`,
  '',
  '| files | MiB | xorigin cold ms | RSS MB | peak MB | xorigin warm ms | RSS MB | sirv ms | RSS MB | xorigin hashing MB/s | sha256sum MB/s (1 / all cores) | one edit: write → fresh ms | paths stat\'ed |',
  '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ...rows.map((r) => `| ${r.files} | ${f(r.mib)} | ${f(r.coldMs)} | ${f(r.coldRssMb, 1)} | ${f(r.coldPeakMb, 1)} | ${f(r.warmMs)} | ${f(r.warmRssMb, 1)} | ${f(r.sirvMs)} | ${f(r.sirvRssMb, 1)} | ${f(r.hashMbPerS)} | ${f(r.sha256sumMbPerS)} / ${f(r.sha256sumAllCoresMbPerS)} | ${f(r.editFreshMs)} | ${r.editStated} |`),
  '',
  'xorigin hashing MB/s is the tree\'s bytes over the whole cold start-up (walk, stat, hash, header blocks, listen),',
  'so it understates the hashing rate itself. sirv reads no contents (its ETag is built from size and mtime).',
].join('\n');
mkdirSync(args.out, { recursive: true });
const results = { date: new Date().toISOString(), node: process.version, cores: os.availableParallelism(), rounds: ROUNDS, command: `node bench/startup.js ${process.argv.slice(2).join(' ')}`.trim(), rows };
writeFileSync(join(args.out, 'startup.json'), JSON.stringify(results, null, 2));
writeFileSync(join(args.out, 'startup.svg'), startupChart(results));
process.stdout.write(`${table}\n`);
