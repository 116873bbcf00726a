// Allocation benchmark: heap bytes and GC runs per CORS decision, against a bare baseline.
//
//   npm run bench:alloc        (node --expose-gc bench/alloc.js [decisions])
//
// Each outcome runs N decisions through Cors#handle (then, for a request it does not answer, the
// application's writeHead and end) with a request and a response stub whose methods do nothing, so everything measured is the engine's own code. The baseline is the
// least any handler does: one writeHead with a constant array and one end(). Node's own work on
// a real response (header validation, the socket write) is deliberately outside this measurement;
// autocannon benchmarks (issue 4) cover the whole path.
import { PerformanceObserver } from 'node:perf_hooks';
import { createCors } from '../dist/index.js';
import { scriptArgs, wholeNumber } from './args.js';
import { ResponseStub } from './lib.js';

const N = wholeNumber(scriptArgs({}, 1).positionals[0] ?? '1000000', 'decisions per outcome');
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:alloc does)');
  process.exit(2);
}

let gcRuns = 0;
new PerformanceObserver((list) => {
  gcRuns += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

// One per outcome (see the loop below).
let res = new ResponseStub();

function req(method, headers) {
  return { method, headers };
}

const ORIGIN = 'https://app.example.com';
const small = createCors({
  origins: [ORIGIN, 'https://*.example.org', 'http://localhost:*'],
  methods: ['PUT', 'DELETE'],
  allowedHeaders: ['content-type', 'x-requested-with', 'range'],
  exposedHeaders: ['x-request-id'],
  maxAge: 600,
});
const many = createCors({
  origins: [
    ...Array.from({ length: 999 }, (_, i) => `https://app${i}.customer${i % 37}.example.org`),
    'https://*.tenant.example.net',
  ],
  methods: ['PUT'],
  allowedHeaders: ['content-type'],
});
const credentialed = createCors({ origins: [ORIGIN], credentials: true, methods: ['*'], allowedHeaders: ['*'] });
// 40 allowed names of one length sharing 25 characters (one application's feature-flag headers).
const flagNames = Array.from({ length: 40 }, (_, i) => `x-acme-tenant-feature-flag-${String(i).padStart(4, '0')}`);
const flags = createCors({ origins: [ORIGIN], methods: ['PUT'], allowedHeaders: ['content-type', ...flagNames] });
const any = createCors({ origins: ['*'], methods: ['PUT'], allowedHeaders: ['content-type'] });

const preflight = (origin, acrh = 'content-type') =>
  req('OPTIONS', { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': acrh });

const outcomes = [
  ['baseline: writeHead(const) + end()', null, req('GET', {})],
  ['control: allocates one object per decision', 'control', req('GET', {})],
  ['preflight allowed (exact)', small, preflight(ORIGIN, 'content-type, x-requested-with')],
  ['preflight denied (origin)', small, preflight('https://evil.com')],
  ['preflight denied (header)', small, preflight(ORIGIN, 'content-type, x-evil')],
  ['preflight allowed (wildcard match)', small, preflight('https://a.b.example.org')],
  ['preflight allowed (credentials, echo)', credentialed, preflight(ORIGIN, 'x-one, x-two')],
  ['preflight allowed ("*" policy)', any, preflight('https://anyone.test')],
  ['actual allowed', small, req('GET', { origin: ORIGIN })],
  ['actual denied', small, req('GET', { origin: 'https://evil.com' })],
  ['actual, wildcard match', small, req('GET', { origin: 'https://cdn.example.org' })],
  ['non-CORS (no Origin)', small, req('GET', {})],
  ['1,000-origin policy, preflight exact', many, preflight('https://app998.customer36.example.org')],
  ['1,000-origin policy, preflight pattern', many, preflight('https://shop.tenant.example.net')],
  ['1,000-origin policy, actual denied', many, req('GET', { origin: 'https://app998.customer35.example.org' })],
  // Long lists: a hundredth of the decisions each, so the run stays short.
  ['40 same-length names, a browser asks for all 40', flags, preflight(ORIGIN, flagNames.join(',')), 100],
  ['40 same-length names, 128 elements in uppercase', flags, preflight(ORIGIN, Array(128).fill(flagNames[39].toUpperCase()).join(',')), 100],
];

const BASE_BLOCK = ['Content-Length', '0'];
let sink = null;
function run(cors, r, n) {
  if (cors === 'control') {
    // Allocates one small object per decision on purpose: proves the measurement sees allocation.
    for (let i = 0; i < n; i++) sink = { i, r };
  } else if (cors === null) {
    for (let i = 0; i < n; i++) {
      res.writeHead(204, BASE_BLOCK);
      res.end();
    }
  } else {
    // What the application does after handle() returns false: its own head and end.
    for (let i = 0; i < n; i++) {
      if (cors.handle(r, res)) continue;
      res.writeHead(200);
      res.end();
    }
  }
}

// GC observer entries are delivered asynchronously: yield before reading the counter.
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

async function measure(cors, r, n) {
  run(cors, r, Math.ceil(n / 5)); // warm up: let the JIT settle before counting
  globalThis.gc();
  globalThis.gc();
  await tick(); // deliver the forced collections' entries before counting starts
  const gcBefore = gcRuns;
  const before = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  run(cors, r, n);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const after = process.memoryUsage().heapUsed;
  await tick();
  // A collection during the run frees memory, so heap growth alone would understate allocation;
  // the GC count is the decisive figure.
  return { bytes: (after - before) / n, gcs: gcRuns - gcBefore, ns };
}

console.log(`# CORS decisions: heap growth and GC runs, ${N.toLocaleString('en')} decisions per outcome`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
console.log('| outcome | heap bytes / decision | GC runs | ns / decision |');
console.log('|---|---:|---:|---:|');
let worst = 0;
for (const [name, cors, r, fewer = 1] of outcomes) {
  // A fresh response per outcome, as node:http's are per request: handle() makes writeHead an actual
  // response's own (cors/node.ts keepVary), and carried over, an actual outcome's writeHead ran under
  // the next outcomes' preflights (1,500 ns and 300 GC runs per million there, none of it xorigin's
  // cost on a real response).
  res = new ResponseStub();
  const m = await measure(cors, r, Math.ceil(N / fewer));
  if (cors !== 'control') worst = Math.max(worst, m.bytes);
  const runs = fewer === 1 ? '' : ` (${Math.ceil(N / fewer).toLocaleString('en')} decisions)`;
  console.log(`| ${name}${runs} | ${m.bytes.toFixed(3)} | ${m.gcs} | ${m.ns.toFixed(1)} |`);
}
console.log(`\nworst heap growth among engine outcomes: ${worst.toFixed(3)} bytes per decision`);
if (sink === null) console.log('(control did not run)');
