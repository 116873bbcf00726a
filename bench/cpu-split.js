// Where a request's server CPU goes, by sampling (Linux `perf`, Debian `linux-perf`): xorigin against
// the bare ceiling, and against the ceiling slowed by a busy spin in each request (BENCH_SPIN_US) to
// about xorigin's rate. Why: on this 2-core machine the wall-clock ratios of the HTTPS/1.1 GETs missed
// their target by more than the instruction counts explained. The split tells the kernel's share of a
// request (most of it the one write(): loopback delivery and waking the load generator on the other
// core), which moves with the request rate and the generator's timing, from the server's own code; the
// slowed ceiling shows what the kernel's share does at a lower rate with no change of code
// (bench/TARGETS.md, 2026-12-08: by 2–3 µs of ~37, in either direction from run to run).
//
//   node bench/cpu-split.js [--http] [--scenarios get-1b] [--rounds 3] [--duration 4] [--warmup 2]
//                           [--connections 32] [--spin-us 4] [--frequency 999]
//
// Each server runs alone on core 0 (node --perf-basic-prof, so that V8's compiled code has names), wrk on
// core 1 (one thread, --connections, HTTPS/1.1; --http: cleartext HTTP/1.1 and node:http's ceiling);
// `perf record -e cpu-clock -g -p PID` samples the server while wrk runs for --duration seconds, after
// --warmup seconds unsampled. Interleaved rounds, medians. Per request: the server's CPU time (from
// /proc/PID/stat over the sampled run), then how it splits by where the samples fell (the kernel; node's
// binary, OpenSSL included; V8's compiled JavaScript; the C library), and the time inside write() with
// what the kernel does in it. The sampling itself slows every server alike (~10%).
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { wholeNumber } from './args.js';
import { answersWithError, benchArgs, HERE, makeFixture, median, node, pin, pinShell, procStats, PROJECT, request, SCENARIOS, startProcess, which, writeCanned, wrkScript } from './lib.js';

const opts = benchArgs({
  http: { type: 'boolean', default: false },
  duration: { type: 'string', default: '4' },
  warmup: { type: 'string', default: '2' },
  'spin-us': { type: 'string', default: '4' },
  frequency: { type: 'string', default: '999' },
});
const SPIN_US = wholeNumber(opts.args['spin-us'], '--spin-us');
const FREQUENCY = wholeNumber(opts.args.frequency, '--frequency', 10);
const TLS = !opts.args.http;
const scenarios = opts.pick(SCENARIOS.filter((s) => s.id === 'get-1b' || s.id === 'get-30k' || s.id === 'preflight'), 'scenarios');
const PERF = which('perf');
const WRK = which('wrk');
if (PERF === null || WRK === null || (TLS && which('openssl') === null)) {
  console.error('bench/cpu-split.js needs perf (Debian: apt-get install linux-perf), wrk and, without --http, openssl');
  process.exit(2);
}

const fixture = makeFixture({ tls: TLS });
const v8Names = ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(fixture.work, 'v8.log')}`];

/** The contenders of one scenario: xorigin, the ceiling replaying its sample, the ceiling with the spin. */
function contenders(scenario, canned) {
  const env = { BENCH_CANNED: canned, BENCH_ROOT: fixture.root, BENCH_POLICY: join(fixture.work, `policy-${scenario.policy}.json`), BENCH_CERT: fixture.cert ?? '', BENCH_KEY: fixture.key ?? '' };
  const ceiling = join(HERE, 'servers', TLS ? 'bare-h2.js' : 'bare.js');
  return [
    { label: 'xorigin serve', args: xoriginArgs(scenario), env: {} },
    { label: 'bare ceiling', args: [ceiling], env },
    { label: `bare ceiling + ${SPIN_US} µs spin`, args: [ceiling], env: { ...env, BENCH_SPIN_US: String(SPIN_US) } },
  ];
}

function xoriginArgs(scenario) {
  const tls = TLS ? ['--cert', fixture.cert, '--key', fixture.key] : [];
  return [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(fixture.work, `xorigin-${scenario.policy}.json`), ...tls, '--port', '0'];
}

/** One sampled run: { rps, usPerReq, split: { kernel, node, jit, libc, other }, write } (µs per request). */
async function measure(c, scenario, lua) {
  const server = await startProcess(c.label, { cmd: pin(0, node, [...v8Names, ...c.args]), env: c.env });
  const data = join(fixture.work, 'perf.data');
  try {
    const url = `${TLS ? 'https' : 'http'}://127.0.0.1:${server.port}${scenario.path}`;
    const wrk = (seconds) => `${pinShell(1)}${WRK} -t1 -c${opts.connections} -d${seconds}s -s ${lua} ${url}`;
    if (opts.warmup > 0) execFileSync('bash', ['-c', `${wrk(opts.warmup)} >/dev/null`]);
    const before = procStats(server.pid).cpuMs;
    const out = execFileSync('bash', ['-c', `${PERF} record -q -e cpu-clock -F ${FREQUENCY} -g -p ${server.pid} -o ${data} -- ${wrk(opts.duration)}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const cpuMs = procStats(server.pid).cpuMs - before;
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
    if (!(requests > 0)) throw new Error(`${c.label}: wrk output not understood: ${out}`);
    if (/Non-2xx or 3xx responses/.test(out) && !answersWithError(scenario)) throw new Error(`${c.label}: wrk saw failed answers: ${out}`);
    const us = (cpuMs * 1000) / requests;
    return { rps: requests / opts.duration, usPerReq: us, split: shares(data, us), write: writeShare(data) * us };
  } finally {
    await server.stop();
    rmSync(`/tmp/perf-${server.pid}.map`, { force: true });
    rmSync(data, { force: true });
  }
}

/** perf's report lines "  12.34%  name" as [share, name]. */
function report(data, args) {
  const r = spawnSync(PERF, ['report', '-i', data, '--stdio', '-g', 'none', ...args], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`perf report: ${r.stderr}`);
  return r.stdout.split('\n').flatMap((line) => {
    const m = /^\s+([\d.]+)%\s+(?:[\d.]+%\s+)?(.+?)\s*$/.exec(line);
    return m === null ? [] : [[Number(m[1]) / 100, m[2]]];
  });
}

/** µs per request by where the samples fell. */
function shares(data, us) {
  const split = { kernel: 0, node: 0, jit: 0, libc: 0, other: 0 };
  for (const [share, dso] of report(data, ['--no-children', '--sort', 'dso'])) {
    const key = dso === '[kernel.kallsyms]' ? 'kernel' : dso === 'node' ? 'node' : dso.startsWith('[JIT]') || dso.startsWith('perf-') ? 'jit' : dso.startsWith('libc.') ? 'libc' : 'other';
    split[key] += share * us;
  }
  return split;
}

/** The share of samples inside the C library's write(), what the kernel did for it included. */
function writeShare(data) {
  const rows = report(data, ['--children', '--sort', 'sym']).filter(([, sym]) => /\[\.\] (?:__GI___libc_write|__libc_write|write)$/.test(sym));
  return rows.length === 0 ? 0 : Math.max(...rows.map(([share]) => share));
}

const fmt = (n) => n.toFixed(1);
console.log(`Server CPU per request by where perf's samples fell, µs (${TLS ? 'HTTPS/1.1' : 'HTTP/1.1'}, wrk -c${opts.connections}, ${opts.duration} s sampled after ${opts.warmup} s, ${opts.rounds} interleaved rounds, medians)\n`);
console.log('| scenario | server | req/s | CPU µs/req | kernel | node + OpenSSL | compiled JS | libc | other | in write() |');
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const scenario of scenarios) {
  const sample = await startProcess('xorigin', { cmd: pin(0, node, xoriginArgs(scenario)), env: {} });
  const canned = join(fixture.work, `canned-${scenario.id}.json`);
  writeCanned(canned, await request(sample.port, scenario, {}, TLS ? 'h2' : 'http'));
  await sample.stop();
  const lua = wrkScript(fixture.work, scenario, scenario.headers);
  const list = contenders(scenario, canned);
  const runs = list.map(() => []);
  for (let round = 0; round < opts.rounds; round++) {
    // Rotated, so that no server always runs first (or right after another).
    for (let k = 0; k < list.length; k++) {
      const i = (k + round) % list.length;
      runs[i].push(await measure(list[i], scenario, lua));
    }
  }
  for (const [i, c] of list.entries()) {
    const m = (f) => median(runs[i].map(f));
    const s = (key) => fmt(m((r) => r.split[key]));
    console.log(`| ${scenario.title} | ${c.label} | ${m((r) => r.rps).toFixed(0)} | ${fmt(m((r) => r.usPerReq))} | ${s('kernel')} | ${s('node')} | ${s('jit')} | ${s('libc')} | ${s('other')} | ${fmt(m((r) => r.write))} |`);
  }
}
fixture.cleanUp();
