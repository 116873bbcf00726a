// HTTPS and HTTP/2: what only these protocols add (ALPN, limits, stream-level abuse, GOAWAY,
// connection-specific headers). The promises common to every protocol are in server.test.js,
// run over HTTP/1.1, HTTPS/1.1 and HTTP/2 (transports.js).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { PREFACE, frame, getBlock, h2Request, heldHandshake, negotiated, onFrames, rawH2Request, testCertificate, uint32 } from './transports.js';
import { readSteadilyBesideStopped } from './helpers.js';

const BIG = 4 * 1024 * 1024;
const warnings = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

function makeRoot() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2-'));
  writeFileSync(join(root, 'a.woff2'), Buffer.from('wOF2' + 'x'.repeat(96)));
  const big = Buffer.alloc(BIG);
  for (let i = 0; i < big.length; i++) big[i] = i % 249;
  writeFileSync(join(root, 'big.otf'), big);
  return { root, big };
}

async function start(options) {
  const c = testCertificate();
  const server = await serve({ tls: { cert: c.cert, key: c.key }, ...options });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

/**
 * A server of the test's own over a fresh root, shut down and removed after the test. Returns its
 * options (with `tls`), for a test that reloads it.
 */
async function startOwn(t, extra) {
  const { root } = makeRoot();
  const c = testCertificate();
  const options = { root, tls: { cert: c.cert, key: c.key }, ...extra };
  const { server, port } = await start(options);
  t.after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  return { server, port, options };
}

function connect(port, options = {}) {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCertificate().pem, ...options });
  session.on('error', () => {});
  return session;
}

/** The request headers a bare node:http2 server (which answers with them as JSON) was handed. */
function bodyOf(port, headers) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/', ...headers });
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => (text += chunk));
    stream.on('end', () => {
      session.close();
      resolve(JSON.parse(text));
    });
    stream.on('error', reject);
    stream.end();
  });
}

const fdCount = () => readdirSync('/proc/self/fd').length;

async function until(check, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('HTTP/2 over TLS', () => {
  let tree;
  let s;
  const lines = [];
  before(async () => {
    tree = makeRoot();
    s = await start({ root: tree.root, cors: { origins: ['https://app.example'] }, log: (l) => lines.push(l), logFormat: 'json', keepAliveTimeout: 300 });
  });
  after(async () => {
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });

  test('ALPN offers h2 first, http/1.1 for older clients; the URL scheme is https', async () => {
    assert.equal(await negotiated(s.port), 'h2');
    assert.equal(s.server.scheme, 'https');
  });

  test('the limits are announced in SETTINGS: 128 concurrent streams, a 16 KiB header list', async () => {
    const session = connect(s.port);
    await new Promise((r) => session.once('remoteSettings', r));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
    assert.equal(session.remoteSettings.maxHeaderListSize, 16384);
    session.close();
  });

  test('no connection-specific header, HEAD ends cleanly, the log says HTTP/2.0 with the bytes', async () => {
    const res = await h2Request(s.port, { path: '/a.woff2', headers: { Origin: 'https://app.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade']) assert.equal(res.headers[name], undefined, name);
    const head = await h2Request(s.port, { method: 'HEAD', path: '/a.woff2' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.rstCode, 0, 'HEAD stream closed with NO_ERROR');
    assert.ok(await until(() => lines.length >= 2));
    const entry = lines.map((l) => JSON.parse(l)).find((e) => e.method === 'GET' && e.target === '/a.woff2');
    assert.equal(entry.protocol, 'HTTP/2.0');
    assert.equal(entry.bytes, 100);
    assert.equal(entry.completed, true);
    // Logged when the stream closes, after the answered request let go of its headers.
    assert.equal(entry.origin, 'https://app.example');
  });

  test('concurrent ranges on one connection: each stream gets its own Content-Range and Content-Length, and the log its own bytes', async () => {
    // One 206 header object per file is shared and its range values are written per response.
    const session = connect(s.port);
    const asks = [];
    for (let i = 0; i < 24; i++) {
      const path = i % 2 === 0 ? '/a.woff2' : '/big.otf';
      const size = path === '/a.woff2' ? 100 : BIG;
      const from = (i * 3) % 50;
      const to = from + 1 + ((i * 7) % 40);
      asks.push({ path, size, from, to, target: `${path}?r=${i}` });
    }
    try {
      const answers = await Promise.all(asks.map((a) => new Promise((resolve, reject) => {
        const stream = session.request({ ':path': a.target, range: `bytes=${a.from}-${a.to}` });
        const chunks = [];
        let head = null;
        stream.on('response', (h) => (head = h));
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => resolve({ head, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
        stream.end();
      })));
      const whole = { '/a.woff2': Buffer.from('wOF2' + 'x'.repeat(96)), '/big.otf': tree.big };
      answers.forEach(({ head, body }, i) => {
        const a = asks[i];
        assert.equal(head[':status'], 206, a.target);
        assert.equal(head['content-range'], `bytes ${a.from}-${a.to}/${a.size}`, a.target);
        assert.equal(head['content-length'], String(a.to - a.from + 1), a.target);
        assert.ok(body.equals(whole[a.path].subarray(a.from, a.to + 1)), a.target);
      });
    } finally {
      session.close();
    }
    const logged = () => lines.map((l) => JSON.parse(l)).filter((e) => /[?]r=\d+$/.test(e.target));
    assert.ok(await until(() => logged().length === asks.length), `${logged().length} of ${asks.length} logged`);
    for (const e of logged()) {
      const a = asks.find((x) => x.target === e.target);
      assert.equal(e.status, 206, e.target);
      assert.equal(e.bytes, a.to - a.from + 1, e.target);
    }
  });

  test('a request body (GET or POST with DATA frames) is read and dropped: the answer comes, the stream closes', async () => {
    const session = connect(s.port);
    try {
      for (const [method, status] of [['GET', 200], ['POST', 405]]) {
        const outcome = await new Promise((resolve) => {
          const stream = session.request({ ':method': method, ':path': '/a.woff2' });
          let got = null;
          stream.on('response', (h) => (got = h[':status']));
          stream.on('data', () => {});
          stream.on('close', () => resolve({ status: got, rst: stream.rstCode }));
          // Once the answer is complete the server may stop the upload with RST_STREAM(NO_ERROR)
          // (RFC 9113 §8.1): the client's remaining writes then fail, as they should.
          stream.on('error', () => {});
          stream.write(Buffer.alloc(100_000, 1));
          setTimeout(() => stream.end(Buffer.alloc(100_000, 2)), 20);
        });
        assert.equal(outcome.status, status, method);
        assert.equal(outcome.rst, 0, `${method}: closed with NO_ERROR`);
      }
    } finally {
      session.destroy();
    }
    assert.ok(await until(() => s.server.stats.inFlight === 0), JSON.stringify(s.server.stats));
  });

  test('RFC 9110 §9.1: a method node:http does not know gets 501, as over HTTP/1.1 (not 405); a known one 405 with Allow', async () => {
    for (const [method, status] of [['FOO', 501], ['get', 501], ['TRACE', 405], ['PROPFIND', 405]]) {
      const r = await h2Request(s.port, { method, path: '/a.woff2', headers: { origin: 'https://app.example' } });
      assert.equal(r.status, status, method);
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example', method);
      assert.equal(r.headers.allow, status === 405 ? 'GET, HEAD, OPTIONS' : undefined, method);
    }
  });

  test('RFC 9113 §8.3.1: a host field naming another authority, or userinfo in :authority, is malformed: 400 with CORS', async () => {
    // node:http2's client, as is (h2Request drops a host field). Resolves to the status and
    // headers, or to the code of a stream reset.
    const ask = (headers, port = s.port, scheme = 'https') =>
      new Promise((resolve) => {
        const session = scheme === 'https' ? connect(port) : http2.connect(`http://127.0.0.1:${port}`);
        session.on('error', () => {});
        const stream = session.request({ ':path': '/a.woff2', origin: 'https://app.example', ...headers });
        stream.on('response', (h) => {
          stream.resume();
          stream.on('end', () => {
            session.close();
            resolve({ status: h[':status'], headers: h });
          });
        });
        stream.on('error', () => {
          session.close();
          resolve({ reset: stream.rstCode });
        });
        stream.end();
      });
    // What node:http2 itself hands a server: nghttp2 1.6x and later (Node 22+) reset a stream whose
    // :authority has userinfo, and drop a host field that is not a valid authority, before any handler.
    const bare = http2.createServer((req, res) => res.end(JSON.stringify(req.headers)));
    await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      for (const headers of [{ ':authority': 'localhost', host: 'other.example' }, { ':authority': 'user@localhost' }, { ':authority': 'localhost', host: 'user@localhost' }, { ':authority': 'localhost:abc' }, { ':authority': '[::1' }]) {
        const seen = await ask(headers, bare.address().port, 'http');
        const r = await ask(headers);
        if (seen.reset !== undefined) {
          assert.deepEqual(r, { reset: http2.constants.NGHTTP2_PROTOCOL_ERROR }, `${JSON.stringify(headers)}: node resets it`);
        } else if (headers.host !== undefined && (await bodyOf(bare.address().port, headers)).host === undefined) {
          assert.equal(r.status, 200, `${JSON.stringify(headers)}: node drops the host field, leaving a well-formed request`);
        } else {
          assert.equal(r.status, 400, JSON.stringify(headers));
          assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
        }
      }
    } finally {
      bare.close();
    }
    // The same authority in both, in another case or with the default port, is served.
    for (const headers of [{ ':authority': 'localhost', host: 'LOCALHOST' }, { ':authority': 'localhost:443', host: 'localhost' }]) {
      assert.equal((await ask(headers)).status, 200, JSON.stringify(headers));
    }
  });

  test('RFC 9112 §3.2 / RFC 9113 §8.3.1: a "#" in :path (a fragment is no part of a target) gets 400, as over HTTP/1.1', async () => {
    for (const path of ['/a.woff2#x', '/a.woff2?q#x']) {
      const r = await h2Request(s.port, { path, headers: { origin: 'https://app.example' } });
      assert.equal(r.status, 400, path);
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
    }
  });

  test('an idle connection gets GOAWAY after the keep-alive timeout', async () => {
    const session = connect(s.port);
    await h2RequestOn(session, '/a.woff2');
    const closed = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      session.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.equal(closed, true, 'the idle session was closed by the server');
  });

  test('a header list under 16 KiB in many fields (one per cookie, RFC 9113 §8.2.3) is served', async (t) => {
    // RFC 9113 §8.2.3: a client may split Cookie into one field per cookie. 300 crumbs are ~8 KB
    // (with HPACK's 32 bytes per field, ~14 KB): under the list size announced, so not refused.
    // node:http2's own limit of 128 fields refused them.
    const session = connect(s.port, { maxHeaderListPairs: 1000 });
    t.after(() => session.destroy());
    await new Promise((r) => session.once('remoteSettings', r));
    const cookie = Array.from({ length: 300 }, (_, i) => `c${i}=${i}`);
    const outcome = await new Promise((resolve) => {
      const stream = session.request({ ':path': '/a.woff2', cookie });
      stream.on('response', (h) => resolve(h[':status']));
      stream.on('error', (e) => resolve(e.code));
      stream.on('close', () => resolve(`closed ${stream.rstCode}`));
      stream.resume();
      stream.end();
    });
    assert.equal(outcome, 200);
  });

  test('a header list over 16 KiB is refused without harming the connection or the server', async (t) => {
    const session = connect(s.port);
    t.after(() => session.destroy());
    // The limit binds once the client has acknowledged the server's SETTINGS (the first round trip).
    await new Promise((r) => session.once('remoteSettings', r));
    const outcome = await new Promise((resolve) => {
      const stream = session.request({ ':path': '/a.woff2', 'x-big': 'a'.repeat(20_000) });
      stream.on('response', (h) => resolve(h[':status']));
      stream.on('error', (e) => resolve(e.code));
      stream.on('close', () => resolve(`closed ${stream.rstCode}`));
      stream.end();
    });
    assert.notEqual(outcome, 200, 'the oversized request was not served');
    assert.equal((await h2Request(s.port, { path: '/a.woff2' })).status, 200);
  });
});

function h2RequestOn(session, path) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    stream.on('data', () => {});
    stream.on('end', resolve);
    stream.on('error', reject);
    stream.end();
  });
}

/**
 * A rapid-reset flood (CVE-2023-44487) on a session just made: once connected, `rounds` of 100
 * streams opened and reset at once (RST_STREAM with `code`), until the server sends GOAWAY. Resolves
 * with the streams opened.
 */
async function rapidReset(session, rounds, code = http2.constants.NGHTTP2_CANCEL) {
  await new Promise((r) => session.once('connect', r));
  let opened = 0;
  for (let round = 0; round < rounds && !session.destroyed && !session.closed; round++) {
    for (let i = 0; i < 100; i++) {
      let stream;
      try {
        stream = session.request({ ':path': '/big.otf' });
      } catch {
        break;
      }
      stream.on('error', () => {});
      stream.close(code);
      opened++;
    }
    await new Promise((r) => setImmediate(r));
  }
  return opened;
}

test('a rapid-reset flood (CVE-2023-44487: streams opened and reset at once) costs its own connection only', async (t) => {
  const tree = makeRoot();
  const s = await start({ root: tree.root, smallFileLimit: 1024 });
  const baseline = fdCount();
  // The client's own socket, destroyed by hand below: once the server has cut the flood's session,
  // node:http2's destroy() of the client session waits for a FIN the client never gets to send, and
  // its fd (in this process) would count against the server's.
  let socket;
  const session = http2.connect(`https://127.0.0.1:${s.port}`, {
    createConnection: (url) => (socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: testCertificate().pem, ALPNProtocols: ['h2'], servername: 'localhost' })),
  });
  session.on('error', () => {});
  t.after(async () => {
    session.destroy();
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });
  const opened = await rapidReset(session, 200);
  // Node 20's nghttp2 ends such a connection after about 1,000 streams, Node 24's after about 500.
  assert.ok(opened >= 400, `the flood sent ${opened} streams`);
  // Meanwhile and after, a normal client is served in full.
  const res = await h2Request(s.port, { path: '/big.otf' });
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(tree.big));
  session.destroy();
  socket.destroy();
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
  assert.ok(await until(() => fdCount() <= baseline + 1), `fds ${fdCount()} (baseline ${baseline})`);
});

test('streams that are never read are reset after the send timeout, and give back what they held', async (t) => {
  const tree = makeRoot();
  const s = await start({ root: tree.root, smallFileLimit: 1024, sendTimeout: 1000 });
  const stalled = connect(s.port);
  // The connection itself stays active (PINGs), so only a per-stream timeout can end these streams.
  const pinger = setInterval(() => {
    if (!stalled.destroyed && !stalled.closed) stalled.ping(() => {});
  }, 200);
  // Cleaned up however the test ends: a failure must not leave the process waiting on them.
  t.after(async () => {
    clearInterval(pinger);
    stalled.destroy();
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });
  const streams = [];
  for (let i = 0; i < 40; i++) {
    const stream = stalled.request({ ':path': '/big.otf' });
    stream.on('error', () => {});
    stream.pause();
    streams.push(stream);
  }
  assert.ok(await until(() => s.server.stats.inFlight >= 40), `in flight: ${s.server.stats.inFlight}`);
  // One connection reads at most 8 bodies from disk at once (disk-turns.ts): the other streams wait
  // holding no buffer (before, each took one, 40 here, and an fd).
  assert.ok(await until(() => s.server.stats.buffersInUse === 8), `buffers in use: ${s.server.stats.buffersInUse}`);
  const turnsTaken = Date.now();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.server.stats.buffersInUse, 8);
  // A normal client is served whole meanwhile.
  const res = await h2Request(s.port, { path: '/big.otf' });
  assert.ok(res.body.equals(tree.big));
  // All at once, within the send timeout (1 s) and two sweeps: the 32 waiting for a disk turn go with
  // the 8 stalled bodies, as no body of their connection moved. (They were timed only once they had
  // their turn: 8 at a time, a timeout apart, 5 rounds here, 16 for 128 streams.)
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0, 15000), JSON.stringify(s.server.stats));
  // 2.0-3.0 s measured on a loaded machine (t22); the bug took 5 rounds of the 1 s timeout and its sweeps (5 s and more).
  assert.ok(Date.now() - turnsTaken < 4500, `every stream reset ${Date.now() - turnsTaken} ms after the turns were taken`);
  // The client learns of each reset a moment after the server has given everything back.
  assert.ok(await until(() => streams.every((st) => st.destroyed || st.closed)), 'every stalled stream was ended by the server');
});

test('streams waiting for a disk turn wait as long as a body of their connection moves, then get their own send timeout', async (t) => {
  let reading = true;
  t.after(() => (reading = false));
  const { s, session } = await withSession(t, { smallFileLimit: 1024, sendTimeout: 1000 });
  // A connection window the 7 unread streams cannot fill: else the one read stalls with them.
  await new Promise((resolve) => session.once('connect', resolve));
  session.setLocalWindowSize(32 * 1024 * 1024);
  const closedAt = [];
  const streams = [];
  for (let i = 0; i < 10; i++) {
    const stream = session.request({ ':path': '/big.otf' });
    stream.on('error', () => {});
    stream.on('close', () => (closedAt[i] = Date.now()));
    stream.pause();
    streams.push(stream);
  }
  assert.ok(await until(() => s.server.stats.inFlight >= 10 && s.server.stats.buffersInUse === 8), JSON.stringify(s.server.stats));
  // The first stream is read steadily (~250 KB/s, 4 MB: it outlasts the test; a 64 KiB slice must be
  // taken within each send timeout); 1-7 never; 8 and 9 wait for a turn.
  const first = streams[0];
  let got = 0;
  first.on('data', (c) => {
    got += c.length;
    first.pause();
    if (reading) setTimeout(() => first.resume(), 40);
  });
  first.resume();
  assert.ok(await until(() => [1, 2, 3, 4, 5, 6, 7].every((i) => closedAt[i] !== undefined), 6000), `stalled streams not reset: ${JSON.stringify(closedAt)}`);
  const reset = Math.max(...closedAt.slice(1, 8));
  assert.equal(closedAt[8], undefined, `a stream waiting for its turn was reset while a body of its connection moved: got ${got} ${JSON.stringify(closedAt.map((c) => c - reset))} ${streams.map((st) => st.rstCode)}`);
  assert.equal(closedAt[9], undefined);
  // With their turn, 8 and 9 are not read either: reset by their own send timeout, a timeout or more later.
  assert.ok(await until(() => closedAt[8] !== undefined && closedAt[9] !== undefined, 6000), JSON.stringify(closedAt));
  assert.ok(Math.min(closedAt[8], closedAt[9]) - reset >= 900, `reset ${Math.min(closedAt[8], closedAt[9]) - reset} ms after the stalled ones`);
  assert.equal(closedAt[0], undefined, 'the stream being read was reset');
  assert.equal(streams[8].rstCode, http2.constants.NGHTTP2_CANCEL);
});

test('behind 8 stalled disk bodies, a HEAD is answered at once (it reads no body) and a range sent late gets its turn when they are reset', async (t) => {
  const { tree, s, session } = await withSession(t, { smallFileLimit: 1024, sendTimeout: 3000 });
  for (let i = 0; i < 8; i++) {
    const stream = session.request({ ':path': '/big.otf' });
    stream.on('error', () => {});
    stream.pause();
  }
  assert.ok(await until(() => s.server.stats.buffersInUse === 8), JSON.stringify(s.server.stats));
  const answer = (headers) => new Promise((resolve) => {
    const stream = session.request(headers);
    const chunks = [];
    let status = null;
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('close', () => resolve({ status, body: Buffer.concat(chunks), rst: stream.rstCode, at: Date.now() }));
  });
  const sent = Date.now();
  const head = await answer({ ':path': '/big.otf', ':method': 'HEAD' });
  assert.equal(head.status, 200);
  assert.ok(head.at - sent < 500, `HEAD answered after ${head.at - sent} ms`);
  // Sent 2.5 s after the bodies stalled, which are reset 3-5 s after (the timeout, counted from the
  // sweep that first saw them): it has waited less than the timeout then, so it takes a freed turn.
  // (One that has waited the whole timeout, with no body of its connection moving, is reset with them.)
  await new Promise((r) => setTimeout(r, 2500));
  const range = await answer({ ':path': '/big.otf', range: 'bytes=100-199' });
  assert.equal(range.status, 206, `range reset (${range.rst}) instead of answered`);
  assert.ok(range.body.equals(tree.big.subarray(100, 200)));
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
});

/**
 * A server reading every body from disk (no memory budget) and never watching the tree, so a
 * response itself finds its file changed; one connection to it; all closed when the test ends.
 */
function fromDisk(t) {
  return withSession(t, { memoryBudget: 0, watch: false });
}

/** A server on a fresh tree with `options`, and one connection to it; all closed when the test ends. */
async function withSession(t, options) {
  const tree = makeRoot();
  const s = await start({ root: tree.root, ...options });
  const session = connect(s.port);
  t.after(async () => {
    session.destroy();
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });
  return { tree, s, session };
}

test('streams that find their file replaced answer from the rescan: a retry reuses its disk turn (no deadlock)', async (t) => {
  // No watcher: each of the streams below finds the file changed itself, and asks for the rescan.
  const { tree, s, session } = await fromDisk(t);
  const v2 = Buffer.alloc(BIG, 2);
  writeFileSync(join(tree.root, 'big.otf.new'), v2);
  renameSync(join(tree.root, 'big.otf.new'), join(tree.root, 'big.otf'));
  // More streams than a connection's disk turns (8): each retry took a second turn while holding its
  // first, and past 4 such streams every one waited for a turn only they could give back.
  const answers = await Promise.all(Array.from({ length: 12 }, () => new Promise((resolve) => {
    const stream = session.request({ ':path': '/big.otf' });
    const chunks = [];
    let status = null;
    const timer = setTimeout(() => resolve({ status: 'no answer in 10 s', body: Buffer.alloc(0) }), 10_000);
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (c) => chunks.push(c));
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ status, body: Buffer.concat(chunks) });
    });
    stream.on('error', () => {});
    stream.end();
  })));
  assert.deepEqual(answers.map((a) => a.status), Array(12).fill(200));
  assert.ok(answers.every((a) => a.body.equals(v2)), 'every answer is the new version, whole');
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
});

test('a body cut because its file changed mid-send ends with an error code, not as a complete stream', async (t) => {
  const { tree, s, session } = await fromDisk(t);
  const stream = session.request({ ':path': '/big.otf' });
  stream.on('error', () => {});
  let received = 0;
  let ended = false;
  const headers = new Promise((resolve) => stream.on('response', resolve));
  stream.on('data', (c) => (received += c.length));
  stream.on('end', () => (ended = true));
  stream.pause(); // flow control stops the server after the first window: the rest is read after the write below
  assert.equal((await headers)[':status'], 200);
  // Written in place (same size): the identity check after the last read fails, and the body is cut.
  const fd = openSync(join(tree.root, 'big.otf'), 'r+');
  writeSync(fd, Buffer.alloc(1000, 7), 0, 1000, BIG - 1000);
  closeSync(fd);
  await new Promise((resolve) => {
    stream.on('close', resolve);
    stream.resume();
  });
  assert.ok(received < BIG, `${received} bytes: the whole body was sent`);
  // NO_ERROR (or END_STREAM) says "complete" to any client that does not compare Content-Length.
  assert.notEqual(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the stream was ended without an error code');
  assert.equal(ended, false, 'the client saw the end of a complete body');
});

/** One HTTP/2 frame: the 9-byte header (RFC 9113 §4.1) and its payload. */
/**
 * GET `path` over a raw HTTP/2 connection (no Content-Length check, unlike node:http2's client):
 * the server's frames on stream 1 are read until RST_STREAM or END_STREAM. `paused` runs once the
 * first 64 KiB window is used up, before the client opens its windows. `extra`: [name, value] fields
 * sent after the pseudo-headers as they are (node:http2's client refuses a field twice). Resolves
 * with what was seen.
 */

test('RFC 9110 §13.1.3/§13.1.4: If-(Un)Modified-Since on two field lines is a list of dates, ignored (node:http2 keeps the first line)', async (t) => {
  const s = await startOwn(t);
  const size = 100; // a.woff2
  const past = 'Thu, 01 Jan 1970 00:00:00 GMT';
  const future = 'Thu, 01 Jan 2099 00:00:00 GMT';
  // Written just before the start: dated (and its dates compared) once that second is over.
  while ((await h2Request(s.port, { path: '/a.woff2' })).headers['last-modified'] === undefined) await new Promise((r) => setTimeout(r, 50));
  // One line each: the first a 412 (its 20-byte text), the second a 304 (no body).
  assert.equal((await rawH2Request(s.port, '/a.woff2', { fields: [['if-unmodified-since', past]] })).data, 'Precondition Failed\n'.length);
  assert.equal((await rawH2Request(s.port, '/a.woff2', { fields: [['if-modified-since', future]] })).data, 0);
  // Each sent twice: ignored, the whole file.
  const ius = await rawH2Request(s.port, '/a.woff2', { fields: [['if-unmodified-since', past], ['if-unmodified-since', future]] });
  assert.deepEqual([ius.data, ius.endStream], [size, true]);
  const ims = await rawH2Request(s.port, '/a.woff2', { fields: [['if-modified-since', future], ['if-modified-since', future]] });
  assert.deepEqual([ims.data, ims.endStream], [size, true]);
});

test('RFC 9110 §5.3: a field sent on several lines is read as over HTTP/1.1 (node:http joins the lines; node:http2 kept the first)', async (t) => {
  const s = await startOwn(t, { cors: { origins: ['https://app.example'], methods: ['PUT'] } });
  const { headers } = await h2Request(s.port, { path: '/a.woff2' });
  const etag = headers.etag;
  const get = async (fields) => {
    const seen = await rawH2Request(s.port, '/a.woff2', { fields });
    return [seen.statusByte, seen.data];
  };
  // If-Range: two lines are no single validator, so the whole file (one line: the range).
  assert.deepEqual(await get([['range', 'bytes=0-9'], ['if-range', etag]]), [0x8a, 10]);
  assert.deepEqual(await get([['range', 'bytes=0-9'], ['if-range', etag], ['if-range', etag]]), [0x88, 100]);
  // If-None-Match: the lines are one list of tags (§13.1.2), which holds the current one.
  assert.deepEqual(await get([['if-none-match', '"other"'], ['if-none-match', etag]]), [0x8b, 0]);
  // If-Match: likewise one list; the current tag on the second line passes, a bad second line fails.
  assert.deepEqual(await get([['if-match', '"other"'], ['if-match', etag]]), [0x88, 100]);
  assert.notDeepEqual(await get([['if-match', etag], ['if-match', 'nope']]), [0x88, 100]);
  // Range: two lines make no valid range (§14.2): the whole file.
  assert.deepEqual(await get([['range', 'bytes=0-9'], ['range', 'bytes=10-19']]), [0x88, 100]);
  // Access-Control-Request-Method: two lines are no method, a refused preflight (204 for one).
  const preflight = async (fields) => (await rawH2Request(s.port, '/a.woff2', { fields: [['origin', 'https://app.example'], ...fields], method: 'OPTIONS' })).statusByte;
  assert.equal(await preflight([['access-control-request-method', 'PUT']]), 0x89);
  assert.notEqual(await preflight([['access-control-request-method', 'GET'], ['access-control-request-method', 'PATCH']]), 0x89);
});

test('streams named only in PRIORITY frames (RFC 7540\'s priority tree, nghttp\'s and Firefox\'s 3 to 11) are not logged as refused (found by a review)', async (t) => {
  const lines = [];
  const s = await startOwn(t, { log: (line) => lines.push(line) });
  const path = Buffer.from('/a.woff2');
  const get = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, 9]), Buffer.from('localhost')]);
  // Five idle streams as the tree's groups (depends on 0, weight 201, 101, 1, 1, 1), then the request on 13.
  const priority = (id, weight) => frame(2, 0, id, Buffer.from([0, 0, 0, 0, weight - 1]));
  const frames = [priority(3, 201), priority(5, 101), priority(7, 1), priority(9, 1), priority(11, 1), frame(1, 0x05, 13, get)];
  const status = await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), frame(4, 1, 0, Buffer.alloc(0)), ...frames]));
    });
    let buffered = Buffer.alloc(0);
    socket.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
        const length = buffered.readUIntBE(0, 3);
        // The answer's HEADERS on stream 13: its first byte is the :status (0x88 = 200).
        if (buffered[3] === 1 && buffered.readUInt32BE(5) === 13) {
          resolve(buffered[9 + (buffered[4] & 0x08 ? 1 : 0) + (buffered[4] & 0x20 ? 5 : 0)]);
          socket.destroy();
        }
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error('no answer on stream 13')), 3000).unref();
  });
  assert.equal(status, 0x88);
  assert.ok(await until(() => lines.some((l) => / 200 /.test(l))), lines.join(''));
  // The connection's summary comes when it closes: give it the time the other lines took.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(lines.filter((l) => /refused/.test(l)), [], lines.join(''));
});

test('a header list over 16 KiB (headers or trailers) sent before the client acknowledged SETTINGS: GOAWAY ENHANCE_YOUR_CALM, logged as refused; others are served', async (t) => {
  const lines = [];
  const s = await startOwn(t, { log: (line) => lines.push(line) });
  // A 4,000-byte field put in the dynamic table (literal with incremental indexing, RFC 7541 §6.2.1),
  // then referenced (index 62) five times: 20 KB of fields in ~4 KB on the wire.
  const bomb = Buffer.concat([Buffer.from([0x40, 6]), Buffer.from('x-bomb'), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x42), Buffer.alloc(5, 0xbe)]);
  const path = Buffer.from('/a.woff2');
  const get = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, 9]), Buffer.from('localhost')]);
  const send = (frames) => new Promise((resolve, reject) => {
    const got = { goaway: null, headers: 0, closed: false };
    const socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      // The client's SETTINGS, never an ACK of the server's.
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), ...frames]));
    });
    let buffered = Buffer.alloc(0);
    socket.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered[3] === 7 && got.goaway === null) got.goaway = buffered.readUInt32BE(9 + 4);
        if (buffered[3] === 1) got.headers++;
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ ...got, closed: true }));
    setTimeout(() => socket.destroy(), 3000).unref();
  });
  // In the request's header block: refused unanswered.
  assert.deepEqual(await send([frame(1, 0x05, 1, Buffer.concat([get, bomb]))]), { goaway: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, headers: 0, closed: true });
  // In its trailers (a HEADERS block ending the stream after a request without END_STREAM).
  const trailers = await send([frame(1, 0x04, 1, get), frame(1, 0x05, 1, bomb)]);
  assert.deepEqual([trailers.goaway, trailers.closed], [http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, true]);
  // The access log's summary of each connection counts the stream refused in its headers.
  assert.ok(await until(() => lines.some((l) => /HTTP\/2 refused 1 stream"/.test(l))), lines.join(''));
  // A list under the limit, on a client's first request (before its acknowledgement can arrive), is answered.
  assert.equal((await h2Request(s.port, { path: '/a.woff2', headers: { 'x-small': 'B'.repeat(4000) } })).status, 200);
});

test('a body cut because its file changed mid-send is reset with INTERNAL_ERROR, with no END_STREAM before it (raw client)', async (t) => {
  // node:http2's client resets a stream ended short of its Content-Length itself (PROTOCOL_ERROR),
  // so only the frames show what a client that does not compare it sees.
  const { tree, s } = await fromDisk(t);
  const paused = () => {
    // Written in place (same size): the identity check after the last read fails.
    const fd = openSync(join(tree.root, 'big.otf'), 'r+');
    writeSync(fd, Buffer.alloc(1000, 7), 0, 1000, BIG - 1000);
    closeSync(fd);
  };
  const seen = await rawH2Request(s.port, '/big.otf', { paused });
  assert.ok(seen.data < BIG, `${seen.data} bytes: the whole body was sent`);
  assert.deepEqual({ endStream: seen.endStream, rstCode: seen.rstCode }, { endStream: false, rstCode: http2.constants.NGHTTP2_INTERNAL_ERROR });
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
});

test('a body that uses up the client\'s window exactly ends with END_STREAM once the window opens, never with RST_STREAM(NO_ERROR) instead (raw client)', async (t) => {
  // RFC 9113 §8.1: RST_STREAM(NO_ERROR) may only follow a complete response. node:http2 reset the
  // stream once the last bytes were framed, while the empty END_STREAM frame still waited for window.
  const { root } = makeRoot();
  const bytes = Buffer.alloc(200_000, 3);
  writeFileSync(join(root, 'exact.bin'), bytes);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const memoryBudget of [undefined, 0]) {
    const { server, port } = await start({ root, memoryBudget });
    try {
      // The last 5,000 bytes granted after a pause (the last slice's write still pending then), then
      // one more byte of window once they are read: the empty END_STREAM frame needs none, but
      // nghttp2 sends no DATA frame on a stream whose window is 0.
      const seen = await rawH2Request(port, '/exact.bin', { window: 195_000, grant: 5_000, more: 1, paused: () => new Promise((r) => setTimeout(r, 200)) });
      assert.deepEqual({ data: seen.data, endStream: seen.endStream, rstCode: seen.rstCode }, { data: bytes.length, endStream: true, rstCode: null }, `memoryBudget ${memoryBudget}`);
    } finally {
      await server.shutdown(100);
    }
  }
});

test('a shutdown that begins during a connection\'s TLS handshake answers the streams sent with its end, then GOAWAY', async (t) => {
  // The session began once the shutdown had: node:http2 was told to close it at once, its GOAWAY
  // named no stream, and the requests the client sent with the handshake's end (a browser's first
  // flight) failed. Over HTTP/1.1 the same request is answered, saying close (attacks.test.js).
  const { server, port } = await startOwn(t);
  const late = heldHandshake(port, 'h2');
  const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => late.socket });
  const errors = [];
  session.on('error', (e) => errors.push(e.code));
  const goaways = [];
  session.on('goaway', (code, lastStreamID) => goaways.push({ code, lastStreamID }));
  const closed = new Promise((r) => session.once('close', r));
  const answers = ['/a.woff2', '/big.otf'].map((path) => {
    const req = session.request({ ':path': path });
    return new Promise((resolve) => {
      let bytes = 0;
      let status = null;
      req.on('response', (h) => (status = h[':status']));
      req.on('data', (d) => (bytes += d.length));
      req.on('end', () => resolve({ status, bytes }));
      req.on('error', (e) => resolve({ error: e.code }));
    });
  });
  await late.held;
  const closing = server.shutdown(30_000);
  setTimeout(late.release, 100);
  assert.deepEqual(await Promise.all(answers), [
    { status: 200, bytes: 100 },
    { status: 200, bytes: BIG },
  ]);
  await closed;
  await closing;
  assert.deepEqual(goaways, [{ code: http2.constants.NGHTTP2_NO_ERROR, lastStreamID: 3 }]);
  assert.deepEqual(errors, []);
});

test('an empty file ends in its HEADERS frame, so a client whose window is 0 still sees its end (raw client)', async (t) => {
  // An empty DATA frame with END_STREAM waits for window in nghttp2 like any other: with the client's
  // initial window 0 it was never sent.
  const { root } = makeRoot();
  writeFileSync(join(root, 'empty.txt'), '');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const memoryBudget of [undefined, 0]) {
    const { server, port } = await start({ root, memoryBudget });
    try {
      const never = () => new Promise(() => {});
      const safety = new Promise((resolve) => setTimeout(resolve, 5_000, 'no END_STREAM 5 s later').unref());
      const seen = await Promise.race([rawH2Request(port, '/empty.txt', { window: 0, paused: never }), safety]);
      assert.deepEqual({ status: seen.statusByte, data: seen.data, endStream: seen.endStream, rstCode: seen.rstCode }, { status: 0x88, data: 0, endStream: true, rstCode: null }, `memoryBudget ${memoryBudget}`);
    } finally {
      await server.shutdown(100);
    }
  }
});

test('GETs whose clients leave their side open (endStream: false) are each answered whole at once, and give back their disk turns', async (t) => {
  // Read to the client's end, such a stream held its disk turn until the send timeout: a connection's
  // 9th and 10th disk bodies got no answer, then everything was reset (found by an attack).
  const { s, session } = await fromDisk(t);
  const safety = new Promise((resolve) => setTimeout(resolve, 10_000, 'not all answered 10 s later').unref());
  const answers = await Promise.race([safety, Promise.all(Array.from({ length: 10 }, () => new Promise((resolve) => {
    const stream = session.request({ ':path': '/big.otf' }, { endStream: false });
    let status = null;
    let bytes = 0;
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (c) => (bytes += c.length));
    stream.on('close', () => resolve(`${status} ${bytes} ${stream.rstCode}`));
    stream.on('error', () => {});
  })))]);
  // All ten whole within 10 s: a disk turn held until the send timeout (60 s here) misses that by far.
  assert.deepEqual(answers, Array(10).fill(`200 ${BIG} ${http2.constants.NGHTTP2_NO_ERROR}`));
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
});

test('a response left waiting only for window to send its END_STREAM is reset after the send timeout, however lively the client (PINGs), and gives back what it held', async (t) => {
  // The pause above makes node:http2 wait for that frame; a client that never opens its window again
  // would otherwise hold the stream, its buffer and its disk turn for as long as it sends anything.
  const { root } = makeRoot();
  const bytes = Buffer.alloc(200_000, 4);
  writeFileSync(join(root, 'exact.bin'), bytes);
  const lines = [];
  const { server, port } = await start({ root, memoryBudget: 0, sendTimeout: 1000, log: (l) => lines.push(JSON.parse(l)), logFormat: 'json' });
  t.after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  const never = () => new Promise(() => {});
  const safety = new Promise((resolve) => setTimeout(resolve, 10_000, 'still open 10 s later').unref());
  const seen = await Promise.race([rawH2Request(port, '/exact.bin', { window: bytes.length, paused: never, pingEvery: 250 }), safety]);
  assert.deepEqual({ data: seen.data, endStream: seen.endStream, rstCode: seen.rstCode }, { data: bytes.length, endStream: false, rstCode: http2.constants.NGHTTP2_CANCEL });
  assert.ok(await until(() => server.stats.inFlight === 0 && server.stats.openFiles === 0 && server.stats.buffersInUse === 0), JSON.stringify(server.stats));
  // Every byte went out (only END_STREAM waited): logged whole, as over HTTP/1.1 (review r28: it said
  // 65536 bytes, not completed, though the last slice's write had reported).
  assert.ok(await until(() => lines.length > 0), 'no log line');
  assert.deepEqual(lines.map((l) => [l.target, l.bytes, l.completed]), [['/exact.bin', bytes.length, true]]);
});

test('an answer whose bytes all went out is logged whole however it ended while its END_STREAM waited for window (reviews r28, r29)', async (t) => {
  // The shutdown's deadline logged it complete and the send timeout cut; a client that got every byte
  // and reset with NO_ERROR, or closed the connection as curl does, was logged cut too.
  const { root } = makeRoot();
  const bytes = Buffer.alloc(200_000, 4);
  writeFileSync(join(root, 'exact.bin'), bytes);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const memoryBudget of [undefined, 0]) {
    for (const end of ['client RST_STREAM(NO_ERROR)', 'client closes the connection', 'shutdown deadline']) {
      const lines = [];
      const { server, port } = await start({ root, memoryBudget, log: (l) => lines.push(JSON.parse(l)), logFormat: 'json' });
      const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['h2'] });
      socket.on('error', () => {});
      try {
        await new Promise((resolve) => socket.once('secureConnect', resolve));
        // The stream's window is the body's size: its END_STREAM then waits for window.
        const settings = Buffer.concat([Buffer.from([0, 4]), uint32(bytes.length)]);
        socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, settings), frame(8, 0, 0, uint32(0x7f000000)), frame(1, 0x05, 1, getBlock('/exact.bin'))]));
        let data = 0;
        const all = new Promise((resolve) => onFrames(socket, (type, flags, id, payload) => {
          if (type === 0 && id === 1 && (data += payload.length) >= bytes.length) resolve('all');
          return false;
        }));
        const safety = new Promise((resolve) => setTimeout(resolve, 10_000, `${data} bytes 10 s later`).unref());
        assert.equal(await Promise.race([all, safety]), 'all', end);
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (end === 'shutdown deadline') await server.shutdown(300);
        else if (end === 'client closes the connection') socket.destroy();
        else socket.write(frame(3, 0, 1, uint32(http2.constants.NGHTTP2_NO_ERROR)));
        assert.ok(await until(() => lines.length > 0), `${end}, memoryBudget ${memoryBudget}: no line`);
        assert.deepEqual(lines.map((l) => [l.target, l.bytes, l.completed]), [['/exact.bin', bytes.length, true]], `${end}, memoryBudget ${memoryBudget}`);
      } finally {
        socket.destroy();
        await server.shutdown(100);
      }
    }
  }
});
test('a slow but steady reader is never reset, however large the write being read; a reader that stops is', async (t) => {
  // From disk, 256 KiB per write: at 100 KB/s one write takes 2.6 s to be read, longer than the
  // send timeout plus a sweep (2 s), so only progress within a write keeps the stream alive. (The
  // client opens its 64 KiB window in bursts, 0.64 s apart at this rate: the timeout must exceed that.)
  const { s, session } = await withSession(t, { memoryBudget: 0, sendTimeout: 1000 });
  const stream = session.request({ ':path': '/big.otf' });
  stream.on('error', () => {});
  const closed = new Promise((resolve) => stream.on('close', () => resolve(Date.now())));
  const rate = 100 * 1024;
  const start0 = Date.now();
  let received = 0;
  await new Promise((resolve) => {
    stream.on('data', (chunk) => {
      received += chunk.length;
      stream.pause();
      if (received >= 400 * 1024) return resolve();
      setTimeout(() => stream.resume(), Math.max(0, (received / rate) * 1000 - (Date.now() - start0)));
    });
    stream.on('close', resolve);
  });
  assert.ok(received >= 400 * 1024 && !stream.closed, `reset after ${received} bytes read steadily (rst ${stream.rstCode})`);
  // It stops reading: reset within the send timeout and a sweep or two.
  const safety = new Promise((resolve) => setTimeout(resolve, 6000, -1).unref());
  assert.notEqual(await Promise.race([closed, safety]), -1, 'a reader that stopped was not reset');
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.ok(await until(() => s.server.stats.inFlight === 0 && s.server.stats.buffersInUse === 0), JSON.stringify(s.server.stats));
});

/**
 * A raw HTTP/2 client that ignores the server's SETTINGS: the preface, then `count` GET requests
 * in one write (HPACK: :method GET, :scheme https from the static table; :path /a.woff2 and
 * :authority localhost as literals), and once those are answered one more, whose stream ID tells
 * the server how many came before it. Resolves once the connection is closed.
 */
function rawStreams(port, count, lastId = 2 * count + 1) {
  const path = Buffer.from('/a.woff2');
  const authority = Buffer.from('localhost');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, authority.length]), authority]);
  const headers = (id) => {
    const head = Buffer.from([0, 0, block.length, 1, 0x05, 0, 0, 0, 0]);
    head.writeUInt32BE(id, 5);
    return Buffer.concat([head, block]);
  };
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      const frames = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])];
      for (let i = 0; i < count; i++) frames.push(headers(2 * i + 1));
      socket.write(Buffer.concat(frames));
      setTimeout(() => {
        socket.write(headers(lastId));
        setTimeout(() => socket.end(), 200);
      }, 300);
    });
    socket.on('data', () => {});
    socket.on('close', resolve);
    socket.on('error', reject);
  });
}

/** A server on a fresh tree with a JSON access log (its lines in `lines`), stopped after the test. */
async function startLogged(t, extra = {}) {
  const tree = makeRoot();
  const lines = [];
  const s = await start({ root: tree.root, log: (l) => lines.push(l), logFormat: 'json', ...extra });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });
  return { s, lines };
}

test('streams node:http2 refuses or the client resets unanswered are logged, one line per connection and kind', async (t) => {
  const { s, lines } = await startLogged(t);
  const events = () => lines.map((l) => JSON.parse(l)).filter((e) => e.event !== undefined);
  // Over 128 at once: 200 HEADERS in one burst, before any answer can end a stream, then one more.
  await rawStreams(s.port, 200);
  assert.ok(await until(() => events().length >= 1), 'no line for the refused streams');
  const [over] = events();
  assert.equal(over.event, 'refused');
  assert.equal(over.protocol, 'HTTP/2.0');
  assert.equal(over.remote, '127.0.0.1');
  // Every stream is either answered (its own line, once its stream closes) or counted as refused.
  const answered = () => lines.map((l) => JSON.parse(l)).filter((e) => e.method === 'GET').length;
  assert.ok(await until(() => answered() + over.streams === 201), `${over.streams} refused + ${answered()} answered`);
  assert.equal(over.streams, 200 - 128, "the streams over the limit of 128 at once");
  // A header list over 16 KiB, the only stream of its connection.
  const session = connect(s.port);
  await new Promise((r) => session.once('remoteSettings', r));
  await new Promise((resolve) => {
    const stream = session.request({ ':path': '/a.woff2', 'x-big': 'a'.repeat(20_000) });
    stream.on('error', () => {});
    stream.on('close', resolve);
    stream.end();
  });
  session.close();
  assert.ok(await until(() => events().length >= 2), 'no line for the oversized header list');
  assert.deepEqual([events()[1].event, events()[1].streams], ['refused', 1]);
  // A rapid-reset flood: one line for the streams reset before their answer, however many.
  const flood = connect(s.port);
  await rapidReset(flood, 50);
  flood.destroy();
  assert.ok(await until(() => events().length >= 3), `no line for the flood: ${JSON.stringify(events())}`);
  const reset = events().slice(2);
  assert.equal(reset.filter((e) => e.event === 'reset-early').length, 1, JSON.stringify(reset));
  // Node's flood check ends it, or, the first, the server's GOAWAY once 4 MiB of slices handed to
  // those streams were left queued (64 streams; see chargeUnsent).
  assert.ok(reset.find((e) => e.event === 'reset-early').streams >= 60, JSON.stringify(reset));
});

test('a rapid-reset flood with INTERNAL_ERROR (our own cuts\' code) or NO_ERROR (a destroyed session\'s) is counted too, each stream once', async (t) => {
  for (const code of [http2.constants.NGHTTP2_INTERNAL_ERROR, http2.constants.NGHTTP2_NO_ERROR]) {
    // A NO_ERROR flood's streams may stay open after the client is gone: Node keeps writing a stream
    // reset with NO_ERROR, and in about one run in four stops reading the dead connection, which
    // then waits for the send timeout's cut (the client's doing: its streams count as abandoned).
    const { s, lines } = await startLogged(t, { sendTimeout: 1000 });
    const flood = connect(s.port);
    await rapidReset(flood, 50, code);
    flood.destroy();
    const events = () => lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'reset-early');
    assert.ok(await until(() => events().length >= 1, 6000), `code ${code}: no line for the flood: ${lines.length} lines`);
    // At least 64: the server's GOAWAY may end it first (see the test above).
    assert.ok(events()[0].streams >= 60, `code ${code}: ${events()[0].streams}`);
    // The first 10 have lines of their own, the rest only the count (one line per stream was ~500
    // lines per flood connection).
    const alone = lines.map((l) => JSON.parse(l)).filter((e) => e.method === 'GET' && !e.completed);
    assert.ok(alone.length <= 10, `code ${code}: ${alone.length} streams of the flood logged a line each, besides the count of ${events()[0].streams}`);
  }
});

test('streams abandoned when their client drops the connection are counted once the session has closed too', async (t) => {
  for (const [where, extra] of BODY_FROM) {
    const { s, lines } = await startLoggedWith(t, extra);
    let socket;
    const session = connect(s.port, { createConnection: () => (socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'], servername: 'localhost' })) });
    for (let i = 0; i < 15; i++) {
      const stream = session.request({ ':path': '/big.otf' });
      stream.on('error', () => {});
      stream.pause();
    }
    assert.ok(await until(() => s.server.stats.inFlight === 15), `${where}: ${s.server.stats.inFlight} of 15 streams arrived`);
    await new Promise((r) => setTimeout(r, 100));
    // Node closes a dead session's streams after the session itself: its line must wait for them.
    socket.destroy();
    const entries = () => lines.map((l) => JSON.parse(l));
    const counted = () => entries().filter((e) => e.event === 'reset-early').reduce((n, e) => n + e.streams, 0);
    const alone = () => entries().filter((e) => e.method === 'GET').length;
    assert.ok(await until(() => alone() + counted() === 15), `${where}: ${alone()} alone + ${counted()} counted of 15`);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([alone(), counted()], [10, 5], where);
  }
});

test('streams abandoned under one log are counted in it though a reload turns the log off before their connection ends', async (t) => {
  const tree = makeRoot();
  const lines = [];
  const c = testCertificate();
  const options = { root: tree.root, tls: { cert: c.cert, key: c.key }, log: (l) => lines.push(l), logFormat: 'json' };
  const { server, port } = await start(options);
  t.after(async () => {
    await server.shutdown(100);
    rmSync(tree.root, { recursive: true, force: true });
  });
  const session = connect(port);
  for (let i = 0; i < 30; i++) {
    await new Promise((resolve) => {
      const stream = session.request({ ':path': '/big.otf' });
      stream.on('error', () => {});
      stream.on('response', () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('close', resolve);
    });
  }
  const { log, ...withoutLog } = options;
  assert.deepEqual(server.reload(withoutLog).applied, ['log']);
  session.close();
  const entries = () => lines.map((l) => JSON.parse(l));
  const counted = () => entries().filter((e) => e.event === 'reset-early').reduce((n, e) => n + e.streams, 0);
  const alone = () => entries().filter((e) => e.method === 'GET').length;
  assert.ok(await until(() => alone() + counted() === 30, 3000), `${alone()} lines of their own + ${counted()} counted, of 30 streams`);
  assert.equal(alone(), 10);
});

/** A server logging JSON lines into `lines`, over a fresh tree, its 4 MB file held as `extra` says. */
async function startLoggedWith(t, extra, files = {}) {
  const tree = makeRoot();
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(tree.root, name), bytes);
  const lines = [];
  const s = await start({ root: tree.root, watch: false, log: (l) => lines.push(l), logFormat: 'json', ...extra });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(tree.root, { recursive: true, force: true });
  });
  return { s, lines, entry: () => lines.map((l) => JSON.parse(l)).find((e) => e.target === '/big.otf') };
}

const BODY_FROM = [['from disk', { memoryBudget: 0 }], ['from memory', { smallFileLimit: BIG }]];

test('streams cut by the shutdown deadline are logged each as not completed, not with its whole size', async (t) => {
  for (const [where, extra] of BODY_FROM) {
    const { s, lines } = await startLoggedWith(t, extra);
    const session = connect(s.port);
    // More than the abandoned streams a connection logs alone (10): the deadline is the server's
    // doing, and each stream it cuts is logged as its own request.
    for (let i = 0; i < 12; i++) {
      const stream = session.request({ ':path': '/big.otf' });
      stream.on('error', () => {});
      stream.pause(); // flow control holds the rest of the body on the server
    }
    // From disk, a connection's streams past its 8 disk turns wait, head unsent, for one to end.
    assert.ok(await until(() => s.server.stats.inFlight === 12), `${where}: ${s.server.stats.inFlight} of 12 streams arrived`);
    await new Promise((r) => setTimeout(r, 100));
    // Destroyed at the deadline, the session closes its streams with code 0, as if each had ended.
    await s.server.shutdown(200);
    const entries = () => lines.map((l) => JSON.parse(l));
    assert.ok(await until(() => entries().length >= 12), `${where}: ${lines.length} lines`);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(entries().filter((e) => e.event !== undefined), [], `${where}: a stream cut by the server counted as abandoned`);
    for (const e of entries()) {
      assert.equal(e.completed, false, `${where}: ${JSON.stringify(e)}`);
      assert.ok(e.bytes < BIG, `${where}: logged ${e.bytes} bytes, the whole body`);
    }
    assert.equal(entries().length, 12, where);
    session.destroy();
  }
});

test('a stream the client resets mid-body is logged with the bytes sent, within a slice of what came', async (t) => {
  for (const [where, extra] of BODY_FROM) {
    const { s, entry } = await startLoggedWith(t, extra);
    const session = connect(s.port);
    t.after(() => session.destroy());
    const stream = session.request({ ':path': '/big.otf' });
    stream.on('error', () => {});
    let received = 0;
    await new Promise((resolve) => stream.on('data', (c) => {
      received += c.length;
      if (received >= BIG / 4) resolve();
    }));
    stream.pause();
    const got = received;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.ok(await until(() => entry() !== undefined), `${where}: no line`);
    const { bytes, completed } = entry();
    assert.equal(completed, false, where);
    // Slices are 64 KiB; what a paused stream holds and what is in flight, a window or two.
    assert.ok(bytes > 0 && Math.abs(bytes - got) <= 4 * 65536, `${where}: logged ${bytes} bytes, the client got ${got}`);
  }
});

/**
 * A raw client asking for `count` copies of `path` at once, with windows wide enough for all of
 * them, that closes its side of the connection (TLS close_notify, then FIN) `afterMs` ms in, or once
 * `afterBytes` body bytes have come, and reads on until the server closes. Resolves with the body
 * bytes each stream got.
 */
function halfClosingClient(port, path, count, { afterMs, afterBytes, window = 0x7fffffff }) {
  return new Promise((resolve, reject) => {
    const got = new Map();
    let total = 0;
    const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      const settings = frame(4, 0, 0, Buffer.concat([Buffer.from([0, 4]), uint32(window)]));
      const frames = [PREFACE, settings, frame(8, 0, 0, uint32(0x40000000))];
      for (let i = 0; i < count; i++) frames.push(frame(1, 0x05, 2 * i + 1, getBlock(path)));
      socket.write(Buffer.concat(frames));
      if (afterMs !== undefined) setTimeout(() => socket.end(), afterMs);
    });
    onFrames(socket, (type, _flags, id, payload) => {
      if (type !== 0) return;
      got.set(id, (got.get(id) ?? 0) + payload.length);
      total += payload.length;
      if (afterBytes !== undefined && total >= afterBytes && !socket.writableEnded) socket.end();
    });
    socket.on('close', () => resolve([...got.values()]));
    // Once ended, onFrames' SETTINGS acknowledgement may be refused: 'write after end'.
    socket.on('error', (e) => socket.writableEnded || reject(e));
  });
}

test('a client that closes its side of the connection mid-body gets every body whole, logged whole, then GOAWAY and the close (review g29, h34b)', async (t) => {
  // Node ended the socket at the client's FIN (a TLSSocket is not half-open) and node:http2 went on
  // framing the answers for nobody, reporting them written: bodies logged complete that never left.
  for (const [where, extra] of BODY_FROM) {
    const { s, lines } = await startLoggedWith(t, extra);
    if (extra.smallFileLimit !== undefined) await h2Request(s.port, { path: '/big.otf' });
    lines.splice(0);
    const got = await halfClosingClient(s.port, '/big.otf', 32, { afterMs: 50 });
    assert.deepEqual(got, Array(32).fill(BIG), `${where}: the bodies a half-closed client got`);
    const entries = () => lines.map((l) => JSON.parse(l));
    assert.ok(await until(() => entries().length === 32), `${where}: ${entries().length} lines of 32`);
    assert.deepEqual(entries().filter((e) => !e.completed || e.bytes !== BIG), [], where);
  }
});

test('a client that closes its side of the connection once some bodies came whole: those are logged complete', async (t) => {
  // Review h34 (Node 24): writes node:http2 reported after Node had ended the socket (on the client's
  // FIN), before destroying it, had reached the client; bodies that came whole were logged cut. (The
  // connection now stays half-open until its answers are sent: every body comes whole, test above.)
  const SIZE = 300_000;
  for (const [where, extra] of BODY_FROM) {
    const { s, lines } = await startLoggedWith(t, extra, { 'mid.bin': Buffer.alloc(SIZE, 7) });
    // Held in memory once asked for (smallFileLimit); read from disk each time otherwise.
    assert.equal((await h2Request(s.port, { path: '/mid.bin' })).status, 200, where);
    lines.splice(0);
    const got = await halfClosingClient(s.port, '/mid.bin', 16, { afterBytes: 100_000 });
    const entries = () => lines.map((l) => JSON.parse(l));
    const counted = () => entries().filter((e) => e.event === 'reset-early').reduce((n, e) => n + e.streams, 0);
    const alone = () => entries().filter((e) => e.method === 'GET');
    assert.ok(await until(() => alone().length + counted() === 16), `${where}: ${alone().length} alone + ${counted()} counted of 16`);
    const whole = got.filter((n) => n === SIZE).length;
    const complete = alone().filter((e) => e.completed && e.bytes === SIZE).length;
    assert.ok(complete >= whole, `${where}: ${complete} lines complete, ${whole} streams got the whole body (${got})`);
  }
});

test('a client that closes its side leaving its streams no window is cut at once, not at the send timeout (review h35)', async (t) => {
  // After its FIN the client can send no WINDOW_UPDATE: streams waiting for window never move, and
  // each held its buffers and fd, and the connection its socket, for the whole send timeout.
  for (const [where, extra] of BODY_FROM) {
    const { s, lines } = await startLoggedWith(t, { ...extra, sendTimeout: 60_000 });
    if (extra.smallFileLimit !== undefined) await h2Request(s.port, { path: '/big.otf' });
    lines.splice(0);
    const began = Date.now();
    const got = await halfClosingClient(s.port, '/big.otf', 4, { afterMs: 50, window: 16_384 });
    assert.ok(Date.now() - began < 10_000, `${where}: closed ${Date.now() - began} ms in`);
    assert.deepEqual(got, Array(4).fill(16_384), `${where}: what the windows let through`);
    const entries = () => lines.map((l) => JSON.parse(l)).filter((e) => e.method === 'GET');
    assert.ok(await until(() => entries().length === 4), `${where}: ${entries().length} lines of 4`);
    assert.deepEqual(entries().filter((e) => e.completed), [], `${where}: none logged complete`);
    assert.deepEqual(s.server.stats.inFlight, 0, `${where}: nothing in flight`);
  }
});

test('streams a client that reads late got whole are logged whole, not cut by the sweep while their last bytes waited on the socket (review h36)', async (t) => {
  // A stream closed whole (its END_STREAM framed) has its last writes reported once the socket
  // takes them: the sweep destroyed such streams as if reset by the client, and logged 16 of 100
  // that a slow reader got whole with 0 bytes, not completed.
  const { s, lines } = await startLoggedWith(t, {}, { 'k1.bin': Buffer.alloc(1000, 1), 'k64.bin': Buffer.alloc(65_536, 2) });
  const paths = Array.from({ length: 128 }, (_, i) => (i % 2 === 0 ? '/k1.bin' : '/k64.bin'));
  const got = await new Promise((resolve, reject) => {
    const bytes = new Map();
    let ended = 0;
    const socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      const settings = frame(4, 0, 0, Buffer.concat([Buffer.from([0, 4]), uint32(0x7fffffff)]));
      socket.write(Buffer.concat([PREFACE, settings, frame(8, 0, 0, uint32(0x40000000)), ...paths.map((p, i) => frame(1, 0x05, 2 * i + 1, getBlock(p)))]));
      // Nothing read for 2.5 s (two sweeps): the answers queue on the server's socket meanwhile.
      socket.pause();
      setTimeout(() => socket.resume(), 2500);
    });
    onFrames(socket, (type, flags, id, payload) => {
      if (type === 0) bytes.set(id, (bytes.get(id) ?? 0) + payload.length);
      if ((type === 0 || type === 1) && (flags & 1) !== 0 && ++ended === paths.length) {
        socket.end();
        resolve(paths.map((_, i) => bytes.get(2 * i + 1) ?? 0));
      }
    });
    socket.on('error', reject);
  });
  assert.deepEqual(got, paths.map((p) => (p === '/k1.bin' ? 1000 : 65_536)), 'what the client got');
  const entries = () => lines.map((l) => JSON.parse(l)).filter((e) => e.method === 'GET');
  assert.ok(await until(() => entries().length === paths.length), `${entries().length} lines of ${paths.length}`);
  assert.deepEqual(entries().filter((e) => !e.completed || e.bytes !== (e.target === '/k1.bin' ? 1000 : 65_536)), []);
});

test('a client that skips stream IDs cannot make the log claim refusals its bytes could not have carried', async (t) => {
  // RFC 9113 §5.1.1 lets a client open stream 2^31 - 15 after stream 1: counted by IDs, that is a
  // billion streams refused. Each refused stream needs a HEADERS frame of 10 bytes or more.
  const { s, lines } = await startLogged(t);
  await rawStreams(s.port, 1, 0x7ffffff1);
  const answered = () => lines.map((l) => JSON.parse(l)).filter((e) => e.method === 'GET').length;
  assert.ok(await until(() => answered() === 2), `${answered()} of 2 streams answered`);
  await s.server.shutdown(500);
  const refused = lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'refused');
  for (const e of refused) assert.ok(e.streams <= 1000, `logged ${e.streams} refused streams for a connection that sent two`);
});

test('a connection with a stream in flight and no byte moving either way for the send timeout is cut', async (t) => {
  const { port } = await startOwn(t, { sendTimeout: 300, keepAliveTimeout: 60_000 });
  const session = connect(port);
  // A download the client never reads: its window fills, and then nothing moves on the connection.
  const stalled = session.request({ ':path': '/big.otf' });
  stalled.on('error', () => {});
  await new Promise((resolve) => stalled.once('response', resolve));
  stalled.pause();
  const opened = Date.now();
  const closed = new Promise((resolve) => session.once('close', () => resolve('closed')));
  const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'still open 5 s later').unref());
  assert.equal(await Promise.race([closed, safety]), 'closed');
  // Not before the send timeout, whatever the sweep's phase.
  assert.ok(Date.now() - opened >= 300, `cut ${Date.now() - opened} ms after the stream stalled`);
});

test('a client that stops reading its socket is cut at the send timeout though it keeps sending frames (WINDOW_UPDATE, PING)', async (t) => {
  const { server, port } = await startOwn(t, { memoryBudget: 0, sendTimeout: 1000, keepAliveTimeout: 60_000 });
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const path = Buffer.from('/big.otf');
  const authority = Buffer.from('localhost');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, authority.length]), authority]);
  // Windows as large as allowed, so the server writes until the socket's buffers are full.
  const settings = Buffer.concat([Buffer.from([0, 4]), u32(0x7fffffff)]);
  const sessionClosed = new Promise((resolve) => server.once('session', (session) => session.once('close', resolve)));
  const raw = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['h2'] });
  raw.on('error', () => {});
  let trickle = null;
  t.after(() => {
    clearInterval(trickle);
    raw.destroy();
  });
  await new Promise((resolve) => raw.once('secureConnect', resolve));
  const frames = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, settings), frame(8, 0, 0, u32(0x7fffffff - 65535))];
  for (let id = 1; id <= 7; id += 2) frames.push(frame(1, 0x05, id, block));
  raw.write(Buffer.concat(frames));
  raw.pause(); // never read again
  // Bytes on the wire every 100 ms, none of which the server must take as progress: node:http2 stops
  // reading while its write to the socket is pending, so they are not even read.
  let n = 0;
  trickle = setInterval(() => raw.write(n++ % 2 === 0 ? frame(8, 0, 0, u32(1)) : frame(6, 0, 0, Buffer.alloc(8))), 100);
  assert.ok(await until(() => server.stats.openFiles > 0), 'the streams are being answered from disk');
  const safety = new Promise((resolve) => setTimeout(resolve, 6000, 'still open 6 s later').unref());
  assert.equal(await Promise.race([sessionClosed.then(() => 'closed'), safety]), 'closed');
  assert.ok(await until(() => server.stats.inFlight === 0 && server.stats.openFiles === 0 && server.stats.buffersInUse === 0), JSON.stringify(server.stats));
});

test('a client gone mid-download (its socket closed with bytes unread: an RST) is let go within two sweeps, not at the keep-alive probe', async (t) => {
  // node:http2 writes to its socket natively and swallows the write error that says the client is
  // gone: the session, its streams and their fds stayed until the PING probe after the keep-alive
  // timeout (60 s here).
  for (const memoryBudget of [undefined, 0]) {
    const { server, port } = await startOwn(t, { memoryBudget, smallFileLimit: BIG, sendTimeout: 60_000, keepAliveTimeout: 60_000 });
    const sessionClosed = new Promise((resolve) => server.once('session', (session) => session.once('close', resolve)));
    const raw = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['h2'] });
    raw.on('error', () => {});
    await new Promise((resolve) => raw.once('secureConnect', resolve));
    const settings = Buffer.concat([Buffer.from([0, 4]), uint32(0x7fffffff)]);
    const frames = [PREFACE, frame(4, 0, 0, settings), frame(8, 0, 0, uint32(0x7fffffff - 65535))];
    for (let id = 1; id <= 15; id += 2) frames.push(frame(1, 0x05, id, getBlock('/big.otf')));
    raw.write(Buffer.concat(frames));
    raw.pause(); // never read: the server's writes wait on full socket buffers
    assert.ok(await until(() => server.stats.inFlight === 8), `memoryBudget ${memoryBudget}: ${JSON.stringify(server.stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    raw.destroy(); // closed with bytes unread: the kernel sends RST
    const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'still open 5 s later').unref());
    assert.equal(await Promise.race([sessionClosed.then(() => 'closed'), safety]), 'closed', `memoryBudget ${memoryBudget}`);
    assert.ok(await until(() => server.stats.inFlight === 0 && server.stats.openFiles === 0 && server.stats.buffersInUse === 0), JSON.stringify(server.stats));
  }
});

test('a reload gives connections already open the new send timeout (a silent connection with a stream in flight is cut by it)', async (t) => {
  const { server, port, options } = await startOwn(t, { sendTimeout: 60_000, keepAliveTimeout: 60_000 });
  const session = connect(port);
  // A download the client never reads: its window fills, and then nothing moves on the connection.
  const stalled = session.request({ ':path': '/big.otf' });
  stalled.on('error', () => {});
  await new Promise((resolve) => stalled.once('response', resolve));
  stalled.pause();
  const closed = new Promise((resolve) => session.once('close', () => resolve('closed')));
  server.reload({ ...options, sendTimeout: 200 });
  // The new 200 ms cut the connection, not the 60 s it opened with. (The sweep would only reset the
  // stream, after a second or two, and leave the connection to the 60 s keep-alive timeout.)
  const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'still open 5 s after the reload').unref());
  assert.equal(await Promise.race([closed, safety]), 'closed');
});

test('a reload turning the JSON access log on logs the requests that arrive after it, with their Origin, not one under way', async (t) => {
  // 64 KiB, held in memory: handed to node:http2 in one end(), so the answer is complete when the
  // handler returns (the request lets go of its headers), and its last byte waits for the client's
  // window (65,535 bytes), which a paused stream does not open.
  // The only file in the root, so one file in memory is this one, whether the start-up scan read it
  // on the main thread and kept its bytes (body-cache.ts offer) or a later read earned it a place.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2-'));
  writeFileSync(join(root, 'w.woff2'), Buffer.alloc(64 * 1024, 1));
  const c = testCertificate();
  const options = { root, tls: { cert: c.cert, key: c.key }, cors: { origins: ['https://app.example'] }, logFormat: 'json' };
  const { server, port } = await start(options);
  const session = connect(port);
  t.after(async () => {
    session.destroy();
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  const get = (headers) => {
    const stream = session.request({ ':path': '/w.woff2', ...headers });
    stream.on('error', () => {});
    return stream;
  };
  // Read from disk the first time, and into memory in the background (body-cache.ts load), which may
  // end after the answer does on a busy machine: wait for it, not for a number of requests.
  const warm = get({});
  warm.resume();
  await new Promise((resolve) => warm.once('close', resolve));
  assert.ok(await until(() => server.stats.filesInMemory === 1), 'w.woff2 is held in memory');
  const stream = get({ origin: 'https://app.example' });
  stream.pause();
  const head = await new Promise((resolve) => stream.once('response', resolve));
  assert.equal(head[':status'], 200);
  assert.ok(await until(() => server.stats.inFlight === 1), 'the answer waits on the client\'s window');
  const lines = [];
  server.reload({ ...options, log: (l) => lines.push(l) });
  stream.resume();
  await new Promise((resolve) => stream.once('close', resolve));
  // Decided with the rest of the request, by the options in force when it arrived: no log then.
  assert.ok(await until(() => server.stats.inFlight === 0), 'the answer ended');
  assert.deepEqual(lines, []);
  // The next one is logged; its Origin is read from what was noted on arrival, as the request lets
  // go of its headers once answered.
  const next = get({ origin: 'https://app.example' });
  next.resume();
  await new Promise((resolve) => next.once('close', resolve));
  assert.ok(await until(() => lines.length === 1), `log lines: ${lines.length}`);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.completed, true);
  assert.equal(entry.origin, 'https://app.example');
});

test('preflights over HTTP/2 each carry their own origin, method and headers, and a reload brings its policy at once', async (t) => {
  const A = 'https://a.example';
  const B = 'https://b.example';
  const { server, port, options } = await startOwn(t, { cors: { origins: [A, B], methods: ['PUT', 'DELETE'], allowedHeaders: ['*'], credentials: true } });
  const preflight = (origin, method, asked) =>
    h2Request(port, { method: 'OPTIONS', path: '/a.woff2', headers: { origin, 'access-control-request-method': method, ...(asked ? { 'access-control-request-headers': asked } : {}) } });
  // The engine refills one block in place for every allowed preflight: no value may carry over.
  const seen = [];
  for (const [origin, method, asked] of [[A, 'PUT', 'x-one'], [B, 'DELETE', 'x-two, x-three'], [A, 'PUT', undefined], [B, 'PUT', 'x-four']]) {
    const res = await preflight(origin, method, asked);
    seen.push([res.status, res.headers['access-control-allow-origin'], res.headers['access-control-allow-methods'], res.headers['access-control-allow-headers']]);
  }
  assert.deepEqual(seen.map((r) => r[1]), [A, B, A, B]);
  assert.deepEqual(seen.map((r) => r[3]), ['x-one', 'x-two, x-three', undefined, 'x-four']);
  assert.ok(seen.every((r) => r[0] === 204 && /PUT/.test(r[2])), JSON.stringify(seen));
  const denied = await preflight('https://evil.example', 'PUT', 'x-one');
  assert.equal(denied.status, 403);
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
  server.reload({ ...options, cors: { origins: [B], methods: ['PATCH'] } });
  assert.equal((await preflight(A, 'PUT')).status, 403, 'A is no longer allowed after the reload');
  const after = await preflight(B, 'PATCH');
  assert.equal(after.status, 204);
  assert.equal(after.headers['access-control-allow-origin'], B);
  assert.match(after.headers['access-control-allow-methods'], /PATCH/);
});

test('the keep-alive timeout counts from the last stream: a connection used more often than it stays open, then gets GOAWAY', async (t) => {
  const { port } = await startOwn(t, { keepAliveTimeout: 1500 });
  const session = connect(port);
  let goaway = null;
  session.on('goaway', () => (goaway ??= Date.now()));
  const closed = new Promise((resolve) => session.once('close', resolve));
  // Seven requests 300 ms apart: 2 s of use, longer than the timeout, never idle for as long as it.
  let idleFrom = 0;
  for (let i = 0; i < 7; i++) {
    await h2RequestOn(session, '/a.woff2');
    // Taken when the stream ended, not reckoned from the sleep after it, which a loaded machine stretches.
    idleFrom = Date.now();
    assert.equal(goaway, null, `GOAWAY after request ${i + 1}, though the connection was never idle for 1.5 s`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const safety = new Promise((resolve) => setTimeout(resolve, 6000, 'still open 6 s after the last stream').unref());
  assert.notEqual(await Promise.race([closed.then(() => 'closed'), safety]), 'still open 6 s after the last stream');
  assert.ok(goaway !== null && goaway - idleFrom >= 1400, `GOAWAY ${goaway === null ? 'never sent' : `${goaway - idleFrom} ms after the last stream`}`);
});

test('an idle connection stays open for a keep-alive timeout longer than the send timeout (the inactivity cut is for stuck streams)', async (t) => {
  // As `--keep-alive-timeout 65000` with the default 60 s send timeout, scaled down.
  const { port } = await startOwn(t, { keepAliveTimeout: 1500, sendTimeout: 400 });
  const session = connect(port);
  let goaway = null;
  session.on('goaway', () => (goaway ??= Date.now()));
  const closed = new Promise((resolve) => session.once('close', () => resolve('closed')));
  await h2RequestOn(session, '/a.woff2');
  const idleFrom = Date.now();
  const safety = new Promise((resolve) => setTimeout(resolve, 6000, 'still open 6 s after the last stream').unref());
  assert.equal(await Promise.race([closed, safety]), 'closed');
  const after = goaway === null ? null : goaway - idleFrom;
  assert.ok(after !== null && after >= 1400, `GOAWAY ${after === null ? 'never sent' : `${after} ms after the last stream`}, not at the 1.5 s keep-alive timeout`);
});

/**
 * True while this process has an fd for the server's end of the TCP connection 127.0.0.1:clientPort
 * -> 127.0.0.1:port (its inode in /proc/net/tcp among /proc/self/fd's links). A socket closed by the
 * server while its peer keeps its side open lingers in FIN-WAIT-2 without an fd (inode 0).
 */
function serverHoldsSocket(port, clientPort) {
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  const row = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hex(port)}` && f[2] === `0100007F:${hex(clientPort)}`);
  if (row === undefined || row[9] === '0') return false;
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === `socket:[${row[9]}]`;
    } catch {
      return false; // closed meanwhile
    }
  });
}

/**
 * A TLS connection speaking h2 that sends the connection preface and an empty SETTINGS frame, then
 * nothing: no stream, and no FIN of its own (allowHalfOpen: the server's FIN does not make it close).
 */
async function silentH2Client(port) {
  const raw = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['h2'], allowHalfOpen: true });
  raw.on('error', () => {});
  await new Promise((resolve) => raw.once('secureConnect', resolve));
  assert.equal(raw.alpnProtocol, 'h2');
  raw.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  raw.resume();
  return raw;
}

/**
 * A server with a 200 ms keep-alive and a 300 ms send timeout (or `sendTimeout`), and a silentH2Client
 * on it; `held()` says whether the server still holds that connection's fd. Both go when the test ends.
 */
async function silentClientOnShortTimeouts(t, sendTimeout = 300) {
  const { root } = makeRoot();
  const { server, port } = await start({ root, keepAliveTimeout: 200, sendTimeout });
  let raw = null;
  t.after(async () => {
    raw?.destroy();
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  raw = await silentH2Client(port);
  const held = () => serverHoldsSocket(port, raw.localPort);
  assert.ok(held(), 'the server\'s end of the connection is found among this process\'s fds');
  return { raw, held };
}

test('a client that ignores GOAWAY and never closes its side does not hold the server\'s socket', async (t) => {
  const { raw, held } = await silentClientOnShortTimeouts(t);
  await new Promise((resolve) => raw.once('end', resolve)); // GOAWAY, then the server's FIN
  assert.ok(await until(() => !held(), 5000), 'the server still holds the connection\'s fd 5 s after its FIN');
});

test('a client that leaves a header block unfinished (HEADERS without END_HEADERS) is closed soon after the GOAWAY (1 s, as Go), not a send timeout later', async (t) => {
  // nghttp2 counts the half-received stream as active, so node:http2's graceful close after the
  // keep-alive GOAWAY never completes, and no 'stream' event ever reaches the server's sweep.
  const { raw, held } = await silentClientOnShortTimeouts(t);
  // The server's SETTINGS, acknowledged before the header block: no other frame may come inside it.
  await new Promise((resolve) => raw.once('data', resolve));
  const path = Buffer.from('/a.woff2');
  const authority = Buffer.from('localhost');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, authority.length]), authority]);
  raw.write(Buffer.concat([frame(4, 1, 0, Buffer.alloc(0)), frame(1, 0x01, 1, block)])); // END_STREAM, no END_HEADERS
  // GOAWAY at 200 ms, the cut a send timeout later: ~0.5 s, up to a sweep late.
  assert.ok(await until(() => !held(), 5000), 'the server still holds the connection 5 s after its GOAWAY');
});

test('after a connection error with a request sent (DATA on its finished stream), the socket goes soon after the GOAWAY (a PING that is never written), not a send timeout later', async (t) => {
  // nghttp2 answers the error with GOAWAY and reads no more, so the client's FIN is never seen: with
  // a 30 s send timeout the socket was held 30 s, and a loop of such connections used up the fds.
  const { raw, held } = await silentClientOnShortTimeouts(t, 30_000);
  await new Promise((resolve) => raw.once('data', resolve));
  const path = Buffer.from('/a.woff2');
  const authority = Buffer.from('localhost');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, authority.length]), authority]);
  raw.write(Buffer.concat([frame(4, 1, 0, Buffer.alloc(0)), frame(1, 0x05, 1, block), frame(0, 0, 1, Buffer.from('x'))]));
  assert.ok(held(), 'held while the GOAWAY goes out');
  assert.ok(await until(() => !held(), 4000), 'the server still holds the connection 4 s after its GOAWAY');
});

test('a download paused by its client (window shut) through a shutdown gets the grace, not cut as dead by the PING probe', async (t) => {
  // After our GOAWAY node:http2 writes no PING: the probe read the paused client as nghttp2 stopped
  // and cut it a keep-alive timeout plus a sweep in (attack s38, its BUG 4).
  const tree = makeRoot();
  const s = await start({ root: tree.root, keepAliveTimeout: 300, sendTimeout: 20_000 });
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  let stopped = null;
  const seen = await rawH2Request(s.port, '/big.otf', {
    paused: async () => {
      stopped = s.server.shutdown(10_000);
      await new Promise((r) => setTimeout(r, 4000)); // keep-alive 0.3 s, sweeps 1 s apart: the probe cut in 2 to 3.5 s
    },
  });
  assert.deepEqual(seen, { data: BIG, endStream: true, rstCode: null, statusByte: 0x88 });
  await stopped;
});

test('shutdown() resolves at its deadline though a client ignores the GOAWAY and never closes its side', async (t) => {
  const { root } = makeRoot();
  const { server, port } = await start({ root, keepAliveTimeout: 60_000, sendTimeout: 60_000 });
  let raw = null;
  t.after(() => {
    raw?.destroy();
    rmSync(root, { recursive: true, force: true });
  });
  raw = await silentH2Client(port);
  await new Promise((resolve) => raw.once('data', resolve)); // the server's SETTINGS: its session is up
  const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'shutdown(200) not resolved 5 s later').unref());
  assert.equal(await Promise.race([server.shutdown(200).then(() => 'resolved'), safety]), 'resolved');
});

test('the keep-alive timeout is counted on a monotonic clock: the wall clock set back an hour does not keep an idle connection open', async (t) => {
  const { root } = makeRoot();
  const wallClock = Date.now;
  t.after(() => (Date.now = wallClock));
  // The access log line comes once the stream's close is counted: the clock is set back (as NTP or
  // an operator may) from then on, while the connection is idle.
  const log = () => (Date.now = () => wallClock() - 3_600_000);
  const { server, port } = await start({ root, keepAliveTimeout: 300, log });
  t.after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  const session = connect(port);
  const closed = new Promise((resolve) => session.once('close', () => resolve('closed')));
  await h2RequestOn(session, '/a.woff2');
  const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'still open 5 s after its last stream').unref());
  assert.equal(await Promise.race([closed, safety]), 'closed');
});

test('a reload that shortens the keep-alive timeout applies to connections already idle', async (t) => {
  const { server, port, options } = await startOwn(t, { keepAliveTimeout: 60_000 });
  const session = connect(port);
  await h2RequestOn(session, '/a.woff2');
  const closed = new Promise((resolve) => session.once('close', () => resolve('closed')));
  server.reload({ ...options, keepAliveTimeout: 200 });
  const safety = new Promise((resolve) => setTimeout(resolve, 5000, 'still open 5 s after the reload').unref());
  assert.equal(await Promise.race([closed, safety]), 'closed');
});

test('with http2: false, ALPN offers only http/1.1', async () => {
  const tree = makeRoot();
  const s = await start({ root: tree.root, http2: false });
  assert.notEqual(await negotiated(s.port), 'h2');
  await s.server.shutdown(500);
  rmSync(tree.root, { recursive: true, force: true });
});

test('no process warning was raised (a connection header on HTTP/2 would raise one)', () => {
  assert.deepEqual(warnings, []);
});

test('a stream the client resets with NO_ERROR mid-body gives back its fd, buffer and disk turn at once, not at the send timeout (found by a chaos soak)', async (t) => {
  const { s, session } = await fromDisk(t);
  const { server } = s;
  const idle = () => server.stats.inFlight === 0 && server.stats.openFiles === 0 && server.stats.buffersInUse === 0;
  // node:http2 closes such a stream but waits for its queued write, which never completes.
  // Node 24's client emits no 'close' for a stream it reset with NO_ERROR while DATA still comes (its
  // own copy of the fault): then the next reset follows once the server holds nothing.
  const resetOnResponse = () => new Promise((resolve) => {
    const stream = session.request({ ':path': '/big.otf' });
    stream.on('error', () => {});
    stream.on('response', () => {
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      void until(() => server.stats.inFlight === 0, 5000).then(resolve);
    });
    stream.on('close', resolve);
  });
  // More than the connection's disk turns (8): each reset must give its turn back.
  for (let i = 0; i < 10; i++) await resetOnResponse();
  assert.ok(await until(idle, 5000), `still held 5 s after (send timeout 60 s): ${JSON.stringify(server.stats)}`);
  const { status, bytes } = await new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/big.otf' });
    let n = 0;
    let code = 0;
    stream.on('response', (h) => (code = h[':status']));
    stream.on('data', (c) => (n += c.length));
    stream.on('end', () => resolve({ status: code, bytes: n }));
    stream.on('error', reject);
  });
  assert.deepEqual([status, bytes], [200, BIG], 'the same connection is still served');
  session.destroy();
  assert.ok(await until(idle, 5000), JSON.stringify(server.stats));
});

// node:http2's req.close() and python-h2's reset_stream() cancel with NO_ERROR by default: such a reset
// closes a stream the way a complete answer does (review r27), and must be charged all the same.
for (const [name, code] of [['CANCEL', http2.constants.NGHTTP2_CANCEL], ['NO_ERROR', http2.constants.NGHTTP2_NO_ERROR]])
test(`a client cancelling rounds of large downloads with ${name} (a browser leaving pages) is told to go away, never refused ENHANCE_YOUR_CALM (found by a fault run)`, async (t) => {
  // node:http2 keeps the bytes still queued for a stream the client reset on the connection's session
  // memory for good: past 10 MB, new streams were refused with ENHANCE_YOUR_CALM, which browsers do not retry.
  const s = await startOwn(t);
  const big = { initialWindowSize: 6 * 1024 * 1024 };
  const session = http2.connect(`https://127.0.0.1:${s.port}`, { ca: testCertificate().pem, settings: big });
  t.after(() => session.destroy());
  session.on('error', () => {});
  await new Promise((resolve) => session.once('connect', resolve));
  session.setLocalWindowSize(15 * 1024 * 1024);
  let goaway = null;
  session.on('goaway', (code) => (goaway = code));
  const refused = [];
  const round = () =>
    Promise.all(
      Array.from({ length: 100 }, () => new Promise((resolve) => {
        const stream = session.request({ ':path': '/big.otf' });
        stream.on('error', () => {});
        stream.once('data', () => setTimeout(() => stream.close(code), 50));
        stream.on('close', () => {
          if (stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) refused.push(stream.id);
          resolve();
        });
      })),
    );
  // How many rounds it takes depends on how much of each body the client had read before its reset
  // (what is left queued is what counts): 2 to 5 seen, under Node 20 and 24 alike. Every round must be
  // free of refusals, so more rounds only make the test stricter. Between rounds the client waits
  // 20 ms, as a browser's next page does (its HTML comes first): in this one process, Node 24's client
  // otherwise sent the next 100 HEADERS before the server's loop had turned once after the resets, and
  // node:http2 counts a reset stream among the 128 until the turn after it closed (a race of node's,
  // for a client that resets and opens in one write; not seen with client and server in two processes).
  for (let i = 0; i < 12 && goaway === null && !session.closed && !session.destroyed; i++) {
    await round();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(refused, [], 'streams refused ENHANCE_YOUR_CALM');
  assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR, 'GOAWAY (NO_ERROR): the next page gets a new connection');
  // That new connection serves a page's worth of fonts.
  const fresh = http2.connect(`https://127.0.0.1:${s.port}`, { ca: testCertificate().pem });
  t.after(() => fresh.destroy());
  const statuses = await Promise.all(Array.from({ length: 20 }, () => new Promise((resolve) => {
    const stream = fresh.request({ ':path': '/a.woff2' });
    stream.on('response', (h) => resolve(h[':status']));
    stream.on('error', () => resolve(stream.rstCode));
    stream.resume();
  })));
  assert.deepEqual(statuses, Array(20).fill(200));
});

test('a client resetting downloads with NO_ERROR while their last slice waits for window never has new streams refused: each reset stream is let go at once (raw client)', async (t) => {
  // node:http2 waits for a reset stream's queued write, which never completes, and counts the stream
  // among the connection's 128 until then: with 100 such streams a second, the next were refused
  // ENHANCE_YOUR_CALM (RST_STREAM code 11). Window 80 KiB, body 100 kB: the last slice waits.
  const { root } = makeRoot();
  writeFileSync(join(root, 'f.woff2'), Buffer.alloc(100_000, 7));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const WINDOW = 80 * 1024;
  for (const memoryBudget of [undefined, 0]) {
    const { server, port } = await start({ root, memoryBudget });
    try {
      const seen = await new Promise((resolve) => {
        const got = new Map();
        const refused = [];
        let [next, reset, goaway] = [1, 0, null];
        const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
          const settings = Buffer.concat([Buffer.from([0, 4]), uint32(WINDOW)]);
          socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, settings), frame(8, 0, 0, uint32(0x7f000000))]));
          open(50);
        });
        const finish = () => {
          socket.destroy();
          resolve({ refused, reset, goaway, opened: (next - 1) / 2 });
        };
        // 50 GETs at a time, the next 50 once 50 were reset: under 128 open, as the client counts them.
        const open = (n) => {
          const frames = [];
          for (let i = 0; i < n && next < 600; i++, next += 2) {
            got.set(next, 0);
            frames.push(frame(1, 0x05, next, getBlock('/f.woff2')));
          }
          socket.write(Buffer.concat(frames));
        };
        socket.on('error', () => {});
        const safety = setTimeout(finish, 8_000);
        onFrames(socket, (type, flags, id, payload) => {
          if (type === 7 && goaway === null) goaway = payload.readUInt32BE(4);
          if (type === 3 && payload.readUInt32BE(0) === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) refused.push(id);
          if (type !== 0 || !got.has(id)) return false;
          socket.write(frame(8, 0, 0, uint32(Math.max(1, payload.length))));
          const bytes = got.get(id) + payload.length;
          got.set(id, bytes);
          if (bytes < WINDOW) return false;
          socket.write(frame(3, 0, id, uint32(http2.constants.NGHTTP2_NO_ERROR)));
          got.delete(id);
          if (++reset % 50 === 0) open(50);
          if (reset === 250 || (goaway !== null && got.size === 0)) {
            clearTimeout(safety);
            finish();
          }
          return false;
        });
      });
      assert.deepEqual(seen.refused, [], `memoryBudget ${memoryBudget}: streams refused ENHANCE_YOUR_CALM (${JSON.stringify(seen)})`);
      assert.ok(seen.reset >= 150, `memoryBudget ${memoryBudget}: more resets than the 128 streams a connection may hold (${JSON.stringify(seen)})`);
    } finally {
      await server.shutdown(100);
    }
  }
});

/**
 * A well-behaved client, in a process of its own (it keeps the server's socket writes pending as a
 * remote client does, where one sharing the server's event loop read each batch at once): `total`
 * GETs of `path` on one connection, 128 in flight, windows wide open. Resolves with
 * `{ sizes: [[bytes, count], ...], goaway }` (goaway: its code, or null).
 */
function fastClient(port, path, total) {
  const code = `
    import http2 from 'node:http2';
    const [port, path, total, ca] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3]), process.argv[4]];
    const session = http2.connect('https://127.0.0.1:' + port, { ca, settings: { initialWindowSize: 2 ** 30 } });
    session.on('error', () => {});
    await new Promise((resolve) => session.once('connect', resolve));
    session.setLocalWindowSize(2 ** 30);
    let goaway = null;
    session.on('goaway', (code) => (goaway = code));
    // Busy 40 ms in every 50, as a loaded client's loop: meanwhile nothing reads the socket, and the
    // server's writes wait on a full kernel buffer.
    const busy = setInterval(() => {
      const end = performance.now() + 40;
      while (performance.now() < end);
    }, 50);
    const sizes = new Map();
    let opened = 0;
    await new Promise((resolve) => {
      let ended = 0;
      const next = () => {
        if (opened === total || goaway !== null) return;
        opened++;
        const stream = session.request({ ':path': path });
        let bytes = 0;
        stream.on('data', (d) => (bytes += d.length));
        stream.on('error', () => {});
        stream.on('close', () => {
          sizes.set(bytes, (sizes.get(bytes) ?? 0) + 1);
          if (++ended === total || (goaway !== null && ended === opened)) resolve();
          else next();
        });
      };
      for (let i = 0; i < 128; i++) next();
    });
    clearInterval(busy);
    session.close();
    process.stdout.write(JSON.stringify({ sizes: [...sizes], goaway }));
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code, String(port), path, String(total), testCertificate().pem], { timeout: 60_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout)),
    );
  });
}

test('a fast client\'s 3,000 downloads of a 300 kB file, 128 at a time on one connection, are all logged whole, and it is never told to go away (review h27)', async (t) => {
  // Under load the sweep found streams whose last DATA frame and END_STREAM were framed, their socket write
  // still pending, and let them go as it lets go of streams a client reset: their last slice was charged
  // as never sent, ~110 such passed the unsent limit (GOAWAY), and they were logged 262144 bytes, cut.
  const tree = makeRoot();
  writeFileSync(join(tree.root, 'f.woff2'), Buffer.alloc(300_000, 5));
  const lines = [];
  const s = await start({ root: tree.root, log: (l) => lines.push(l), logFormat: 'json' });
  t.after(async () => {
    await s.server.shutdown(500);
    rmSync(tree.root, { recursive: true, force: true });
  });
  const total = 3000;
  const { sizes, goaway } = await fastClient(s.port, '/f.woff2', total);
  assert.equal(goaway, null, 'no GOAWAY');
  assert.deepEqual(sizes, [[300_000, total]], 'bodies received');
  assert.ok(await until(() => lines.length >= total), `${lines.length} log lines`);
  const logged = new Map();
  for (const e of lines.map((l) => JSON.parse(l))) logged.set(`${e.bytes} ${e.completed}`, (logged.get(`${e.bytes} ${e.completed}`) ?? 0) + 1);
  assert.deepEqual([...logged], [['300000 true', total]], 'logged as sent whole');
});

test('a connection that cancelled 55 downloads still answers a page of 128 at once (session memory with room for them)', async (t) => {
  // Found by an attack on the GOAWAY above: under it, the cancelled streams' unsent slices and 128 open
  // streams' slices passed Node's default 10 MB, and some of the 128 were refused ENHANCE_YOUR_CALM.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2-'));
  writeFileSync(join(root, 'f.woff2'), Buffer.alloc(600_000, 7));
  const s = await start({ root });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  const session = http2.connect(`https://127.0.0.1:${s.port}`, { ca: testCertificate().pem, settings: { initialWindowSize: 6 * 1024 * 1024 } });
  t.after(() => session.destroy());
  session.on('error', () => {});
  await new Promise((resolve) => session.once('connect', resolve));
  session.setLocalWindowSize(15 * 1024 * 1024);
  let goaway = false;
  session.on('goaway', () => (goaway = true));
  const get = () => {
    const stream = session.request({ ':path': '/f.woff2' });
    const done = new Promise((resolve) => {
      let bytes = 0;
      stream.on('data', (d) => (bytes += d.length));
      stream.on('end', () => resolve(bytes === 600_000 ? 'whole' : 'short'));
      stream.on('error', () => resolve(`reset ${stream.rstCode}`));
    });
    return { stream, done };
  };
  const cancelled = Array.from({ length: 55 }, get);
  await new Promise((r) => setTimeout(r, 50));
  for (const { stream } of cancelled) stream.close(http2.constants.NGHTTP2_CANCEL);
  await Promise.all(cancelled.map((c) => c.done));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(goaway, false, 'under the GOAWAY line');
  const results = await Promise.all(Array.from({ length: 128 }, () => get().done));
  assert.deepEqual(results.filter((r) => r !== 'whole'), []);
});

test('a clock set back an hour (NTP, a restored VM) shows in the next answer\'s Date, not an hour later', async (t) => {
  const s = await startOwn(t);
  const before = await h2Request(s.port, { path: '/a.woff2' });
  const real = Date.now;
  t.after(() => (Date.now = real));
  Date.now = () => real() - 3_600_000;
  const after = await h2Request(s.port, { path: '/a.woff2' });
  Date.now = real;
  const at = Date.parse(after.headers.date);
  assert.ok(Math.abs(at - (real() - 3_600_000)) < 5000, `Date ${after.headers.date} after ${before.headers.date}, the clock an hour back`);
});

test('a client that opens wide windows and never reads holds at most the send budget in node:http2 per connection, not a slice per stream (128 × 64 KiB)', async (t) => {
  // Over TLS, what node:http2 frames is encrypted at once and kept until the socket takes it: 128 streams
  // of a 1 MB font held ~10 MB per such connection, and 20 connections took the server from 60 to 270 MB.
  const tree = makeRoot();
  writeFileSync(join(tree.root, 'm.woff2'), Buffer.alloc(1_000_000, 9));
  const s = await start({ root: tree.root });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(tree.root, { recursive: true, force: true });
  });
  // Held in memory once asked for (a body from disk has its own bound: 8 per connection, disk-turns.ts).
  assert.equal((await h2Request(s.port, { path: '/m.woff2' })).body.length, 1_000_000);
  const streams = [];
  s.server.on('stream', (stream) => streams.push(stream));
  const block = getBlock('/m.woff2');
  const socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
    const settings = frame(4, 0, 0, Buffer.concat([Buffer.from([0, 4]), uint32(0x7fffffff)]));
    const headers = Array.from({ length: 128 }, (_, i) => frame(1, 0x05, 1 + 2 * i, block));
    socket.write(Buffer.concat([PREFACE, settings, frame(8, 0, 0, uint32(0x7f000000)), ...headers]));
    socket.pause(); // never read again
  });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  // Bytes written to each stream whose callback has not come: handed to node:http2, not yet to the socket.
  const queued = () => streams.reduce((sum, stream) => sum + (stream.closed || stream.destroyed ? 0 : stream.writableLength), 0);
  assert.ok(await until(() => streams.length === 128), `${streams.length} streams`);
  // Let the kernel's buffers fill and node:http2 take what it is given.
  let last = -1;
  for (let i = 0; i < 40 && queued() !== last; i++) {
    last = queued();
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.ok(queued() > 0, 'the client is stalled: bytes are waiting');
  // The budget (1 MiB, README "HTTP/2 limits"), overshot by at most the slice that found room.
  assert.ok(queued() <= 1024 * 1024 + 64 * 1024, `${queued()} bytes queued in node:http2 on one connection`);
  // Another client is served meanwhile.
  const other = await h2Request(s.port, { path: '/m.woff2' });
  assert.deepEqual([other.status, other.body.length], [200, 1_000_000]);
});

test('downloads whose windows a client keeps shut do not hold up its other downloads on the connection: what waits for window is not counted against the send budget', async (t) => {
  const tree = makeRoot();
  writeFileSync(join(tree.root, 'm.woff2'), Buffer.alloc(1_000_000, 4));
  const s = await start({ root: tree.root, sendTimeout: 60_000 });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(tree.root, { recursive: true, force: true });
  });
  assert.equal((await h2Request(s.port, { path: '/m.woff2' })).body.length, 1_000_000); // held in memory from now
  const block = getBlock('/m.woff2');
  // 24 streams that get their first 64 KiB (the default window) and no more: each has its next
  // slice queued behind its shut window, 1.5 MiB in all, past the 1 MiB budget. The client reads
  // its socket and opens the connection's window: only the streams' windows stay shut.
  const LAST = 49;
  const got = new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = tls.connect({ host: '127.0.0.1', port: s.port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      const shut = Array.from({ length: 24 }, (_, i) => frame(1, 0x05, 1 + 2 * i, block));
      socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(8, 0, 0, uint32(0x7f000000)), ...shut]));
      // Then one the client reads whole, once the others have had time to fill their windows.
      setTimeout(() => socket.write(Buffer.concat([frame(1, 0x05, LAST, block), frame(8, 0, LAST, uint32(0x7f000000))])), 300);
    });
    t.after(() => socket.destroy());
    socket.on('error', reject);
    onFrames(socket, (type, flags, id, payload) => {
      if (type === 0 && payload.length > 0) socket.write(frame(8, 0, 0, uint32(payload.length))); // the connection's window, given back
      if (id === LAST && type === 0) {
        bytes += payload.length;
        if (flags & 1) resolve(bytes);
      }
      return false;
    });
    setTimeout(() => resolve(`${bytes} bytes after 10 s, no END_STREAM`), 10_000).unref();
  });
  assert.equal(await got, 1_000_000);
});

test('a client reading a large file steadily but slowly over HTTP/2 keeps its stream and connection while the kernel holds MBs for it; its streams whose windows it keeps shut, and a client that stops reading, are cut (Linux: the kernel\'s send queue)', { skip: process.platform !== 'linux' && 'reads /proc/net/tcp' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2-slow-reader-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 7));
  const { server, port } = await start({ root, etagCache: 'off', memoryBudget: 0, sendTimeout: 2000 });
  const accepted = [];
  server.on('secureConnection', (socket) => accepted.push(socket));
  const open = new Set();
  server.on('stream', (stream) => {
    open.add(stream);
    stream.on('close', () => open.delete(stream));
  });
  t.after(async () => {
    await server.shutdown(200);
    rmSync(root, { recursive: true, force: true });
  });
  // Raw HTTP/2 with stream 1's window opened wide, so that only TCP paces its body: the client reads
  // its TLS socket at its own pace, as a slow link would. `shut` more streams keep a window of 0.
  const ask = (shut) => {
    const settings = frame(4, 0, 0, Buffer.concat([Buffer.from([0, 4]), uint32(0)]));
    const heads = [frame(1, 0x05, 1, getBlock('/big.bin')), frame(8, 0, 1, uint32(0x7fffffff))];
    for (let i = 1; i <= shut; i++) heads.push(frame(1, 0x05, 1 + 2 * i, getBlock('/big.bin')));
    const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, () => {
      socket.write(Buffer.concat([PREFACE, settings, frame(8, 0, 0, uint32(0x7fff0000)), ...heads]));
      // The server's SETTINGS, acknowledged unread (it is sent first, on every connection).
      setTimeout(() => socket.write(frame(4, 1, 0, Buffer.alloc(0))), 50);
    });
    socket.on('error', () => {});
    socket.pause();
    return socket;
  };
  const reader = ask(4);
  const stopper = ask(0);
  // 20 KB every 50 ms (400 KB/s): with a 2 s timeout, less than the third of a 4 MB send buffer the
  // kernel must drain before node:http2 may write again. The stopper takes 200 KB, then nothing.
  const [readBytes] = await readSteadilyBesideStopped(t, [reader], stopper, 8000);
  assert.equal(accepted.length, 2);
  const [readerSide, stopperSide] = accepted[0].localPort === reader.remotePort && accepted[0].remotePort === reader.localPort ? accepted : [accepted[1], accepted[0]];
  assert.ok(readBytes > 2_400_000, `the reader read ${readBytes} bytes in 8 s`);
  assert.equal(stopperSide.destroyed, true, 'the client that stopped reading was not cut');
  assert.equal(readerSide.destroyed, false, `the steady reader was cut (it had read ${readBytes} bytes; ${readerSide.bytesWritten} handed to the kernel)`);
  // Its four shut streams stalled for their own windows, not for the socket: reset at the send timeout.
  const left = [...open].map((stream) => `${stream.session?.socket?.remotePort === readerSide.remotePort ? 'reader' : 'other'} ${stream.id}`);
  assert.deepEqual(left, ['reader 1'], "the steady reader's stream was reset (its connection kept), or its shut streams were kept");
  assert.equal(server.stats.inFlight, 1);
});

test('streams the client cancels mid-download leave nothing behind in the send-timeout bookkeeping (a slice reported sent after the stream closed)', async (t) => {
  // Http2Sessions keeps, per stream seen moving, what it had queued; a cancelled stream's last write
  // reports after the stream has closed, and noting it then kept the entry, and the stream, for good.
  const { Http2Sessions } = await import('../dist/static/http2-sessions.js');
  let sessions = null;
  const opened = Http2Sessions.prototype.opened;
  Http2Sessions.prototype.opened = function (stream) {
    sessions = this;
    return opened.call(this, stream);
  };
  t.after(() => {
    Http2Sessions.prototype.opened = opened;
  });
  const { session } = await withSession(t, { memoryBudget: 0, sendTimeout: 60_000 });
  const cancelled = Array.from({ length: 60 }, () => new Promise((resolve) => {
    const req = session.request({ ':path': '/big.otf' });
    req.on('data', () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on('close', resolve);
    req.on('error', resolve);
    req.end();
  }));
  await Promise.all(cancelled);
  await new Promise((r) => setTimeout(r, 500));
  assert.notEqual(sessions, null, 'no stream was opened');
  const left = [...sessions.progress.keys()].filter((stream) => stream.closed || stream.destroyed).length;
  assert.equal(left, 0, `${left} closed streams still tracked`);
});
