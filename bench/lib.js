// What bench/run.js (cleartext HTTP/1.1) and bench/run-h2.js (TLS: HTTP/2 and HTTPS/1.1) share: the
// fixture, the scenarios and what a browser needs back, starting contenders, the equivalence check,
// the interleaved rounds, the load generators' timing, and the report (Markdown, JSON, SVG chart).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptArgs, wholeNumber } from './args.js';
import { line, rect, svgDocument, text } from './svg.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const PROJECT = dirname(HERE);

/** The options every run takes, plus its own; a run limited to some scenarios or contenders is partial. */
export function benchArgs(own = {}, partialIf = []) {
  const { values: args } = scriptArgs({
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string' },
    contenders: { type: 'string' },
    'no-wrk': { type: 'boolean', default: false },
    out: { type: 'string' },
    ...own,
  });
  // Number('abc') is NaN and Number('') 0: a mistyped count ran a benchmark of nothing, or looped on NaN.
  for (const [option, min] of [['rounds', 0], ['duration', 1], ['warmup', 0], ['connections', 1]]) wholeNumber(args[option], `--${option}`, min);
  const partial = args.scenarios !== undefined || args.contenders !== undefined || partialIf.some((o) => args[o]);
  return {
    args,
    partial,
    out: args.out ?? (partial ? join(HERE, 'partial') : HERE),
    rounds: Number(args.rounds),
    duration: Number(args.duration),
    warmup: Number(args.warmup),
    connections: Number(args.connections),
    /**
     * Keeps the items whose id was asked for (all without the option); `keep` ids always stay. An id
     * that names none of `items` ends the run before anything starts: a misspelt scenario
     * (`get-30kb` for `get-30k`) was dropped without a word, and the run looked complete. So does a
     * list with no id at all (`--scenarios=` from an unset shell variable, `--scenarios ,`), which
     * ran nothing, exited 0 and wrote an empty report over bench/partial/'s last one.
     */
    pick: (items, option, keep = []) => {
      if (args[option] === undefined) return items;
      const asked = args[option].split(',').filter((id) => id !== '');
      const known = `known: ${items.map((x) => x.id).join(', ')}`;
      if (asked.length === 0) {
        console.error(`--${option}: ${JSON.stringify(args[option])} names no id; give one or more, comma-separated, or leave the option out for all; ${known}`);
        process.exit(2);
      }
      const unknown = asked.filter((id) => !items.some((x) => x.id === id));
      if (unknown.length > 0) {
        console.error(`--${option}: no ${unknown.join(', ')} in this benchmark; ${known}`);
        process.exit(2);
      }
      return items.filter((x) => keep.includes(x.id) || asked.includes(x.id));
    },
  };
}

export function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
export const TASKSET = which('taskset') !== null && os.availableParallelism() >= 2;
export const NGINX = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
export const pin = (core, cmd, cmdArgs) => (TASKSET ? ['taskset', ['-c', String(core), cmd, ...cmdArgs]] : [cmd, cmdArgs]);
/** The same, as a shell prefix. */
export const pinShell = (core) => (TASKSET ? `taskset -c ${core} ` : '');
export const node = process.execPath;

// ---------------------------------------------------------------------------------------------
// Fixture and policies

export const APP = 'https://app.example.com';
export const BIG = 1024 * 1024;

/**
 * A fresh directory with the files served, the policies in each contender's form, and with `tls`
 * a P-256 certificate for 127.0.0.1 generated now by openssl (never committed).
 */
export function makeFixture({ tls = false } = {}) {
  const work = mkdtempSync(join(os.tmpdir(), 'xorigin-bench-'));
  const root = join(work, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'one.txt'), 'x');
  writeFileSync(join(root, 'font.woff2'), randomBytes(30_000)); // incompressible, like a real woff2
  writeFileSync(join(root, 'big.ttf'), randomBytes(BIG));
  // Dated a day back: a file written in the second it is read has no Last-Modified yet (xorigin sends
  // none until that second is over, see src/static/asset-info.ts), so the first sample, which the
  // ceilings replay, lacked the header xorigin sent for the rest of the run: one header fewer to write.
  const dated = new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000);
  for (const name of ['one.txt', 'font.woff2', 'big.ttf']) utimesSync(join(root, name), dated, dated);

  const small = { exact: [APP], pattern: null, methods: ['PUT'], allowedHeaders: ['content-type', 'range'], maxAge: 600 };
  const big = {
    exact: [APP, ...Array.from({ length: 999 }, (_, i) => `https://site${i}.example.com`)],
    pattern: 'https://*.example.org',
    methods: ['PUT'],
    allowedHeaders: ['content-type', 'range'],
    maxAge: 600,
  };
  const policies = { small, big };
  let cert = null;
  let key = null;
  if (tls) {
    cert = join(work, 'cert.pem');
    key = join(work, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  }
  for (const [name, p] of Object.entries(policies)) {
    writeFileSync(join(work, `policy-${name}.json`), JSON.stringify(p));
    const origins = p.pattern === null ? p.exact : [...p.exact, p.pattern];
    writeFileSync(join(work, `xorigin-${name}.json`), JSON.stringify({ root, cors: { origins, methods: p.methods, allowedHeaders: p.allowedHeaders, maxAge: p.maxAge } }));
  }
  const cleanUp = () => rmSync(work, { recursive: true, force: true });
  // Also on any exit, a failed run's or a refused option's (pick): the fixture holds a 1 MB file and a key.
  process.once('exit', cleanUp);
  return { work, root, policies, cert, key, cleanUp };
}

// ---------------------------------------------------------------------------------------------
// Scenarios: the request, and what a browser needs back. `etag: true` sends the contender's own
// ETag (read just before) in If-None-Match.

const PREFLIGHT = { 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' };
export const SCENARIOS = [
  { id: 'preflight', title: 'Preflight, allowed', policy: 'small', method: 'OPTIONS', path: '/one.txt', headers: { Origin: APP, ...PREFLIGHT }, expect: { ok: [200, 204], acao: APP, methods: 'PUT', allowHeaders: 'content-type' } },
  { id: 'preflight-denied', title: 'Preflight, origin denied', policy: 'small', method: 'OPTIONS', path: '/one.txt', headers: { Origin: 'https://evil.example', ...PREFLIGHT }, expect: { acao: null } },
  { id: 'get-1b', title: 'CORS GET, 1-byte file', policy: 'small', method: 'GET', path: '/one.txt', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: 1 } },
  { id: 'get-30k', title: 'CORS GET, 30 KB woff2', policy: 'small', method: 'GET', path: '/font.woff2', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: 30_000, type: 'font/woff2' } },
  { id: 'revalidate', title: 'Revalidation, If-None-Match → 304', policy: 'small', method: 'GET', path: '/font.woff2', headers: { Origin: APP }, etag: true, expect: { ok: [304], acao: APP, vary: true } },
  { id: 'preflight-1000', title: 'Preflight, 1,000 origins + a subdomain pattern', policy: 'big', method: 'OPTIONS', path: '/one.txt', headers: { Origin: 'https://fonts.cdn.example.org', ...PREFLIGHT }, expect: { ok: [200, 204], acao: 'https://fonts.cdn.example.org', methods: 'PUT', allowHeaders: 'content-type' } },
  { id: 'get-1mb', title: 'CORS GET, 1 MB font (streamed)', policy: 'small', method: 'GET', path: '/big.ttf', headers: { Origin: APP }, expect: { ok: [200], acao: APP, vary: true, length: BIG, type: 'font/ttf' } },
  { id: 'range', title: 'CORS Range GET, 1,000 bytes of 1 MB', policy: 'small', method: 'GET', path: '/big.ttf', headers: { Origin: APP, Range: 'bytes=1000-1999' }, expect: { ok: [206], acao: APP, vary: true, length: 1000, contentRange: `bytes 1000-1999/${BIG}` } },
];

/** Differences between a response and what the browser needs; empty when equivalent. */
export function check(scenario, res) {
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

// ---------------------------------------------------------------------------------------------
// Requests: `proto` is 'http' (cleartext HTTP/1.1), 'https' (TLS, HTTP/1.1 by ALPN) or 'h2'.
// Resolves { status, headers (lower-case names), raw ([name, value, ...] as sent, no pseudo-headers), body }.

export function request(port, scenario, extra = {}, proto = 'http') {
  const headers = { ...scenario.headers, ...extra };
  if (proto === 'h2') return requestH2(port, scenario, headers);
  const mod = proto === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: '127.0.0.1', port, method: scenario.method, path: scenario.path, headers, agent: false, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function requestH2(port, scenario, headers) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    const fail = (err) => {
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    session.setTimeout(5000, () => fail(new Error('timed out')));
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const stream = session.request({ ':method': scenario.method, ':path': scenario.path, ...lower }, { endStream: true });
    stream.on('error', fail);
    stream.on('response', (h, flags, rawH) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        session.close();
        const raw = [];
        for (let i = 0; i < rawH.length; i += 2) if (!rawH[i].startsWith(':')) raw.push(rawH[i], rawH[i + 1]);
        const { ':status': status, ...rest } = h;
        resolve({ status, headers: rest, raw, body: Buffer.concat(chunks) });
      });
    });
  });
}

/** The scenario's request headers for this contender (its own ETag for revalidation). */
export async function requestHeaders(port, scenario, proto = 'http') {
  if (!scenario.etag) return scenario.headers;
  const first = await request(port, { ...scenario, headers: { Origin: APP } }, {}, proto);
  return first.headers.etag === undefined ? scenario.headers : { ...scenario.headers, 'If-None-Match': first.headers.etag };
}

/** Fields the ceilings never replay: node writes Date itself, and the connection's own fields differ by protocol. */
const NOT_REPLAYED = /^(date|connection|keep-alive|transfer-encoding)$/i;

/** Writes what a response carried (less Date and the connection-specific headers) for a ceiling to replay. */
export function writeCanned(file, res) {
  const headers = [];
  for (let i = 0; i < res.raw.length; i += 2) {
    if (!NOT_REPLAYED.test(res.raw[i])) headers.push(res.raw[i], res.raw[i + 1]);
  }
  writeFileSync(file, JSON.stringify({ status: res.status, headers, body: res.body.toString('base64') }));
}

/** The contenders that must write the replayed fields: xorigin and the ceilings (`bare`, `bare-stream`, `bare-compat`). */
export const writesReplay = (id) => id === 'xorigin' || id === 'bare' || id.startsWith('bare-');

/**
 * Differences between a response's fields and the canned ones the ceilings replay; empty when the
 * same (names without case, in any order). For xorigin and the ceilings, which must write the same
 * fields for their ratio to compare like with like: until 2026-12-08 the fixture's files were
 * sampled in the second they were written, without Last-Modified, which xorigin sent for the rest
 * of the run (one field more to write per GET: ~1,500 instructions over HTTPS/1.1).
 */
export function cannedDifferences(file, res) {
  const fields = (flat) => {
    const out = [];
    for (let i = 0; i < flat.length; i += 2) if (!NOT_REPLAYED.test(flat[i])) out.push(`${flat[i].toLowerCase()}: ${flat[i + 1]}`);
    return out;
  };
  const want = fields(JSON.parse(readFileSync(file, 'utf8')).headers);
  const got = fields(res.raw);
  return [...want.filter((f) => !got.includes(f)).map((f) => `lacks the replayed ${f}`), ...got.filter((f) => !want.includes(f)).map((f) => `sends ${f}, which the replay lacks`)];
}

// ---------------------------------------------------------------------------------------------
// Contenders: each its own process on core 0.

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** An nginx configuration for a policy: one worker, `map` + `add_header`; with `tls`, `ssl http2`. */
export async function nginxConf(fixture, policyName, tls = false) {
  const p = fixture.policies[policyName];
  const port = await freePort();
  const dir = mkdtempSync(join(fixture.work, 'nginx-'));
  const entries = p.exact.map((o) => `    "${o}" $http_origin;`);
  if (p.pattern !== null) {
    const domain = p.pattern.slice('https://*.'.length).replace(/\./g, '\\.');
    entries.push(`    "~^https://([a-z0-9-]+\\.)+${domain}$" $http_origin;`);
  }
  const listen = tls ? `listen 127.0.0.1:${port} ssl http2;\n    ssl_certificate ${fixture.cert};\n    ssl_certificate_key ${fixture.key};\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache shared:SSL:1m;` : `listen 127.0.0.1:${port};`;
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
    ${listen}
    root ${fixture.root};
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
  return { cmd: pin(0, NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;']), fixedPort: port };
}

/**
 * Starts a contender: `launch` is { cmd: [command, args], env?, fixedPort?, readyTimeoutMs? (15 s) }. Without a fixed port
 * the process prints "ready PORT" or xorigin's "listening on http(s)://127.0.0.1:PORT"; with one
 * (nginx, sirv-cli) the port is polled. Resolves { port, pid, stop }.
 */
export async function startProcess(id, launch) {
  const [command, cmdArgs] = launch.cmd;
  const child = spawn(command, cmdArgs, { env: { ...process.env, ...launch.env }, cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const fixedPort = launch.fixedPort ?? null;
  const port = await new Promise((resolve, reject) => {
    const limit = launch.readyTimeoutMs ?? 15_000;
    const timer = setTimeout(() => reject(new Error(`${id} did not start in ${limit / 1000} s: ${err}`)), limit);
    let out = '';
    let ready = false;
    const done = (p) => {
      ready = true;
      clearTimeout(timer);
      resolve(p);
    };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /(?:ready |listening on https?:\/\/127\.0\.0\.1:)(\d+)/.exec(out);
      if (m && fixedPort === null) done(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${id} exited (${code}) before it was ready: ${err}`)));
    if (fixedPort !== null) {
      const poll = () => {
        if (ready) return;
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
  child.stdout.resume();
  const exited = new Promise((r) => child.once('exit', r));
  return {
    port,
    pid: child.pid,
    stderr: () => err,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The server process itself (taskset execs into it, so the PID is the server's). */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpuMs: (ticks * 1000) / 100, rss };
}

// ---------------------------------------------------------------------------------------------
// Load generators in C, run from a shell on core 1 so that their CPU can be read from `times`.

/**
 * Runs `warm` (if any), then `cmd`, and resolves { out, cpu }: cmd's output and the generator's
 * CPU use as a share of one core (the children's user + system time over the wall time of both).
 */
export function timedShell(cmd, warm, warmupSeconds) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('bash', ['-c', `${warm ? `${warm} >/dev/null; ` : ''}t0=$(date +%s%N); ${cmd}; t1=$(date +%s%N); times; echo "wall $(( (t1 - t0) / 1000000 ))"`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => {
      // `times` prints the shell's own line, then the children's: "0m1.234s 0m0.567s".
      const lines = out.trim().split('\n');
      const timesLine = lines[lines.length - 2] ?? '';
      const secs = [...timesLine.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
      const wall = Number(/wall (\d+)/.exec(out)?.[1] ?? Date.now() - started);
      resolve({ out, cpu: (secs * 1000) / (wall + (warm ? warmupSeconds * 1000 : 0)) });
    });
  });
}

/** Writes wrk's Lua script for the scenario's method and `headers` into `work`; returns its path. */
export function wrkScript(work, scenario, headers) {
  const lua = join(work, `wrk-${scenario.id}.lua`);
  writeFileSync(lua, `wrk.method = ${JSON.stringify(scenario.method)}\n${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n')}\n`);
  return lua;
}

/** True when wrk's "Non-2xx or 3xx responses" line is expected: the scenario's answer is itself a 4xx (a refused preflight's 403). */
export const answersWithError = (scenario) => scenario.expect?.ok === undefined || scenario.expect.ok.some((status) => status >= 400);

/** wrk (one thread) against `url` with the scenario's method and headers; { rps, p99, cpu }. */
export async function runWrk(wrk, url, scenario, headers, { work, connections, duration, warmup }) {
  const lua = wrkScript(work, scenario, headers);
  const base = `${pinShell(1)}${wrk} -t1 -c${connections}`;
  const { out, cpu } = await timedShell(`${base} -d${duration}s --latency -s ${lua} ${url}`, warmup > 0 ? `${base} -d${warmup}s -s ${lua} ${url}` : null, warmup);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk output not understood: ${out}`);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  if (errors && !answersWithError(scenario)) throw new Error(`wrk: ${errors[1]} non-2xx/3xx responses`);
  const p99 = /99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const scale = { us: 0.001, ms: 1, s: 1000 };
  return { rps: Number(rps[1]), p99: p99 ? Number(p99[1]) * scale[p99[2]] : null, cpu };
}

// ---------------------------------------------------------------------------------------------
// The run

export const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Interleaved rounds for one scenario: every contender once per round, the starting point rotated
 * each round, a fresh server process per measurement. In round 1 each contender's answer is
 * checked first (`equivalence(port, scenario, contender)` resolves the differences); one that differs is reported and never
 * timed. `generators` ([{ key, run(port, scenario) }]) run one after the other, each on a fresh
 * process; the server's CPU and RSS are read around the first. Ratios are to the contender
 * `ceiling` in the same round.
 * Resolves rows { scenario, contender, equivalent, diff, rounds: [{ round, gen: { key: { rps, p99, cpu } }, ratio: { key }, serverCpu, rss }] }.
 */
export async function runScenario({ scenario, contenders, rounds, start, equivalence, generators, ceiling, seconds }) {
  const rows = new Map(contenders.map((c) => [c.id, { scenario: scenario.id, contender: c.id, equivalent: true, diff: [], rounds: [] }]));
  for (let round = 0; round < rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    const perRound = new Map();
    for (const c of order) {
      const row = rows.get(c.id);
      if (!row.equivalent) continue;
      if (round === 0) {
        const s = await start(c, scenario);
        try {
          row.diff = await equivalence(s.port, scenario, c);
        } finally {
          await s.stop();
        }
        if (row.diff.length > 0) {
          row.equivalent = false;
          console.error(`  ${scenario.id} / ${c.id}: NOT EQUIVALENT: ${row.diff.join('; ')}`);
          continue;
        }
      }
      const m = { round, gen: {}, ratio: {}, serverCpu: null, rss: null };
      // A process per generator: one generator's load leaves a process changed for the next (over
      // TLS, wrk's HTTPS/1.1 after h2load's HTTP/2 ran slower for every server, by more for some).
      for (const [i, g] of generators.entries()) {
        const s = await start(c, scenario);
        try {
          const before = procStats(s.pid);
          try {
            m.gen[g.key] = await g.run(s.port, scenario);
          } catch (err) {
            // One failed measurement (a generator error, failed requests) leaves a gap, not a lost run.
            console.error(`  ${scenario.id} r${round + 1} ${c.id}: ${g.name} failed: ${err.message}`);
            m.gen[g.key] = { rps: null, p99: null, cpu: null, error: err.message };
          }
          // The server's CPU share while this generator ran: its CPU per request is steadier than req/s.
          m.gen[g.key].serverCpu = m.gen[g.key].rps === null ? null : (procStats(s.pid).cpuMs - before.cpuMs) / (seconds * 1000);
          if (i === 0) {
            m.serverCpu = m.gen[g.key].serverCpu;
            m.rss = procStats(s.pid).rss;
          }
        } finally {
          await s.stop();
        }
      }
      perRound.set(c.id, m);
      console.error(`  ${scenario.id} r${round + 1} ${c.id.padEnd(15)}${generators.map((g) => `  ${g.name} ${fmt(m.gen[g.key].rps).padStart(6)} req/s (gen CPU ${fmt(m.gen[g.key].cpu === null ? null : m.gen[g.key].cpu * 100)}%)`).join('')}`);
    }
    const base = perRound.get(ceiling);
    for (const [id, m] of perRound) {
      for (const g of generators) m.ratio[g.key] = base?.gen[g.key]?.rps && m.gen[g.key].rps !== null ? m.gen[g.key].rps / base.gen[g.key].rps : null;
      rows.get(id).rounds.push(m);
    }
  }
  return [...rows.values()];
}

// ---------------------------------------------------------------------------------------------
// Report

const GEN_SATURATED = 0.9; // a generator using ≥ 90% of its core may be what limits the figure
export const fmt = (n, d = 0) => (n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

/** Field names in results.json: the first generator's are rps/ratio/p99/genCpu, the others' are prefixed with their key. */
const fieldsOf = (g, i) => (i === 0 ? { rps: 'rps', ratio: 'ratio', p99: 'p99', cpu: 'genCpu', serverUs: 'serverUs' } : { rps: `${g.key}Rps`, ratio: `${g.key}Ratio`, p99: `${g.key}P99`, cpu: `${g.key}Cpu`, serverUs: `${g.key}ServerUs` });

/** The server's CPU time per request under generator `key` in one round, in µs. */
const serverUsOf = (x, key) => {
  const gen = x.gen[key];
  return gen?.serverCpu != null && gen.rps ? (gen.serverCpu * 1e6) / gen.rps : null;
};

export function summarize(results, generators) {
  return results.map((r) => {
    const m = (f) => median(r.rounds.map(f));
    // The server's CPU time per request (its CPU share over the first generator's req/s): steadier
    // than req/s on a shared machine, where another process can take the cores.
    const s = { ...r, serverCpu: m((x) => x.serverCpu), rss: m((x) => x.rss) };
    generators.forEach((g, i) => {
      const f = fieldsOf(g, i);
      s[f.serverUs] = m((x) => serverUsOf(x, g.key));
      s[f.rps] = m((x) => x.gen[g.key]?.rps ?? null);
      s[f.ratio] = m((x) => x.ratio[g.key]);
      s[f.p99] = m((x) => x.gen[g.key]?.p99 ?? null);
      s[f.cpu] = m((x) => x.gen[g.key]?.cpu ?? null);
    });
    return s;
  });
}

/** Package versions for the report, from bench/node_modules. */
export function versions(packages, tools) {
  const v = {};
  for (const p of packages) {
    try {
      v[p] = JSON.parse(readFileSync(join(HERE, 'node_modules', p, 'package.json'), 'utf8')).version;
    } catch {
      v[p] = '?';
    }
  }
  v.xorigin = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')).version;
  const firstLine = (cmd) => execFileSync('sh', ['-c', `${cmd} 2>&1 | head -1; true`], { encoding: 'utf8' }).trim();
  for (const [name, cmd, clean] of tools) if (cmd) v[name] = clean(firstLine(cmd));
  return v;
}

/**
 * Writes RESULTS{suffix}.md, results{suffix}.json and chart{suffix}.svg into `out`.
 * `chartKey` is the generator whose ratios the chart draws; `peer(id)` says which contenders are
 * the Node peers xorigin is compared with; `intro` and `extra` are Markdown lines before the
 * tables and after them.
 */
export function writeReport({ out, suffix, title, command, npmScript, started, meta, scenarios, contenders, generators, summary, rounds, chartKey, chartTitle, peer, intro = [], extra = [] }) {
  const label = (id) => contenders.find((c) => c.id === id).label;
  const lines = [];
  lines.push(`# ${title}`, '');
  lines.push(`Produced by \`${npmScript}\` (\`${command}\`) on ${new Date().toISOString().slice(0, 10)}, in ${Math.round((Date.now() - started) / 60000)} min.`, '');
  lines.push(`- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`);
  lines.push(`- Node ${process.version}; ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(...intro);
  const [first, ...others] = generators;
  lines.push(`- **server µs/req** is the server process's CPU time per request: its CPU use while ${generators[0].name} ran, over ${generators[0].name}'s req/s (the warm-up counted at the same rate)${others.length ? `; likewise for ${others.map((g) => g.name).join(', ')} in its own columns` : ''}. Steadier than req/s when other processes share the machine.`);
  lines.push('- Before timing, each contender\'s answer is checked for the status, CORS headers and bytes a browser needs; one that answers differently is listed as not equivalent and not timed.', '');
  const head = `| contender | ${first.name} req/s | ratio | p99 ms | gen CPU | server CPU | server µs/req | RSS MB |${others.map((g) => ` ${g.name} req/s | ${g.name} ratio | ${g.name} p99 ms | ${g.name} CPU | ${g.name} server µs/req |`).join('')}`;
  const blank = ` | | | | | | |${others.map(() => ' | | | | |').join('')}`;
  const genCells = (r, g, i) => {
    const f = fieldsOf(g, i);
    const cpu = r[f.cpu];
    const sat = cpu !== null && cpu >= GEN_SATURATED ? ' ⚠' : '';
    return [fmt(r[f.rps]), fmt(r[f.ratio], 2), fmt(r[f.p99], g.p99Digits), `${fmt(cpu === null ? null : cpu * 100)}%${sat}`, fmt(r[f.serverUs], 1)];
  };
  for (const scenario of scenarios) {
    lines.push(`## ${scenario.title}`, '');
    lines.push(`\`${scenario.method} ${scenario.path}\` with ${Object.entries(scenario.headers).map(([k, v]) => `\`${k}: ${v}\``).join(', ')}${scenario.etag ? ', `If-None-Match: <its ETag>`' : ''}.`, '');
    lines.push(head);
    lines.push(`|---|--:|--:|--:|--:|--:|--:|--:|${others.map(() => '--:|--:|--:|--:|--:|').join('')}`);
    const rows = summary.filter((r) => r.scenario === scenario.id).sort((a, b) => (b.rps ?? -1) - (a.rps ?? -1));
    for (const r of rows) {
      if (!r.equivalent) {
        lines.push(`| ${label(r.contender)} | not equivalent: ${r.diff.join('; ')}${blank}`);
        continue;
      }
      const [rps, ratio, p99, cpu, serverUs] = genCells(r, first, 0);
      const name = r.contender === 'xorigin' ? `**${label(r.contender)}**` : label(r.contender);
      lines.push(`| ${name} | ${rps} | ${ratio} | ${p99} | ${cpu} | ${fmt(r.serverCpu === null ? null : r.serverCpu * 100)}% | ${serverUs} | ${fmt(r.rss === null ? null : r.rss / 2 ** 20, 1)} |${others.map((g, i) => ` ${genCells(r, g, i + 1).join(' | ')} |`).join('')}`);
    }
    const xo = rows.find((r) => r.contender === 'xorigin');
    const peers = rows.filter((r) => r.equivalent && peer(r.contender) && r.rps !== null);
    if (xo?.rps && peers.length > 0) {
      // Same-round quotients: each round's xorigin figure over the peer's in that round, then the
      // median. Steadier than a quotient of medians taken from different rounds on a noisy machine.
      const vs = (p, key) => median(xo.rounds.map((m) => {
        const q = p.rounds.find((x) => x.round === m.round);
        return q && m.gen[key]?.rps && q.gen[key]?.rps ? m.gen[key].rps / q.gen[key].rps : null;
      }));
      const main = generators.find((g) => g.key === chartKey) ?? first;
      const rest = generators.filter((g) => g !== main);
      const margins = peers.map((p) => ({ p, main: vs(p, main.key), rest: rest.map((g) => vs(p, g.key)) })).sort((a, b) => a.main - b.main);
      lines.push('', `xorigin serve ÷ each Node peer (median of same-round quotients, ${main.name}${rest.length ? `; ${rest.map((g) => g.name).join(', ')} in brackets` : ''}): ${margins.map((x) => `${label(x.p.contender)} **${fmt(x.main, 2)}×**${x.rest.length ? ` (${x.rest.map((v) => `${fmt(v, 2)}×`).join(', ')})` : ''}`).join(', ')}.`);
      const lightest = peers.reduce((a, b) => (a.rss < b.rss ? a : b));
      lines.push('', `RSS: xorigin serve ${fmt(xo.rss / 2 ** 20, 1)} MB, the lightest Node peer (${label(lightest.contender)}) ${fmt(lightest.rss / 2 ** 20, 1)} MB.`);
    }
    lines.push('');
  }
  lines.push(...extra);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `RESULTS${suffix}.md`), `${lines.join('\n')}\n`);
  // Per-round figures are kept too, so every median and quotient above can be recomputed.
  const perRoundOf = (rs) => rs.map((m) => {
    const o = { round: m.round };
    generators.forEach((g, i) => {
      const f = fieldsOf(g, i);
      o[f.rps] = m.gen[g.key]?.rps ?? null;
      o[f.serverUs] = serverUsOf(m, g.key);
    });
    o.rss = m.rss;
    generators.forEach((g, i) => {
      o[fieldsOf(g, i).ratio] = m.ratio[g.key];
    });
    return o;
  });
  writeFileSync(join(out, `results${suffix}.json`), JSON.stringify({ command, ...meta, summary: summary.map(({ rounds: rs, ...r }) => ({ ...r, rounds: perRoundOf(rs) })) }, null, 2));
  writeFileSync(join(out, `chart${suffix}.svg`), chart({ rows: summary, scenarios, contenders, generators, chartKey, chartTitle, rounds, ceiling: contenders[0].id }));
  console.error(`wrote RESULTS${suffix}.md, results${suffix}.json and chart${suffix}.svg in ${out}`);
}

/** Grouped horizontal bars: per scenario, each contender's ratio to the ceiling (`chartKey`'s generator when it has figures). */
export function chart({ rows, scenarios, contenders, generators, chartKey, chartTitle, rounds, ceiling }) {
  const index = generators.findIndex((g) => g.key === chartKey);
  const f = fieldsOf(generators[index] ?? generators[0], index < 0 ? 0 : index);
  const useKey = rows.some((r) => r[f.ratio] !== null && r[f.ratio] !== undefined);
  const fallback = fieldsOf(generators[0], 0);
  const value = (r) => (useKey ? r[f.ratio] : r[fallback.ratio]) ?? null;
  const genName = useKey ? (generators[index] ?? generators[0]).name : generators[0].name;
  const ids = contenders.map((c) => c.id).filter((id) => id !== ceiling);
  const label = (id) => contenders.find((c) => c.id === id).label;
  const colors = { xorigin: '#d9480f', 'xorigin-disk': '#e8590c', 'xorigin-handle': '#f08c00', 'cors-sirv': '#1971c2', express: '#5c7cfa', fastify: '#2f9e44', hono: '#ae3ec9', nginx: '#495057', 'sirv-cli': '#1971c2', 'bare-compat': '#868e96' };
  const barH = 11;
  const groupH = ids.length * barH + 26;
  const left = 250;
  const width = 760;
  const plotW = width - left - 60;
  const max = Math.max(1, ...rows.map((r) => value(r) ?? 0));
  const height = 60 + scenarios.length * groupH + 20;
  const out = [text(10, 20, `${chartTitle} (${genName}, median of ${rounds} rounds; longer is faster)`, { 'font-size': 12, 'font-weight': 'bold' })];
  const x1 = left + plotW / max;
  out.push(line(x1, 30, x1, height - 10, { stroke: '#999', 'stroke-dasharray': '3,3' }) + text(x1 + 3, 40, '1.0 = bare', { fill: '#666' }));
  scenarios.forEach((s, gi) => {
    const y0 = 50 + gi * groupH;
    out.push(text(10, y0 + 12, s.title, { 'font-weight': 'bold' }));
    ids.forEach((id, i) => {
      const r = rows.find((x) => x.scenario === s.id && x.contender === id);
      const y = y0 + 18 + i * barH;
      out.push(text(left - 6, y + 9, label(id), { 'text-anchor': 'end' }));
      if (r === undefined || !r.equivalent || value(r) === null) {
        out.push(text(left + 4, y + 9, r && !r.equivalent ? 'not equivalent' : 'no figure', { fill: '#c92a2a' }));
        return;
      }
      const w = (value(r) / max) * plotW;
      out.push(rect(left, y + 1, w.toFixed(1), barH - 2, colors[id] ?? '#868e96') + text(left + w + 4, y + 9, value(r).toFixed(2)));
    });
  });
  return svgDocument(width, height, out);
}

/**
 * A response stub for calling the engine's node:http face without a server (bench/alloc.js,
 * bench/engine-micro.js): every method a no-op that allocates nothing, on a prototype as node:http's
 * are (handle() makes writeHead the response's own until the head is sent: see cors/node.ts keepVary);
 * writeHead keeps what it was given, so the call cannot be optimised away.
 */
export class ResponseStub {
  lastStatus = 0;
  lastHeaders = null;
  headersSent = false;
  writeHead(status, headers) {
    this.lastStatus = status;
    this.lastHeaders = headers;
    return this;
  }
  end() {}
  setHeader() {}
  hasHeader() {
    return false;
  }
  getHeader() {
    return undefined;
  }
}
