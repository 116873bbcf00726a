// Server options: type checks of every option (createServer, config file, flags), header values,
// the server's policy defaults, and a throwing log callback. Real sockets on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../dist/index.js';
import { validate } from '../dist/static/options.js';
import { rawRequest, request } from './helpers.js';

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
const SERVER_KEYS = ['root', 'cors', 'cacheControl', 'immutable', 'smallFileLimit', 'crossOriginResourcePolicy', 'watch', 'log', 'logFormat', 'sendTimeout', 'keepAliveTimeout'];
const POLICY_KEYS = ['origins', 'methods', 'allowedHeaders', 'exposedHeaders', 'credentials', 'maxAge', 'preflightStatus', 'timingAllowOrigin', 'tolerateInsecureOrigins'];

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
});

test('options sent as header values must be valid header values at start-up', async () => {
  for (const cacheControl of ['max-age=60 — fonts', 'max-age=60\r\nX-Injected: 1', 'max-age=60\u0000']) {
    assert.deepEqual(problemsOf({ root: ROOT, cacheControl }).map((p) => p.option), ['cacheControl'], JSON.stringify(cacheControl));
    await assert.rejects(createServer({ root: ROOT, cacheControl }), (e) => e.name === 'PolicyError');
  }
  // latin1 is a valid (if unwise) header value: Node sends it byte for byte.
  assert.deepEqual(problemsOf({ root: ROOT, cacheControl: 'public, max-age=60, café' }), []);
});

/** Runs the CLI; resolves at exit, or once it prints its URL (then with the child still running). */
function runCli(args, { timeoutMs = 8000 } = {}) {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.PORT;
    const child = spawn(process.execPath, ['dist/cli/main.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'timeout', out, err });
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ code: 'listening', port: Number(m[1]), child, out, err });
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function stop(r) {
  if (r.child === undefined) return;
  await new Promise((resolve) => {
    r.child.on('exit', resolve);
    r.child.kill('SIGTERM');
  });
}

function withConfig(json, fn) {
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-opt-'));
  const file = join(dir, 'x.json');
  writeFileSync(file, JSON.stringify(json));
  return fn(file).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function assertNoStack(r) {
  assert.doesNotMatch(r.err, /\n\s+at |TypeError/, `a stack trace on stderr: ${r.err}`);
}

test('CLI: a policy key of the wrong type is named as itself (not root), with and without --workers', async () => {
  await withConfig({ root: ROOT, cors: { origins: ['*'], allowedHeaders: 'x-foo' } }, async (cfg) => {
    for (const extra of [[], ['--workers', '2']]) {
      const r = await runCli(['serve', '--config', cfg, '--port', '0', ...extra]);
      await stop(r);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.err}`);
      assert.match(r.err, /cors\.allowedHeaders = "x-foo"/);
      assert.doesNotMatch(r.err, /\broot\b/);
      assertNoStack(r);
    }
  });
});

test('CLI: every config key is type-checked (JSON types kept: "80" and "false" are errors), all reported at once', async () => {
  const wrong = { port: '80', host: 5, workers: '2', watch: 'false', log: 'yes', immutable: 1, smallFileLimit: -1, crossOriginResourcePolicy: 'yes', sendTimeout: '1000', keepAliveTimeout: 0, cacheControl: '' };
  await withConfig({ root: ROOT, ...wrong }, async (cfg) => {
    for (const extra of [[], ['--workers', '2']]) {
      const r = await runCli(['serve', '--config', cfg, ...extra]);
      await stop(r);
      assert.equal(r.code, 2, r.err);
      for (const key of Object.keys(wrong)) {
        // --workers 2 overrides the config's bad "workers".
        if (key === 'workers' && extra.length > 0) continue;
        assert.match(r.err, new RegExp(`^  - ${key} = `, 'm'), `${key} missing from: ${r.err}`);
      }
      assertNoStack(r);
    }
  });
  await withConfig({ root: ROOT, cors: 'x' }, async (cfg) => {
    const r = await runCli(['serve', '--config', cfg, '--origin', APP]);
    await stop(r);
    assert.equal(r.code, 2);
    assert.match(r.err, /^ {2}- cors = "x": must be an object/m);
    assert.match(r.err, /1 problem/);
  });
});

test('CLI: a Cache-Control value that is not a valid header value exits 2 before listening', async () => {
  for (const extra of [[], ['--workers', '2']]) {
    const r = await runCli(['serve', ROOT, '--port', '0', '--cache-control', 'max-age=60 — fonts', ...extra]);
    await stop(r);
    assert.equal(r.code, 2, `${extra.join(' ')}: started anyway: ${r.out}`);
    assert.match(r.err, /cacheControl = "max-age=60 — fonts"/);
    assertNoStack(r);
  }
});

test('CLI: --send-timeout and --keep-alive-timeout (and their config keys) reach the server; bad values exit 2', async () => {
  const r = await runCli(['serve', ROOT, '--port', '0', '--send-timeout', '1000', '--keep-alive-timeout', '65000']);
  try {
    assert.equal(r.code, 'listening', r.err);
    const res = await rawRequest(r.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.get('keep-alive'), 'timeout=65');
  } finally {
    await stop(r);
  }
  await withConfig({ root: ROOT, sendTimeout: 2000, keepAliveTimeout: 61000 }, async (cfg) => {
    const ok = await runCli(['serve', '--config', cfg, '--port', '0']);
    try {
      assert.equal(ok.code, 'listening', ok.err);
      assert.equal((await rawRequest(ok.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).get('keep-alive'), 'timeout=61');
    } finally {
      await stop(ok);
    }
  });
  const bad = await runCli(['serve', ROOT, '--send-timeout', 'soon', '--keep-alive-timeout', '0']);
  await stop(bad);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /sendTimeout = "soon"/);
  assert.match(bad.err, /keepAliveTimeout = 0/);
});

async function start(options) {
  const server = await createServer(options);
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

test('CLI: --allowed-headers x-foo refuses a preflight for range; no flag allows it', async () => {
  for (const [extra, status] of [[['--allowed-headers', 'x-foo'], 403], [[], 204]]) {
    const r = await runCli(['serve', ROOT, '--port', '0', '--origin', APP, ...extra]);
    try {
      assert.equal(r.code, 'listening', r.err);
      assert.equal((await preflight(r.port, 'range')).status, status, extra.join(' '));
    } finally {
      await stop(r);
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
  assert.deepEqual(names(await expose({ origins: [APP] })), ['accept-ranges', 'content-length', 'content-range']);
  assert.deepEqual(names(await expose({ origins: ['*'] })), ['accept-ranges', 'content-length', 'content-range']);
  assert.equal(await expose({ origins: [APP], exposedHeaders: [] }), undefined);
  assert.equal(await expose({ origins: [APP], exposedHeaders: ['etag'] }), 'etag');
});

test('a log callback that throws is reported once on stderr and the server keeps serving', async () => {
  let calls = 0;
  const s = await start({
    root: ROOT,
    log: () => {
      calls++;
      throw new Error('disk full');
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
      // The log runs when the response closes, just after the client has its bytes.
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    process.stderr.write = write;
    await s.server.shutdown(100);
  }
  assert.equal(calls, 3, 'the callback is still called after it threw');
  assert.deepEqual(written, ['xorigin: the log callback threw: disk full; continuing\n']);
});

test('--help and the README list every flag and config key of the option schema', async () => {
  const { OPTION_SCHEMA } = await import('../dist/static/options.js');
  const help = await runCli(['--help']);
  const readme = readFileSync('README.md', 'utf8');
  for (const spec of OPTION_SCHEMA) {
    if (spec.flag !== undefined) {
      const flag = `--${spec.flag.name}${spec.flag.arg === undefined ? '' : ` ${spec.flag.arg}`}`;
      assert.ok(help.out.includes(flag), `${flag} missing from --help`);
      assert.match(readme, new RegExp(`^\\| \`(-\\w, )?--${spec.flag.name}\\b`, 'm'), `${flag} missing from the README's flag table`);
    }
    if (spec.scope !== 'policy' && spec.configType !== null) assert.ok(readme.includes(`"${spec.name}"`), `config key "${spec.name}" missing from the README`);
  }
});
