// Behind a shared cache: a real nginx proxy_cache, configured with the snippet of README's "Behind a CDN"
// (read from the README, so the page and the test cannot drift), in front of two xorigin CLI processes
// serving copies of one tree from two directories (other inodes, other mtimes), load-balanced round-robin.
// Whatever copy the cache hands out, each origin must see `*` or itself, never another origin's answer;
// 304s and ranges must stay right; the replicas' ETags must agree so revalidation gets 304s. The
// cache status of every request is read from the X-Cache-Status header and the access log, and hits
// are asserted: a cache that never hits would prove nothing.
//
// Needs nginx (apt-get install -y nginx-light, or NGINX_PATH=/path/to/nginx). Without it these tests are
// skipped, unless XORIGIN_BROWSER_TESTS=required (set by .ci/run, which installs nginx-light), which
// makes it a failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { freePort, request } from './helpers.js';

const NGINX = process.env.NGINX_PATH ?? ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const REQUIRED = process.env.XORIGIN_BROWSER_TESTS === 'required';

let skip = false;
if (NGINX === undefined || !existsSync(NGINX)) {
  if (REQUIRED) throw new Error('XORIGIN_BROWSER_TESTS=required but no nginx found: apt-get install -y nginx-light, or set NGINX_PATH');
  skip = 'no nginx: apt-get install -y nginx-light (or set NGINX_PATH) to run the shared-cache tests';
}

const A = 'https://a.example';
const B = 'https://b.example';
const EVIL = 'https://evil.example';
/** The requesting origins: two allowed, one not, and none at all (a same-origin or non-browser client). */
const ORIGINS = [A, B, EVIL, undefined];
const ALLOW_LIST = ['--origin', A, '--origin', B];
const STAR = ['--origin', '*'];

/** The README's nginx snippet, with its placeholders swapped for this run's paths and ports. */
function readmeSnippet({ dir, port, upstreams }) {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('### Behind a CDN'));
  const m = /```nginx\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README "Behind a CDN" has an nginx snippet');
  let conf = m[1];
  const swap = (from, to) => {
    assert.equal(conf.split(from).length, 2, `the README snippet has "${from}" exactly once`);
    conf = conf.replace(from, to);
  };
  swap('/var/cache/nginx/xorigin', join(dir, 'cache'));
  swap('/var/log/nginx/xorigin-cache.log', join(dir, 'access.log'));
  swap('server 127.0.0.1:8081;', `server 127.0.0.1:${upstreams[0]};`);
  swap('server 127.0.0.1:8082;', `server 127.0.0.1:${upstreams[1]};`);
  swap('listen 80;', `listen 127.0.0.1:${port};`);
  return conf;
}

/**
 * Resolves true once nginx has bound its port: it writes its pid file only after opening its listening
 * sockets (a connect could reach whoever else took the port). Resolves false if it exited because
 * the port was taken meanwhile (it was free when picked: the caller picks another); rejects on any
 * other exit, or after `ms`.
 */
async function nginxListening(nginx, pidFile, stderr, ms = 10_000) {
  const end = Date.now() + ms;
  while (!existsSync(pidFile)) {
    if (nginx.exitCode !== null) {
      if (/Address already in use/.test(stderr())) return false;
      throw new Error(`nginx exited with ${nginx.exitCode} before listening: ${stderr()}`);
    }
    if (Date.now() > end) throw new Error(`nginx not listening after ${ms} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

/** Every process started here, killed in after() even when a start-up failed half-way. */
const children = [];

/** One xorigin replica: the CLI, as a user runs it. Resolves { port, child }. */
async function startReplica(root, flags) {
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', root, '--port', '0', '--etag-cache', 'off', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`xorigin did not start in 10 s: ${err}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`xorigin exited (${code}): ${err}`));
    });
  });
  child.removeAllListeners('exit');
  return { port, child };
}

const SMALL = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 13) % 256));
// Past the size xorigin keeps in memory: served from disk, so ranges of it take the streaming path.
const BIG = Buffer.from(Array.from({ length: 600 * 1024 }, (_, i) => (i * 7 + (i >> 9)) % 256));
const CSS = Buffer.from('@font-face { font-family: "x"; src: url(/fonts/small.woff2); }\n'.repeat(30));
const FILES = { '/fonts/small.woff2': SMALL, '/fonts/big.ttf': BIG, '/app.css': CSS };
// Files whose first request through the cache is a Range or a conditional one (the miss path).
const RANGED_FIRST = '/fonts/ranged-first.ttf';
const CONDITIONAL_FIRST = '/fonts/conditional-first.woff2';
const EXTRA = { [RANGED_FIRST]: BIG, [CONDITIONAL_FIRST]: SMALL };

/** The tree, written once and copied into one directory per replica, each copy with its own mtimes. */
function makeTrees(base) {
  const src = join(base, 'src');
  mkdirSync(join(src, 'fonts'), { recursive: true });
  for (const [path, bytes] of Object.entries({ ...FILES, ...EXTRA })) writeFileSync(join(src, path), bytes);
  writeFileSync(join(src, 'app.css.gz'), gzipSync(CSS));
  const roots = [];
  for (const [i, when] of [new Date('2026-01-01T00:00:00Z'), new Date('2026-02-01T00:00:00Z')].entries()) {
    const root = join(base, `replica-${i + 1}`);
    cpSync(src, root, { recursive: true });
    for (const path of [...Object.keys(FILES), ...Object.keys(EXTRA), '/app.css.gz']) utimesSync(join(root, path), when, when);
    roots.push(root);
  }
  return roots;
}

/**
 * Two replicas and nginx in front of them. `get(path, origin, headers)` goes through the cache;
 * `log()` reads the access log as { status, cache, upstream, origin, request } rows.
 */
async function startStack(base, name, flags) {
  const dir = join(base, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const roots = makeTrees(dir);
  const replicas = [];
  for (const root of roots) replicas.push(await startReplica(root, flags));
  // nginx cannot listen on port 0 and say which it got: a free port is picked, and picked again if
  // another process took it before nginx bound it.
  let port;
  let nginx;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const conf = `
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${readmeSnippet({ dir, port, upstreams: replicas.map((r) => r.port) })}
}
`;
    writeFileSync(join(dir, 'nginx.conf'), conf);
    rmSync(join(dir, 'nginx.pid'), { force: true });
    let nginxErr = '';
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(nginx);
    nginx.stderr.on('data', (d) => (nginxErr += d));
    if (await nginxListening(nginx, join(dir, 'nginx.pid'), () => nginxErr)) break;
    assert.ok(attempt < 5, `nginx found ${attempt} free ports taken before it could bind them: ${nginxErr}`);
  }
  const stack = {
    replicas,
    nginx,
    get: (path, origin, headers = {}, method = 'GET') =>
      request(port, { method, path, headers: { ...(origin === undefined ? {} : { origin }), ...headers } }),
    log: () =>
      readFileSync(join(dir, 'access.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const m = /^(\d+) (\S+) (\S+) "([^"]*)" "([^"]*)"$/.exec(line);
          assert.ok(m, `access log line: ${line}`);
          return { status: Number(m[1]), cache: m[2], upstream: m[3], origin: m[4], request: m[5] };
        }),
  };
  return stack;
}

/** The Access-Control-Allow-Origin each requester must get: under `*` always `*`, else itself or none. */
function expectedAcao(policy, origin) {
  if (policy === 'star') return '*';
  return origin === A || origin === B ? origin : undefined;
}

function checkCors(policy, origin, res, what) {
  assert.equal(res.headers['access-control-allow-origin'], expectedAcao(policy, origin), `${what}, Origin ${origin ?? '(none)'}: Access-Control-Allow-Origin`);
  const vary = (res.headers.vary ?? '').toLowerCase().split(/\s*,\s*/);
  // Under an allow-list, the cache needs Vary: Origin on every response, or one copy would serve all.
  assert.equal(vary.includes('origin'), policy === 'allow-list', `${what}, Origin ${origin ?? '(none)'}: Vary ${res.headers.vary}`);
}

/** Waits until the access log holds `n` lines (nginx writes each after its response). */
async function logOf(stack, n) {
  const end = Date.now() + 5000;
  for (;;) {
    const rows = stack.log();
    if (rows.length >= n || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('behind a shared cache (nginx proxy_cache, two replicas)', { skip }, () => {
  let base;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'xorigin-cdn-'));
  });

  after(async () => {
    await Promise.all(children.map(stopChild));
    if (base !== undefined) rmSync(base, { recursive: true, force: true });
  });

  for (const [policy, flags] of [
    ['allow-list', ALLOW_LIST],
    ['star', STAR],
  ]) {
    test(`${policy}: every origin gets * or itself through the cache, 304s and ranges stay right, and the cache hits`, async (t) => {
      const stack = await startStack(base, policy, flags);
      let sent = 0;
      const statuses = [];
      const etags = new Map();
      const lastModified = new Map(); // per path and origin: what that requester was given

      // Asked directly, the replicas give one ETag and two Last-Modified dates: the copies differ in
      // everything but their bytes.
      const direct = await Promise.all(stack.replicas.map((r) => request(r.port, { path: CONDITIONAL_FIRST })));
      assert.equal(direct[0].headers.etag, direct[1].headers.etag, 'the replicas agree on the ETag');
      assert.notEqual(direct[0].headers['last-modified'], direct[1].headers['last-modified'], 'the copies have other mtimes');

      for (const origin of ORIGINS) {
        // A first request that is a Range: the cache fetches the whole file, then answers the range.
        const ranged = await stack.get(RANGED_FIRST, origin, { range: 'bytes=100-199' });
        sent++;
        assert.equal(ranged.status, 206, `first request a Range, from ${origin}`);
        assert.equal(ranged.headers['content-range'], `bytes 100-199/${BIG.length}`);
        assert.ok(ranged.body.equals(BIG.subarray(100, 200)));
        checkCors(policy, origin, ranged, 'first request a Range');
        // A first request that is conditional, with the tag one replica gave: whichever replica the
        // miss reaches, the answer is a 304.
        const conditional = await stack.get(CONDITIONAL_FIRST, origin, { 'if-none-match': direct[0].headers.etag });
        sent++;
        assert.equal(conditional.status, 304, `first request conditional, from ${origin}`);
        checkCors(policy, origin, conditional, 'first request conditional');
        // HEAD: the cache asks for a GET and answers the HEAD from it.
        const head = await stack.get(RANGED_FIRST, origin, {}, 'HEAD');
        sent++;
        assert.equal(head.status, 200, `HEAD from ${origin}`);
        assert.equal(head.body.length, 0);
        assert.equal(head.headers['content-length'], String(BIG.length));
        checkCors(policy, origin, head, 'HEAD');
      }

      // Three rounds over every file and every requester, the order of the requesters rotated each
      // round, so that each origin's first request meets a cache already filled by another's.
      for (let round = 0; round < 3; round++) {
        for (const path of Object.keys(FILES)) {
          for (let k = 0; k < ORIGINS.length; k++) {
            const origin = ORIGINS[(k + round) % ORIGINS.length];
            const res = await stack.get(path, origin);
            sent++;
            const what = `round ${round} GET ${path}`;
            assert.equal(res.status, 200, what);
            assert.ok(res.body.equals(FILES[path]), `${what}: the file's bytes`);
            checkCors(policy, origin, res, what);
            statuses.push(res.headers['x-cache-status']);
            if (!etags.has(path)) etags.set(path, new Set());
            etags.get(path).add(res.headers.etag);
            lastModified.set(`${path} ${origin}`, res.headers['last-modified']);
          }
        }
      }
      // Each origin variant (under `*`, each URL) misses once; everything after is served by the cache.
      const variants = Object.keys(FILES).length * (policy === 'star' ? 1 : ORIGINS.length);
      const hits = statuses.filter((s) => s === 'HIT').length;
      assert.equal(statuses.filter((s) => s === 'MISS').length, variants, `misses: ${statuses.join(' ')}`);
      assert.equal(hits, statuses.length - variants, `hits: ${statuses.join(' ')}`);

      // Both replicas served misses, and they gave one ETag per file: the tag is the content's.
      const rows = await logOf(stack, sent);
      const upstreams = new Set(rows.filter((r) => r.cache === 'MISS').map((r) => r.upstream));
      assert.deepEqual([...upstreams].sort(), stack.replicas.map((r) => `127.0.0.1:${r.port}`).sort(), 'misses went to both replicas');
      for (const [path, tags] of etags) assert.equal(tags.size, 1, `${path}: one ETag across replicas and variants: ${[...tags].join(' ')}`);

      for (const origin of ORIGINS) {
        const path = '/fonts/small.woff2';
        const [etag] = etags.get(path);
        // A browser revalidating its copy, through the cache: a 304 with its own CORS answer.
        const inm = await stack.get(path, origin, { 'if-none-match': etag });
        sent++;
        assert.equal(inm.status, 304, `If-None-Match from ${origin}`);
        assert.equal(inm.body.length, 0);
        assert.equal(inm.headers.etag, etag);
        checkCors(policy, origin, inm, 'If-None-Match');
        const ims = await stack.get(path, origin, { 'if-modified-since': lastModified.get(`${path} ${origin}`) });
        sent++;
        assert.equal(ims.status, 304, `If-Modified-Since from ${origin}`);
        checkCors(policy, origin, ims, 'If-Modified-Since');
        const stale = await stack.get(path, origin, { 'if-none-match': '"not-this-one"' });
        sent++;
        assert.equal(stale.status, 200, `a stale If-None-Match from ${origin}`);
        assert.ok(stale.body.equals(SMALL));
        checkCors(policy, origin, stale, 'stale If-None-Match');

        // Ranges of the streamed file, answered from the cached copy.
        const big = '/fonts/big.ttf';
        const [bigTag] = etags.get(big);
        const ranged = [
          [{ range: 'bytes=1000-1999' }, 206],
          [{ range: 'bytes=1000-1999', 'if-range': bigTag }, 206],
          [{ range: 'bytes=1000-1999', 'if-range': lastModified.get(`${big} ${origin}`) }, 206],
          [{ range: 'bytes=1000-1999', 'if-range': '"not-this-one"' }, 200],
        ];
        for (const [headers, status] of ranged) {
          const res = await stack.get(big, origin, headers);
          sent++;
          const what = `${JSON.stringify(headers)} from ${origin}`;
          assert.equal(res.status, status, what);
          if (status === 206) {
            assert.equal(res.headers['content-range'], `bytes 1000-1999/${BIG.length}`, what);
            assert.ok(res.body.equals(BIG.subarray(1000, 2000)), `${what}: the bytes of the range`);
          } else assert.ok(res.body.equals(BIG), `${what}: the whole file`);
          checkCors(policy, origin, res, what);
        }

        // The precompressed sibling: Vary carries Accept-Encoding too, and the two codings never mix.
        const gz = await stack.get('/app.css', origin, { 'accept-encoding': 'gzip' });
        sent++;
        assert.equal(gz.headers['content-encoding'], 'gzip', `gzip from ${origin}`);
        assert.ok(gunzipSync(gz.body).equals(CSS));
        checkCors(policy, origin, gz, 'gzip');
        const plain = await stack.get('/app.css', origin);
        sent++;
        assert.equal(plain.headers['content-encoding'], undefined, `identity from ${origin} after a gzip one`);
        assert.ok(plain.body.equals(CSS));

        // Preflights are never cached; through the proxy they are still each origin's own.
        const pre = await stack.get(path, origin, { 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' }, 'OPTIONS');
        sent++;
        if (origin === undefined) continue; // not a preflight without Origin
        const allowed = expectedAcao(policy, origin) !== undefined;
        assert.equal(pre.status, allowed ? 204 : 403, `preflight from ${origin}`);
        assert.equal(pre.headers['access-control-allow-origin'], expectedAcao(policy, origin), `preflight from ${origin}`);
      }

      const all = await logOf(stack, sent);
      const gets = all.filter((r) => !r.request.startsWith('OPTIONS'));
      const hit = gets.filter((r) => r.cache === 'HIT').length;
      t.diagnostic(`${policy}: ${hit} of ${gets.length} GET and HEAD requests served from the cache (${((100 * hit) / gets.length).toFixed(1)} %); ${gets.length - hit} went to a replica`);
      assert.ok(hit > 0);
    });
  }

  // An expired copy is revalidated upstream with the cached ETag; round-robin sends it to the other
  // replica than the one the copy came from, which must answer 304 (REVALIDATED), not a full 200.
  test('an expired copy is revalidated by the other replica with a 304, for an allow-list and for *', async () => {
    const pairs = [];
    for (const [policy, flags] of [
      ['allow-list', ALLOW_LIST],
      ['star', STAR],
    ]) {
      const stack = await startStack(base, `${policy}-expiring`, [...flags, '--cache-control', 'public, max-age=1']);
      const first = await stack.get('/fonts/small.woff2', A);
      assert.equal(first.headers['x-cache-status'], 'MISS');
      pairs.push({ policy, stack, first });
    }
    // max-age=1 in nginx's whole seconds: stale once two seconds have begun since it was stored.
    await new Promise((r) => setTimeout(r, 2100));
    for (const { policy, stack, first } of pairs) {
      const again = await stack.get('/fonts/small.woff2', A);
      assert.equal(again.status, 200);
      assert.ok(again.body.equals(SMALL));
      assert.equal(again.headers.etag, first.headers.etag);
      checkCors(policy, A, again, 'revalidated');
      assert.equal(again.headers['x-cache-status'], 'REVALIDATED', `${policy}: the expired copy was revalidated, not fetched again`);
      const [miss, revalidated] = await logOf(stack, 2);
      assert.notEqual(revalidated.upstream, miss.upstream, `${policy}: the other replica answered the revalidation`);
    }
  });
});
