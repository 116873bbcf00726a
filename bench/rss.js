// Resident memory of the servers after a short load, apart from the timing runs: each contender is
// started on the benchmark fixture (bench/lib.js), loaded for 3 s by wrk (32 connections, pinned to
// core 1, the server to core 0), then its VmRSS, RssAnon and RssFile are read from /proc.
//
//   npm run build && node bench/rss.js [--scenarios preflight] [--rounds 3]
//
// Prints one line per start; nothing is written. Needs wrk.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, HERE, makeFixture, node, pin, pinShell, PROJECT, request, requestHeaders, SCENARIOS, startProcess, which, writeCanned } from './lib.js';

const opts = benchArgs();
const WRK = which('wrk');
if (WRK === null) throw new Error('bench/rss.js needs wrk (apt-get install -y wrk)');
const fixture = makeFixture();
const scenarios = opts.args.scenarios === undefined ? SCENARIOS.filter((s) => s.id === 'preflight') : opts.pick(SCENARIOS, 'scenarios');

const env = (scenario, canned) => ({ BENCH_ROOT: fixture.root, BENCH_POLICY: join(fixture.work, `policy-${scenario.policy}.json`), BENCH_CANNED: canned });
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

function load(port, scenario, headers) {
  const script = join(fixture.work, 'rss.lua');
  writeFileSync(script, `wrk.method = ${JSON.stringify(scenario.method)}\n${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n')}\n`);
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
          console.log(`${scenario.id} round ${round} ${label.padEnd(26)} ${memory(p.pid)}`);
        } finally {
          await p.stop();
        }
      }
    }
  }
} finally {
  fixture.cleanUp();
}
