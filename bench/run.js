// xorigin against the peers a user would pick instead, side by side in one run.
//
//   npm run bench                      (installs bench/ peers, builds, then runs this)
//   node bench/run.js [--rounds 3] [--duration 3] [--warmup 1] [--connections 32]
//                     [--scenarios a,b] [--contenders a,b] [--no-wrk] [--out DIR]
//
// A full run writes the published results (bench/RESULTS.md, results.json, chart.svg). A run limited
// to some scenarios or contenders writes to bench/partial/ (not committed) unless --out says where,
// so a quick check never replaces the published figures.
//
// Each contender is its own process pinned to core 0; the load generator (autocannon, and wrk when
// installed) runs pinned to core 1. Before anything is timed, every contender's answer to every
// scenario is checked against what a browser needs (status, CORS headers, bytes); a contender that
// answers differently is reported as not equivalent, with the difference, and not timed. Rounds are
// interleaved (every contender once per round, the order rotated each round), and each figure is
// the median over rounds; ratios are to the bare node:http ceiling measured in the same round.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = dirname(HERE);
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string' },
    contenders: { type: 'string' },
    'no-wrk': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const PARTIAL = args.scenarios !== undefined || args.contenders !== undefined;
const OUT = args.out ?? (PARTIAL ? join(HERE, 'partial') : HERE);
const ROUNDS = Number(args.rounds);
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
const TASKSET = which('taskset') !== null && os.availableParallelism() >= 2;
const WRK = args['no-wrk'] ? null : which('wrk');
const NGINX = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
const pin = (core, cmd, cmdArgs) => (TASKSET ? ['taskset', ['-c', String(core), cmd, ...cmdArgs]] : [cmd, cmdArgs]);

// ---------------------------------------------------------------------------------------------
// Fixture and policies

const APP = 'https://app.example.com';
const work = mkdtempSync(join(os.tmpdir(), 'xorigin-bench-'));
const root = join(work, 'root');
execFileSync('mkdir', ['-p', root]);
writeFileSync(join(root, 'one.txt'), 'x');
writeFileSync(join(root, 'font.woff2'), randomBytes(30_000)); // incompressible, like a real woff2
const BIG = 1024 * 1024;
writeFileSync(join(root, 'big.ttf'), randomBytes(BIG));

const small = { exact: [APP], pattern: null, methods: ['PUT'], allowedHeaders: ['content-type', 'range'], maxAge: 600 };
const big = {
  exact: [APP, ...Array.from({ length: 999 }, (_, i) => `https://site${i}.example.com`)],
  pattern: 'https://*.example.org',
  methods: ['PUT'],
  allowedHeaders: ['content-type', 'range'],
  maxAge: 600,
};
const policies = { small, big };
for (const [name, p] of Object.entries(policies)) {
  writeFileSync(join(work, `policy-${name}.json`), JSON.stringify(p));
  const origins = p.pattern === null ? p.exact : [...p.exact, p.pattern];
  writeFileSync(join(work, `xorigin-${name}.json`), JSON.stringify({ root, cors: { origins, methods: p.methods, allowedHeaders: p.allowedHeaders, maxAge: p.maxAge } }));
}

// ---------------------------------------------------------------------------------------------
// Scenarios: the request, and what a browser needs back. `etag: true` sends the contender's own
// ETag (read just before) in If-None-Match.

const PREFLIGHT = { 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' };
const SCENARIOS = [
  { id: 'preflight', title: 'Preflight, allowed', policy: 'small', method: 'OPTIONS', path: '/one.txt', headers: { Origin: APP, ...PREFLIGHT }, expect: { ok: [200, 204], acao: APP, methods: 'PUT', allowHeaders: 'content-type' } },
  { id: 'preflight-denied', title: 'Preflight, origin denied', policy: 'small', method: 'OPTIONS', path: '/one.txt', headers: { Origin: 'https://evil.example', ...PREFLIGHT }, expect: { acao: null } },
  { id: 'get-1b', title: 'CORS GET, 1-byte file', policy: 'small', method: 'GET', path: '/one.txt', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: 1 } },
  { id: 'get-30k', title: 'CORS GET, 30 KB woff2', policy: 'small', method: 'GET', path: '/font.woff2', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: 30_000, type: 'font/woff2' } },
  { id: 'revalidate', title: 'Revalidation, If-None-Match → 304', policy: 'small', method: 'GET', path: '/font.woff2', headers: { Origin: APP }, etag: true, expect: { ok: [304], acao: APP, vary: true } },
  { id: 'preflight-1000', title: 'Preflight, 1,000 origins + a subdomain pattern', policy: 'big', method: 'OPTIONS', path: '/one.txt', headers: { Origin: 'https://fonts.cdn.example.org', ...PREFLIGHT }, expect: { ok: [200, 204], acao: 'https://fonts.cdn.example.org', methods: 'PUT', allowHeaders: 'content-type' } },
  { id: 'get-1mb', title: 'CORS GET, 1 MB font (streamed)', policy: 'small', method: 'GET', path: '/big.ttf', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: BIG, type: 'font/ttf' } },
  { id: 'range', title: 'CORS Range GET, 1,000 bytes of 1 MB', policy: 'small', method: 'GET', path: '/big.ttf', headers: { Origin: APP, Range: 'bytes=1000-1999' }, expect: { ok: [206], acao: APP, vary: true, length: 1000, contentRange: `bytes 1000-1999/${BIG}` } },
].filter((s) => args.scenarios === undefined || args.scenarios.split(',').includes(s.id));

// ---------------------------------------------------------------------------------------------
// Contenders

const node = process.execPath;
const CONTENDERS = [
  { id: 'bare', label: 'bare node:http (ceiling)', file: 'bare.js' },
  { id: 'xorigin', label: 'xorigin serve', cli: true },
  // The same server with no memory budget: every body read from disk (through the open-fd cache).
  { id: 'xorigin-disk', label: 'xorigin serve, bodies from disk', cli: true, args: ['--memory-budget', '0'] },
  { id: 'xorigin-handle', label: 'node:http + xorigin handle + sirv', file: 'xorigin-handle.js' },
  { id: 'cors-sirv', label: 'node:http + cors + sirv', file: 'cors-sirv.js' },
  { id: 'express', label: 'express + cors + static', file: 'express.js' },
  { id: 'fastify', label: 'fastify + @fastify/cors + static', file: 'fastify.js' },
  { id: 'hono', label: 'hono + cors + serveStatic', file: 'hono.js' },
  ...(NGINX !== null ? [{ id: 'nginx', label: 'nginx (map + add_header)', nginx: true }] : []),
].filter((c) => args.contenders === undefined || c.id === 'bare' || args.contenders.split(',').includes(c.id));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function nginxConf(policyName) {
  const p = policies[policyName];
  const port = await freePort();
  const dir = mkdtempSync(join(work, 'nginx-'));
  const entries = p.exact.map((o) => `    "${o}" $http_origin;`);
  if (p.pattern !== null) {
    const domain = p.pattern.slice('https://*.'.length).replace(/\./g, '\\.');
    entries.push(`    "~^https://([a-z0-9-]+\\.)+${domain}$" $http_origin;`);
  }
  const conf = `
worker_processes 1;
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  types { text/plain txt; font/woff2 woff2; font/ttf ttf; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  map_hash_bucket_size 128;
  map $http_origin $cors_origin {
    default "";
${entries.join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      if ($request_method = OPTIONS) {
        add_header Access-Control-Allow-Origin $cors_origin always;
        add_header Access-Control-Allow-Methods "GET, HEAD, ${p.methods.join(', ')}" always;
        add_header Access-Control-Allow-Headers "${p.allowedHeaders.join(', ')}" always;
        add_header Access-Control-Max-Age ${p.maxAge} always;
        add_header Vary "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" always;
        return 204;
      }
      add_header Access-Control-Allow-Origin $cors_origin always;
      add_header Vary Origin always;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return { dir, port };
}

/** Starts a contender for a scenario; resolves { port, pid, stop }. */
async function startContender(c, scenario, cannedFile) {
  const env = { ...process.env, BENCH_ROOT: root, BENCH_POLICY: join(work, `policy-${scenario.policy}.json`), BENCH_CANNED: cannedFile ?? '' };
  let cmd;
  let fixedPort = null;
  if (c.cli) cmd = pin(0, node, [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(work, `xorigin-${scenario.policy}.json`), '--port', '0', '--etag-cache', 'off', ...(c.args ?? [])]);
  else if (c.nginx) {
    const { dir, port } = await nginxConf(scenario.policy);
    fixedPort = port;
    cmd = pin(0, NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;']);
  } else cmd = pin(0, node, [join(HERE, 'servers', c.file)]);
  const child = spawn(cmd[0], cmd[1], { env, cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.id} did not start in 15 s: ${err}`)), 15_000);
    let out = '';
    const done = (p) => {
      clearTimeout(timer);
      resolve(p);
    };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /(?:ready |listening on http:\/\/127\.0\.0\.1:)(\d+)/.exec(out);
      if (m) done(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${c.id} exited (${code}) before it was ready: ${err}`)));
    if (fixedPort !== null) {
      // nginx prints nothing: poll its port.
      const poll = () => {
        const s = net.connect(fixedPort, '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          done(fixedPort);
        });
        s.on('error', () => setTimeout(poll, 50));
      };
      poll();
    }
  });
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  return {
    port,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The server process itself (taskset execs into it, so the PID is the server's). */
function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpuMs: (ticks * 1000) / 100, rss };
}

function request(port, scenario, extra = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: scenario.method, path: scenario.path, headers: { ...scenario.headers, ...extra }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The scenario's request headers for this contender (its own ETag for revalidation). */
async function requestHeaders(port, scenario) {
  if (!scenario.etag) return scenario.headers;
  const first = await request(port, { ...scenario, headers: { Origin: APP } });
  return first.headers.etag === undefined ? scenario.headers : { ...scenario.headers, 'If-None-Match': first.headers.etag };
}

/** Differences between a response and what the browser needs; empty when equivalent. */
function check(scenario, res) {
  const e = scenario.expect;
  const h = res.headers;
  const diff = [];
  if (e.ok !== undefined && !e.ok.includes(res.status)) diff.push(`status ${res.status}, expected ${e.ok.join(' or ')}`);
  const acao = h['access-control-allow-origin'] ?? null;
  if (acao !== e.acao) diff.push(`Access-Control-Allow-Origin ${JSON.stringify(acao)}, expected ${JSON.stringify(e.acao)}`);
  if (e.methods !== undefined && !new RegExp(`\\b${e.methods}\\b`, 'i').test(h['access-control-allow-methods'] ?? '')) diff.push(`Allow-Methods ${JSON.stringify(h['access-control-allow-methods'])} lacks ${e.methods}`);
  if (e.allowHeaders !== undefined && !new RegExp(`\\b${e.allowHeaders}\\b`, 'i').test(h['access-control-allow-headers'] ?? '')) diff.push(`Allow-Headers ${JSON.stringify(h['access-control-allow-headers'])} lacks ${e.allowHeaders}`);
  if (e.vary && !/\borigin\b/i.test(h.vary ?? '')) diff.push(`Vary ${JSON.stringify(h.vary)} lacks Origin`);
  if (e.length !== undefined && res.body.length !== e.length) diff.push(`body ${res.body.length} bytes, expected ${e.length}`);
  if (e.type !== undefined && h['content-type'] !== e.type) diff.push(`Content-Type ${JSON.stringify(h['content-type'])}, expected ${e.type}`);
  if (e.contentRange !== undefined && h['content-range'] !== e.contentRange) diff.push(`Content-Range ${JSON.stringify(h['content-range'])}`);
  return diff;
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

/** wrk with the same request; CPU from the shell's `times` (children's user and system time). */
function runWrk(port, scenario, headers) {
  const lua = join(work, `wrk-${scenario.id}.lua`);
  writeFileSync(lua, `wrk.method = "${scenario.method}"\n${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n')}\n`);
  const threads = 1;
  const wrkCmd = `${TASKSET ? 'taskset -c 1 ' : ''}${WRK} -t${threads} -c${CONNECTIONS} -d${DURATION}s --latency -s ${lua} http://127.0.0.1:${port}${scenario.path}`;
  const warm = `${TASKSET ? 'taskset -c 1 ' : ''}${WRK} -t${threads} -c${CONNECTIONS} -d${WARMUP}s -s ${lua} http://127.0.0.1:${port}${scenario.path} >/dev/null`;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('bash', ['-c', `${WARMUP > 0 ? `${warm}; ` : ''}t0=$(date +%s%N); ${wrkCmd}; t1=$(date +%s%N); times; echo "wall $(( (t1 - t0) / 1000000 ))"`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (!rps) return reject(new Error(`wrk output not understood: ${out}`));
      const p99 = /99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
      const scale = { us: 0.001, ms: 1, s: 1000 };
      // `times` prints the shell's own line, then the children's: "0m1.234s 0m0.567s".
      const lines = out.trim().split('\n');
      const timesLine = lines[lines.length - 2] ?? '';
      const secs = [...timesLine.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
      const wall = Number(/wall (\d+)/.exec(out)?.[1] ?? Date.now() - started);
      // The children's time includes the warm-up run; scale by the total wall time of both.
      resolve({ rps: Number(rps[1]), p99: p99 ? Number(p99[1]) * scale[p99[2]] : null, cpu: (secs * 1000) / (wall + WARMUP * 1000) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The run

const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = []; // { scenario, contender, equivalent, diff, rounds: [{ac, wrk, serverCpu, rss, ratioAc, ratioWrk}] }
const started = Date.now();
console.error(`xorigin bench: ${SCENARIOS.length} scenarios × ${CONTENDERS.length} contenders × ${ROUNDS} rounds, ${DURATION} s each (+${WARMUP} s warm-up), ${CONNECTIONS} connections; taskset ${TASKSET ? 'on' : 'off'}; wrk ${WRK ? 'on' : 'off'}`);

for (const scenario of SCENARIOS) {
  // The ceiling replays exactly what xorigin sends for this scenario.
  const x = await startContender(CONTENDERS.find((c) => c.id === 'xorigin') ?? { id: 'xorigin', cli: true }, scenario);
  const sample = await request(x.port, scenario, await requestHeaders(x.port, scenario));
  await x.stop();
  const cannedFile = join(work, `canned-${scenario.id}.json`);
  const headers = [];
  for (let i = 0; i < sample.raw.length; i += 2) {
    if (!/^(date|connection|keep-alive|transfer-encoding)$/i.test(sample.raw[i])) headers.push(sample.raw[i], sample.raw[i + 1]);
  }
  writeFileSync(cannedFile, JSON.stringify({ status: sample.status, headers, body: sample.body.toString('base64') }));

  const rows = new Map(CONTENDERS.map((c) => [c.id, { scenario: scenario.id, contender: c.id, equivalent: true, diff: [], rounds: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Interleave: every contender once per round, the starting point rotated each round.
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]);
    const perRound = new Map();
    for (const c of order) {
      const row = rows.get(c.id);
      if (!row.equivalent) continue;
      const s = await startContender(c, scenario, cannedFile);
      try {
        const headers = await requestHeaders(s.port, scenario);
        if (round === 0) {
          row.diff = check(scenario, await request(s.port, scenario, headers));
          if (row.diff.length > 0) {
            row.equivalent = false;
            console.error(`  ${scenario.id} / ${c.id}: NOT EQUIVALENT: ${row.diff.join('; ')}`);
            continue;
          }
        }
        const before = procStats(s.pid);
        const ac = await runAutocannon(s.port, scenario, headers);
        const after = procStats(s.pid);
        const serverCpu = (after.cpuMs - before.cpuMs) / ((DURATION + WARMUP) * 1000);
        const wrk = WRK !== null ? await runWrk(s.port, scenario, headers) : null;
        perRound.set(c.id, { ac, wrk, serverCpu, rss: procStats(s.pid).rss });
        console.error(`  ${scenario.id} r${round + 1} ${c.id.padEnd(15)} autocannon ${Math.round(ac.rps).toString().padStart(6)} req/s (gen CPU ${Math.round(ac.cpu * 100)}%)${wrk ? `  wrk ${Math.round(wrk.rps).toString().padStart(6)} req/s (gen CPU ${Math.round(wrk.cpu * 100)}%)` : ''}`);
      } finally {
        await s.stop();
      }
    }
    const bare = perRound.get('bare');
    for (const [id, m] of perRound) {
      m.round = round;
      m.ratioAc = bare ? m.ac.rps / bare.ac.rps : null;
      m.ratioWrk = bare && m.wrk && bare.wrk ? m.wrk.rps / bare.wrk.rps : null;
      rows.get(id).rounds.push(m);
    }
  }
  results.push(...rows.values());
}

// ---------------------------------------------------------------------------------------------
// Report

const GEN_SATURATED = 0.9; // a generator using ≥ 90% of its core may be what limits the figure
const summary = results.map((r) => {
  const m = (f) => median(r.rounds.map(f));
  return {
    ...r,
    rps: m((x) => x.ac.rps),
    ratio: m((x) => x.ratioAc),
    p99: m((x) => x.ac.p99),
    genCpu: m((x) => x.ac.cpu),
    serverCpu: m((x) => x.serverCpu),
    rss: m((x) => x.rss),
    wrkRps: m((x) => x.wrk?.rps ?? null),
    wrkRatio: m((x) => x.ratioWrk),
    wrkP99: m((x) => x.wrk?.p99 ?? null),
    wrkCpu: m((x) => x.wrk?.cpu ?? null),
  };
});

const fmt = (n, d = 0) => (n === null ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const label = (id) => CONTENDERS.find((c) => c.id === id).label;
const versions = (() => {
  const v = {};
  for (const p of ['autocannon', 'cors', 'express', 'fastify', '@fastify/cors', '@fastify/static', 'hono', '@hono/node-server', 'sirv']) {
    try {
      v[p] = JSON.parse(readFileSync(join(HERE, 'node_modules', p, 'package.json'), 'utf8')).version;
    } catch {
      v[p] = '?';
    }
  }
  v.xorigin = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')).version;
  const firstLine = (cmd) => execFileSync('sh', ['-c', `${cmd} 2>&1 | head -1; true`], { encoding: 'utf8' }).trim();
  if (NGINX) v.nginx = firstLine(`${NGINX} -v`).replace(/^nginx version: nginx\//, '');
  if (WRK) v.wrk = firstLine(`${WRK} -v`).split(' ')[1] ?? '?';
  return v;
})();

const command = `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim();
const lines = [];
lines.push('# xorigin benchmark results', '');
lines.push(`Produced by \`npm run bench\` (\`${command}\`) on ${new Date().toISOString().slice(0, 10)}, in ${Math.round((Date.now() - started) / 60000)} min.`, '');
lines.push(`- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`);
lines.push(`- Node ${process.version}; ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
lines.push(`- Servers pinned to core 0, the load generator to core 1 (${TASKSET ? 'taskset' : 'NOT pinned: taskset missing or one core'}). ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s measured, ${ROUNDS} interleaved rounds; every figure is the median over rounds. A fresh server process per measurement.`);
lines.push('- **ratio** = req/s ÷ the bare `node:http` ceiling in the same round (the ceiling writes, as constants, the exact status, headers and body xorigin sends). RSS is the server\'s resident memory at the end of the run. **gen CPU** is the load generator\'s own CPU use: at ≥ 90% of its core (⚠) the generator, not the server, may be what limits the figure.');
lines.push('- Before timing, each contender\'s answer is checked for the status, CORS headers and bytes a browser needs; one that answers differently is listed as not equivalent and not timed.', '');
for (const scenario of SCENARIOS) {
  lines.push(`## ${scenario.title}`, '');
  lines.push(`\`${scenario.method} ${scenario.path}\` with ${Object.entries(scenario.headers).map(([k, v]) => `\`${k}: ${v}\``).join(', ')}${scenario.etag ? ', `If-None-Match: <its ETag>`' : ''}.`, '');
  lines.push(`| contender | autocannon req/s | ratio | p99 ms | gen CPU | server CPU | RSS MB |${WRK ? ' wrk req/s | wrk ratio | wrk p99 ms | wrk CPU |' : ''}`);
  lines.push(`|---|--:|--:|--:|--:|--:|--:|${WRK ? '--:|--:|--:|--:|' : ''}`);
  const rows = summary.filter((r) => r.scenario === scenario.id).sort((a, b) => (b.rps ?? -1) - (a.rps ?? -1));
  for (const r of rows) {
    if (!r.equivalent) {
      lines.push(`| ${label(r.contender)} | not equivalent: ${r.diff.join('; ')} | | | | | |${WRK ? ' | | | |' : ''}`);
      continue;
    }
    const sat = r.genCpu !== null && r.genCpu >= GEN_SATURATED ? ' ⚠' : '';
    const wsat = r.wrkCpu !== null && r.wrkCpu >= GEN_SATURATED ? ' ⚠' : '';
    lines.push(`| ${r.contender === 'xorigin' ? `**${label(r.contender)}**` : label(r.contender)} | ${fmt(r.rps)} | ${fmt(r.ratio, 2)} | ${fmt(r.p99, 1)} | ${fmt(r.genCpu * 100)}%${sat} | ${fmt(r.serverCpu * 100)}% | ${fmt(r.rss / 2 ** 20, 1)} |${WRK ? ` ${fmt(r.wrkRps)} | ${fmt(r.wrkRatio, 2)} | ${fmt(r.wrkP99, 2)} | ${fmt(r.wrkCpu === null ? null : r.wrkCpu * 100)}%${wsat} |` : ''}`);
  }
  const xo = rows.find((r) => r.contender === 'xorigin');
  const peers = rows.filter((r) => r.equivalent && !['bare', 'xorigin', 'xorigin-disk', 'xorigin-handle', 'nginx'].includes(r.contender) && r.rps !== null);
  if (xo?.rps && peers.length > 0) {
    // Same-round quotients: each round's xorigin figure over the peer's in that round, then the
    // median. Steadier than a quotient of medians taken from different rounds on a noisy machine.
    const vs = (peer, pick) => median(xo.rounds.map((m) => {
      const p = peer.rounds.find((q) => q.round === m.round);
      return p && pick(m) && pick(p) ? pick(m) / pick(p) : null;
    }));
    const useWrk = xo.wrkRps !== null;
    const margins = peers.map((p) => ({ p, wrk: vs(p, (m) => m.wrk?.rps), ac: vs(p, (m) => m.ac.rps) })).sort((a, b) => (useWrk ? a.wrk - b.wrk : a.ac - b.ac));
    lines.push('', `xorigin serve ÷ each Node peer (median of same-round quotients, ${useWrk ? 'wrk; autocannon in brackets' : 'autocannon'}): ${margins.map((x) => `${label(x.p.contender)} **${fmt(useWrk ? x.wrk : x.ac, 2)}×**${useWrk ? ` (${fmt(x.ac, 2)}×)` : ''}`).join(', ')}.`);
    const lightest = peers.reduce((a, b) => (a.rss < b.rss ? a : b));
    lines.push('', `RSS: xorigin serve ${fmt(xo.rss / 2 ** 20, 1)} MB, the lightest Node peer (${label(lightest.contender)}) ${fmt(lightest.rss / 2 ** 20, 1)} MB.`);
  }
  lines.push('');
}
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'RESULTS.md'), `${lines.join('\n')}\n`);
// Per-round figures are kept too, so every median and quotient above can be recomputed.
const perRoundOf = (rounds) => rounds.map((m) => ({ round: m.round, rps: m.ac.rps, wrkRps: m.wrk?.rps ?? null, rss: m.rss, ratio: m.ratioAc, wrkRatio: m.ratioWrk }));
writeFileSync(join(OUT, 'results.json'), JSON.stringify({ command, versions, summary: summary.map(({ rounds, ...r }) => ({ ...r, rounds: perRoundOf(rounds) })) }, null, 2));
writeFileSync(join(OUT, 'chart.svg'), chart(summary));
console.error(`wrote RESULTS.md, results.json and chart.svg in ${OUT}`);
rmSync(work, { recursive: true, force: true });

/** Grouped horizontal bars: per scenario, each contender's ratio to the bare ceiling (wrk when available: it is not generator-bound). */
function chart(rows) {
  const useWrk = rows.some((r) => r.wrkRatio !== null);
  const value = (r) => (useWrk ? r.wrkRatio : r.ratio);
  const ids = CONTENDERS.map((c) => c.id).filter((id) => id !== 'bare');
  const colors = { xorigin: '#d9480f', 'xorigin-disk': '#e8590c', 'xorigin-handle': '#f08c00', 'cors-sirv': '#1971c2', express: '#5c7cfa', fastify: '#2f9e44', hono: '#ae3ec9', nginx: '#495057' };
  const barH = 11;
  const groupH = ids.length * barH + 26;
  const left = 250;
  const width = 760;
  const plotW = width - left - 60;
  const max = Math.max(1, ...rows.map((r) => value(r) ?? 0));
  const height = 60 + SCENARIOS.length * groupH + 20;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`];
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="10" y="20" font-size="12" font-weight="bold">req/s as a ratio of bare node:http in the same round (${useWrk ? 'wrk' : 'autocannon'}, median of ${ROUNDS} rounds; longer is faster)</text>`);
  const x1 = left + plotW / max;
  out.push(`<line x1="${x1}" y1="30" x2="${x1}" y2="${height - 10}" stroke="#999" stroke-dasharray="3,3"/><text x="${x1 + 3}" y="40" fill="#666">1.0 = bare</text>`);
  SCENARIOS.forEach((s, gi) => {
    const y0 = 50 + gi * groupH;
    out.push(`<text x="10" y="${y0 + 12}" font-weight="bold">${s.title.replace(/&/g, '&amp;')}</text>`);
    ids.forEach((id, i) => {
      const r = rows.find((x) => x.scenario === s.id && x.contender === id);
      const y = y0 + 18 + i * barH;
      out.push(`<text x="${left - 6}" y="${y + 9}" text-anchor="end">${label(id)}</text>`);
      if (r === undefined || !r.equivalent || value(r) === null) {
        out.push(`<text x="${left + 4}" y="${y + 9}" fill="#c92a2a">${r && !r.equivalent ? 'not equivalent' : 'no figure'}</text>`);
        return;
      }
      const w = (value(r) / max) * plotW;
      out.push(`<rect x="${left}" y="${y + 1}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${colors[id] ?? '#868e96'}"/><text x="${left + w + 4}" y="${y + 9}">${value(r).toFixed(2)}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
