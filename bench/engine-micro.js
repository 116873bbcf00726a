// The engine's per-call cost on the request-header paths the README quotes (its "Inside the engine"
// and "Bounded work per request"): ns per call, median of --rounds rounds, each over fresh strings
// made from a Buffer as Node's HTTP parser makes them (V8 has no cached hash for them), 1,000 at a
// time just before they are used (10 at a time for the long lists), so they are in the CPU's caches
// as a request's fields are just after parsing. --calls (a multiple of 100,000) per round.
//
//   node bench/engine-micro.js [--rounds 5] [--calls 1000000] [--dist DIR]
//
// Rows:
// - `handle`: Cors#handle (the node:http face, `createCors` from dist/index.js) on an exact-origin
//   preflight asking for `content-type` alone; origin, method and header list all fresh strings.
// - `allowsList`: HeaderNameSet#allowsList alone (an internal module, dist/cors/request-headers.js:
//   the published API has no way to call it alone) for the allowed names content-type,
//   x-requested-with, range, on three spellings of one list.
// - Long lists (--calls / 100 calls a round, each list a fresh ~4 KiB string): 40 allowed names of
//   one length sharing 25 characters (bench/alloc.js's rows of the same names) asked for all 40, and
//   128 elements naming the last in uppercase; 256 allowed names of 1,018 characters crafted to share
//   one hash under the multiplier 31 ('a~' and 'b_' pairs), the list naming the last in uppercase as
//   often as 4 KiB holds (4 elements), beside 256 names of the same length and shape not crafted;
//   an actual GET from a new 16,000-character Origin against 9 exact origins.
//   HeaderNameSet picks a multiplier at start-up under which no two allowed names share a hash; the
//   row says which it picked.
// --dist DIR runs the same against another build's dist/ (a build of an older commit), if that build
// has the same modules. Runs itself again pinned to core 1 by taskset when there is one, with
// --expose-gc (a collection before each timed loop).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { refuse, scriptArgs, wholeNumber } from './args.js';
import { median, PROJECT, ResponseStub, TASKSET } from './lib.js';

const { values } = scriptArgs({
  rounds: { type: 'string', default: '5' },
  calls: { type: 'string', default: '1000000' },
  dist: { type: 'string' },
});
const ROUNDS = wholeNumber(values.rounds, '--rounds');
const CALLS = wholeNumber(values.calls, '--calls', 100_000);
if (CALLS % 100_000 !== 0) refuse(`--calls: ${CALLS} is not a multiple of 100,000 (a round runs in batches of 1,000, long lists 10 at a time)`);

if (process.env.XORIGIN_ENGINE_MICRO_CHILD !== '1') {
  const args = ['--expose-gc', process.argv[1], ...process.argv.slice(2)];
  const [cmd, cmdArgs] = TASKSET ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: { ...process.env, XORIGIN_ENGINE_MICRO_CHILD: '1', XORIGIN_ENGINE_MICRO_PINNED: TASKSET ? '1' : '0' } });
  process.exit(r.status ?? 1);
}

const dist = pathToFileURL(resolve(values.dist ?? `${PROJECT}/dist`)).href;
const { createCors } = await import(`${dist}/index.js`);
const { HeaderNameSet } = await import(`${dist}/cors/request-headers.js`);

/** `n` fresh copies of `text`: each its own string, decoded from a Buffer as node:http's are. */
function fresh(text, n) {
  const buf = Buffer.from(text, 'latin1');
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.latin1Slice(0, buf.length);
  return out;
}

const ORIGIN = 'https://app.example.com';
const quiet = (what) => {
  throw new Error(`${what}: the case did not give the expected answer`);
};

/**
 * Cases: [label, calls a round, make(count) → inputs, run(inputs) → answers counted, batch]. A round
 * makes its fresh inputs `batch` at a time and times only run() on them: made just before, they are
 * in the CPU's caches, as a request's fields are just after Node parsed them (a round's million
 * requests made at once, ~200 MB, measured the memory's bandwidth: 90-120 ns a call, not 30-40).
 */
const BATCH = 1000;
const cases = [];

// handle: an exact-origin preflight asking for content-type alone.
{
  const cors = createCors({ origins: [ORIGIN], methods: ['PUT', 'DELETE'], allowedHeaders: ['content-type', 'x-requested-with', 'range'], maxAge: 600 });
  const res = new ResponseStub();
  const make = (n) => {
    const origins = fresh(ORIGIN, n);
    const methods = fresh('PUT', n);
    const lists = fresh('content-type', n);
    const reqs = new Array(n);
    for (let i = 0; i < n; i++) reqs[i] = { method: 'OPTIONS', headers: { origin: origins[i], 'access-control-request-method': methods[i], 'access-control-request-headers': lists[i] } };
    return reqs;
  };
  const run = (reqs) => {
    let answered = 0;
    for (let i = 0; i < reqs.length; i++) if (cors.handle(reqs[i], res)) answered++;
    return answered;
  };
  cases.push(['handle: exact-origin preflight, content-type', CALLS, make, run, BATCH]);
}

// allowsList alone.
{
  const set = new HeaderNameSet(['content-type', 'x-requested-with', 'range'], false);
  const run = (lists) => {
    let allowed = 0;
    for (let i = 0; i < lists.length; i++) if (set.allowsList(lists[i])) allowed++;
    return allowed;
  };
  for (const list of ['content-type,x-requested-with', 'content-type, x-requested-with', 'Content-Type,X-Requested-With']) {
    cases.push([`allowsList: ${list}`, CALLS, (n) => fresh(list, n), run, BATCH]);
  }
}

// Long lists, through handle as a preflight.
function preflightCase(label, allowedHeaders, list) {
  const cors = createCors({ origins: [ORIGIN], methods: ['PUT'], allowedHeaders });
  const res = new ResponseStub();
  const n = Math.floor(CALLS / 100);
  const make = (count) => {
    const lists = fresh(list, count);
    return lists.map((l) => ({ method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': l } }));
  };
  const run = (reqs) => {
    let answered = 0;
    for (let i = 0; i < reqs.length; i++) if (cors.handle(reqs[i], res)) answered++;
    return answered;
  };
  cases.push([label, n, make, run, Math.max(1, BATCH / 100)]);
}
const flagNames = Array.from({ length: 40 }, (_, i) => `x-acme-tenant-feature-flag-${String(i).padStart(4, '0')}`);
preflightCase('40 same-length names, a browser asks for all 40', ['content-type', ...flagNames], flagNames.join(','));
preflightCase('40 same-length names, 128 elements in uppercase', ['content-type', ...flagNames], Array(128).fill(flagNames[39].toUpperCase()).join(','));

// 'a~' and 'b_' share one polynomial hash under 31 (97 * 31 + 126 = 98 * 31 + 95): 256 names made of
// 8 such pairs all collide there (test/request-headers.test.js makes the same names, shorter).
const crafted = Array.from({ length: 256 }, (_, m) => {
  let name = `x-${'p'.repeat(1000)}`;
  for (let b = 7; b >= 0; b--) name += (m >> b) & 1 ? 'b_' : 'a~';
  return name;
});
// The same length and shape, not crafted: 8 pairs of letters that share no hash under 31.
const plain = Array.from({ length: 256 }, (_, m) => {
  let name = `x-${'p'.repeat(1000)}`;
  for (let b = 7; b >= 0; b--) name += (m >> b) & 1 ? 'bq' : 'ar';
  return name;
});
const fourOf = (name) => Array(Math.floor(4097 / (name.length + 1))).fill(name.toUpperCase()).join(',');
// (A build before 2026-12-03's e2eb8a9 has no `multiplier`: it hashed under 31 always.)
const multiplierOf = (names) => new HeaderNameSet(names, false).multiplier ?? 'none, 31 always in this build';
preflightCase(`256 names sharing a hash under 31 (multiplier picked: ${multiplierOf(crafted)}), 4 elements naming the last`, crafted, fourOf(crafted[255]));
preflightCase(`256 names of that shape not crafted (multiplier picked: ${multiplierOf(plain)}), 4 elements naming the last`, plain, fourOf(plain[255]));

// A new 16,000-character Origin on an actual GET, policy of 9 exact origins (a Map: V8 hashes the whole string
// for a lookup; one longer than every exact origin is not looked up).
{
  const nine = Array.from({ length: 9 }, (_, i) => `https://app${i}.example.com`);
  const cors = createCors({ origins: nine });
  const res = new ResponseStub();
  const long = `https://${'a'.repeat(16_000 - 'https://'.length - '.example.com'.length)}.example.com`;
  const make = (count) => fresh(long, count).map((origin) => ({ method: 'GET', headers: { origin } }));
  const run = (reqs) => {
    let refused = 0;
    for (let i = 0; i < reqs.length; i++) if (!cors.handle(reqs[i], res)) refused++;
    return refused;
  };
  cases.push(['actual GET, a new 16,000-character Origin, 9 exact origins (refused)', Math.floor(CALLS / 100), make, run, Math.max(1, BATCH / 100)]);
}

const tick = () => new Promise((r) => setTimeout(r, 10));
console.log(`# engine micro-benchmark: ns per call, median of ${ROUNDS} rounds (${CALLS.toLocaleString('en')} fresh strings a round, made 1,000 at a time; long lists ${Math.floor(CALLS / 100).toLocaleString('en')}, 10 at a time)`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}, dist ${values.dist ?? 'dist/'}${process.env.XORIGIN_ENGINE_MICRO_PINNED === '1' ? ', pinned to core 1' : ', not pinned (no taskset, or one core)'}\n`);
console.log('| case | calls a round | ns per call (median) | rounds |');
console.log('|---|---:|---:|---|');
for (const [label, n, make, run, batch] of cases) {
  for (let done = 0; done < n / 5; done += batch) run(make(batch)); // warm up (a fifth of a round, as bench/alloc.js): let the JIT settle
  const ns = [];
  for (let round = 0; round < ROUNDS; round++) {
    globalThis.gc?.();
    await tick();
    let elapsed = 0n;
    for (let done = 0; done < n; done += batch) {
      const inputs = make(batch);
      const t0 = process.hrtime.bigint();
      const answered = run(inputs);
      elapsed += process.hrtime.bigint() - t0;
      if (answered !== batch) quiet(label);
    }
    ns.push(Number(elapsed) / n);
  }
  const m = median(ns);
  const show = (x) => (x >= 10_000 ? x.toLocaleString('en', { maximumFractionDigits: 0 }) : x.toFixed(1));
  console.log(`| ${label} | ${n.toLocaleString('en')} | ${show(m)} | ${ns.map(show).join(' / ')} |`);
}
