// Instructions per request, counted by valgrind, for xorigin and the ceiling: a measure that does
// not move with the machine's load.
//
//   npm run bench:instructions   (node bench/instructions.js [--scenarios a,b] [--contenders a,b]
//                                 [--warm 40000] [--requests 20000] [--h2 | --https] [--functions N])
//
// Over cleartext HTTP/1.1, `--contenders bare,xorigin,cors-sirv,fastify` also counts the two closest
// Node peers of bench/run.js (never by default: each adds minutes).
//
// On a shared 2-core VM, req/s and even CPU time per request move by ±10% from one run to the
// next; a difference of 2% in xorigin's own code cannot be seen in them. Here each server runs
// under `valgrind --tool=callgrind` (Debian: apt-get install valgrind; h2load from nghttp2-client
// sends the requests: over HTTP/1.1, 8 connections; with --h2 over TLS + HTTP/2, 16 connections ×
// 8 streams, with --https HTTP/1.1 over TLS, 8 connections; both against the `stream.respond` ceiling of bench/run-h2.js and `xorigin serve --cert
// --key`): instruction counting starts after a warm-up, counts a fixed
// number of requests, and stops. The main thread's count (node's event loop: parsing, the handler,
// writing, and its share of GC) repeats within ~1.5% from run to run; all threads together also
// count V8's background compilation and GC helpers, which vary more. Reported per scenario:
// instructions per request on the main thread and in all threads, and the ceiling's main-thread
// count over each contender's (1.00 = as cheap as the ceiling). Instructions are not time (a cache
// miss costs more than an add), so bench/run.js stays the measure of speed: this one says whether
// a change to xorigin's code made a request cheaper, and where the cost is.
//
// --functions N also names where: each server runs with `node --perf-basic-prof` (V8 writes the
// names of its compiled JavaScript to /tmp/perf-<pid>.map, which turns callgrind's bare addresses
// into function names; see callgrind-functions.js), and per scenario the N functions whose own
// instructions per request (main thread, inlined callees included in their caller) differ most
// between xorigin and the ceiling are listed, both ways. V8 inlines differently from one run to the
// next, so read a node-internal row of a few hundred as noise; rows of xorigin's own functions, and
// V8 builtins that appear for one server only (a slow path), are what to look at. The counts in the
// table then include V8's writing of the map and its code log: compare them with runs made the same way.
//
// With --https or --h2, two scenarios count per TLS connection instead, only when named: tls-new and
// tls-resumed (`openssl s_time -new` / `-reuse`: one connection at a time, each a full or a resumed
// TLS 1.3 handshake and one HTTP/1.0 GET of the 1-byte file; 20 s of them as warm-up, then the
// connections made in 20 s counted). The handshake's cryptography, the same in both servers, is
// most of it: the difference is what xorigin adds to each connection. On the wall clock
// (bench/run-h2.js) the handshake figures move too much with the host to tell.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { largestDifferences, selfCosts } from './callgrind-functions.js';
import { benchArgs, cannedDifferences, HERE, makeFixture, median, node, pin, PROJECT, request, requestHeaders, SCENARIOS, startProcess, which, writeCanned, writesReplay } from './lib.js';

const run = promisify(execFile);
const opts = benchArgs({ warm: { type: 'string', default: '40000' }, requests: { type: 'string', default: '20000' }, h2: { type: 'boolean', default: false }, https: { type: 'boolean', default: false }, functions: { type: 'string' } });
const H2 = opts.args.h2;
// --https: HTTP/1.1 over TLS (no ALPN h2 offered by h2load --h1), against the same node:http2 ceiling.
const HTTPS1 = opts.args.https && !H2;
const TLS = H2 || HTTPS1;
const PROTO = H2 ? 'h2' : HTTPS1 ? 'https' : 'http';
const CLIENTS = H2 ? 16 : 8;
const WARM = Number(opts.args.warm);
const REQUESTS = Number(opts.args.requests);
const FUNCTIONS = opts.args.functions === undefined ? 0 : Number(opts.args.functions);
// Counted per connection, not per request (see above); xorigin's answer to get-1b is what the ceiling sends.
const CONNECTION_SECONDS = 20;
const CONNECTION_SCENARIOS = [
  { id: 'tls-new', title: 'TLS connection: full handshake + 1-byte GET (per connection)', mode: 'new', policy: 'small', answers: 'get-1b' },
  { id: 'tls-resumed', title: 'TLS connection: resumed (ticket) + 1-byte GET (per connection)', mode: 'reuse', policy: 'small', answers: 'get-1b' },
];
const SCENARIOS_HERE = TLS ? [...SCENARIOS, ...CONNECTION_SCENARIOS] : SCENARIOS;
const CONTENDERS = [
  TLS
    ? { id: 'bare', label: 'bare node:http2 stream.respond (ceiling)', args: [join(HERE, 'servers', 'bare-h2.js')] }
    : { id: 'bare', label: 'bare node:http (ceiling)', args: [join(HERE, 'servers', 'bare.js')] },
  { id: 'xorigin', label: 'xorigin serve', cli: true },
  ...(TLS
    ? []
    : [
        { id: 'xorigin-handle', label: 'node:http + xorigin handle + sirv', args: [join(HERE, 'servers', 'xorigin-handle.js')] },
        // The two closest Node peers of bench/run.js, for a comparison the host's load does not move;
        // counted only when named (--contenders bare,xorigin,cors-sirv,fastify), as each adds minutes.
        { id: 'cors-sirv', label: 'node:http + cors + sirv', args: [join(HERE, 'servers', 'cors-sirv.js')], peer: true },
        { id: 'fastify', label: 'fastify + @fastify/cors + static', args: [join(HERE, 'servers', 'fastify.js')], peer: true },
      ]),
];

function fail(message) {
  console.error(`bench/instructions.js: ${message}`);
  process.exit(2);
}

/**
 * Refuses, before anything starts, what would otherwise fail after minutes under valgrind or be
 * ignored without a word: counts h2load refuses, ids that pick nothing, the other benches' options.
 */
function checkArgs() {
  for (const [flag, n] of [['warm', WARM], ['requests', REQUESTS]]) {
    if (!Number.isInteger(n) || n < CLIENTS) fail(`--${flag} must be a whole number of at least ${CLIENTS} (h2load's connections), not ${JSON.stringify(opts.args[flag])}`);
  }
  if (opts.args.functions !== undefined && !(/^\d+$/.test(opts.args.functions) && FUNCTIONS >= 1)) fail(`--functions must be a whole number of at least 1 (rows per scenario), not ${JSON.stringify(opts.args.functions)}`);
  for (const [option, known] of [['scenarios', SCENARIOS_HERE], ['contenders', CONTENDERS]]) {
    if (opts.args[option] === undefined) continue;
    const asked = opts.args[option].split(',').filter((id) => id !== '');
    const ids = `known: ${known.map((x) => x.id).join(', ')}`;
    if (asked.length === 0) fail(`--${option}: ${JSON.stringify(opts.args[option])} names no id; give one or more, comma-separated, or leave the option out for all; ${ids}`);
    const unknown = asked.filter((id) => !known.some((x) => x.id === id));
    const tlsOnly = unknown.filter((id) => CONNECTION_SCENARIOS.some((c) => c.id === id));
    const hint = tlsOnly.length > 0 ? ` (${tlsOnly.join(', ')}: with --https or --h2 only)` : '';
    if (unknown.length > 0) fail(`--${option}: no ${unknown.join(', ')} here${hint}; ${ids}`);
  }
  // bench/lib.js's benchArgs accepts every bench's options; these belong to the timed benches.
  const foreign = ['rounds', 'duration', 'warmup', 'connections', 'no-wrk', 'out'].filter((o) => process.argv.some((a) => a === `--${o}` || a.startsWith(`--${o}=`)));
  if (foreign.length > 0) fail(`--${foreign.join(', --')} ${foreign.length > 1 ? 'are' : 'is'} not used here (the warm-up is --warm N requests; results go to stdout only)`);
  for (const tool of ['valgrind', 'callgrind_control', 'h2load', ...(TLS ? ['openssl'] : [])]) {
    if (which(tool) === null) fail(`needs ${tool} on the PATH (Debian: apt-get install valgrind nghttp2-client${TLS ? ' openssl' : ''})`);
  }
}

checkArgs();
const fixture = makeFixture({ tls: TLS });
// The 1 MB GET is left out by default: under valgrind it is mostly memcpy, the same in every server;
// the TLS connections too (a few minutes more).
const scenarios = opts.pick(SCENARIOS_HERE.filter((s) => opts.args.scenarios !== undefined || (s.id !== 'get-1mb' && s.mode === undefined)), 'scenarios');
const contenders = opts.args.contenders === undefined ? CONTENDERS.filter((c) => !c.peer) : opts.pick(CONTENDERS, 'contenders', ['bare']);

function serverArgs(c, scenario) {
  if (!c.cli) return c.args;
  const tls = TLS ? ['--cert', fixture.cert, '--key', fixture.key] : [];
  return [join(PROJECT, 'dist/cli/main.js'), 'serve', '--config', join(fixture.work, `xorigin-${scenario.policy}.json`), '--port', '0', '--etag-cache', 'off', ...tls];
}

/**
 * h2load over HTTP/1.1, 8 connections, one request at a time on each (no pipelining); with --h2,
 * 16 connections × 8 streams. Every one of the `n` answers must have the status class of `status`
 * (a refused preflight's 403 included).
 */
async function load(port, scenario, headers, n, status) {
  const h = [`:method: ${scenario.method}`, ...Object.entries(headers).map(([k, v]) => `${k.toLowerCase()}: ${v}`)];
  const shape = H2 ? ['-c16', '-m8'] : ['--h1', '-c8', '-m1'];
  const [cmd, args] = pin(1, which('h2load'), [...shape, '-n', String(n), ...h.flatMap((x) => ['-H', x]), `${TLS ? 'https' : 'http'}://127.0.0.1:${port}${scenario.path}`]);
  const { stdout } = await run(cmd, args, { maxBuffer: 1 << 20 });
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  if (codes === null || Number(codes[Math.floor(status / 100) - 1]) !== n) throw new Error(`h2load: not every one of ${n} answers was a ${Math.floor(status / 100)}xx, as xorigin's ${status} was:\n${stdout}`);
}

/**
 * `openssl s_time` for `seconds` (`mode`: new or reuse), one connection at a time; returns how many
 * it made. With reuse, at least 9 in 10 must have been resumed, or the count is of full handshakes.
 */
async function connections(port, mode, seconds) {
  const [cmd, args] = pin(1, which('openssl'), ['s_time', '-connect', `127.0.0.1:${port}`, `-${mode}`, '-www', '/one.txt', '-time', String(seconds)]);
  const { stdout } = await run(cmd, args, { maxBuffer: 1 << 22 });
  const made = Number(/(\d+) connections in [\d.]+s/.exec(stdout)?.[1] ?? 0);
  if (made === 0) throw new Error(`openssl s_time made no connection:\n${stdout.slice(0, 500)}`);
  const marks = (stdout.match(/^[*r]+$/gm) ?? []).join('');
  if (mode === 'reuse' && [...marks].filter((ch) => ch === 'r').length < 0.9 * marks.length) throw new Error(`openssl s_time -reuse: fewer than 9 in 10 connections resumed (${marks.slice(0, 80)}…)`);
  return made;
}

/** The requests (or, for tls-*, the connections) counted: warm-up, then counting on, the load, off, dumped. */
async function countedLoad(server, scenario, headers, status) {
  const vgdb = `--vgdb-prefix=${server.vgdbPrefix}`;
  const on = () => run('callgrind_control', [vgdb, '-i', 'on', String(server.pid)]);
  let n = REQUESTS;
  if (scenario.mode !== undefined) {
    await connections(server.port, scenario.mode, CONNECTION_SECONDS);
    await on();
    n = await connections(server.port, scenario.mode, CONNECTION_SECONDS);
  } else {
    await load(server.port, scenario, headers, WARM, status);
    await on();
    await load(server.port, scenario, headers, REQUESTS, status);
  }
  await run('callgrind_control', [vgdb, '-i', 'off', String(server.pid)]);
  await run('callgrind_control', [vgdb, '-d', String(server.pid)]);
  return n;
}

/** Main-thread and all-thread instructions per request (per connection for tls-*) for one contender on one scenario. */
async function count(c, scenario, canned, status) {
  const out = join(fixture.work, `callgrind-${c.id}-${scenario.id}`);
  // The perf map names the JIT code; V8 also writes a code-event log then, kept in the fixture.
  const names = FUNCTIONS > 0 ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(fixture.work, 'v8.log')}`] : [];
  // valgrind's gdbserver pipes go in the fixture (removed with it), not /tmp: the server is killed, so
  // valgrind never removes them itself.
  const vgdbPrefix = join(fixture.work, 'vgdb');
  const vg = ['--tool=callgrind', `--vgdb-prefix=${vgdbPrefix}`, '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}.%p`, node, ...names, ...serverArgs(c, scenario)];
  const env = { BENCH_ROOT: fixture.root, BENCH_POLICY: join(fixture.work, `policy-${scenario.policy}.json`), BENCH_CANNED: canned, BENCH_CERT: fixture.cert ?? '', BENCH_KEY: fixture.key ?? '' };
  const server = Object.assign(await startProcess(c.id, { cmd: pin(0, which('valgrind'), vg), env, readyTimeoutMs: 120_000 }), { vgdbPrefix });
  let n;
  try {
    const headers = scenario.mode === undefined ? await requestHeaders(server.port, scenario, PROTO) : {};
    // A peer answers in its own way (npm cors lets a refused preflight through as a 204 without
    // CORS headers, which a browser refuses all the same): every answer must be its own first one's.
    const first = scenario.mode === undefined ? await request(server.port, scenario, headers, PROTO) : null;
    // xorigin and the ceiling must write the same fields, or their counts compare unlike work.
    const unlike = first !== null && writesReplay(c.id) ? cannedDifferences(canned, first) : [];
    if (unlike.length > 0) throw new Error(`${c.id} on ${scenario.id} does not answer as the ceiling replays: ${unlike.join('; ')}`);
    const expected = c.peer && first !== null ? first.status : status;
    n = await countedLoad(server, scenario, headers, expected);
  } finally {
    await server.stop();
  }
  // One file per thread and dump: `<out>.<pid>.1-01` is the main thread's count of the dump above
  // (valgrind's thread 1 is the process's first thread: node's event loop). `<out>.<pid>`, empty, is
  // created at start-up and left so, as the server is killed rather than let exit.
  let main = null;
  let all = 0;
  let functions = null;
  const perfMap = `/tmp/perf-${server.pid}.map`;
  for (const f of readdirSync(fixture.work).filter((name) => name.startsWith(`callgrind-${c.id}-${scenario.id}.`))) {
    const totals = Number(/^totals: (\d+)/m.exec(readFileSync(join(fixture.work, f), 'utf8'))?.[1] ?? 0);
    all += totals;
    if (/\.1-01$/.test(f)) {
      main = totals;
      if (FUNCTIONS > 0) functions = perUnit(selfCosts(join(fixture.work, f), perfMap), n);
    }
    rmSync(join(fixture.work, f));
  }
  if (FUNCTIONS > 0) rmSync(perfMap, { force: true });
  // Without this the row would read 0 and the ratio Infinity (NaN for the ceiling), exit status 0.
  if (main === null || main === 0) throw new Error(`${c.id} on ${scenario.id}: callgrind wrote no main-thread count (no callgrind-*.1-01 file with totals in ${fixture.work}); did callgrind_control -d reach pid ${server.pid}?`);
  return { main: main / n, all: all / n, functions };
}

function perUnit(costs, n) {
  for (const [key, total] of costs) costs.set(key, total / n);
  return costs;
}

/** xorigin's answer to the scenario, captured for the ceiling to replay; then every contender counted. */
async function measure(scenario) {
  const x = await startProcess('xorigin', { cmd: pin(0, node, serverArgs({ cli: true }, scenario)) });
  const asked = scenario.answers === undefined ? scenario : SCENARIOS.find((s) => s.id === scenario.answers);
  let sample;
  try {
    sample = await request(x.port, asked, await requestHeaders(x.port, asked, PROTO), PROTO);
  } finally {
    await x.stop();
  }
  const canned = join(fixture.work, `canned-${scenario.id}.json`);
  writeCanned(canned, sample);
  const counts = {};
  for (const c of contenders) {
    counts[c.id] = await count(c, scenario, canned, sample.status);
    console.error(`  ${scenario.id} ${c.id}: ${Math.round(counts[c.id].main)} on the main thread, ${Math.round(counts[c.id].all)} in all`);
  }
  if (FUNCTIONS > 0 && counts.xorigin !== undefined) printFunctions(scenario, counts.xorigin.functions, counts.bare.functions);
  return contenders.map((c) => ({ scenario, c, ...counts[c.id], ratio: counts.bare.main / counts[c.id].main }));
}

/** The functions whose own instructions differ most between xorigin and the ceiling (stderr, as the progress lines). */
function printFunctions(scenario, x, bare) {
  const { more, less } = largestDifferences(x, bare, FUNCTIONS);
  const line = (r) => `    ${fmtSigned(r.diff).padStart(7)} ${fmt(r.x).padStart(7)} ${fmt(r.bare).padStart(7)}  ${r.key.slice(0, 110)}`;
  console.error(`  ${scenario.id}: own instructions per ${scenario.mode === undefined ? 'request' : 'connection'} by function (main thread): xorigin - ceiling, xorigin, ceiling`);
  for (const r of more) console.error(line(r));
  console.error('    ...');
  for (const r of less) console.error(line(r));
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

function fmtSigned(n) {
  return `${n > 0 ? '+' : ''}${fmt(n)}`;
}

const rows = [];
const perConnection = scenarios.some((s) => s.mode !== undefined);
const connectionNote = perConnection ? `; tls-*: ${CONNECTION_SECONDS} s of connections (openssl s_time) as warm-up, then those of ${CONNECTION_SECONDS} s counted` : '';
console.error(`bench/instructions.js: ${scenarios.length} scenarios × ${contenders.length} contenders, ${WARM} requests of warm-up then ${REQUESTS} counted${connectionNote}`);
try {
  for (const scenario of scenarios) rows.push(...(await measure(scenario)));
} finally {
  // A failed run (h2load's check, a server that did not start) would otherwise leave the fixture,
  // its 1 MB file and callgrind's files in the temporary directory.
  fixture.cleanUp();
}

console.log(`Instructions per request (valgrind callgrind, ${REQUESTS} requests after ${WARM} of warm-up; ${H2 ? 'HTTP/2 over TLS, h2load -c16 -m8' : HTTPS1 ? 'HTTP/1.1 over TLS, h2load --h1 -c8' : 'HTTP/1.1, h2load --h1 -c8'}${connectionNote})\n`);
console.log('| scenario | contender | main thread | all threads | ceiling ÷ contender (main) |');
console.log('|---|---|--:|--:|--:|');
for (const r of rows) console.log(`| ${r.scenario.title} | ${r.c.label} | ${fmt(r.main)} | ${fmt(r.all)} | ${r.ratio.toFixed(3)} |`);
const xo = rows.filter((r) => r.c.id === 'xorigin' && r.scenario.mode === undefined).map((r) => r.ratio);
if (xo.length > 0) console.log(`\nxorigin serve, median over scenarios: ${median(xo).toFixed(3)} of the ceiling's instructions per request.`);
for (const r of rows.filter((r) => r.c.id === 'xorigin' && r.scenario.mode !== undefined)) {
  const ceiling = rows.find((b) => b.c.id === 'bare' && b.scenario === r.scenario);
  if (ceiling !== undefined) console.log(`xorigin serve, ${r.scenario.id}: ${fmtSigned(r.main - ceiling.main)} instructions per connection on the main thread (${r.ratio.toFixed(3)} of the ceiling's).`);
}
