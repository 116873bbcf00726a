// Explain mode: why a policy refused a request, one sanitised line, never on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy } from '../dist/cors/index.js';
import { explainDenied, sanitize } from '../dist/cors/explain.js';
import { serve } from '../dist/index.js';
import { rawRequest } from './helpers.js';

const policy = compilePolicy({ origins: ['https://app.example', 'https://*.example.com'], methods: ['PUT', 'PATCH'], allowedHeaders: ['*'] });
const narrow = compilePolicy({ origins: ['https://app.example'], allowedHeaders: ['x-token'] });

test('sanitize: controls, C1, DEL, U+2028/9, quotes and backslashes escaped; long values cut', () => {
  assert.equal(sanitize('a\x00b\x1b[31mc\x7f\x85\u2028\u2029"\\'), 'a\\x00b\\x1b[31mc\\x7f\\x85\\u2028\\u2029\\"\\\\');
  assert.equal(sanitize('é and 日本'), 'é and 日本');
  // What terminalSafe escapes: an origin with a no-break space, a soft hyphen or a bidi override must not print like another.
  assert.equal(sanitize('https://a\u00a0.example\u00ad\u202e\u200b\tx'), 'https://a\\xa0.example\\xad\\u202e\\u200b\\x09x');
  const long = sanitize('x'.repeat(250));
  assert.equal(long, `${'x'.repeat(100)}...(150 more)`);
});

const cases = [
  [policy, { kind: 'preflight', origin: 'https://evil.example', method: 'PUT' }, 'origin', /origin "https:\/\/evil\.example": origin not in the policy \(origins: https:\/\/app\.example, https:\/\/\*\.example\.com\)/],
  [policy, { kind: 'preflight', origin: 'https://app.example', method: 'DELETE' }, 'method', /method "DELETE" not allowed \(methods: GET, HEAD, POST, PUT, PATCH\)$/],
  [policy, { kind: 'preflight', origin: 'https://app.example', method: 'patch' }, 'method', /the policy has "PATCH", methods compare case-sensitively/],
  [policy, { kind: 'preflight', origin: 'https://app.example', method: 'PUT', requestHeaders: 'x-token,authorization' }, 'header', /"\*" in allowedHeaders never covers it; list it too/],
  [narrow, { kind: 'preflight', origin: 'https://app.example', method: 'GET', requestHeaders: 'x-token,x-other' }, 'header', /request header "x-other" not allowed \(allowedHeaders: x-token\)/],
  [narrow, { kind: 'preflight', origin: 'https://app.example', method: 'GET', requestHeaders: 'a,'.repeat(200) }, 'header-list-bound', /201 elements, over the bound of 128/],
  [narrow, { kind: 'preflight', origin: 'https://app.example', method: 'GET', requestHeaders: 'x'.repeat(5000) }, 'header-list-bound', /5000 bytes, over the 4096-byte bound/],
  [narrow, { kind: 'preflight', origin: 'https://app.example', method: 'GET', requestHeaders: 'x-token; x' }, 'header-list-syntax', /not a list of header names/],
  [narrow, { kind: 'actual', origin: 'https://a.example', method: 'GET', target: '/x' }, 'origin', /^xorigin debug: no CORS headers for GET "\/x" from origin "https:\/\/a\.example": origin not in the policy/],
  [narrow, { kind: 'preflight', origin: 'https://app.example', method: 'GET' }, 'none', /allowed by the policy/],
];
for (const [p, req, reason, line] of cases) {
  test(`explainDenied: ${reason}: ${JSON.stringify(req).slice(0, 90)}`, () => {
    const e = explainDenied(p, req);
    assert.equal(e.reason, reason);
    assert.match(e.line, line);
    assert.equal(e.line.split('\n').length, 1);
  });
}

test('a hostile origin or header list stays one escaped, bounded line', () => {
  const e = explainDenied(narrow, { kind: 'preflight', origin: `https://x\r\nInjected: 1${'y'.repeat(300)}`, method: 'GET' });
  assert.doesNotMatch(e.line, /[\r\n\u2028]/);
  assert.match(e.line, /\\x0d\\x0aInjected/);
  assert.ok(e.line.length < 400, String(e.line.length));
});

const MTIME = new Date('2026-01-02T03:04:05Z');

async function server(options) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-explain-'));
  writeFileSync(join(root, 'a.txt'), 'hello');
  // One mtime for every server's copy: two copies written a moment apart can straddle a second and
  // give two Last-Modified dates, which the wire comparison below would take for a difference.
  utimesSync(join(root, 'a.txt'), MTIME, MTIME);
  const s = await serve({ root, cors: { origins: ['https://app.example'], methods: ['PUT'] }, ...options });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return { port: s.address().port, close: async () => { await s.shutdown(100); rmSync(root, { recursive: true, force: true }); } };
}

const PREFLIGHT = 'OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n';
const EVIL_GET = 'GET /a.txt HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n';

test('serve({ debug }): one line per refusal; the bytes on the wire are the same as without it', async () => {
  const lines = [];
  const on = await server({ debug: (l) => lines.push(l) });
  const off = await server({});
  try {
    const strip = (t) => t.replace(/^Date: .*\r\n/m, '');
    for (const raw of [PREFLIGHT, EVIL_GET]) {
      const a = await rawRequest(on.port, raw);
      const b = await rawRequest(off.port, raw);
      assert.equal(strip(a.text), strip(b.text));
    }
    const ok = await rawRequest(on.port, 'GET /a.txt HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n');
    assert.equal(ok.status, 200);
    assert.deepEqual(lines, [
      'xorigin debug: refused preflight for "/a.txt" from origin "https://app.example": method "DELETE" not allowed (methods: GET, HEAD, POST, PUT)',
      'xorigin debug: no CORS headers for GET "/a.txt" from origin "https://evil.example": origin not in the policy (origins: https://app.example)',
    ]);
  } finally {
    await on.close();
    await off.close();
  }
});

test('a throwing debug callback is reported once and the server keeps serving', async () => {
  const s = await server({ debug: () => { throw new Error('boom'); } });
  try {
    assert.equal((await rawRequest(s.port, PREFLIGHT)).status, 403);
    assert.equal((await rawRequest(s.port, PREFLIGHT)).status, 403);
  } finally {
    await s.close();
  }
});

test('xorigin serve --debug writes the lines on stderr; a non-boolean "debug" in the config is an error', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-explain-cli-'));
  writeFileSync(join(root, 'a.txt'), 'hello');
  writeFileSync(join(root, 'bad.json'), JSON.stringify({ debug: 'yes' }));
  const bad = await new Promise((resolve) => execFile(process.execPath, ['dist/cli/main.js', 'serve', root, '--config', join(root, 'bad.json')], (error, stdout, stderr) => resolve({ code: error?.code, stderr })));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /debug/);
  const { spawn } = await import('node:child_process');
  // --etag-cache off: the default cache is the user's ~/.cache/xorigin, which a test must not write.
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', root, '--port', '0', '--origin', 'https://app.example', '--debug', '--etag-cache', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const deadline = Date.now() + 10000;
    while (!/:(\d+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    assert.equal((await rawRequest(port, PREFLIGHT)).status, 403);
    while (!/xorigin debug/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(err, /^xorigin debug: refused preflight for "\/a.txt" from origin "https:\/\/app\.example": method "DELETE" not allowed/m);
  } finally {
    child.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
});

test('onDenied in the library: each refused preflight and disallowed origin, raw; explainDenied says why', async () => {
  const { createCors, CorsEngine, PolicyError } = await import('../dist/cors/index.js');
  const seen = [];
  const cors = createCors({ origins: ['https://app.example'], methods: ['PUT'], onDenied: (info) => seen.push(info) });
  const res = () => {
    const h = {};
    return { statusCode: 200, hasHeader: (n) => n.toLowerCase() in h, getHeader: (n) => h[n.toLowerCase()], setHeader: (n, v) => (h[n.toLowerCase()] = v), writeHead: () => {}, end: () => {} };
  };
  const req = (method, headers) => ({ method, headers, url: '/x' });
  cors.handle(req('OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'x-a' }), res());
  cors.handle(req('GET', { origin: 'https://evil.example' }), res());
  cors.handle(req('GET', { origin: 'https://app.example' }), res());
  cors.handle(req('GET', {}), res());
  cors.handle(req('OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'PUT' }), res());
  assert.deepEqual(seen, [
    { kind: 'preflight', origin: 'https://app.example', method: 'DELETE', requestHeaders: 'x-a' },
    { kind: 'actual', origin: 'https://evil.example' },
  ]);
  assert.match(explainDenied(cors.policy, seen[0]).line, /method "DELETE" not allowed/);
  assert.match(explainDenied(cors.policy, seen[1]).line, /origin not in the policy/);

  const engine = new CorsEngine({ origins: ['https://app.example'], onDenied: (info) => seen.push(info) });
  engine.decidePreflight('https://evil.example', 'GET', undefined);
  engine.actualHeaders('https://evil.example');
  engine.actualHeaders(undefined);
  assert.equal(seen.length, 4);
  assert.deepEqual(seen[2], { kind: 'preflight', origin: 'https://evil.example', method: 'GET', requestHeaders: undefined });

  engine.reconfigure({ origins: ['https://app.example'] });
  engine.actualHeaders('https://evil.example');
  assert.equal(seen.length, 4, 'reconfigure without onDenied turns it off');
  assert.throws(() => createCors({ origins: ['*'], onDenied: 'log' }), (e) => e instanceof PolicyError && /onDenied/.test(e.message));
});

/**
 * A node:http server whose policy has `onDenied`, sent `rounds` refused preflights and refused GETs
 * (each asserted answered), with console.error replaced by `consoleError` (default: collect) and
 * unhandled rejections collected. Resolves { reports, unhandled }.
 */
async function refusedWith(onDenied, { rounds = 3, consoleError } = {}) {
  const { createCors } = await import('../dist/cors/index.js');
  const { listen, request } = await import('./helpers.js');
  const reports = [];
  const unhandled = [];
  const original = console.error;
  const listener = (e) => unhandled.push(e);
  console.error = consoleError ?? ((...args) => reports.push(args.join(' ')));
  process.on('unhandledRejection', listener);
  const cors = createCors({ origins: ['https://app.example'], onDenied });
  const s = await listen((req, res) => {
    if (!cors.handle(req, res)) res.end('ok');
  });
  try {
    for (let i = 0; i < rounds; i++) {
      const pf = await request(s.port, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(pf.status, 403);
      const get = await request(s.port, { headers: { Origin: 'https://evil.example' } });
      assert.equal(get.status, 200);
      assert.equal(get.headers['access-control-allow-origin'], undefined);
    }
    // A rejection is handled (or not) a few ticks after the answer.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    console.error = original;
    process.off('unhandledRejection', listener);
    await s.close();
  }
  return { reports, unhandled };
}

test('an onDenied that throws costs nothing but one report: the refusal is still answered, the server lives on', async () => {
  const { reports, unhandled } = await refusedWith(() => { throw new Error('log sink down'); });
  assert.deepEqual(unhandled, []);
  assert.equal(reports.length, 1);
  assert.match(reports[0], /onDenied failed.*log sink down/);
});

test('an async onDenied that rejects (an audit log down): reported once, the refusal answered, no unhandled rejection', async () => {
  const { reports, unhandled } = await refusedWith(async () => { throw new Error('audit log down'); });
  assert.deepEqual(unhandled, []);
  assert.equal(reports.length, 1);
  assert.match(reports[0], /onDenied failed.*audit log down/);
});

test('an onDenied whose failure the console cannot print (a throwing inspect): the refusal answered, the process kept', async () => {
  const { unhandled } = await refusedWith(async () => { throw new Error('x'); }, { rounds: 1, consoleError: () => { throw new Error('cannot inspect'); } });
  assert.deepEqual(unhandled, []);
});

test("serve(): the policy's onDenied sees refused actual requests too (the file server writes its own headers), in the engine's shape", async () => {
  const seen = [];
  const lines = [];
  const onDenied = (info) => seen.push(info);
  const s = await server({ cors: { origins: ['https://app.example'], methods: ['PUT'], onDenied }, debug: (l) => lines.push(l) });
  const ask = (method, path, origin, extra = '') => rawRequest(s.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\n${origin === null ? '' : `Origin: ${origin}\r\n`}${extra}Connection: close\r\n\r\n`);
  try {
    assert.equal((await ask('OPTIONS', '/a.txt', 'https://app.example', 'Access-Control-Request-Method: DELETE\r\n')).status, 403);
    assert.equal((await ask('GET', '/a.txt', 'https://evil.example')).status, 200);
    assert.equal((await ask('GET', '/missing', 'https://evil.example')).status, 404);
    assert.equal((await ask('POST', '/a.txt', 'https://evil.example')).status, 405);
    assert.equal((await ask('OPTIONS', '/a.txt', 'https://evil.example')).status, 204, 'an OPTIONS without Access-Control-Request-Method is an actual request');
    assert.equal((await ask('GET', '/a.txt', 'https://app.example')).status, 200);
    assert.equal((await ask('GET', '/a.txt', null)).status, 200);
    const actual = { kind: 'actual', origin: 'https://evil.example' };
    assert.deepEqual(seen, [{ kind: 'preflight', origin: 'https://app.example', method: 'DELETE', requestHeaders: undefined }, actual, actual, actual, actual]);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(lines[4], /no CORS headers for OPTIONS "\/a\.txt" from origin "https:\/\/evil\.example": origin not in the policy/);
  } finally {
    await s.close();
  }
});

// Explain mode scans Access-Control-Request-Headers itself (elements, OWS, token syntax, bounds): it
// must refuse exactly the lists the engine refuses, or --debug would explain a refusal the engine no
// longer makes. Lists built from pieces that hit each rule, by a seeded generator (reproducible).
test('explain mode and the engine agree on every Access-Control-Request-Headers list', () => {
  const pieces = ['x-token', 'X-Token', 'content-type', ' ', '\t', ',', ', ', 'authorization', 'x y', 'a', '\u00a0', ';', '', 'x-token ', ',,', 'é'];
  let seed = 20261205;
  // mulberry32: 32-bit integer arithmetic throughout (Math.imul), so every piece is drawn.
  const next = (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const policies = [narrow, compilePolicy({ origins: ['https://app.example'], allowedHeaders: ['x-token', 'content-type'] }), policy];
  let compared = 0;
  let allowed = 0;
  for (let n = 0; n < 20000; n++) {
    let list = '';
    for (let k = 1 + next(6); k > 0; k--) list += pieces[next(pieces.length)];
    if (n % 500 === 0) list = `x-token,${'a,'.repeat(200)}`;
    for (const p of policies) {
      const engine = p.allowedHeaders.allowsList(list);
      const { reason } = explainDenied(p, { kind: 'preflight', origin: 'https://app.example', method: 'GET', requestHeaders: list });
      assert.equal(reason === 'none', engine, `${JSON.stringify(list)}: engine ${engine ? 'allows' : 'refuses'}, explain says ${reason}`);
      compared++;
      if (engine) allowed++;
    }
  }
  assert.equal(compared, 60000);
  // Both answers drawn often: a generator stuck on a few pieces would compare nothing.
  assert.ok(allowed > 10000 && allowed < 50000, `${allowed} of 60000 allowed`);
});
