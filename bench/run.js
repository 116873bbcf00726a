// xorigin against the peers a user would pick instead, side by side in one run.
//
//   npm run bench                      (installs bench/ peers, builds, then runs this)
//   node bench/run.js [--rounds 3] [--duration 3] [--warmup 1] [--connections 32]
//                     [--scenarios a,b] [--contenders a,b] [--no-wrk] [--out DIR]
//
// A full run writes the published results (bench/RESULTS.md, results.json, chart.svg). A run limited
// to some scenarios or contenders writes to bench/partial/ (not committed) unless --out says where,
// so a quick check never replaces the published figures. The same over TLS (HTTP/2 and HTTPS/1.1)
// is bench/run-h2.js; what the two share is bench/lib.js.
//
// Each contender is its own process pinned to core 0; the load generator (autocannon, and wrk when
// installed) runs pinned to core 1. Before anything is timed, every contender's answer to every
// scenario is checked against what a browser needs (status, CORS headers, bytes); a contender that
// answers differently is reported as not equivalent, with the difference, and not timed. Rounds are
// interleaved (every contender once per round, the order rotated each round), and each figure is
// the median over rounds; ratios are to the bare node:http ceiling measured in the same round.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  benchArgs, check, HERE, makeFixture, nginxConf, NGINX, node, pin, PROJECT, request, requestHeaders, runScenario, runWrk,
  SCENARIOS, startProcess, summarize, TASKSET, versions, which, writeCanned, writeReport, cannedDifferences, writesReplay,
} from './lib.js';

const opts = benchArgs();
const { rounds: ROUNDS, duration: DURATION, warmup: WARMUP, connections: CONNECTIONS } = opts;
const WRK = opts.args['no-wrk'] ? null : which('wrk');
const fixture = makeFixture();
const scenarios = opts.pick(SCENARIOS, 'scenarios');

const CONTENDERS = opts.pick([
  { id: 'bare', label: 'bare node:http (ceiling)', file: 'bare.js' },
  { id: 'xorigin', label: 'xorigin serve', cli: true },
  // The same server with no memory budget: every body read from disk (through the open-fd cache).
  { id: 'xorigin-disk', label: 'xorigin serve, bodies from disk', cli: true, args: ['--memory-budget', '0'] },
  { id: 'xorigin-handle', label: 'node:http + xorigin handle + sirv', file: 'xorigin-handle.js' },
  { id: 'cors-sirv', label: 'node:http + cors + sirv', file: 'cors-sirv.js', peer: true },
  { id: 'express', label: 'express + cors + static', file: 'express.js', peer: true },
  { id: 'fastify', label: 'fastify + @fastify/cors + static', file: 'fastify.js', peer: true },
  { id: 'hono', label: 'hono + cors + serveStatic', file: 'hono.js', peer: true },
  ...(NGINX !== null ? [{ id: 'nginx', label: 'nginx (map + add_header)', nginx: true }] : []),
], 'contenders', ['bare']);

/** Starts a contender for a scenario; resolves { port, pid, stop }. */
async function startContender(c, scenario, cannedFile) {
  const env = { BENCH_ROOT: fixture.root, BENCH_POLICY: join(fixture.work, `policy-${scenario.policy}.json`), BENCH_CANNED: cannedFile ?? '' };
  if (c.nginx) return startProcess(c.id, { ...(await nginxConf(fixture, scenario.policy)), env });
  const cmd = c.cli
    ? pin(0, node, [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(fixture.work, `xorigin-${scenario.policy}.json`), '--port', '0', '--etag-cache', 'off', ...(c.args ?? [])])
    : pin(0, node, [join(HERE, 'servers', c.file)]);
  return startProcess(c.id, { cmd, env });
}

function runAutocannon(port, scenario, headers) {
  const spec = JSON.stringify({ url: `http://127.0.0.1:${port}${scenario.path}`, method: scenario.method, headers, duration: DURATION, warmup: WARMUP, connections: CONNECTIONS });
  const [cmd, cmdArgs] = pin(1, node, [join(HERE, 'load.js'), spec]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

const generators = [
  { key: 'ac', name: 'autocannon', p99Digits: 1, run: async (port, s) => runAutocannon(port, s, await requestHeaders(port, s)) },
  ...(WRK !== null ? [{ key: 'wrk', name: 'wrk', p99Digits: 2, run: async (port, s) => runWrk(WRK, `http://127.0.0.1:${port}${s.path}`, s, await requestHeaders(port, s), { work: fixture.work, connections: CONNECTIONS, duration: DURATION, warmup: WARMUP }) }] : []),
];

const results = [];
const started = Date.now();
console.error(`xorigin bench: ${scenarios.length} scenarios × ${CONTENDERS.length} contenders × ${ROUNDS} rounds, ${DURATION} s each (+${WARMUP} s warm-up), ${CONNECTIONS} connections; taskset ${TASKSET ? 'on' : 'off'}; wrk ${WRK ? 'on' : 'off'}`);
for (const scenario of scenarios) {
  // The ceiling replays exactly what xorigin sends for this scenario.
  const x = await startContender({ id: 'xorigin', cli: true }, scenario);
  const sample = await request(x.port, scenario, await requestHeaders(x.port, scenario));
  await x.stop();
  const cannedFile = join(fixture.work, `canned-${scenario.id}.json`);
  writeCanned(cannedFile, sample);
  results.push(...(await runScenario({
    scenario,
    contenders: CONTENDERS,
    rounds: ROUNDS,
    start: (c, s) => startContender(c, s, cannedFile),
    equivalence: async (port, s, c) => {
      const res = await request(port, s, await requestHeaders(port, s));
      // xorigin and the ceiling must write the same fields, or the ratio compares unlike work.
      return [...check(s, res), ...(writesReplay(c.id) ? cannedDifferences(cannedFile, res) : [])];
    },
    generators,
    ceiling: 'bare',
    seconds: DURATION + WARMUP,
  })));
}

writeReport({
  out: opts.out,
  suffix: '',
  title: 'xorigin benchmark results',
  command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
  npmScript: 'npm run bench',
  started,
  meta: {
    versions: versions(['autocannon', 'cors', 'express', 'fastify', '@fastify/cors', '@fastify/static', 'hono', '@hono/node-server', 'sirv'], [
      ['nginx', NGINX && `${NGINX} -v`, (l) => l.replace(/^nginx version: nginx\//, '')],
      ['wrk', WRK && `${WRK} -v`, (l) => l.split(' ')[1] ?? '?'],
    ]),
  },
  scenarios,
  contenders: CONTENDERS,
  generators,
  summary: summarize(results, generators),
  rounds: ROUNDS,
  chartKey: 'wrk',
  chartTitle: 'req/s as a ratio of bare node:http in the same round',
  peer: (id) => CONTENDERS.find((c) => c.id === id)?.peer === true,
  intro: [
    `- Servers pinned to core 0, the load generator to core 1 (${TASKSET ? 'taskset' : 'NOT pinned: taskset missing or one core'}). ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s measured, ${ROUNDS} interleaved rounds; every figure is the median over rounds. A fresh server process per measurement.`,
    '- **ratio** = req/s ÷ the bare `node:http` ceiling in the same round (the ceiling writes, as constants, the exact status, headers and body xorigin sends). RSS is the server\'s resident memory at the end of the run. **gen CPU** is the load generator\'s own CPU use: at ≥ 90% of its core (⚠) the generator, not the server, may be what limits the figure.',
  ],
});
fixture.cleanUp();
