// Server options: type checks of every option given to serve() (the CLI's in cli.test.js), header values,
// the server's policy defaults, and a throwing log callback. Real sockets on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../dist/index.js';
import { OPTION_SCHEMA, validate } from '../dist/static/options.js';
import { request } from './helpers.js';

const APP = 'https://app.example.com';
const ROOT = 'example';

/** Every problem of validate(options), or [] when it accepts them; anything but a PolicyError fails. */
function problemsOf(options) {
  try {
    validate(options);
    return [];
  } catch (e) {
    assert.equal(e?.name, 'PolicyError', `validate threw ${e?.stack ?? e} for ${JSON.stringify(options)}`);
    return e.problems;
  }
}

// One value of each JSON (and JS) kind: whatever an option's type, most of these are wrong for it.
const KINDS = [null, 'x-foo', '80', 'false', '', 0, -1, 1.5, 80, true, false, [], ['x'], [1], {}, { a: 1 }, () => {}, Number.NaN];
const SERVER_KEYS = ['root', 'cors', 'cacheControl', 'immutable', 'smallFileLimit', 'memoryBudget', 'etagCache', 'crossOriginResourcePolicy', 'watch', 'log', 'logFormat', 'sendTimeout', 'keepAliveTimeout'];
const POLICY_KEYS = ['origins', 'methods', 'caseSensitiveMethods', 'allowedHeaders', 'exposedHeaders', 'credentials', 'maxAge', 'preflightStatus', 'timingAllowOrigin', 'tolerateInsecureOrigins'];

test('validate throws only PolicyError, and names the option at fault, for a value of any kind in any key', () => {
  for (const key of SERVER_KEYS) {
    for (const value of KINDS) {
      for (const p of problemsOf({ root: ROOT, [key]: value })) {
        assert.ok(p.option === key || p.option.startsWith(`${key}.`), `${key} = ${String(value)} reported as ${p.option}`);
      }
    }
  }
  for (const key of POLICY_KEYS) {
    for (const value of KINDS) {
      const cors = key === 'origins' ? { [key]: value } : { origins: [APP], [key]: value };
      for (const p of problemsOf({ root: ROOT, cors })) {
        assert.ok(p.option.startsWith(`cors.${key}`), `cors.${key} = ${String(value)} reported as ${p.option}`);
      }
    }
  }
  for (const options of [null, undefined, 'example', 1, []]) {
    assert.deepEqual(problemsOf(options).map((p) => p.option), ['(options)']);
  }
});

test('wrong types are errors, never truthy or falsy guesses: each named with its own option, all together', () => {
  const wrong = {
    root: 5,
    cors: 'x',
    cacheControl: 60,
    immutable: 'true',
    smallFileLimit: '1024',
    crossOriginResourcePolicy: 'no',
    watch: 'false',
    log: 'yes',
    sendTimeout: '60000',
    keepAliveTimeout: 1.5,
  };
  assert.deepEqual(problemsOf(wrong).map((p) => p.option).sort(), Object.keys(wrong).sort());
  for (const cors of [null, [], 'x', 1]) assert.deepEqual(problemsOf({ root: ROOT, cors }).map((p) => p.option), ['cors']);
  const allowed = problemsOf({ root: ROOT, cors: { origins: ['*'], allowedHeaders: 'x-foo' } });
  assert.deepEqual(allowed.map((p) => p.option), ['cors.allowedHeaders']);
  const quoted = problemsOf({ root: ROOT, watch: 'false' })[0];
  assert.match(quoted.fix, /without quotes: false/);
  // In code, log and debug take a function: the config file's `true` would be a wrong example there.
  for (const option of ['log', 'debug']) {
    const [problem] = problemsOf({ root: ROOT, [option]: false });
    assert.equal(problem.option, option);
    assert.match(problem.fix, /e\.g\. \(line\) => console\.log\(line\)/);
  }
});

test('options sent as header values must be valid header values at start-up', async () => {
  for (const cacheControl of ['max-age=60 — fonts', 'max-age=60\r\nX-Injected: 1', 'max-age=60\u0000']) {
    assert.deepEqual(problemsOf({ root: ROOT, cacheControl }).map((p) => p.option), ['cacheControl'], JSON.stringify(cacheControl));
    await assert.rejects(serve({ root: ROOT, cacheControl }), (e) => e.name === 'PolicyError');
  }
  // latin1 is a valid (if unwise) header value: Node sends it byte for byte.
  assert.deepEqual(problemsOf({ root: ROOT, cacheControl: 'public, max-age=60, café' }), []);
  // Leading or trailing whitespace: sent as given, a malformed field over HTTP/2 (RFC 9113 §8.2.1).
  for (const [cacheControl, fix] of [['public, max-age=3600 ', 'write it without them: "public, max-age=3600"'], ['\tpublic', 'write it without them: "public"'], [' ', 'e.g. "public, max-age=3600"']]) {
    const [problem, ...more] = problemsOf({ root: ROOT, cacheControl });
    assert.deepEqual([problem.option, problem.fix, more], ['cacheControl', fix, []], JSON.stringify(cacheControl));
  }
  // A long value is not written out again in the fix (a 4 MB value made a 4 MB line).
  const [long] = problemsOf({ root: ROOT, cacheControl: `public, ${'x'.repeat(5000)} ` });
  assert.equal(long.fix, 'write it without the spaces and tabs at its start and end');
  // Only SP and HTAB (RFC 9110 §5.5 OWS): U+00A0 is obs-text, sent as the latin1 byte it is.
  assert.deepEqual(problemsOf({ root: ROOT, cacheControl: 'public\u00a0' }), []);
});

// A regex trim (/^[ \t]+|[ \t]+$/) backtracks on every run of spaces inside the value: 60 KB took 3.3 s
// to validate, at start-up and at each reload. Run in a child killed after 15 s (the linear trim
// takes milliseconds; 300 KB by the regex took minutes), so that a slow trim fails here instead of
// blocking the test file.
test('a header option with a long run of spaces inside is validated in linear time', () => {
  const code = `import { validate } from ${JSON.stringify(new URL('../dist/static/options.js', import.meta.url).href)};
    const inner = 'public,' + ' '.repeat(300000) + 'max-age=1';
    const problems = (cacheControl) => { try { validate({ root: ${JSON.stringify(ROOT)}, cacheControl }); return []; } catch (e) { return e.problems.map((p) => p.option); } };
    process.stdout.write(JSON.stringify([problems(inner), problems(inner + ' ')]));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { timeout: 15_000, encoding: 'utf8' });
  assert.equal(run.signal, null, 'validation still running after 15 s');
  assert.equal(run.stdout, JSON.stringify([[], ['cacheControl']]), run.stderr);
});

async function start(options) {
  const server = await serve(options);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

const preflight = (port, acrh) =>
  request(port, { method: 'OPTIONS', path: '/', headers: { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': acrh } });

test('the policy is honoured exactly: range is allowed only when the policy names no request headers', async () => {
  const cases = [
    [{ origins: [APP] }, 204],
    [{ origins: [APP], allowedHeaders: ['x-foo'] }, 403],
    [{ origins: [APP], allowedHeaders: [] }, 403],
    [{ origins: [APP], allowedHeaders: ['x-foo', 'Range'] }, 204],
    [{ origins: ['*'] }, 204],
    [{ origins: ['*'], allowedHeaders: ['x-foo'] }, 403],
  ];
  for (const [cors, status] of cases) {
    const s = await start({ root: ROOT, cors });
    try {
      const res = await preflight(s.port, 'range');
      assert.equal(res.status, status, JSON.stringify(cors));
      if (cors.allowedHeaders?.includes('x-foo')) assert.equal((await preflight(s.port, 'x-foo')).status, 204);
    } finally {
      await s.server.shutdown(100);
    }
  }
});

test('the policy is honoured exactly: the range headers are exposed only when the policy names no exposed headers', async () => {
  const expose = async (cors) => {
    const s = await start({ root: ROOT, cors });
    try {
      const res = await request(s.port, { path: '/', headers: { Origin: APP } });
      assert.equal(res.status, 200);
      return res.headers['access-control-expose-headers'];
    } finally {
      await s.server.shutdown(100);
    }
  };
  const names = (v) => v.split(',').map((s) => s.trim().toLowerCase()).sort();
  assert.deepEqual(names(await expose({ origins: [APP] })), ['accept-ranges', 'content-length', 'content-range', 'etag']);
  assert.deepEqual(names(await expose({ origins: ['*'] })), ['accept-ranges', 'content-length', 'content-range', 'etag']);
  assert.equal(await expose({ origins: [APP], exposedHeaders: [] }), undefined);
  assert.equal(await expose({ origins: [APP], exposedHeaders: ['etag'] }), 'etag');
});

const oddError = () => Object.assign(new Error(), { message: 42 });
for (const [how, log, said = 'disk full'] of [
  ['throws', () => { throw new Error('disk full'); }],
  ['is async and rejects (no unhandled rejection, which would end the process)', async () => { throw new Error('disk full'); }],
  ['rejects with an Error whose message is not a string', async () => { throw oddError(); }, '42'],
  ['rejects with a value that cannot be printed', async () => { throw { toString() { throw new Error('no'); } }; }, 'a value that cannot be printed'],
]) {
test(`a log callback that ${how} is reported once on stderr and the server keeps serving`, async () => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  let calls = 0;
  const s = await start({
    root: ROOT,
    log: (line) => {
      calls++;
      return log(line);
    },
  });
  const written = [];
  const write = process.stderr.write;
  process.stderr.write = (chunk, ...rest) => {
    if (String(chunk).includes('log callback')) written.push(String(chunk));
    else return write.call(process.stderr, chunk, ...rest);
    return true;
  };
  try {
    for (let i = 0; i < 3; i++) {
      const res = await request(s.port, { path: '/' });
      assert.equal(res.status, 200);
      // The log runs when the response closes, just after the client has its bytes: waited for, so
      // that every call (the throwing first one above all) happens while stderr is being watched.
      for (const end = Date.now() + 10_000; calls < i + 1; ) {
        assert.ok(Date.now() < end, `the log callback was not called for request ${i + 1} within 10 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  } finally {
    process.stderr.write = write;
    await s.server.shutdown(100);
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.equal(calls, 3, 'the callback is still called after it threw');
  assert.deepEqual(written, [`xorigin: the log callback failed: ${said}; continuing\n`]);
});
}

test('port and host given to serve() are named as listen()\'s, not only as unknown', () => {
  assert.throws(() => validate({ root: 'example', port: 8080, host: '0.0.0.0' }), (e) => e.problems.length === 2 && e.problems.every((p) => /unknown server option/.test(p.reason) && /give it to listen\(\), as for a node:http server/.test(p.fix)));
});

test('closestName: the known name a mistyped one most likely meant, or none', async () => {
  const { closestName } = await import('../dist/cors/closest-name.js');
  const known = ['port', 'host', 'root', 'maxAge', 'max-age', 'keepAliveTimeout', 'cors', 'log'];
  assert.equal(closestName('prot', known), 'port'); // two neighbours swapped: one edit
  assert.equal(closestName('max_age', ['maxAge']), 'maxAge'); // case, dashes and underscores do not count
  assert.equal(closestName('MAXAGE', ['max-age']), 'max-age');
  assert.equal(closestName('keepAliveTimout', known), 'keepAliveTimeout');
  assert.equal(closestName('keepAlveTimout', known), 'keepAliveTimeout'); // two edits past 4 characters
  assert.equal(closestName('lg', known), 'log');
  assert.equal(closestName('xx', known), undefined); // two edits in a short name: too far
  assert.equal(closestName('colour', known), undefined);
  assert.equal(closestName('kepAlveTimot', known), undefined); // three edits
  // Leading and trailing underscores are no typo: "__proto__" was answered with "did you mean root".
  assert.equal(closestName('__proto__', known), undefined);
});

test('options whose reading throws (a getter, a Proxy) are a PolicyError naming what it threw, from validate, serve, reload, createCors and reconfigure; the server keeps its configuration', async (t) => {
  const { createCors, PolicyError } = await import('../dist/cors/index.js');
  const base = { root: 'example', watch: false, cors: { origins: ['https://a.example'] } };
  const threw = (what) => (e) => e instanceof PolicyError && /\(options\) = "boom": reading the options threw this error/.test(e.message) ? true : assert.fail(`${what}: ${e}`);
  const proxy = new Proxy({ ...base }, { get(target, key) { if (key === 'cors') throw new Error('boom'); return target[key]; } });
  assert.throws(() => validate(proxy), threw('validate'));
  await assert.rejects(serve(proxy), threw('serve'));
  const server = await serve(base);
  t.after(() => server.close());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  assert.throws(() => server.reload(Object.defineProperty({ ...base }, 'cacheControl', { get() { throw new Error('boom'); }, enumerable: true })), threw('reload'));
  const res = await request(server.address().port, { path: '/', headers: { Origin: 'https://a.example' } });
  assert.equal(res.headers['access-control-allow-origin'], 'https://a.example', 'the policy in force is unchanged');
  assert.throws(() => createCors({ origins: new Proxy(['https://b.example'], { get(target, key) { if (key === 'length') throw new Error('boom'); return target[key]; } }) }), threw('createCors'));
  const cors = createCors({ origins: ['https://a.example'] });
  assert.throws(() => cors.reconfigure({ get origins() { throw new Error('boom'); } }), threw('reconfigure'));
  // What was thrown may itself refuse to be printed: still a PolicyError.
  const unprintable = (e) => e instanceof PolicyError && /cannot be printed/.test(e.message) ? true : assert.fail(String(e?.name));
  assert.throws(() => createCors({ get origins() { throw Object.create(null); } }), unprintable);
  assert.throws(() => createCors({ get origins() { throw Object.defineProperty(new Error(), 'message', { get() { throw new Error('no'); } }); } }), unprintable);
});

test('an own __proto__ key (JSON.parse makes one) is an unknown option, at the top level and in cors, not a prototype whose contents are put in force', async () => {
  /** What serve() threw; a server it made instead is closed (it watches the root) and the test fails. */
  const refusal = async (options) => {
    const made = await serve(options).catch((e) => e);
    if (made instanceof Error) return made;
    made.close();
    return assert.fail('served');
  };
  const top = await refusal(JSON.parse('{"root": "example", "__proto__": {"cacheControl": "no-store"}}'));
  assert.deepEqual([top.name, top.problems.map((p) => p.option)], ['PolicyError', ['__proto__']]);
  const nested = await refusal(JSON.parse('{"root": "example", "cors": {"origins": ["https://a.example"], "__proto__": {"exposedHeaders": ["x-a"]}}}'));
  assert.match(`${nested.name}: ${nested.message}`, /^PolicyError: [\s\S]*cors\.__proto__ = .*unknown option/);
});

test('a value JSON cannot write is shown as given in a policy error: NaN, Infinity and a BigInt (not null, or 10 as if valid)', async () => {
  const { createCors, PolicyError } = await import('../dist/cors/index.js');
  for (const [value, shown] of [[Number.NaN, 'NaN'], [Number.POSITIVE_INFINITY, 'Infinity'], [10n, '10n']]) {
    assert.throws(() => createCors({ origins: ['https://a.example'], maxAge: value }), (e) => e instanceof PolicyError && e.message.includes(`maxAge = ${shown}:`) ? true : assert.fail(e.message));
  }
});

// The --config row of the options table lists the config file's keys by hand: held here to the schema
// (every option of the server or the CLI but --config itself, TLS's inside "tls", the policy's inside
// "cors"), and the keys it says have no flag to the schema's flags.
test('the config file keys the --config docs list are the schema\'s', () => {
  const doc = OPTION_SCHEMA.find((s) => s.name === 'config').doc;
  const listed = /^JSON: `\{ (.*) \}`;/.exec(doc)[1];
  const top = listed.replace(/"cors": \{ [^}]* \}/, '"cors"').replace(/"tls": \{ ([^}]*) \}/, '"tls"');
  const names = (text) => [...text.matchAll(/"([A-Za-z0-9]+)"/g)].map((m) => m[1]).sort();
  const keys = (scope) => OPTION_SCHEMA.filter((s) => scope.includes(s.scope) && s.configType !== null).map((s) => s.name).sort();
  assert.deepEqual(names(top), keys(['server', 'cli']));
  assert.deepEqual(names(/"tls": \{ ([^}]*) \}/.exec(listed)[1]), keys(['tls']));
  const noFlag = /; (`"[A-Za-z]+"`(?:, `"[A-Za-z]+"`| and `"[A-Za-z]+"`)*) have no flag/.exec(doc)[1];
  assert.deepEqual(names(noFlag.replaceAll('`', '')), OPTION_SCHEMA.filter((s) => s.scope === 'server' && s.flag === undefined && !['root', 'cors', 'tls'].includes(s.name)).map((s) => s.name).sort());
});
