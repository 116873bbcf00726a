// Resident memory of `xorigin serve` under load as the tree grows past its memory budget: requests
// for a font catalogue's files by popularity (Zipf, s = 1: a few files take most requests, a long
// tail is asked for once in a while), for trees of 1,000 / 10,000 / 100,000 files (37 MiB to
// 3.5 GiB, see font-tree.js) and budgets 0 (every body from disk: the baseline), the default 64 MiB,
// and 256 MiB. What must hold (README "Memory"): RSS under load ≤ the budget + the baseline's RSS.
//
//   npm run build && node bench/memory.js [--files 1000,10000,100000] [--budgets 0,64MiB,256MiB]
//                                         [--duration 10] [--rounds 1] [--out DIR]
//
// The server is pinned to core 0 and wrk (32 connections, one thread, a Lua script walking 50,000
// paths drawn from the distribution) to core 1. RSS is sampled every 250 ms. Every tree's ETag cache
// is written by a first start that is not measured, so every measured start is warm (as a restart). Results go to
// DIR/memory.json, a Markdown table on stdout (DIR defaults to bench/partial/) and DIR/memory.svg: RSS
// peak per tree and budget, with each budget's ceiling (the budget + the baseline's peak) marked.
//
//   node bench/memory.js --chart-from FILE.json [--out DIR]
//
// Draws memory.svg again from a memory.json (the load part's), measuring nothing (into DIR, or beside it).
//
//   node bench/memory.js --part startup [--files 10000,100000] [--rounds 3] [--before DIST]
//
// Start-up alone, no load: for each tree, a cold start (a new ETag cache directory) then a warm one
// (the cache it wrote), each a fresh process on core 0 with bench/ready-probe.js preloaded; the
// median over rounds of the ms from the process's start to its "listening on" line, RSS and heap
// used at that moment, and the heap still used after a full GC then (live). --before DIST runs a
// dist/ built from another commit too, interleaved round by round. Results in DIR/startup-memory.json.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { refuse, scriptArgs, wholeNumber, wholeNumbers } from './args.js';
import { fontPath, fontTree, MIB, random, sizes } from './font-tree.js';
import { HERE, median, node, pin, procStats, PROJECT, startProcess, which } from './lib.js';
import { memoryChart, redrawFrom } from './svg.js';

const { values: args } = scriptArgs({
  files: { type: 'string', default: '1000,10000,100000' },
  budgets: { type: 'string', default: '0,64MiB,256MiB' },
  duration: { type: 'string', default: '10' },
  rounds: { type: 'string', default: '1' },
  out: { type: 'string' },
  part: { type: 'string', default: 'load' },
  before: { type: 'string' },
  'chart-from': { type: 'string' },
});
if (args['chart-from'] !== undefined) {
  if (args.part !== 'load') refuse(`--chart-from draws the load part's memory.json; --part ${args.part} has no chart`);
  redrawFrom(args['chart-from'], args.out, 'memory.svg', memoryChart);
}
args.out ??= join(HERE, 'partial');
const WRK = which('wrk');
if (WRK === null && args.part !== 'startup') {
  console.error('bench/memory.js needs wrk (Debian: apt-get install wrk)');
  process.exit(2);
}
const COUNTS = wholeNumbers(args.files, '--files');
const BUDGETS = args.budgets.split(',');
const DURATION = wholeNumber(args.duration, '--duration');
const ROUNDS = wholeNumber(args.rounds, '--rounds');
const SAMPLES = 50_000;
const run = promisify(execFile);

/**
 * SAMPLES file indexes drawn by popularity: the file of rank r (a seeded shuffle of the tree) is asked
 * for with probability ∝ 1/r. Also what those requests touch: distinct bytes, and the bytes of the
 * most popular files that take 90% of the requests (the hot set a budget should hold).
 */
function workload(count, fileSizes) {
  const next = random(count * 31);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cdf = [];
  let total = 0;
  for (let r = 1; r <= count; r++) cdf.push((total += 1 / r));
  const picks = [];
  for (let k = 0; k < SAMPLES; k++) {
    const u = next() * total;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    picks.push(order[lo]);
  }
  const hits = new Map();
  for (const i of picks) hits.set(i, (hits.get(i) ?? 0) + 1);
  const byUse = [...hits].sort((a, b) => b[1] - a[1]);
  let covered = 0;
  let hotBytes = 0;
  for (const [i, n] of byUse) {
    if (covered >= 0.9 * SAMPLES) break;
    covered += n;
    hotBytes += fileSizes[i];
  }
  const distinctBytes = byUse.reduce((sum, [i]) => sum + fileSizes[i], 0);
  return { picks, distinctBytes, hotBytes };
}

function luaScript(picks) {
  return `local paths = {\n${picks.map((i) => `"${fontPath(i)}"`).join(',\n')}\n}
local n = #paths
local i = 0
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", paths[i], { ["Origin"] = "https://app.example.com" })
end
`;
}

/** One server with one budget under the workload: RSS when ready, peak and at the end; req/s and MB/s. */
async function measure(tree, cacheDir, budget, script) {
  const cmd = pin(0, node, [join(PROJECT, 'dist/cli/main.js'), 'serve', tree.root, '--port', '0', '--etag-cache', cacheDir, '--memory-budget', budget]);
  const server = await startProcess(`xorigin --memory-budget ${budget}`, { cmd, env: {}, readyTimeoutMs: 120_000 });
  try {
    const readyRss = procStats(server.pid).rss;
    let peakRss = readyRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, procStats(server.pid).rss);
    }, 250);
    const [wrkCmd, wrkArgs] = pin(1, WRK, ['-t1', '-c32', `-d${DURATION}s`, '-s', script, `http://127.0.0.1:${server.port}`]);
    const { stdout } = await run(wrkCmd, wrkArgs, { timeout: (DURATION + 30) * 1000 });
    clearInterval(sampler);
    const endRss = procStats(server.pid).rss;
    peakRss = Math.max(peakRss, endRss);
    const reqPerS = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)[1]);
    const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout);
    const mbPerS = Number(transfer[1]) * { KB: 1 / 1024, MB: 1, GB: 1024 }[transfer[2]];
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? '0';
    if (errors !== '0') throw new Error(`${errors} requests failed:\n${stdout}`);
    return { readyRss, peakRss, endRss, reqPerS, mbPerS };
  } finally {
    await server.stop();
  }
}

/**
 * Starts the server once so the tree's ETag cache is written: every measured start is then warm
 * (no hashing threads, which would count in the first run's memory), as after any restart.
 */
async function primeCache(tree, cacheDir) {
  const cmd = pin(0, node, [join(PROJECT, 'dist/cli/main.js'), 'serve', tree.root, '--port', '0', '--etag-cache', cacheDir]);
  const server = await startProcess('xorigin (writing the ETag cache)', { cmd, env: {}, readyTimeoutMs: 600_000 });
  const written = () => cacheWritten(cacheDir);
  for (let i = 0; i < 1200 && !written(); i++) await new Promise((ok) => setTimeout(ok, 50));
  await server.stop();
  if (!written()) throw new Error(`the ETag cache of ${tree.root} was not written in 60 s`);
}

/** True once a complete ETag cache file (either format) is in `cacheDir`. */
function cacheWritten(cacheDir) {
  return existsSync(cacheDir) && readdirSync(cacheDir).some((name) => /^etags-[0-9a-f]+\.(json|tsv)$/.test(name));
}

/** One start of the CLI in `dist` with the probe: what it reports at ready; stopped once its cache is written. */
async function probeStart(dist, tree, cacheDir) {
  const cmd = pin(0, node, ['--expose-gc', '--import', join(HERE, 'ready-probe.js'), join(dist, 'cli/main.js'), 'serve', tree.root, '--port', '0', '--etag-cache', cacheDir]);
  const server = await startProcess('xorigin (start-up probe)', { cmd, env: {}, readyTimeoutMs: 600_000 });
  try {
    for (let i = 0; i < 1200 && !cacheWritten(cacheDir); i++) await new Promise((ok) => setTimeout(ok, 50));
    const line = /ready-probe (.*)/.exec(server.stderr())?.[1];
    if (line === undefined) throw new Error(`no ready-probe line from ${dist}: ${server.stderr()}`);
    return JSON.parse(line);
  } finally {
    await server.stop();
  }
}

async function startupPart() {
  const builds = [['this build', join(PROJECT, 'dist')], ...(args.before === undefined ? [] : [['before', args.before]])];
  const out = [];
  for (const count of COUNTS) {
    const tree = fontTree(count);
    const runs = new Map();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, dist] of round % 2 === 0 ? builds : [...builds].reverse()) {
        const cacheDir = mkdtempSync(join(os.tmpdir(), 'xorigin-startup-etags-'));
        try {
          for (const start of ['cold', 'warm']) {
            const m = await probeStart(dist, tree, cacheDir);
            const key = `${name}|${start}`;
            runs.set(key, [...(runs.get(key) ?? []), m]);
            process.stderr.write(`  ${count} files, ${name}, ${start} r${round + 1}: ready ${m.ms.toFixed(0)} ms, RSS ${(m.rss / MIB).toFixed(1)} MiB, heap used ${(m.heapUsed / MIB).toFixed(1)} (live ${(m.liveHeap / MIB).toFixed(1)}) MiB\n`);
          }
        } finally {
          rmSync(cacheDir, { recursive: true, force: true });
        }
      }
    }
    for (const [key, ms] of runs) {
      const [build, start] = key.split('|');
      const med = (k) => median(ms.map((m) => m[k]));
      out.push({ files: count, build, start, readyMs: med('ms'), rssMib: med('rss') / MIB, heapUsedMib: med('heapUsed') / MIB, heapTotalMib: med('heapTotal') / MIB, liveHeapMib: med('liveHeap') / MIB });
    }
  }
  console.log(['| files | build | ETag cache | ready ms | RSS at ready MiB | heap used MiB (of which live) | heap committed MiB |', '|--:|---|---|--:|--:|--:|--:|', ...out.map((r) => `| ${r.files} | ${r.build} | ${r.start} | ${r.readyMs.toFixed(0)} | ${r.rssMib.toFixed(1)} | ${r.heapUsedMib.toFixed(1)} (${r.liveHeapMib.toFixed(1)}) | ${r.heapTotalMib.toFixed(1)} |`)].join('\n'));
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'startup-memory.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds: ROUNDS, before: args.before ?? null, rows: out }, null, 2));
}

if (args.part === 'startup') {
  await startupPart();
  process.exit(0);
}

const rows = [];
for (const count of COUNTS) {
  const tree = fontTree(count);
  const { picks, distinctBytes, hotBytes } = workload(count, sizes(count));
  const work = mkdtempSync(join(os.tmpdir(), 'xorigin-memory-'));
  const script = join(work, 'zipf.lua');
  writeFileSync(script, luaScript(picks));
  process.stderr.write(`tree of ${count} files, ${(tree.bytes / MIB).toFixed(0)} MiB; requests touch ${(distinctBytes / MIB).toFixed(0)} MiB, 90% of them ${(hotBytes / MIB).toFixed(1)} MiB\n`);
  try {
    await primeCache(tree, join(work, 'etags'));
    const runs = new Map(BUDGETS.map((b) => [b, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const budget of BUDGETS) {
        const m = await measure(tree, join(work, 'etags'), budget, script);
        runs.get(budget).push(m);
        process.stderr.write(`  r${round + 1} budget ${budget}: RSS ready ${(m.readyRss / MIB).toFixed(1)}, peak ${(m.peakRss / MIB).toFixed(1)}, end ${(m.endRss / MIB).toFixed(1)} MiB; ${m.reqPerS.toFixed(0)} req/s, ${m.mbPerS.toFixed(0)} MB/s\n`);
      }
    }
    const med = (budget, key) => median(runs.get(budget).map((m) => m[key]));
    const baseline = med(BUDGETS[0], 'peakRss');
    for (const budget of BUDGETS) {
      rows.push({
        files: count,
        treeMib: tree.bytes / MIB,
        touchedMib: distinctBytes / MIB,
        hotMib: hotBytes / MIB,
        budget,
        readyRssMib: med(budget, 'readyRss') / MIB,
        peakRssMib: med(budget, 'peakRss') / MIB,
        endRssMib: med(budget, 'endRss') / MIB,
        aboveBaselineMib: (med(budget, 'peakRss') - baseline) / MIB,
        reqPerS: med(budget, 'reqPerS'),
        mbPerS: med(budget, 'mbPerS'),
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const f = (x, d = 0) => x.toFixed(d);
const table = [
  `| files | tree MiB | touched MiB (90% of requests) | budget | RSS ready MiB | RSS peak MiB | RSS end MiB | peak − budget-0 peak MiB | req/s | MB/s |`,
  '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ...rows.map((r) => `| ${r.files} | ${f(r.treeMib)} | ${f(r.touchedMib)} (${f(r.hotMib, 1)}) | ${r.budget} | ${f(r.readyRssMib, 1)} | ${f(r.peakRssMib, 1)} | ${f(r.endRssMib, 1)} | ${f(r.aboveBaselineMib, 1)} | ${f(r.reqPerS)} | ${f(r.mbPerS)} |`),
].join('\n');
console.log(table);
mkdirSync(args.out, { recursive: true });
const results = { date: new Date().toISOString(), node: process.version, duration: DURATION, rounds: ROUNDS, command: `node bench/memory.js ${process.argv.slice(2).join(' ')}`.trim(), rows };
writeFileSync(join(args.out, 'memory.json'), JSON.stringify(results, null, 2));
writeFileSync(join(args.out, 'memory.svg'), memoryChart(results));
