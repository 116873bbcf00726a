// Reload without restart (DESIGN.md "Reload"): server.reload(), cors.reconfigure() and SIGHUP.
// A new configuration is validated whole before anything changes; then each request is answered
// wholly under the old or wholly under the new one; certificates apply to new handshakes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCors, serve } from '../dist/index.js';
import { listen, request, runCli, stderrMatch, stopCli } from './helpers.js';
import { TLS_RESUMPTIONS, TRANSPORTS, testCertificate, tlsExchange } from './transports.js';

const A = 'https://a.example';
const OLD = { cors: { origins: [A], exposedHeaders: ['x-old'] }, cacheControl: 'public, max-age=1' };
const NEW = { cors: { origins: [A], exposedHeaders: ['x-new'] }, cacheControl: 'public, max-age=2' };

function makeRoot() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-reload-'));
  writeFileSync(join(root, 'a.woff2'), Buffer.from('wOF2' + 'x'.repeat(96)));
  return root;
}

async function start(options) {
  const server = await serve(options);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

/** Which configuration answered: the policy's exposed header and the Cache-Control must agree. */
function generation(res) {
  const exposed = res.headers['access-control-expose-headers'];
  const cache = res.headers['cache-control'];
  if (exposed === 'x-old' && cache === 'public, max-age=1') return 'old';
  if (exposed === 'x-new' && cache === 'public, max-age=2') return 'new';
  return `mixed: ${exposed} / ${cache}`;
}

for (const transport of TRANSPORTS) {
  test(`${transport.name}: under a steady stream of requests a reload flips the answer once, with no failure and no mix`, async () => {
    const root = makeRoot();
    const s = await start({ root, ...OLD, ...transport.options() });
    let reloaded = false;
    const seen = [];
    const loop = async () => {
      for (let i = 0; i < 60; i++) {
        const res = await transport.request(s.port, { path: '/a.woff2', headers: { Origin: A } });
        assert.equal(res.status, 200);
        seen.push({ g: generation(res), after: reloaded });
      }
    };
    const loops = [loop(), loop(), loop()];
    while (seen.length < 30) await new Promise((r) => setTimeout(r, 5));
    const report = s.server.reload({ root, ...NEW, ...transport.options() });
    reloaded = true;
    await Promise.all(loops);
    assert.deepEqual(report.applied.sort(), ['cacheControl', 'cors']);
    assert.deepEqual(report.needsRestart, []);
    assert.deepEqual(seen.filter((x) => x.g !== 'old' && x.g !== 'new'), [], 'no response mixes the two');
    // A request that began after reload() returned is answered under the new configuration.
    assert.deepEqual(seen.filter((x) => x.after && x.g === 'old').length <= 3, true, 'at most the requests already in flight answered old');
    assert.ok(seen.some((x) => x.g === 'old') && seen.some((x) => x.g === 'new'));
    const preflight = await transport.request(s.port, { method: 'OPTIONS', path: '/a.woff2', headers: { Origin: A, 'Access-Control-Request-Method': 'GET' } });
    assert.equal(preflight.status, 204);
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
}

test('a broken configuration changes nothing, and every problem is reported', async () => {
  const root = makeRoot();
  const s = await start({ root, ...OLD });
  assert.throws(
    () => s.server.reload({ root, cors: { origins: ['https://b.example/'] }, cacheControl: 'x\r\ny', colour: 1 }),
    (e) => {
      assert.equal(e.name, 'PolicyError');
      assert.deepEqual(e.problems.map((p) => p.option).sort(), ['cacheControl', 'colour', 'cors.origins[0]']);
      return true;
    },
  );
  const res = await request(s.port, { path: '/a.woff2', headers: { Origin: A } });
  assert.equal(generation(res), 'old');
  await s.server.shutdown(500);
  rmSync(root, { recursive: true, force: true });
});

test('options are read once: what was validated is what is put in force, whatever a getter or Proxy answers on a later read', async (t) => {
  const root = makeRoot();
  /** `options` whose cacheControl reads `first`, then something invalid on every later read. */
  const changing = (options, first) => {
    let reads = 0;
    return new Proxy(options, { get: (target, key) => (key === 'cacheControl' && reads++ > 0 ? 'max-age=5\r\nX-Bad: 1' : key === 'cacheControl' ? first : target[key]) });
  };
  const s = await start(changing({ root, ...OLD, cacheControl: 'public, max-age=1' }, 'public, max-age=1'));
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  const cacheControl = async () => {
    const res = await request(s.port, { path: '/a.woff2', headers: { Origin: A } });
    return `${res.status} ${res.headers['cache-control']}`;
  };
  assert.equal(await cacheControl(), '200 public, max-age=1');
  assert.deepEqual(s.server.reload(changing({ root, ...OLD, cacheControl: 'public, max-age=2' }, 'public, max-age=2')).applied, ['cacheControl']);
  assert.equal(await cacheControl(), '200 public, max-age=2');
  // A class whose options are getters on its prototype is read as before.
  class Options {
    get root() {
      return root;
    }
    get cacheControl() {
      return 'public, max-age=3';
    }
  }
  s.server.reload(new Options());
  assert.equal(await cacheControl(), '200 public, max-age=3');
});

test('reload() once shutdown() began throws ERR_SERVER_NOT_RUNNING and changes nothing, as the CLI refuses a SIGHUP then', async () => {
  const root = makeRoot();
  const s = await start({ root, ...OLD });
  // A response in flight keeps the server stopping (not stopped) while reload() is called.
  const socket = net.connect(s.port, '127.0.0.1');
  await new Promise((resolve) => socket.on('connect', resolve));
  const stopped = s.server.shutdown(500);
  assert.throws(() => s.server.reload({ root, ...NEW }), (e) => {
    assert.equal(e.code, 'ERR_SERVER_NOT_RUNNING');
    assert.match(e.message, /reload\(\) not applied: the server is stopping/);
    return true;
  });
  socket.destroy();
  await stopped;
  rmSync(root, { recursive: true, force: true });
});

test('a new function (the log, cors.onDenied) is reported as applied; the same one as unchanged', async (t) => {
  const root = makeRoot();
  const lines = { a: [], b: [] };
  const logA = (l) => lines.a.push(l);
  const logB = (l) => lines.b.push(l);
  const denied = () => {};
  const s = await start({ root, ...OLD, log: logA });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  assert.deepEqual(s.server.reload({ root, ...OLD, log: logA }).applied, []);
  assert.deepEqual(s.server.reload({ root, ...OLD, log: logB }).applied, ['log']);
  await request(s.port, { path: '/a.woff2' });
  assert.ok(await new Promise((r) => setTimeout(() => r(lines.b.length === 1 && lines.a.length === 0), 100)), JSON.stringify(lines));
  const withOnDenied = { ...OLD, cors: { ...OLD.cors, onDenied: denied } };
  assert.deepEqual(s.server.reload({ root, ...withOnDenied, log: logB }).applied, ['cors']);
  assert.deepEqual(s.server.reload({ root, ...withOnDenied, log: logB }).applied, []);
});

test('what needs a restart (root, smallFileLimit, watch, http2, TLS on/off) is reported and left as it was', async (t) => {
  const root = makeRoot();
  const other = makeRoot();
  writeFileSync(join(other, 'only-here.txt'), 'x');
  const s = await start({ root, ...OLD });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });
  const report = s.server.reload({ root: other, ...NEW, smallFileLimit: 10, watch: false });
  assert.deepEqual(report.needsRestart.sort(), ['root', 'smallFileLimit', 'watch']);
  assert.deepEqual(report.applied.sort(), ['cacheControl', 'cors']);
  assert.equal((await request(s.port, { path: '/only-here.txt' })).status, 404, 'still serving the old root');
  assert.equal(generation(await request(s.port, { path: '/a.woff2', headers: { Origin: A } })), 'new');
  const c = testCertificate();
  assert.deepEqual(s.server.reload({ root: other, ...NEW, smallFileLimit: 10, watch: false, tls: { cert: c.cert, key: c.key } }).needsRestart.sort(), ['root', 'smallFileLimit', 'tls', 'watch']);
  assert.equal(s.server.scheme, 'http');
});

test('a root that could not be served is refused at start-up and by a reload that changes the root (a PolicyError naming root; nothing changes), as the CLI refuses it', async (t) => {
  const root = makeRoot();
  const missing = join(root, 'nope');
  const file = join(root, 'a.woff2');
  for (const bad of [missing, file]) {
    await assert.rejects(serve({ root: bad, ...OLD }), (e) => e.name === 'PolicyError' && e.problems.length === 1 && e.problems[0].option === 'root' && /no such directory|not a directory/.test(e.message));
  }
  // Named with every other problem, as the other options' are.
  const both = (e) => e.name === 'PolicyError' && e.problems.map((p) => p.option).sort().join() === 'cacheControl,root';
  await assert.rejects(serve({ root: missing, cacheControl: 5 }), both);
  const s = await start({ root, ...OLD });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  for (const bad of [missing, file]) {
    assert.throws(() => s.server.reload({ root: bad, ...NEW }), (e) => e.name === 'PolicyError' && e.problems[0].option === 'root' && e.problems[0].value === bad);
  }
  assert.throws(() => s.server.reload({ root: missing, cacheControl: 5 }), both);
  assert.equal(generation(await request(s.port, { path: '/a.woff2', headers: { Origin: A } })), 'old', 'the refused reloads changed nothing');
  // The same root is not checked again (it is served, however it is doing): the reload applies.
  assert.deepEqual(s.server.reload({ root, ...NEW }), { applied: ['cors', 'cacheControl'], needsRestart: [] });
  assert.equal(generation(await request(s.port, { path: '/a.woff2', headers: { Origin: A } })), 'new');
});

test('a relative root is the directory it named at start: a reload after process.chdir() names another one (refused if missing, else needing a restart)', async (t) => {
  const first = makeRoot();
  const elsewhere = mkdtempSync(join(tmpdir(), 'xorigin-cwd-'));
  const cwd = process.cwd();
  process.chdir(first);
  t.after(() => process.chdir(cwd));
  const s = await start({ root: '.', ...OLD });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(first, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });
  assert.deepEqual(s.server.reload({ root: '.', ...OLD }), { applied: [], needsRestart: [] });
  process.chdir(elsewhere);
  assert.deepEqual(s.server.reload({ root: '.', ...OLD }), { applied: [], needsRestart: ['root'] });
  assert.throws(() => s.server.reload({ root: 'missing', ...OLD }), (e) => e.name === 'PolicyError' && e.problems[0].option === 'root');
  assert.equal((await request(s.port, { path: '/a.woff2' })).status, 200, 'still serving the first directory');
});

test('a restart-only option given explicitly at the value in force is no change (compared as resolved: the default, a size in another form, the same root by another path)', async (t) => {
  const root = makeRoot();
  const s = await start({ root, ...OLD });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  // Compared as given, `http2: true` against an absent one (the default, true) read as a change.
  const report = s.server.reload({ root: `${root}/./`, ...OLD, http2: true, watch: true, memoryBudget: '64MiB' });
  assert.deepEqual(report, { applied: [], needsRestart: [] });
  // Through a symlink it is another root, though it points here now: the server follows the path it
  // was given, and the link may be switched.
  const link = `${root}-link`;
  symlinkSync(root, link);
  t.after(() => rmSync(link, { force: true }));
  assert.deepEqual(s.server.reload({ root: link, ...OLD }), { applied: [], needsRestart: ['root'] });
  // A bind mount of it is the same directory (device and inode), not a new root.
  const bound = mkdtempSync(join(tmpdir(), 'xorigin-bind-'));
  let mounted = false;
  try {
    execFileSync('mount', ['--bind', root, bound], { stdio: 'ignore' });
    mounted = true;
  } catch {
    t.diagnostic('mount --bind not permitted here: the bind-mount case is not checked');
  }
  t.after(() => {
    if (mounted) execFileSync('umount', [bound]);
    rmSync(bound, { recursive: true, force: true });
  });
  if (mounted) assert.deepEqual(s.server.reload({ root: bound, ...OLD }), { applied: [], needsRestart: [] });
  // A real change is still one, and stays one on the next reload (it is not in force).
  assert.deepEqual(s.server.reload({ root, ...OLD, http2: false }).needsRestart, ['http2']);
  assert.deepEqual(s.server.reload({ root, ...OLD, http2: false }).needsRestart, ['http2']);
  assert.deepEqual(s.server.reload({ root, ...OLD }).needsRestart, []);
});

/** The subject CN of the certificate a new TLS handshake is given. */
function servedName(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().subject.CN);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/**
 * What a TLS 1.2 client offering only `ciphers` gets, offering h2 first: `h2 <suite>`, or the
 * handshake's error. RFC 9113 §9.2.2: HTTP/2 over TLS 1.2 uses no CBC suite (nor one without
 * forward secrecy); those are not offered at all, so the answer is the same on HTTPS/1.1.
 */
function tls12With(port, ciphers) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'], maxVersion: 'TLSv1.2', ciphers }, () => {
      resolve(`${socket.alpnProtocol} ${socket.getCipher().standardName}`);
      socket.destroy();
    });
    socket.on('error', (e) => resolve(e.code));
  });
}

/** Checks the suites offered, by what two TLS 1.2 clients get: one with CBC and static-RSA suites only, one with an AEAD suite. */
async function assertSuites(port, when) {
  // OpenSSL 3.2 and later (Node 22+) name the alert SSL/TLS, not SSLV3.
  assert.match(await tls12With(port, 'ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:AES128-GCM-SHA256'), /^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE$/, when);
  assert.match(await tls12With(port, 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256'), /^h2 TLS_ECDHE_(RSA|ECDSA)_WITH_AES_128_GCM_SHA256$/, when);
}

test('a renewed certificate is served to new handshakes; a mismatched key is refused and the old pair stays', async (t) => {
  const root = makeRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-renew-'));
  const one = testCertificate('one.test');
  const two = testCertificate('two.test');
  const files = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
  copyFileSync(one.cert, files.cert);
  copyFileSync(one.key, files.key);
  const s = await start({ root, ...OLD, tls: files });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(await servedName(s.port), 'one.test');
  await assertSuites(s.port, 'at start-up');
  // A keep-alive HTTPS/1.1 connection opened before the renewal lives on across it.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const get = () => new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port: s.port, path: '/a.woff2', agent }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.socket));
  }).on('error', reject));
  const before = await get();
  // Renewal writes both files in place (certbot's live/ names stay the same).
  copyFileSync(two.cert, files.cert);
  copyFileSync(two.key, files.key);
  assert.deepEqual(s.server.reload({ root, ...OLD, tls: files }).applied, ['tls']);
  assert.equal(await servedName(s.port), 'two.test');
  await assertSuites(s.port, 'after the renewal (a new secure context)');
  assert.equal(await get(), before, 'the connection from before the renewal was kept');
  agent.destroy();
  // Half a renewal: the new certificate with the old key.
  copyFileSync(one.key, files.key);
  assert.throws(() => s.server.reload({ root, ...OLD, tls: files }), (e) => e.problems.some((p) => p.option === 'tls.key' && /does not belong/.test(p.reason)));
  assert.equal(await servedName(s.port), 'two.test');
  // A reload without tls (a config that lost its "tls") needs a restart and changes nothing; a
  // renewal after it still applies (found by a hostile review: it was reported as needing a restart).
  assert.deepEqual(s.server.reload({ root, ...OLD }).needsRestart, ['tls']);
  assert.equal(await servedName(s.port), 'two.test');
  copyFileSync(one.key, files.key);
  copyFileSync(one.cert, files.cert);
  assert.deepEqual(s.server.reload({ root, ...OLD, tls: files }), { applied: ['tls'], needsRestart: [] });
  assert.equal(await servedName(s.port), 'one.test');
});

/** Whether each of `tickets` ({ name, version, alpn, ticket }) resumes now, by name. */
async function resumedNow(port, tickets) {
  const out = {};
  for (const t of tickets) out[t.name] = (await tlsExchange(port, t.ticket, t)).reused;
  return out;
}

test('a session ticket issued before a reload still resumes after it (TLS 1.2 and 1.3, h2 and http/1.1): one that changed nothing, a renewal to another key, a refused one', async (t) => {
  const root = makeRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-resume-'));
  const files = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
  const one = testCertificate('one.test');
  const two = testCertificate('two.test');
  copyFileSync(one.cert, files.cert);
  copyFileSync(one.key, files.key);
  const s = await start({ root, ...OLD, tls: files });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const tickets = [];
  for (const r of TLS_RESUMPTIONS) {
    const first = await tlsExchange(s.port, undefined, r);
    assert.deepEqual([first.reused, first.alpn], [false, r.alpn], r.name);
    assert.ok(first.ticket, `${r.name}: the server sent a session ticket`);
    tickets.push({ ...r, ticket: first.ticket });
  }
  const all = Object.fromEntries(TLS_RESUMPTIONS.map((r) => [r.name, true]));
  assert.deepEqual(await resumedNow(s.port, tickets), all, 'resumed before any reload');
  s.server.reload({ root, ...OLD, tls: files });
  assert.deepEqual(await resumedNow(s.port, tickets), all, 'resumed after a reload that changed nothing');
  // A renewal to a certificate for another key: the ticket's PSK does not depend on it (RFC 8446 §2.2).
  copyFileSync(two.cert, files.cert);
  copyFileSync(two.key, files.key);
  assert.deepEqual(s.server.reload({ root, ...OLD, tls: files }).applied, ['tls']);
  assert.equal(await servedName(s.port), 'two.test');
  assert.deepEqual(await resumedNow(s.port, tickets), all, 'resumed after a certificate renewal');
  copyFileSync(one.key, files.key);
  assert.throws(() => s.server.reload({ root, ...OLD, tls: files }), (e) => e.problems.some((p) => p.option === 'tls.key'));
  assert.equal(await servedName(s.port), 'two.test');
  assert.deepEqual(await resumedNow(s.port, tickets), all, 'resumed after a refused reload');
});

test('cors.reconfigure: a new policy in one step; an invalid one throws and the old stays', async () => {
  const cors = createCors({ origins: [A] });
  const s = await listen((req, res) => {
    if (!cors.handle(req, res)) res.end('ok');
  });
  const B = 'https://b.example';
  assert.equal((await request(s.port, { headers: { Origin: B } })).headers['access-control-allow-origin'], undefined);
  cors.reconfigure({ origins: [B], methods: ['PUT'] });
  assert.equal((await request(s.port, { headers: { Origin: B } })).headers['access-control-allow-origin'], B);
  assert.equal((await request(s.port, { headers: { Origin: A } })).headers['access-control-allow-origin'], undefined);
  const pf = await request(s.port, { method: 'OPTIONS', headers: { Origin: B, 'Access-Control-Request-Method': 'PUT' } });
  assert.equal(pf.status, 204);
  assert.equal(pf.headers['access-control-allow-methods'], 'PUT');
  assert.throws(() => cors.reconfigure({ origins: ['*'], credentials: true }), (e) => e.name === 'PolicyError');
  assert.equal((await request(s.port, { headers: { Origin: B } })).headers['access-control-allow-origin'], B);
  assert.deepEqual(cors.policy.methods, ['PUT']);
  await s.close();
});

test('cors.reconfigure while a response is in flight: it keeps the old policy\'s Vary: Origin beside the echoed origin (found by a review)', async () => {
  const cors = createCors({ origins: [A] });
  let decorated;
  const seen = new Promise((resolve) => (decorated = resolve));
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  // The handler replaces Vary after handle(), then writes only once the policy has changed to `*`.
  const s = await listen(async (req, res) => {
    if (cors.handle(req, res)) return;
    res.setHeader('Vary', 'Accept');
    decorated();
    await gate;
    res.end('ok');
  });
  const pending = request(s.port, { headers: { Origin: A } });
  await seen;
  cors.reconfigure({ origins: ['*'] });
  release();
  const res = await pending;
  assert.equal(res.headers['access-control-allow-origin'], A);
  assert.equal(res.headers.vary, 'Accept, Origin');
  const next = await request(s.port, { headers: { Origin: A } });
  assert.equal(next.headers['access-control-allow-origin'], '*');
  assert.equal(next.headers.vary, 'Accept');
  await s.close();
});

for (const workers of [1, 2]) {
  test(`CLI${workers > 1 ? ' --workers 2' : ''}: SIGHUP re-reads the config file; a broken one is refused and the old policy stays`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-hup-'));
    const root = makeRoot();
    const config = join(dir, 'xorigin.json');
    writeFileSync(config, JSON.stringify({ root, cors: { origins: [A] } }));
    const r = await runCli(['serve', '--config', config, '--port', '0', '--workers', String(workers)]);
    t.after(async () => {
      await stopCli(r);
      rmSync(dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    });
    assert.equal(r.code, 'listening', r.err);
    const B = 'https://b.example';
    const acao = async (origin = B) => (await request(r.port, { path: '/a.woff2', headers: { Origin: origin } })).headers['access-control-allow-origin'];
    assert.equal(await acao(), undefined);
    // The URL is printed once the first worker listens; a worker still starting would not answer
    // (it applies a reload held while it scans, so it is not left behind either: see the tests below).
    if (workers > 1) await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
    writeFileSync(config, JSON.stringify({ root, cors: { origins: [B] }, host: 'localhost' }));
    r.child.kill('SIGHUP');
    await stderrMatch(r, workers > 1 ? /(worker \d+: reloaded[^\n]*\n[^]*){2}/ : /reloaded: applied: cors; needs a restart to change: host/);
    for (let i = 0; i < 4; i++) assert.equal(await acao(), B, 'every worker answers under the new policy');
    writeFileSync(config, JSON.stringify({ root, cors: { origins: ['https://c.example/'] } }));
    r.child.kill('SIGHUP');
    await stderrMatch(r, /reload refused, the running configuration stays in force: invalid xorigin configuration[^]*cors\.origins\[0\]/);
    for (let i = 0; i < 4; i++) assert.equal(await acao(), B);
    // A second "cors" (JSON keeps the last, with no origins: `*`) was applied as a widening of the policy.
    writeFileSync(config, `{"root":${JSON.stringify(root)},"cors":{"origins":["${B}"]},"cors":{"maxAge":600}}`);
    r.child.kill('SIGHUP');
    await stderrMatch(r, /reload refused[^]*cors = \{"maxAge":600\}: is given 2 times in one object of the config file/);
    for (let i = 0; i < 4; i++) assert.equal(await acao('https://elsewhere.example'), undefined, 'not widened to *');
    // What the new configuration sets to no effect is warned of as at start-up, once (by the primary).
    assert.doesNotMatch(r.err, /warning: logFormat/);
    writeFileSync(config, JSON.stringify({ root, cors: { origins: [B] }, logFormat: 'json' }));
    r.child.kill('SIGHUP');
    await stderrMatch(r, workers > 1 ? /(worker \d+: reloaded[^]*){4}/ : /(reloaded: [^]*){2}/);
    assert.equal(r.err.match(/warning: logFormat = "json" has no effect: the access log is off; fix: add --log/g)?.length, 1, r.err);
    assert.equal(r.child.exitCode, null, 'still running');
  });
}

for (const workers of [1, 2]) {
  test(`CLI${workers > 1 ? ' --workers 2' : ''}: a burst of SIGHUPs is one reload of what is on disk (or two), not one each (found by a review)`, async (t) => {
    const { config, root } = configFixture(t, 'xorigin-hup-burst-');
    // Enough origins that a reload takes a while: the burst arrives while the first one runs.
    const origins = Array.from({ length: 30_000 }, (_, i) => `https://host${i}.example-customer.com`);
    writeFileSync(config, JSON.stringify({ root, cors: { origins } }));
    const r = await runCli(['serve', '--config', config, '--port', '0', '--workers', String(workers)], { timeoutMs: 20_000 });
    t.after(() => stopCli(r));
    assert.equal(r.code, 'listening', r.err);
    if (workers > 1) await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
    writeFileSync(config, JSON.stringify({ root, cors: { origins: [...origins, 'https://b.example'] } }));
    for (let i = 0; i < 10; i++) {
      r.child.kill('SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await stderrMatch(r, workers > 1 ? /(worker \d+: reloaded: applied: cors\n[^]*){2}/ : /reloaded: applied: cors\n/);
    // Whatever came after the first reload has had time to be applied too.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const reloads = (r.err.match(/reloaded: /g) ?? []).length;
    assert.ok(reloads >= workers && reloads <= 2 * workers, `${reloads} reload lines for 10 SIGHUPs:\n${r.err}`);
    // The primary says it put the configuration in force, whatever its workers answer.
    if (workers > 1) assert.match(r.err, /xorigin: reload validated: sent to 2 workers \(each answers as it applies it/);
    assert.equal((await request(r.port, { path: '/a.woff2', headers: { Origin: 'https://b.example' } })).headers['access-control-allow-origin'], 'https://b.example');
  });
}

test('CLI: a SIGHUP after SIGTERM, while a response is still in flight, is not applied and says so', async (t) => {
  const { config, root } = configFixture(t, 'xorigin-hup-stopping-');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024));
  const r = await runCli(['serve', '--config', config, '--port', '0']);
  t.after(() => r.child?.kill('SIGKILL'));
  assert.equal(r.code, 'listening', r.err);
  // A client that asks for 32 MB and reads none of it keeps the response in flight.
  const socket = net.connect(r.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.pause();
  socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 300));
  r.child.kill('SIGTERM');
  await stderrMatch(r, /stopping: responses in flight finish/);
  writeFileSync(config, JSON.stringify({ root, cors: { origins: ['https://b.example'] } }));
  r.child.kill('SIGHUP');
  await stderrMatch(r, /reload not applied: the server is stopping\n/);
  assert.doesNotMatch(r.err, /reloaded: applied/);
});

/** A root and a config file serving it under origins [A], in a directory of their own; both removed after the test. */
function configFixture(t, prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const root = makeRoot();
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });
  const config = join(dir, 'xorigin.json');
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [A] } }));
  return { dir, root, config };
}

/**
 * A config file naming a certificate pair copied into a directory of its own (`localhost`), a root,
 * and a second pair (`other.test`) for hooks to hand out; all removed after the test.
 */
function tlsConfigFixture(t, prefix) {
  const { dir, root, config } = configFixture(t, prefix);
  const c = testCertificate();
  const other = testCertificate('other.test');
  const tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  copyFileSync(c.cert, tls.cert);
  copyFileSync(c.key, tls.key);
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [A] }, tls }));
  return { dir, root, other, tls, config };
}

test('CLI --workers 2: the workers reload from the bytes the primary validated (config, certificate, key), not from the files read again', async (t) => {
  // A file rewritten between the primary's read and a worker's left the workers on two policies.
  // Here each worker's own read of the config, the certificate and the key after a reload request
  // gets other files (a preloaded hook), which is what rewrites at that instant would give it.
  const { dir, root, other, tls, config } = tlsConfigFixture(t, 'xorigin-hup-bytes-');
  const later = join(dir, 'later.json');
  const B = 'https://b.example';
  const C = 'https://c.example';
  writeFileSync(later, JSON.stringify({ root, cors: { origins: [C] }, tls }));
  const elsewhere = { [config]: later, [tls.cert]: other.cert, [tls.key]: other.key };
  const hook = join(dir, 'other-files-for-workers.mjs');
  writeFileSync(hook, `
import cluster from 'node:cluster';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
if (cluster.isWorker) {
  let reloading = false;
  process.on('message', (m) => { if (m && m.xorigin === 'reload') reloading = true; });
  const elsewhere = ${JSON.stringify(elsewhere)};
  const openSync = fs.openSync;
  fs.openSync = (path, ...rest) => openSync(reloading && path in elsewhere ? elsewhere[path] : path, ...rest);
  syncBuiltinESMExports();
}
`);
  const r = await runCli(['serve', '--config', config, '--port', '0', '--workers', '2'], { env: { NODE_OPTIONS: `--import ${new URL(`file://${hook}`).href}` } });
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [B] }, tls }));
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(worker \d+: reloaded: applied: cors[^\n]*\n[^]*){2}/);
  const seen = new Set();
  for (let i = 0; i < 8; i++) {
    const res = await TRANSPORTS[1].request(r.port, { path: '/a.woff2', headers: { Origin: B, Connection: 'close' } });
    seen.add(res.headers['access-control-allow-origin'] ?? 'none');
    seen.add(await servedName(r.port));
  }
  assert.deepEqual([...seen].sort(), [B, 'localhost']);
});

test('CLI: a reload reads the certificate and key once: the server puts in force the bytes the settings were validated from', async (t) => {
  // After a SIGHUP, a second read of either file (a preloaded hook) gets another pair, as a renewal
  // landing between two reads would: only one read may happen.
  const { dir, other, tls, config } = tlsConfigFixture(t, 'xorigin-hup-once-');
  const elsewhere = { [tls.cert]: other.cert, [tls.key]: other.key };
  const hook = join(dir, 'second-read-elsewhere.mjs');
  writeFileSync(hook, `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const elsewhere = ${JSON.stringify(elsewhere)};
const reads = {};
let reloading = false;
process.on('SIGHUP', () => { reloading = true; });
const openSync = fs.openSync;
fs.openSync = (path, ...rest) => {
  if (!reloading || !(path in elsewhere)) return openSync(path, ...rest);
  reads[path] = (reads[path] ?? 0) + 1;
  return openSync(reads[path] > 1 ? elsewhere[path] : path, ...rest);
};
syncBuiltinESMExports();
`);
  const r = await runCli(['serve', '--config', config, '--port', '0'], { env: { NODE_OPTIONS: `--import ${new URL(`file://${hook}`).href}` } });
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  r.child.kill('SIGHUP');
  await stderrMatch(r, /reloaded: nothing changed/);
  assert.equal(await servedName(r.port), 'localhost');
});

test('CLI: a SIGHUP while the root is still being scanned is applied once the server is up, not fatal', async (t) => {
  // SIGHUP's default action ends a process: one arriving during the start-up scan (a large tree, a
  // renewal hook firing as the service restarts) killed it without a word. The scan is held here
  // by a preloaded hook until the test has sent its SIGHUP, so the signal lands in it every time.
  const { dir, root, config } = configFixture(t, 'xorigin-hup-early-');
  const go = join(dir, 'go');
  const hook = join(dir, 'hold-scan.mjs');
  writeFileSync(hook, `
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const readdir = fsp.readdir;
let held = false;
fsp.readdir = async (...args) => {
  if (!held) {
    held = true;
    process.stderr.write('scanning\\n');
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 10));
  }
  return readdir(...args);
};
syncBuiltinESMExports();
`);
  // --etag-cache off: the default cache is the user's ~/.cache/xorigin, which a test must not write.
  const child = spawn(process.execPath, ['--import', new URL(`file://${hook}`).href, 'dist/cli/main.js', 'serve', '--config', config, '--port', '0', '--etag-cache', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  const waiters = [];
  const check = () => {
    for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
  };
  child.stdout.on('data', (d) => {
    out += d;
    check();
  });
  child.stderr.on('data', (d) => {
    err += d;
    check();
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(`exited (${code ?? signal})`)));
  const seen = (test) => Promise.race([
    new Promise((resolve) => {
      const w = () => test() && (resolve(true), true);
      if (!w()) waiters.push(w);
    }),
    exited,
    new Promise((r) => setTimeout(() => r('timed out'), 8000).unref()),
  ]);
  assert.equal(await seen(() => /scanning/.test(err)), true, err);
  writeFileSync(config, JSON.stringify({ root, cors: { origins: ['https://b.example'] } }));
  child.kill('SIGHUP');
  writeFileSync(go, '');
  assert.equal(await seen(() => /reloaded: applied: cors/.test(err) && /listening on http:\/\/127\.0\.0\.1:\d+/.test(out)), true, `stderr: ${err}`);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)[1]);
  const res = await request(port, { path: '/a.woff2', headers: { Origin: 'https://b.example' } });
  assert.equal(res.headers['access-control-allow-origin'], 'https://b.example');
});

test('CLI --workers 2: each process listens for SIGHUP before it loads the server (a group SIGHUP while one starts does not end it)', async (t) => {
  // SIGHUP's default action ends a process: before its first listener, while Node loaded the CLI's
  // modules (a few hundred ms), \`pkill -HUP\` or a closing terminal ended a starting worker, and at
  // start-up the whole command. Each process says here whether node:http was loaded by then.
  const { dir, config } = configFixture(t, 'xorigin-hup-window-');
  const r = await runCliWithHook(t, dir, `
process.on('newListener', (event) => {
  if (event !== 'SIGHUP' || globalThis.firstSighupListener) return;
  globalThis.firstSighupListener = true;
  process.stderr.write('first SIGHUP listener: node:http ' + (process.moduleLoadList.includes('NativeModule http') ? 'loaded' : 'not loaded') + '\\n');
});
`, ['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  assert.equal(r.err.match(/first SIGHUP listener: node:http not loaded/g)?.length, 3, r.err);
  assert.doesNotMatch(r.err, /node:http loaded/);
});

test('--workers: a SIGHUP that finds a worker just died (listed, its channel closed) does not end the primary', async (t) => {
  // The state lasts from the worker's death until the primary has seen its 'exit': a SIGHUP landing
  // then (a renewal hook while a worker crashed) made send() emit an unhandled 'error' on the Worker,
  // which ended the primary and every worker with it. Here the dead worker is handed over directly.
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-hup-dead-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const worker = join(dir, 'worker.mjs');
  writeFileSync(worker, 'setInterval(() => {}, 1000);\n');
  const primary = join(dir, 'primary.mjs');
  writeFileSync(primary, `
import cluster from 'node:cluster';
import { forwardReloads } from ${JSON.stringify(new URL('../dist/cli/reload.js', import.meta.url).href)};
import { ConfigInForce } from ${JSON.stringify(new URL('../dist/cli/worker-start.js', import.meta.url).href)};
cluster.setupPrimary({ exec: ${JSON.stringify(worker)} });
const w = cluster.fork();
w.on('online', () => w.process.kill('SIGKILL'));
w.on('exit', () => {
  forwardReloads(() => [w], () => ({}), new ConfigInForce({}, new Map()), () => false);
  process.kill(process.pid, 'SIGHUP');
  setTimeout(() => { process.stdout.write('primary still running'); process.exit(0); }, 200);
});
`);
  const child = spawn(process.execPath, [primary], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, err);
  assert.equal(out, 'primary still running');
});

/** The pids of the workers that have said they listen, in order. */
function listeningWorkers(r) {
  return [...r.err.matchAll(/worker (\d+) listening/g)].map((m) => Number(m[1]));
}

/** Kills the `count` workers listening now, one after the other, each once its replacement listens. */
async function replaceEveryWorker(r, count = 2) {
  for (const pid of listeningWorkers(r).slice(-count)) {
    const before = listeningWorkers(r).length;
    process.kill(pid, 'SIGKILL');
    await stderrMatch(r, new RegExp(`(worker \\d+ listening[^]*){${before + 1}}`));
  }
}

/** Status and ACAO of `path` for `origin` over `n` new connections (spread over the workers), distinct. */
async function answers(port, path, origin, n = 8) {
  const seen = new Set();
  for (let i = 0; i < n; i++) {
    const res = await request(port, { path, headers: { Origin: origin, Connection: 'close' } });
    seen.add(`${res.status} ${res.headers['access-control-allow-origin'] ?? 'none'}`);
  }
  return [...seen].sort();
}

/**
 * A preloaded hook that runs `body` (module source, may await) in the first directory listing of
 * a process for which `which` (`cluster.isWorker` or `cluster.isPrimary`) holds: its start-up scan.
 */
function inFirstListing(which, body) {
  return `
import cluster from 'node:cluster';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const readdir = fsp.readdir;
let first = ${which};
fsp.readdir = async (...args) => {
  if (first) {
    first = false;
${body}
  }
  return readdir(...args);
};
syncBuiltinESMExports();
`;
}

/** Runs the CLI with `hook` (module source) preloaded in the primary and every worker. */
function runCliWithHook(t, dir, hook, args) {
  const file = join(dir, `hook-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, hook);
  return runCli(args, { env: { NODE_OPTIONS: `--import ${new URL(`file://${file}`).href}` } });
}

test('CLI --workers 2: a replacement worker serves the configuration in force, not an edit never reloaded nor one a reload refused', async (t) => {
  const { root, config } = configFixture(t, 'xorigin-replace-');
  const B = 'https://b.example';
  const r = await runCli(['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  // Edited, not reloaded: replacements keep the policy in force (they read the disk: half said B).
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [B] } }));
  await replaceEveryWorker(r);
  assert.deepEqual(await answers(r.port, '/a.woff2', A), [`200 ${A}`]);
  // A broken edit a reload refused: replacements still start (they exited 2, until none listened).
  writeFileSync(config, '{ "root": ');
  r.child.kill('SIGHUP');
  await stderrMatch(r, /reload refused/);
  await replaceEveryWorker(r);
  assert.doesNotMatch(r.err, /exit 2/);
  assert.deepEqual(await answers(r.port, '/a.woff2', A), [`200 ${A}`]);
});

test('CLI --workers 2: after a reload that needs a restart (root), a replacement keeps the root the others serve and takes the new policy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-replace-root-'));
  const root = makeRoot();
  const other = mkdtempSync(join(tmpdir(), 'xorigin-replace-other-'));
  t.after(() => {
    for (const d of [dir, root, other]) rmSync(d, { recursive: true, force: true });
  });
  const config = join(dir, 'xorigin.json');
  const B = 'https://b.example';
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [A] } }));
  const r = await runCli(['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  writeFileSync(config, JSON.stringify({ root: other, cors: { origins: [B] } }));
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(reloaded: applied: cors; needs a restart to change: root[^]*){2}/);
  // The directory the reload named, staged for the next restart, is gone again.
  rmSync(other, { recursive: true, force: true });
  await replaceEveryWorker(r);
  assert.doesNotMatch(r.err, /exit 2|refused/);
  // Started from the files on disk, a replacement served `other` (404) where the rest served root;
  // started from the start-up files then reloaded, its reload was refused (no `other`) and it
  // answered under the start-up policy.
  assert.deepEqual(await answers(r.port, '/a.woff2', B), [`200 ${B}`]);
});

/** A certificate for CN renewed.test valid `days` days, and its key, written in `dir`. */
function renewedPair(dir, days) {
  const renewed = { cert: join(dir, 'renewed-cert.pem'), key: join(dir, 'renewed-key.pem') };
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days),
    '-subj', '/CN=renewed.test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', renewed.key, '-out', renewed.cert], { stdio: 'pipe' });
  return renewed;
}

/**
 * `serve --config config --workers 2`, listening with both workers up, whose workers' clock is 10
 * days ahead whenever the file `later` exists (the primary's never is): certificates expire for them alone.
 */
async function workersLivingLater(t, dir, config, later) {
  const r = await runCliWithHook(t, dir, `
import cluster from 'node:cluster';
import fs from 'node:fs';
const now = Date.now;
if (cluster.isWorker) Date.now = () => now() + (fs.existsSync(${JSON.stringify(later)}) ? 10 * 86_400_000 : 0);
`, ['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  return r;
}

test('CLI --workers 2: a replacement starts once the certificate the primary started with has expired, from the renewal reloaded since (TLS turned off by a later reload too)', async (t) => {
  const { dir, root, tls, config } = tlsConfigFixture(t, 'xorigin-replace-renewed-');
  const renewed = renewedPair(dir, 400);
  const later = join(dir, 'later');
  // Once `later` exists the workers live 10 days on: the first pair (2 days) has expired for them.
  const r = await workersLivingLater(t, dir, config, later);
  copyFileSync(renewed.cert, tls.cert);
  copyFileSync(renewed.key, tls.key);
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(reloaded: applied: tls[^]*){2}/);
  // Then a reload turns TLS off (needs a restart): the workers keep the renewed pair, and so must a
  // replacement (it got the start-up pair back, expired for it).
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [A] } }));
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(reloaded: nothing changed; needs a restart to change: tls[^]*){2}/);
  writeFileSync(later, '');
  await replaceEveryWorker(r);
  assert.doesNotMatch(r.err, /exit 2|expired/);
  assert.equal(await servedName(r.port), 'renewed.test');
});

test('CLI --workers 2: once the certificate in force has expired (a renewal that failed), a worker that dies is still replaced, with the certificate its siblings present', async (t) => {
  // Replacements re-checked the validity period of the bytes the primary had put in force: each exited 2,
  // and with every worker gone nothing listened (dojot/dojot#2426 is this outage in another server).
  const { dir, config } = tlsConfigFixture(t, 'xorigin-replace-expired-');
  const later = join(dir, 'later');
  const r = await workersLivingLater(t, dir, config, later);
  const name = await servedName(r.port);
  writeFileSync(later, '');
  await replaceEveryWorker(r);
  assert.doesNotMatch(r.err, /exit 2|expired/);
  assert.equal(await servedName(r.port), name);
});

test('CLI --workers 2: a reload the primary validated is applied by every worker, whatever the worker\'s clock says of the certificate', async (t) => {
  // Workers checked the validity period of the reloaded certificate again: one whose clock ran ahead
  // kept the old certificate while replacements started with the new one (two certificates on one port).
  const { dir, tls, config } = tlsConfigFixture(t, 'xorigin-reload-validated-');
  const renewed = renewedPair(dir, 5);
  const later = join(dir, 'later');
  const r = await workersLivingLater(t, dir, config, later);
  writeFileSync(later, '');
  copyFileSync(renewed.cert, tls.cert);
  copyFileSync(renewed.key, tls.key);
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(reloaded: applied: tls[^]*){2}/);
  assert.doesNotMatch(r.err, /refused/);
  for (let i = 0; i < 4; i++) assert.equal(await servedName(r.port), 'renewed.test');
});

test('a certificate chain cut short after the leaf (an interrupted write) is refused at start-up and on reload, naming tls.cert; the server keeps serving', async (t) => {
  // Only the leaf was parsed: the secure context threw outside the checks, and a SIGHUP ended the process.
  const { tls, config } = tlsConfigFixture(t, 'xorigin-cut-chain-');
  const r = await runCli(['serve', '--config', config, '--port', '0']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  const name = await servedName(r.port);
  appendFileSync(tls.cert, '-----BEGIN CERTIFICATE-----\nAAAA\n');
  r.child.kill('SIGHUP');
  await stderrMatch(r, /reload refused[^]*tls\.cert = [^]*the file ends inside a PEM block/);
  assert.equal(await servedName(r.port), name);
  const again = await runCli(['serve', '--config', config, '--port', '0']);
  t.after(() => stopCli(again));
  assert.equal(again.code, 2, again.err);
  assert.match(again.err, /tls\.cert = .*the file ends inside a PEM block/);
});

test('a certificate not valid yet (notBefore ahead of this clock) is refused at start-up, naming the date', async (t) => {
  // Only the end of the validity period was checked: a reload then put in force a certificate every client refuses.
  const { dir, config } = tlsConfigFixture(t, 'xorigin-not-yet-');
  const r = await runCliWithHook(t, dir, `
const now = Date.now;
Date.now = () => now() - 10 * 86_400_000;
`, ['serve', '--config', config, '--port', '0']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /tls\.cert = .*: the certificate is not valid before \d{4}-\d\d-\d\dT/);
});

test('CLI --workers 2: a reload asked for while a worker scans is applied from the bytes the primary validated', async (t) => {
  // One worker, during its start-up scan, has the config edited to B and the primary reloaded, then
  // (its reload request held) the config edited again to C without a reload. It must end on B: it
  // read C from the disk when it applied the held request.
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-hup-scan-'));
  const root = makeRoot();
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });
  const config = join(dir, 'xorigin.json');
  const B = 'https://b.example';
  const C = 'https://c.example';
  const json = (origin) => JSON.stringify({ root, cors: { origins: [origin] } });
  writeFileSync(config, json(A));
  const r = await runCliWithHook(t, dir, inFirstListing('cluster.isWorker', `
    let mine = true;
    try { fs.writeFileSync(${JSON.stringify(join(dir, 'claimed'))}, '', { flag: 'wx' }); } catch { mine = false; }
    if (mine) {
      const held = new Promise((resolve) => process.on('message', (m) => m && m.xorigin === 'reload' && resolve()));
      fs.writeFileSync(${JSON.stringify(config)}, ${JSON.stringify(json(B))});
      process.kill(process.ppid, 'SIGHUP');
      await held;
      fs.writeFileSync(${JSON.stringify(config)}, ${JSON.stringify(json(C))});
    }`), ['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  // The scanning worker applies the reload it held; the other one, asking what to start from
  // after it, may have started from B's files.
  await stderrMatch(r, /worker \d+: reloaded: applied: cors/);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  assert.deepEqual(await answers(r.port, '/a.woff2', B), [`200 ${B}`]);
});

test('CLI --workers 2: a SIGHUP during the primary\'s start-up hashing is applied to the workers it forks', async (t) => {
  const { dir, root, config } = configFixture(t, 'xorigin-hup-primary-');
  const B = 'https://b.example';
  // In the primary's first directory listing (its hashing for the ETag cache): the edit, the signal.
  const r = await runCliWithHook(t, dir, inFirstListing('cluster.isPrimary', `
    fs.writeFileSync(${JSON.stringify(config)}, ${JSON.stringify(JSON.stringify({ root, cors: { origins: [B] } }))});
    process.kill(process.pid, 'SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 100));`), ['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  // The workers forked during that reload start from its files, or apply it once up (no line is
  // printed for what they start from): either way, B's policy is what every one of them answers with.
  assert.deepEqual(await answers(r.port, '/a.woff2', B), [`200 ${B}`]);
});

test('CLI: --cert/--key serve HTTPS and HTTP/2 (also under --workers; URL printed with https); an unreadable or mismatched pair exits 2 naming the option', async (t) => {
  const c = testCertificate();
  const other = testCertificate('other.test');
  const root = makeRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const workers of ['1', '2']) {
    const r = await runCli(['serve', root, '--port', '0', '--cert', c.cert, '--key', c.key, '--workers', workers]);
    t.after(() => stopCli(r));
    assert.equal(r.code, 'listening', r.err);
    assert.match(r.out, new RegExp(`listening on https://127\\.0\\.0\\.1:\\d+ \\(pid ${r.child.pid}\\)`), 'the pid to signal is the server\'s own');
    for (let i = 0; i < 4; i++) {
      const res = await TRANSPORTS[2].request(r.port, { path: '/a.woff2' });
      assert.equal(res.status, 200);
      assert.equal(res.protocol, 'HTTP/2.0');
    }
  }
  const missing = await runCli(['serve', root, '--cert', join(root, 'nope.pem'), '--key', c.key]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /tls\.cert = ".*nope\.pem": cannot read the file/);
  const mismatched = await runCli(['serve', root, '--cert', c.cert, '--key', other.key]);
  assert.equal(mismatched.code, 2);
  assert.match(mismatched.err, /tls\.key = .*does not belong to the certificate/);
  const half = await runCli(['serve', root, '--cert', c.cert]);
  assert.equal(half.code, 2);
  assert.match(half.err, /tls\.key \(not given\): is required when cert is given .*Fix: give it too: --key /);
  // Every problem at once: the file given alone is read all the same.
  const halfUnreadable = await runCli(['serve', root, '--cert', join(root, 'nope.pem')]);
  assert.equal(halfUnreadable.code, 2);
  assert.match(halfUnreadable.err, /\(2 problems\)/);
  assert.match(halfUnreadable.err, /tls\.key \(not given\): is required when cert is given/);
  assert.match(halfUnreadable.err, /tls\.cert = ".*nope\.pem": cannot read the file/);
  const swapped = await runCli(['serve', root, '--cert', c.key, '--key', c.cert]);
  assert.equal(swapped.code, 2);
  assert.match(swapped.err, /tls\.cert = .*not a PEM certificate/);
});

test('an empty certificate or key, or one cut inside its PEM block, is named as such: a renewal caught mid-write, not a file of the wrong kind (found by a review)', async (t) => {
  const c = testCertificate();
  const root = makeRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-unfinished-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const empty = join(dir, 'empty.pem');
  writeFileSync(empty, '\n');
  const cut = (from, name) => {
    const path = join(dir, name);
    writeFileSync(path, readFileSync(from).subarray(0, 120));
    return path;
  };
  for (const [args, pattern] of [
    [['--cert', empty, '--key', c.key], /tls\.cert = ".*empty\.pem": the file is empty\. Fix: a write may still be under way/],
    [['--cert', c.cert, '--key', empty], /tls\.key = ".*empty\.pem": the file is empty\. Fix: a write may still be under way/],
    [['--cert', cut(c.cert, 'cert-cut.pem'), '--key', c.key], /tls\.cert = ".*cert-cut\.pem": the file ends inside a PEM block/],
    [['--cert', c.cert, '--key', cut(c.key, 'key-cut.pem')], /tls\.key = ".*key-cut\.pem": the file ends inside a PEM block/],
  ]) {
    const r = await runCli(['serve', root, ...args]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, pattern);
  }
});

test('a FIFO or a device given as certificate, key or config file is refused at once, naming it (a read waited for a writer, or grew without end, with every request stopped)', async (t) => {
  const c = testCertificate();
  const root = makeRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-fifo-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  // At start-up: exit 2 with the option named.
  const started = await runCli(['serve', root, '--cert', fifo, '--key', '/dev/zero']);
  assert.equal(started.code, 2, started.err);
  assert.match(started.err, /tls\.cert = ".*fifo": cannot read the file: not a regular file \(a FIFO\)/);
  assert.match(started.err, /tls\.key = "\/dev\/zero": cannot read the file: not a regular file/);
  const config = await runCli(['serve', root, '--config', fifo]);
  assert.equal(config.code, 2, config.err);
  assert.match(config.err, /--config = ".*fifo": cannot read the config file: not a regular file \(a FIFO\)/);
  // On a SIGHUP (in the CLI's process, so a regression stops that one, not the tests'): refused,
  // and the server goes on answering with its certificate.
  const file = join(dir, 'xorigin.json');
  const write = (tls) => writeFileSync(file, JSON.stringify({ root, cors: { origins: [A] }, tls }));
  write({ cert: c.cert, key: c.key });
  const r = await runCli(['serve', '--config', file, '--port', '0']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  for (const [tls, refused] of [[{ cert: fifo, key: c.key }, /tls\.cert = ".*fifo": cannot read the file: not a regular file \(a FIFO\)/], [{ cert: c.cert, key: '/dev/zero' }, /tls\.key = "\/dev\/zero": cannot read the file: not a regular file/]]) {
    write(tls);
    r.child.kill('SIGHUP');
    await stderrMatch(r, refused);
    assert.equal(await servedName(r.port), 'localhost');
  }
});

test('plain HTTP is unchanged by the TLS options being absent', async () => {
  const root = makeRoot();
  const s = await start({ root });
  assert.equal(s.server.scheme, 'http');
  const res = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: s.port, path: '/a.woff2' }, (r) => {
    r.resume();
    r.on('end', () => resolve(r));
  }).on('error', reject));
  assert.equal(res.statusCode, 200);
  await s.server.shutdown(500);
  rmSync(root, { recursive: true, force: true });
});

/** The certificate's CN and the protocol ALPN picked, for a new handshake offering h2 and http/1.1. */
function handshake(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(`${socket.getPeerCertificate().subject.CN} ${socket.alpnProtocol}`);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** The status line a cleartext HTTP/1.1 request to the TLS port gets. */
function cleartextStatus(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /a.woff2 HTTP/1.1\r\nHost: x\r\n\r\n'));
    let text = '';
    socket.on('data', (c) => (text += c.toString('latin1')));
    socket.on('end', () => resolve(text.split('\r\n')[0]));
    socket.on('error', reject);
  });
}

test('CLI --workers 2 with TLS: every worker offers h2 and answers plain HTTP with 400; SIGHUP gives each the renewed certificate', async (t) => {
  const root = makeRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-renew-'));
  const files = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
  const one = testCertificate('one.test');
  const two = testCertificate('two.test');
  copyFileSync(one.cert, files.cert);
  copyFileSync(one.key, files.key);
  const r = await runCli(['serve', root, '--port', '0', '--workers', '2', '--cert', files.cert, '--key', files.key]);
  t.after(async () => {
    await stopCli(r);
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  // Connections are dealt to the workers in turn: four reach both.
  for (let i = 0; i < 4; i++) {
    assert.equal(await handshake(r.port), 'one.test h2');
    assert.equal(await cleartextStatus(r.port), 'HTTP/1.1 400 Bad Request');
  }
  // A ticket from one worker resumes on every worker. This alone does not show the primary's keys at
  // work: node:cluster hands every worker listening on a port the first one's keys (see
  // test/ticket-keys.test.js for what only the primary's keys make hold).
  const { ticket } = await tlsExchange(r.port);
  for (let i = 0; i < 4; i++) assert.equal((await tlsExchange(r.port, ticket)).reused, true, `resumption ${String(i + 1)} of 4`);
  copyFileSync(two.cert, files.cert);
  copyFileSync(two.key, files.key);
  r.child.kill('SIGHUP');
  await stderrMatch(r, /(worker \d+: reloaded: applied: tls[^\n]*\n[^]*){2}/);
  for (let i = 0; i < 4; i++) assert.equal(await handshake(r.port), 'two.test h2');
  for (let i = 0; i < 4; i++) assert.equal((await tlsExchange(r.port, ticket)).reused, true, `resumption ${String(i + 1)} of 4 after SIGHUP`);
});

test('a reload that throws an unexpected error is reported with its stack and the server keeps serving, saying whether anything changed', async () => {
  const { reloadServer } = await import('../dist/cli/reload.js');
  const root = makeRoot();
  const s = await start({ root, ...OLD });
  try {
    const running = { settings: { options: { root, ...OLD } } };
    // While the sources are read and checked: nothing changed.
    const checking = reloadServer(s.server, running, () => {
      throw new TypeError('boom from a reread');
    });
    assert.equal(checking.ok, false);
    assert.equal(checking.unexpected, true);
    assert.match(checking.line, /^reload failed on an unexpected error .*; the running configuration stays in force: TypeError: boom from a reread\n\s+at /s);
    assert.equal(running.settings.options.cacheControl, OLD.cacheControl, 'nothing recorded as in force');
    assert.equal(generation(await request(s.port, { path: '/a.woff2', headers: { Origin: A } })), 'old');
    // While the server applies them: it may be partly in force, and the line says so.
    const reload = s.server.reload;
    s.server.reload = () => {
      throw new TypeError('boom while applying');
    };
    const applying = reloadServer(s.server, running, () => ({ options: { root, ...NEW }, port: 0, host: '127.0.0.1', workers: 1 }));
    s.server.reload = reload;
    assert.match(applying.line, /^reload failed on an unexpected error .*; part of the new configuration may be in force: send SIGHUP again to apply it whole, or restart: TypeError: boom while applying\n/s);
    assert.equal((await request(s.port, { path: '/a.woff2', headers: { Origin: A } })).status, 200, 'still serving');
  } finally {
    await new Promise((r) => s.server.close(r));
  }
});

test('CLI --workers 2: a worker whose reload fails on an unexpected error exits and is replaced under the new policy (never two policies behind the port)', async (t) => {
  const { dir, root, config } = configFixture(t, 'xorigin-reload-fault-');
  const B = 'https://b.example';
  const flag = join(dir, 'fault');
  // In one worker, the first reload after the flag appears throws a TypeError once the new policy is
  // swapped in (retiming the connections' timeouts, next in server.reload).
  const r = await runCliWithHook(t, dir, `
import cluster from 'node:cluster';
import fs from 'node:fs';
import { ConnectionTimeouts } from ${JSON.stringify(new URL('../dist/static/connection-timeouts.js', import.meta.url).href)};
const retime = ConnectionTimeouts.prototype.retime;
if (cluster.isWorker) ConnectionTimeouts.prototype.retime = function (ms) {
  // Whichever worker unlinks the flag throws: one worker, once.
  try { fs.unlinkSync(${JSON.stringify(flag)}); } catch { return retime.call(this, ms); }
  throw new TypeError('injected fault while applying');
};
`, ['serve', '--config', config, '--port', '0', '--workers', '2']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  writeFileSync(config, JSON.stringify({ root, cors: { origins: [B] } }));
  writeFileSync(flag, '');
  r.child.kill('SIGHUP');
  await stderrMatch(r, /worker \d+: reload failed on an unexpected error [^]*TypeError: injected fault while applying[^]*this worker exits and is replaced/);
  await stderrMatch(r, /(worker \d+ listening[^]*){3}/);
  assert.deepEqual(await answers(r.port, '/a.woff2', B, 16), [`200 ${B}`], 'every answer under the new policy');
});


test('an onDenied that reconfigures: the refusal it is told about was answered wholly under the policy that refused it, on the node:http face, the Fetch face and the file server (review h56)', async (t) => {
  const { withCors } = await import('../dist/cors/fetch.js');
  const Q = 'https://q.example';
  const OLD_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
  const preflight = { method: 'OPTIONS', path: '/a.woff2', headers: { Origin: Q, 'Access-Control-Request-Method': 'GET' } };
  /** An allow-list policy whose onDenied puts `*` in force through `swap`, once. */
  const swapping = (swap) => {
    let swapped = false;
    return { origins: [A], onDenied: () => !swapped && ((swapped = true), swap()) };
  };
  // node:http face.
  const cors = createCors(swapping(() => cors.reconfigure({ origins: ['*'] })));
  const s = await listen((req, res) => void (cors.handle(req, res) || res.end('ok')));
  t.after(() => s.close());
  const viaNode = await request(s.port, preflight);
  assert.deepEqual([viaNode.status, viaNode.headers.vary], [403, OLD_VARY]);
  const cors2 = createCors(swapping(() => cors2.reconfigure({ origins: ['*'] })));
  const s2 = await listen((req, res) => void (cors2.handle(req, res) || res.end('ok')));
  t.after(() => s2.close());
  const actual = await request(s2.port, { path: '/', headers: { Origin: Q } });
  assert.deepEqual([actual.headers['access-control-allow-origin'], actual.headers.vary], [undefined, 'Origin'], 'a refused actual response keeps the old policy\'s Vary');
  // Fetch face.
  const handler = withCors(swapping(() => handler.reconfigure({ origins: ['*'] })), () => new Response('ok'));
  const viaFetch = await handler(new Request('http://x.test/a.woff2', { method: 'OPTIONS', headers: preflight.headers }));
  assert.deepEqual([viaFetch.status, viaFetch.headers.get('vary')], [403, OLD_VARY]);
  // The file server, reloaded from onDenied: a refused GET is answered under the old policy.
  const root = makeRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  let server;
  const started = await start({ root, cors: swapping(() => server.reload({ root, cors: { origins: ['*'] } })) });
  server = started.server;
  t.after(() => server.shutdown(500));
  const get = await request(started.port, { path: '/a.woff2', headers: { Origin: Q } });
  assert.deepEqual([get.status, get.headers['access-control-allow-origin'], get.headers.vary], [200, undefined, 'Origin']);
  const after = await request(started.port, { path: '/a.woff2', headers: { Origin: Q } });
  assert.equal(after.headers['access-control-allow-origin'], '*', 'the reload went in force for the next request');
});

test('reconfigure reads each option once: a getter that throws on a second read changes nothing it should not, and a throwing first read leaves the old policy (review h56)', async () => {
  const { withCors } = await import('../dist/cors/fetch.js');
  let reads = 0;
  const once = () => ({ origins: ['*'], get onDenied() { if (reads++ > 0) throw new Error('second read'); return undefined; } });
  const cors = createCors({ origins: [A] });
  cors.reconfigure(once());
  assert.deepEqual([cors.policy.anyOrigin, reads], [true, 1]);
  const handler = withCors({ origins: [A] }, () => new Response('ok'));
  reads = 0;
  handler.reconfigure(once());
  assert.deepEqual([handler.policy.anyOrigin, reads], [true, 1]);
  const first = { origins: ['*'], get onDenied() { throw new Error('first read'); } };
  assert.throws(() => handler.reconfigure(first), (e) => e.name === 'PolicyError' && /first read/.test(e.message));
  handler.reconfigure({ origins: [A] });
  assert.throws(() => handler.reconfigure(first), (e) => e.name === 'PolicyError');
  assert.equal(handler.policy.anyOrigin, false, 'the old policy stays');
  // A class whose options are getters on its prototype is read as compilePolicy reads it (a regression of the read-once copy).
  class Policy {
    get origins() { return ['https://b.example']; }
    get methods() { return ['PUT']; }
  }
  const fromClass = createCors(new Policy());
  assert.deepEqual([fromClass.allows('https://b.example'), fromClass.policy.methods], [true, ['PUT']]);
  handler.reconfigure(new Policy());
  assert.deepEqual(handler.policy.methods, ['PUT']);
  // A Proxy with a get trap alone answers the options it is asked for (review h57: `in` asked its has trap, which denied them).
  const proxied = new Proxy({}, { get: (target, key) => (key === 'origins' ? ['https://c.example'] : undefined) });
  assert.equal(createCors(proxied).allows('https://c.example'), true);
  // The file server reads its cors policy the same way (it took own keys only: review h57).
  const root = makeRoot();
  try {
    for (const policy of [new Policy(), proxied]) {
      const s = await start({ root, cors: policy, watch: false });
      const origin = policy === proxied ? 'https://c.example' : 'https://b.example';
      const res = await request(s.port, { path: '/a.woff2', headers: { Origin: origin } });
      assert.equal(res.headers['access-control-allow-origin'], origin);
      await s.server.shutdown(500);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
