// Resident memory of the servers after a short load, apart from the timing runs: each contender is
// started on the benchmark fixture (bench/lib.js), loaded for 3 s by wrk (32 connections, pinned to
// core 1, the server to core 0), then its VmRSS, RssAnon and RssFile are read from /proc. With --heap,
// also V8's new (young generation) and old space, size / used in MiB, read in the server by
// bench/heap-probe.js.
//
//   npm run build && node bench/rss.js [--scenarios preflight] [--rounds 3] [--heap]
//
// Prints one line per start; nothing is written. Needs wrk.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { benchArgs, HERE, makeFixture, node, pin, pinShell, PROJECT, request, requestHeaders, SCENARIOS, startProcess, which, writeCanned, wrkScript } from './lib.js';

const opts = benchArgs({ heap: { type: 'boolean', default: false } });
const WRK = which('wrk');
if (WRK === null) throw new Error('bench/rss.js needs wrk (apt-get install -y wrk)');
const fixture = makeFixture();
const scenarios = opts.args.scenarios === undefined ? SCENARIOS.filter((s) => s.id === 'preflight') : opts.pick(SCENARIOS, 'scenarios');

const heapOut = join(fixture.work, 'heap.json');
const probe = opts.args.heap ? { NODE_OPTIONS: `--import=${pathToFileURL(join(HERE, 'heap-probe.js')).href}`, BENCH_HEAP_OUT: heapOut } : {};
const env = (scenario, canned) => ({ BENCH_ROOT: fixture.root, BENCH_POLICY: join(fixture.work, `policy-${scenario.policy}.json`), BENCH_CANNED: canned, ...probe });
const xorigin = (scenario) => pin(0, node, [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(fixture.work, `xorigin-${scenario.policy}.json`), '--port', '0', '--etag-cache', 'off']);
const contenders = (scenario) => [
  ['bare node:http (ceiling)', pin(0, node, [join(HERE, 'servers/bare.js')])],
  ['node:http + cors + sirv', pin(0, node, [join(HERE, 'servers/cors-sirv.js')])],
  ['xorigin serve', xorigin(scenario)],
];

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (key) => (Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)[1]) / 1024).toFixed(1);
  return `RSS ${mb('VmRSS')} MB (anon ${mb('RssAnon')}, file ${mb('RssFile')})`;
}

/** V8's new and old space of the server (--heap): " | new 4.00/1.20 old 7.47/7.11 MiB", or ''. */
async function heap(pid) {
  if (!opts.args.heap) return '';
  rmSync(heapOut, { force: true });
  process.kill(pid, 'SIGWINCH');
  for (let i = 0; i < 100 && !existsSync(heapOut); i++) await sleep(20);
  const s = JSON.parse(readFileSync(heapOut, 'utf8'));
  return ` | new ${s.new_space.join('/')} old ${s.old_space.join('/')} MiB`;
}

function load(port, scenario, headers) {
  const script = wrkScript(fixture.work, scenario, headers);
  execFileSync('sh', ['-c', `${pinShell(1)}${WRK} -t1 -c32 -d3s -s ${script} http://127.0.0.1:${port}${scenario.path}`], { stdio: 'ignore' });
}

try {
  for (const scenario of scenarios) {
    const sample = await startProcess('xorigin', { cmd: xorigin(scenario), env: env(scenario, '') });
    const headers = await requestHeaders(sample.port, scenario);
    const canned = join(fixture.work, `canned-${scenario.id}.json`);
    writeCanned(canned, await request(sample.port, scenario, headers));
    await sample.stop();
    for (let round = 1; round <= opts.rounds; round++) {
      for (const [label, cmd] of contenders(scenario)) {
        const p = await startProcess(label, { cmd, env: env(scenario, canned) });
        // Stopped whatever happens: a failing wrk used to leave this server running after the script exited.
        try {
          load(p.port, scenario, await requestHeaders(p.port, scenario));
          console.log(`${scenario.id} round ${round} ${label.padEnd(26)} ${memory(p.pid)}${await heap(p.pid)}`);
        } finally {
          await p.stop();
        }
      }
    }
  }
} finally {
  fixture.cleanUp();
}
