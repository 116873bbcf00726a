// What survives V8's young-generation GC under HTTP/2 load, for xorigin and the bare ceiling.
//
//   npm run bench:gc        (node bench/gc.js [--requests 150000] [--rounds 3])
//
// Each server runs under `node --trace-gc-nvp`, pinned to core 0; h2load (core 1; 16 connections x
// 8 streams, as bench/run-h2.js) sends the 1-byte CORS GET and the allowed preflight. Reported per
// scenario and server, medians over rounds: the bytes promoted to the old generation and the bytes
// surviving per scavenge (medians over the scavenges of the measured requests, after 30,000 of
// warm-up), the scavenges, their summed pause, the full GCs, and the server's CPU per
// request. This is how the open-stream Map was found to promote ~2.5 MB per scavenge
// (src/static/slot-table.ts): a run that promotes megabytes per scavenge pays for it in GC time.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchArgs, HERE, makeFixture, median, node, pin, procStats, PROJECT, request, SCENARIOS, which, writeCanned } from './lib.js';

const opts = benchArgs({ requests: { type: 'string', default: '150000' } });
const REQUESTS = Number(opts.args.requests);
const ROUNDS = opts.rounds;
const H2LOAD = which('h2load');
if (H2LOAD === null || which('openssl') === null) {
  console.error('bench/gc.js needs h2load (Debian: apt-get install nghttp2-client) and openssl');
  process.exit(2);
}
const fixture = makeFixture({ tls: true });
const scenarios = SCENARIOS.filter((s) => s.id === 'get-1b' || s.id === 'preflight');

/** Starts `args` under node --trace-gc-nvp on core 0; resolves { port, pid, output(), stop() }. */
function startTraced(args, env) {
  const [cmd, cmdArgs] = pin(0, node, ['--trace-gc-nvp', ...args]);
  const child = spawn(cmd, cmdArgs, { env: { ...process.env, ...env }, cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 15_000);
    const look = setInterval(() => {
      const m = /(?:ready |listening on https:\/\/127\.0\.0\.1:)(\d+)/.exec(out);
      if (m === null) return;
      clearInterval(look);
      clearTimeout(timer);
      resolve({ port: Number(m[1]), pid: child.pid, output: () => out, stop: async () => (child.kill('SIGKILL'), await exited) });
    }, 20);
  });
}

/** Runs h2load without blocking this process, which must go on reading the server's trace. */
async function h2load(port, scenario, n) {
  const headers = [`:method: ${scenario.method}`, ...Object.entries(scenario.headers).map(([k, v]) => `${k.toLowerCase()}: ${v}`)];
  const [cmd, cmdArgs] = pin(1, H2LOAD, ['-t1', '-c16', '-m8', '-n', String(n), ...headers.flatMap((h) => ['-H', h]), `https://127.0.0.1:${port}${scenario.path}`]);
  const { stdout: out } = await promisify(execFile)(cmd, cmdArgs, { encoding: 'utf8' });
  if (!new RegExp(`${n} succeeded`).test(out)) throw new Error(`h2load: not every request succeeded:\n${out}`);
}

/** The lines of `text` that begin at or after `at` (a line the warm-up had begun is left out). */
function linesFrom(text, at) {
  return at === 0 || text[at - 1] === '\n' ? text.slice(at) : text.slice(text.indexOf('\n', at) + 1);
}

/** Per-scavenge figures from the --trace-gc-nvp lines of the measured run. */
function scavenges(trace) {
  const lines = trace.split('\n').filter((l) => / gc=s /.test(l));
  const field = (l, name) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(l)?.[1] ?? NaN);
  return {
    count: lines.length,
    promoted: median(lines.map((l) => field(l, 'promoted'))),
    survived: median(lines.map((l) => field(l, 'new_space_survived'))),
    pauseMs: lines.reduce((a, l) => a + field(l, 'pause'), 0),
    fullGcs: trace.split('\n').filter((l) => / gc=(mc|ms) /.test(l)).length,
  };
}

async function measure(args, env, scenario) {
  const s = await startTraced(args, env);
  try {
    await h2load(s.port, scenario, 30_000); // warm-up
    const from = s.output().length;
    const before = procStats(s.pid).cpuMs;
    await h2load(s.port, scenario, REQUESTS);
    const usPerReq = ((procStats(s.pid).cpuMs - before) * 1000) / REQUESTS;
    return { ...scavenges(linesFrom(s.output(), from)), usPerReq };
  } finally {
    await s.stop();
  }
}

const mb = (b) => (b / 2 ** 20).toFixed(2);
console.log(`| scenario | server | promoted MB / scavenge | surviving MB / scavenge | scavenges | scavenge pauses ms | full GCs | server µs/req |`);
console.log(`|---|---|--:|--:|--:|--:|--:|--:|`);
const tls = ['--cert', fixture.cert, '--key', fixture.key];
for (const scenario of scenarios) {
  const xo = [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(fixture.work, 'xorigin-small.json'), '--port', '0', '--etag-cache', 'off', ...tls];
  const sample = await startTraced(xo, {});
  const canned = join(fixture.work, `canned-${scenario.id}.json`);
  writeCanned(canned, await request(sample.port, scenario, {}, 'h2'));
  await sample.stop();
  const servers = [
    ['bare node:http2, stream.respond', [join(HERE, 'servers', 'bare-h2.js')], { BENCH_CANNED: canned, BENCH_CERT: fixture.cert, BENCH_KEY: fixture.key, BENCH_POLICY: join(fixture.work, 'policy-small.json'), BENCH_ROOT: fixture.root }],
    ['xorigin serve --cert --key', xo, {}],
  ];
  const rows = servers.map(() => []);
  for (let round = 0; round < ROUNDS; round++) for (const [i, [, args, env]] of servers.entries()) rows[i].push(await measure(args, env, scenario));
  for (const [i, [label]] of servers.entries()) {
    const m = (k) => median(rows[i].map((r) => r[k]));
    console.log(`| ${scenario.title} | ${label} | ${mb(m('promoted'))} | ${mb(m('survived'))} | ${m('count')} | ${m('pauseMs').toFixed(0)} | ${m('fullGcs')} | ${m('usPerReq').toFixed(1)} |`);
  }
}
fixture.cleanUp();
