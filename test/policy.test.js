import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compilePolicy, createCors, PolicyError } from '../dist/index.js';
import { acHeaders, listen, request } from './helpers.js';

/** Compiles and returns the problems, asserting that it threw a PolicyError. */
function problems(options) {
  try {
    compilePolicy(options);
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${e}`);
    return e.problems;
  }
  assert.fail(`policy was accepted: ${JSON.stringify(options)}`);
}

function one(options, option, reason) {
  const ps = problems(options);
  const p = ps.find((x) => x.option === option);
  assert.ok(p, `no problem reported for ${option}: ${JSON.stringify(ps)}`);
  assert.match(p.reason, reason);
  assert.ok(p.fix.length > 0, 'every problem names a fix');
  return p;
}

const ok = { origins: ['https://app.example.com'] };

test('a minimal policy compiles with the documented defaults', () => {
  const p = compilePolicy(ok);
  assert.equal(p.anyOrigin, false);
  assert.deepEqual(p.methods, []);
  assert.equal(p.credentials, false);
  assert.equal(p.maxAge, null);
  assert.equal(p.preflightStatus, 204);
  assert.equal(p.timingAllowOrigin, false);
  assert.ok(Object.isFrozen(p));
});

test('origins is required, must be an array, must not be empty', () => {
  one({}, 'origins', /required/);
  one({ origins: 'https://a.com' }, 'origins', /array/);
  one({ origins: [] }, 'origins', /empty/);
  one({ origins: [42] }, 'origins', /array of strings/);
});

test('"*" alone, never beside others, never with credentials', () => {
  assert.equal(compilePolicy({ origins: ['*'] }).anyOrigin, true);
  one({ origins: ['*', 'https://a.com'] }, 'origins', /alone|beside/);
  one({ origins: ['*'], credentials: true }, 'origins', /credential/);
});

test('"*" beside other entries: the entries beside it are checked too, every problem at once', () => {
  // One pass fixes the policy whichever of "*" or the others is meant to go.
  const ps = problems({ origins: ['*', 'https://A.com/', 'https://ok.com'], methods: ['TRACE', '*'], exposedHeaders: ['*', 'set-cookie', 'bad name'] });
  assert.deepEqual(ps.map((p) => p.option), ['origins', 'origins[1]', 'methods', 'methods[0]', 'exposedHeaders', 'exposedHeaders[1]', 'exposedHeaders[2]']);
  // Clean entries beside "*" still give the "*" problem alone.
  assert.deepEqual(problems({ origins: ['*', 'https://ok.com'] }).map((p) => p.option), ['origins']);
});

test('each bad origin is reported with its index', () => {
  const ps = problems({ origins: ['https://ok.com', 'https://bad.com/', 'null', 'https://*.com'] });
  assert.deepEqual(
    ps.map((p) => p.option),
    ['origins[1]', 'origins[2]', 'origins[3]'],
  );
});

test('http origins with credentials: loopback allowed, others refused unless tolerated', () => {
  for (const o of ['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:8080', 'http://*.localhost']) {
    assert.doesNotThrow(() => compilePolicy({ origins: [o], credentials: true }), o);
  }
  one({ origins: ['http://app.example.com'], credentials: true }, 'origins[0]', /plain-http/);
  one({ origins: ['http://*.example.com'], credentials: true }, 'origins[0]', /plain-http/);
  assert.doesNotThrow(() =>
    compilePolicy({ origins: ['http://app.example.com'], credentials: true, tolerateInsecureOrigins: true }),
  );
  assert.doesNotThrow(() => compilePolicy({ origins: ['http://app.example.com'] }));
});

test('"*." over a shared suffix (github.io, co.uk) is refused with credentials: every site there could read users\' responses', () => {
  for (const o of ['https://*.github.io', 'https://*.vercel.app', 'https://*.co.uk', 'https://*.com.au', 'https://*.s3.us-east-1.amazonaws.com', 'https://*.example.com.s3.amazonaws.com']) {
    one({ origins: [o], credentials: true }, 'origins[0]', /anyone can publish a site under/);
    assert.doesNotThrow(() => compilePolicy({ origins: [o] }), `${o} without credentials`);
  }
  // A domain of one's own under the suffix, a site on the shared host, and a registry whose registrants
  // are vetted (gov.uk, ac.uk) compile.
  for (const o of ['https://*.example.co.uk', 'https://myapp.github.io', 'https://*.myorg.github.io', 'https://*.gov.uk', 'https://*.ac.uk']) {
    assert.doesNotThrow(() => compilePolicy({ origins: [o], credentials: true }), o);
  }
  // The fix keeps the entry's scheme and port, and compiles.
  const [problem] = problems({ origins: ['https://*.github.io:8443'], credentials: true });
  assert.match(problem.fix, /"https:\/\/\*\.example\.github\.io:8443", or one site: "https:\/\/example\.github\.io:8443"/);
  assert.doesNotThrow(() => compilePolicy({ origins: ['https://*.example.github.io:8443'], credentials: true }));
});

test('methods: forbidden and invalid methods refused; normalised names uppercased; safelisted dropped', () => {
  one({ ...ok, methods: ['CONNECT'] }, 'methods[0]', /forbidden/);
  one({ ...ok, methods: ['trace'] }, 'methods[0]', /forbidden/);
  one({ ...ok, methods: ['Track'] }, 'methods[0]', /forbidden/);
  one({ ...ok, methods: ['PUT', 'BAD METHOD'] }, 'methods[1]', /token/);
  one({ ...ok, methods: [''] }, 'methods[0]', /token/);
  one({ ...ok, methods: 'PUT' }, 'methods', /array/);
  one({ ...ok, methods: ['*', 'PUT'] }, 'methods', /alone|already/);
  const p = compilePolicy({ ...ok, methods: ['put', 'delete', 'PATCH', 'GET', 'post', 'PUT', 'purge', 'X-Thing'] });
  // Unregistered methods are kept exactly as written: browsers send them as the script wrote them.
  assert.deepEqual(p.methods, ['PUT', 'DELETE', 'PATCH', 'purge', 'X-Thing']);
  assert.equal(compilePolicy({ ...ok, methods: ['*'] }).anyMethod, true);
});

// A lowercase or mixed-case spelling of a registered method never matches what scripts send
// (Fetch uppercases only DELETE, GET, HEAD, OPTIONS, POST, PUT), so it is refused with the fix.
for (const [m, upper] of [
  ['patch', 'PATCH'],
  ['Patch', 'PATCH'],
  ['pAtCh', 'PATCH'],
  ['propfind', 'PROPFIND'],
  ['proppatch', 'PROPPATCH'],
  ['mkcol', 'MKCOL'],
  ['copy', 'COPY'],
  ['move', 'MOVE'],
  ['lock', 'LOCK'],
  ['unlock', 'UNLOCK'],
  ['search', 'SEARCH'],
  ['query', 'QUERY'],
  ['report', 'REPORT'],
  ['version-control', 'VERSION-CONTROL'],
]) {
  test(`methods: ${JSON.stringify(m)} is refused with the fix ${JSON.stringify(upper)}`, () => {
    const p = one({ ...ok, methods: ['PUT', m] }, 'methods[1]', new RegExp(`send ${upper} exactly`));
    assert.equal(p.value, m);
    assert.match(p.fix, new RegExp(`use "${upper}"`));
    assert.match(p.fix, /caseSensitiveMethods: true/);
  });
}

test('methods: caseSensitiveMethods: true takes every spelling as written (the documented escape)', () => {
  const p = compilePolicy({ ...ok, methods: ['PATCH', 'patch', 'Propfind', 'put'], caseSensitiveMethods: true });
  // Normalised names are still uppercased: browsers send them uppercase whatever the script wrote.
  assert.deepEqual(p.methods, ['PATCH', 'patch', 'Propfind', 'PUT']);
  one({ ...ok, methods: ['patch'], caseSensitiveMethods: false }, 'methods[0]', /never match/);
  one({ ...ok, caseSensitiveMethods: 'yes' }, 'caseSensitiveMethods', /true or false/);
  one({ ...ok, methods: ['trace'], caseSensitiveMethods: true }, 'methods[0]', /forbidden/);
});

test('methods: with caseSensitiveMethods, PATCH and patch each match only themselves over the wire', async () => {
  const { createCors } = await import('../dist/index.js');
  const http = await import('node:http');
  const cors = createCors({ origins: ['https://app.example.com'], methods: ['PATCH', 'patch'], caseSensitiveMethods: true });
  const server = http.createServer((req, res) => {
    if (!cors.handle(req, res)) res.end('handler');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const ask = (method) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.address().port, method: 'OPTIONS', agent: false, headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': method } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('error', reject);
      req.end();
    });
  try {
    assert.equal(await ask('PATCH'), 204);
    assert.equal(await ask('patch'), 204);
    assert.equal(await ask('Patch'), 403);
  } finally {
    server.close();
  }
});

test('allowedHeaders: forbidden and invalid names refused', () => {
  for (const h of ['Cookie', 'host', 'Origin', 'content-length', 'Sec-Fetch-Mode', 'proxy-authorization', 'Access-Control-Request-Method', 'connection']) {
    one({ ...ok, allowedHeaders: [h] }, 'allowedHeaders[0]', /forbidden/);
  }
  one({ ...ok, allowedHeaders: ['x ok'] }, 'allowedHeaders[0]', /not a valid header name/);
  one({ ...ok, allowedHeaders: ['x:y'] }, 'allowedHeaders[0]', /not a valid header name/);
  one({ ...ok, allowedHeaders: ['*', 'x-foo'] }, 'allowedHeaders', /already allows/);
  // A name no preflight can carry: Access-Control-Request-Headers is read up to 4,096 bytes.
  const long = one({ ...ok, allowedHeaders: ['x'.repeat(4097)] }, 'allowedHeaders[0]', /longer than the 4096 bytes/);
  assert.ok(String(long.value).length < 100, 'the message quotes the start of the name, not 4 KB of it');
  assert.doesNotThrow(() => compilePolicy({ ...ok, allowedHeaders: ['x'.repeat(4096)] }));
  assert.doesNotThrow(() => compilePolicy({ ...ok, allowedHeaders: ['*', 'Authorization'] }));
  assert.deepEqual(compilePolicy({ ...ok, allowedHeaders: ['X-Foo', 'x-foo', 'Range'] }).allowedHeaders.names, ['x-foo', 'range']);
});

test('exposedHeaders: set-cookie refused; "*" refused with credentials', () => {
  one({ ...ok, exposedHeaders: ['Set-Cookie'] }, 'exposedHeaders[0]', /Set-Cookie/);
  one({ ...ok, exposedHeaders: ['set-cookie2'] }, 'exposedHeaders[0]', /Set-Cookie/);
  one({ ...ok, exposedHeaders: ['*'], credentials: true }, 'exposedHeaders', /literal/);
  one({ ...ok, exposedHeaders: ['bad name'] }, 'exposedHeaders[0]', /not a valid/);
  assert.equal(compilePolicy({ ...ok, exposedHeaders: ['*'] }).anyExposed, true);
});

test('maxAge bounds, -1 means send 0', () => {
  for (const bad of [-2, 86401, 1.5, '600', Infinity, NaN]) one({ ...ok, maxAge: bad }, 'maxAge', /whole number/);
  assert.equal(compilePolicy({ ...ok, maxAge: -1 }).maxAge, 0);
  assert.equal(compilePolicy({ ...ok, maxAge: 0 }).maxAge, 0);
  assert.equal(compilePolicy({ ...ok, maxAge: 86400 }).maxAge, 86400);
});

test('preflightStatus, booleans', () => {
  one({ ...ok, preflightStatus: 201 }, 'preflightStatus', /204 or 200/);
  assert.equal(compilePolicy({ ...ok, preflightStatus: 200 }).preflightStatus, 200);
  one({ ...ok, credentials: 'yes' }, 'credentials', /true or false/);
  one({ ...ok, timingAllowOrigin: 1 }, 'timingAllowOrigin', /true or false/);
  one({ ...ok, tolerateInsecureOrigins: 'true' }, 'tolerateInsecureOrigins', /true or false/);
});

test('unknown option names are errors, with a suggestion for likely typos', () => {
  assert.match(one({ ...ok, allowHeaders: ['x'] }, 'allowHeaders', /unknown/).fix, /allowedHeaders/);
  assert.match(one({ ...ok, origin: 'x' }, 'origin', /unknown/).fix, /origins/);
  assert.match(one({ ...ok, colour: 'red' }, 'colour', /unknown/).fix, /known options/);
});

test('a policy that is not an object is refused', () => {
  for (const bad of [null, 'https://a.com', ['https://a.com'], 42]) {
    assert.throws(() => compilePolicy(bad), PolicyError);
  }
});

test('every problem is reported at once, and the message names option, value and fix', () => {
  let err;
  try {
    createCors({
      origins: ['https://A.com/', 'null'],
      methods: ['TRACE'],
      allowedHeaders: ['cookie'],
      exposedHeaders: ['set-cookie'],
      maxAge: 1e9,
      preflightStatus: 500,
      allowHeaders: [],
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof PolicyError);
  assert.deepEqual(err.problems.map((p) => p.option).sort(), [
    'allowHeaders',
    'allowedHeaders[0]',
    'exposedHeaders[0]',
    'maxAge',
    'methods[0]',
    'origins[0]',
    'origins[1]',
    'preflightStatus',
  ]);
  assert.match(err.message, /8 problems/);
  assert.match(err.message, /origins\[0\] = "https:\/\/A\.com\/": .*Fix: use "https:\/\/a\.com"\./);
  for (const p of err.problems) assert.ok(err.message.includes(p.option));
});

// App origins (DESIGN.md "App origins"): exact only, byte-for-byte, never implied by a pattern.
const CAPACITOR = 'capacitor://localhost';
const IONIC = 'ionic://localhost';
const CHROME_EXT = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
const MOZ_EXT = 'moz-extension://0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b';
const APPS = [CAPACITOR, IONIC, CHROME_EXT, MOZ_EXT];

test('app origins compile, with credentials under the same rules as https', () => {
  const p = compilePolicy({ origins: APPS, credentials: true });
  for (const o of APPS) assert.notEqual(p.matcher.match(o), -1, o);
});

// request Origin, matched by { origins: [CAPACITOR, CHROME_EXT, patterns that must not imply app origins] }
const appPolicy = { origins: [CAPACITOR, CHROME_EXT, 'http://localhost:*', 'https://*.localhost', 'https://*.example.com:*'] };
const appCases = [
  [CAPACITOR, true],
  [CHROME_EXT, true],
  ['http://localhost:8100', true],
  [IONIC, false], // not listed: another scheme on the same host is another origin
  [MOZ_EXT, false],
  ['Capacitor://localhost', false],
  ['CAPACITOR://localhost', false],
  ['capacitor://LOCALHOST', false],
  ['capacitor://localhost/', false],
  ['capacitor://localhost:80', false],
  ['capacitor://localhost.', false],
  ['capacitor://localhost, capacitor://localhost', false],
  ['capacitor://a.localhost', false], // https://*.localhost covers https only
  ['capacitor://x.example.com', false],
  ['capacitor://localhos', false],
  ['capacitor://localhostx', false],
  ['capacitorx://localhost', false],
  ['xcapacitor://localhost', false],
  ['capacitor:/localhost', false],
  ['capacitor:localhost', false],
  ['chrome-extension://abcdefghijklmnopabcdefghijklmno', false],
  ['chrome-extension://abcdefghijklmnopabcdefghijklmnopp', false],
  ['chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP', false],
  ['http://abcdefghijklmnopabcdefghijklmnop', false],
  ['null', false],
];
const appCompiled = compilePolicy(appPolicy);
for (const [origin, allowed] of appCases) {
  test(`app-origin policy: ${JSON.stringify(origin)} ${allowed ? 'matches' : 'does not match'}`, () => {
    assert.equal(appCompiled.matcher.match(origin) !== -1, allowed);
  });
}

test('app origins match exactly in the Map as well as the short list (more than 8 exact origins)', () => {
  const many = [...APPS, ...Array.from({ length: 10 }, (_, i) => `https://h${i}.example.com`)];
  const p = compilePolicy({ origins: many });
  for (const o of many) assert.equal(p.matcher.match(o), many.indexOf(o), o);
  for (const [o] of appCases) if (!APPS.includes(o)) assert.equal(p.matcher.match(o), -1, o);
});

test('file://, null, data:, javascript:, blob:, about:, ws: are refused with a reason and a fix', () => {
  const bad = ['file://', 'null', 'data:text/html,x', 'javascript:void(0)', 'blob:https://app.example.com/x', 'about:blank', 'wss://app.example.com'];
  const ps = problems({ origins: ['https://ok.example.com', ...bad] });
  assert.deepEqual(
    ps.map((p) => p.option),
    bad.map((_, i) => `origins[${i + 1}]`),
  );
  for (const p of ps) {
    assert.ok(p.reason.length > 20, p.reason);
    assert.ok(p.fix.length > 0);
  }
  assert.match(ps[0].reason, /Origin: null/);
  assert.equal(ps[4].fix, 'use "https://app.example.com"');
  one({ origins: ['capacitor://*.localhost'] }, 'origins[0]', /exactly/);
  one({ origins: ['capacitor://localhost:*'] }, 'origins[0]', /exactly/);
});

describe('app origins over sockets (createCors + node:http)', () => {
  let s;
  before(async () => {
    const cors = createCors({ origins: [CAPACITOR, CHROME_EXT, 'http://localhost:*'], methods: ['PUT'], credentials: true });
    s = await listen((req, res) => {
      if (cors.handle(req, res)) return;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('handler');
    });
  });
  after(() => s.close());

  const preflight = (origin) =>
    request(s.port, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'PUT' } });

  test('a listed app origin gets its preflight and actual response, echoed, with credentials', async () => {
    for (const origin of [CAPACITOR, CHROME_EXT]) {
      const pre = await preflight(origin);
      assert.equal(pre.status, 204, origin);
      assert.equal(pre.headers['access-control-allow-origin'], origin);
      assert.equal(pre.headers['access-control-allow-credentials'], 'true');
      const res = await request(s.port, { headers: { Origin: origin } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['access-control-allow-origin'], origin);
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      assert.match(res.headers.vary, /Origin/);
    }
  });

  test('an unlisted or differently spelled app origin is refused (403 preflight, no Access-Control-* on the actual)', async () => {
    for (const origin of [IONIC, MOZ_EXT, 'Capacitor://localhost', 'capacitor://localhost:8080', 'capacitor://localhost/']) {
      const pre = await preflight(origin);
      assert.equal(pre.status, 403, origin);
      assert.deepEqual(acHeaders(pre), [], origin);
      const res = await request(s.port, { headers: { Origin: origin } });
      assert.equal(res.status, 200);
      assert.deepEqual(acHeaders(res), [], origin);
    }
  });
});

test('unknown keys named like Object.prototype members get the plain fix, not "[object Object]"', () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const options = JSON.parse(`{ "origins": ["https://app.example.com"], "${key}": 1 }`);
    const p = one(options, key, /unknown option/);
    assert.match(p.fix, /^remove it; known options are /, key);
  }
  assert.match(one({ ...ok, allowHeaders: ['x'] }, 'allowHeaders', /unknown option/).fix, /did you mean "allowedHeaders"/);
});

test('README\'s Options table has a row for every policy option compilePolicy knows', () => {
  let known = null;
  try {
    compilePolicy({ origins: ['*'], notAnOption: 1 });
  } catch (e) {
    known = /known options are (.*)\.$/m.exec(e.message)?.[1].split(', ');
  }
  assert.ok(known !== null && known.length > 5, 'the unknown-option message lists the known options');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('### Options'), readme.indexOf('### What goes on the wire'));
  const missing = known.filter((name) => !table.includes(`| \`${name}\` |`));
  assert.deepEqual(missing, []);
});
