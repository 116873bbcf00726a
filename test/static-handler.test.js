// createStaticHandler: the file server as a handler, standalone and mounted under Express.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import compression from 'compression';
import express from 'express';
import { createStaticHandler } from '../dist/static/index.js';
import { createCors } from '../dist/cors/index.js';
import { acHeaders, eventually, listen, rawRequest, request } from './helpers.js';
import { frame, rawH2Request, testCertificate } from './transports.js';
import { oldOnHeaders } from './fixtures/old-on-headers.js';

const APP = 'https://app.example.com';

describe('mounted under Express at /fonts', () => {
  let root;
  let handler;
  let s;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-mount-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'a.woff2'), 'font-a');
    writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>');
    handler = await createStaticHandler({ root, cors: { origins: [APP] } });
    const app = express();
    app.use('/fonts', handler);
    app.get('/fonts/dynamic', (req, res) => res.send('from the app'));
    app.post('/fonts/a.woff2', (req, res) => res.send('app POST'));
    app.use((req, res) => res.status(404).send('app 404'));
    s = await listen(app);
  });
  after(async () => {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('serves the root at the prefix, with CORS', async () => {
    const res = await request(s.port, { path: '/fonts/a.woff2', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'font-a');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['content-type'], 'font/woff2');
  });

  test('a miss, and methods it does not serve, go to next()', async () => {
    assert.equal((await request(s.port, { path: '/fonts/dynamic' })).body.toString(), 'from the app');
    assert.equal((await request(s.port, { path: '/fonts/nope.woff2' })).body.toString(), 'app 404');
    assert.equal((await request(s.port, { method: 'POST', path: '/fonts/a.woff2' })).body.toString(), 'app POST');
    assert.equal((await request(s.port, { path: '/elsewhere' })).body.toString(), 'app 404');
  });

  test('preflights for its files are answered; for the app\'s paths they go to next()', async () => {
    const pre = { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' };
    const mine = await request(s.port, { method: 'OPTIONS', path: '/fonts/a.woff2', headers: pre });
    assert.equal(mine.status, 204);
    assert.equal(mine.headers['access-control-allow-origin'], APP);
    const theirs = await request(s.port, { method: 'OPTIONS', path: '/fonts/dynamic', headers: pre });
    assert.equal(theirs.headers['access-control-allow-origin'], undefined);
  });

  test('a directory without its slash redirects within the mount point', async () => {
    const res = await request(s.port, { path: '/fonts/sub?x=1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, '/fonts/sub/?x=1');
  });
});

test('standalone as a node:http listener: 404 and 405 are its own, with CORS', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-alone-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: ['*'] } });
  const s = await listen(handler);
  try {
    const miss = await request(s.port, { path: '/nope' });
    assert.equal(miss.status, 404);
    assert.equal(miss.headers['access-control-allow-origin'], '*');
    assert.equal((await request(s.port, { method: 'POST', path: '/a.woff2' })).status, 405);
    assert.equal(handler.stats.inFlight, 0);
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('standalone in an app\'s own node:http listener, a file held in memory is answered before the handler returns, a chunked request too (review h65)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-sync-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: ['*'] } });
  const seen = [];
  // An app's listener that falls back when nothing was written: serve()'s own server answers a chunked
  // request a tick later (handler.ts routeFramed), which would have had this one send its fallback.
  const s = await listen((req, res) => {
    handler(req, res);
    seen.push(res.writableEnded);
    if (!res.headersSent) res.end('fallback');
  });
  t.after(async () => {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });
  for (const headers of [{}, { 'Transfer-Encoding': 'chunked' }]) {
    const r = await request(s.port, { path: '/a.woff2', headers });
    assert.equal(r.status, 200, JSON.stringify(headers));
    assert.equal(r.body.toString(), 'font-a');
  }
  assert.deepEqual(seen, [true, true]);
});

test('mounted with watch: false, a file a request found gone is served again once it is put back; till then the app answers', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-mounted-nowatch-'));
  writeFileSync(join(root, 'a.woff2'), 'one');
  const handler = await createStaticHandler({ root, cors: { origins: ['*'] }, watch: false, memoryBudget: 0 });
  const app = express();
  app.use('/fonts', handler);
  app.use((req, res) => res.status(404).send('the app'));
  const s = await listen(app);
  try {
    assert.equal((await request(s.port, { path: '/fonts/a.woff2' })).body.toString(), 'one');
    rmSync(join(root, 'a.woff2'));
    await request(s.port, { path: '/fonts/a.woff2' }); // the handler finds it gone
    assert.equal((await request(s.port, { path: '/fonts/a.woff2' })).body.toString(), 'the app');
    writeFileSync(join(root, 'a.woff2'), 'two');
    await new Promise((r) => setTimeout(r, 1100));
    const back = await request(s.port, { path: '/fonts/a.woff2' });
    assert.deepEqual([back.status, back.body.toString()], [200, 'two']);
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('under an app, req.headers as the app left them decide (a middleware dropping validators or Range), not the lines as received', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-rewrite-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: [APP] } });
  const forget = (req) => {
    delete req.headers['if-none-match'];
    delete req.headers.range;
    req.headers.origin = APP;
  };
  const app = express();
  app.use((req, res, next) => (forget(req), next()));
  app.use(handler);
  const mounted = await listen(app);
  const plain = await listen((req, res) => (forget(req), handler(req, res)));
  t.after(async () => {
    await mounted.close();
    await plain.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });
  const etag = (await request(plain.port, { path: '/a.woff2' })).headers.etag;
  for (const s of [mounted, plain]) {
    const res = await request(s.port, { path: '/a.woff2', headers: { 'If-None-Match': etag, Range: 'bytes=0-1', Origin: 'https://other.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'font-a');
    assert.equal(res.headers['access-control-allow-origin'], APP);
  }
});

describe('mounted beside other middleware (found by an adversarial review)', () => {
  let root;
  let handler;
  let s;
  let crashes = 0;
  const onCrash = () => crashes++;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-mount2-'));
    writeFileSync(join(root, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7)); // read from disk
    writeFileSync(join(root, 'a.woff2'), 'font-a');
    writeFileSync(join(root, 'index.html'), '<p>root</p>');
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>');
    process.on('uncaughtException', onCrash);
    handler = await createStaticHandler({ root, cors: { origins: [APP] }, smallFileLimit: 256 * 1024 });
    const app = express();
    // Answers on its own a moment after passing the request on: races the handler's disk read.
    app.use('/race', (req, res, next) => {
      next();
      setImmediate(() => {
        if (res.headersSent) return;
        res.writeHead(503);
        setTimeout(() => res.end('taken'), 50);
      });
    });
    app.use('/race', handler);
    app.use((req, res, next) => {
      res.setHeader('Vary', 'Cookie');
      next();
    });
    app.use('/fonts', handler);
    app.use('/lang/:lang', handler);
    const appCors = createCors({ origins: [APP], methods: ['PUT'] });
    app.put('/fonts/a.woff2', appCors.middleware, (req, res) => res.send('put'));
    app.options('/fonts/a.woff2', appCors.middleware);
    s = await listen(app);
  });
  test('a mount path parameter holding a backslash: 400 from the redirect, never 500 (a browser reads \\ as /)', async () => {
    // The app's part of the target matched `:lang`; the handler's own part (`/`) was fine.
    const res = await rawRequest(s.port, 'GET /lang/\\evil.example/sub HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(res.status, 400);
    assert.equal(res.get('location'), undefined);
    const plain = await rawRequest(s.port, 'GET /lang/en/sub HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(plain.status, 308);
    assert.equal(plain.get('location'), '/lang/en/sub/');
  });

  after(async () => {
    process.off('uncaughtException', onCrash);
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('another middleware answering while the disk read is pending costs that response, never the process', async () => {
    for (let i = 0; i < 30; i++) await request(s.port, { path: '/race/big.bin' }).catch(() => null);
    // The disk reads the other middleware outran finish after the responses: wait until they have
    // given everything back (a leak never does: the safety net then fails with the counts).
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not released within 10 s: ${JSON.stringify(handler.stats)}`)), 10_000);
      handler.whenReleased(() => resolve(clearTimeout(timer)));
    });
    assert.equal(crashes, 0);
    const { inFlight, openFiles, buffersInUse } = handler.stats;
    assert.deepEqual({ inFlight, openFiles, buffersInUse }, { inFlight: 0, openFiles: 0, buffersInUse: 0 });
    assert.equal((await request(s.port, { path: '/fonts/a.woff2' })).status, 200);
  });

  test('a preflight for a method the app serves on the same path goes to the app', async () => {
    const pre = { Origin: APP, 'Access-Control-Request-Method': 'PUT' };
    const res = await request(s.port, { method: 'OPTIONS', path: '/fonts/a.woff2', headers: pre });
    assert.equal(res.status, 204);
    assert.match(res.headers['access-control-allow-methods'], /PUT/);
  });

  test("an earlier middleware's Vary is kept, Origin appended", async () => {
    for (const path of ['/fonts/a.woff2', '/fonts/big.bin']) {
      const res = await request(s.port, { method: 'HEAD', path, headers: { Origin: APP } });
      assert.equal(res.headers.vary, 'Cookie, Origin', path);
    }
  });

  test('the mount path without its slash redirects to it', async () => {
    const res = await request(s.port, { path: '/fonts?x=1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, '/fonts/?x=1');
  });
});

test('whenIdle waits for an answer held in memory that a slow client is still reading', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-when-idle-'));
  const big = Buffer.alloc(16 * 1024 * 1024, 3);
  writeFileSync(join(root, 'big.bin'), big);
  const handler = await createStaticHandler({ root, watch: false, smallFileLimit: 32 * 1024 * 1024, memoryBudget: 64 * 1024 * 1024 });
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });
  assert.equal((await request(port, { path: '/big.bin' })).status, 200);
  // Read from disk the first time and into memory in the background, which may end after the answer.
  for (let i = 0; i < 250 && handler.stats.filesInMemory !== 1; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(handler.stats.filesInMemory, 1, 'big.bin is held in memory');
  // An app's own graceful shutdown waits on whenIdle, then closes every connection.
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  let idle = false;
  handler.whenIdle(() => (idle = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(idle, false, 'whenIdle fired while 16 MB were still to be read');
  let got = 0;
  socket.on('data', (d) => (got += d.length));
  socket.resume();
  while (!idle) await new Promise((r) => setTimeout(r, 20));
  // Fired once the answer was handed to the socket: what the kernel still buffers may be unread.
  assert.ok(got > big.length / 2, `${got} bytes read when whenIdle fired`);
  socket.destroy();
});

test('mounted behind the app\'s own CORS middleware, its answers carry its own policy\'s CORS headers alone, never a mix', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-layers-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const OTHER = 'https://other.example';
  const apps = [];
  t.after(async () => {
    for (const { s, files } of apps) {
      await s.close();
      files.close();
    }
    rmSync(root, { recursive: true, force: true });
  });
  const mount = async (policy) => {
    const app = express();
    // The app's layer: credentials, an exposed header and timing, for APP only.
    app.use(createCors({ origins: [APP], credentials: true, exposedHeaders: ['x-request-id'], timingAllowOrigin: true }).middleware);
    const files = await createStaticHandler({ root, cors: policy, watch: false });
    app.use('/fonts', files);
    const s = await listen(app);
    apps.push({ s, files });
    return s.port;
  };
  const cors = (res) => acHeaders(res).concat('timing-allow-origin' in res.headers ? ['timing-allow-origin'] : []).sort();
  // `*` on the handler: no credentials beside it (a browser refuses `*` with them, and so the whole answer).
  let port = await mount({ origins: ['*'] });
  for (const headers of [{ Origin: APP }, { Origin: APP, Range: 'bytes=0-1' }]) {
    const res = await request(port, { path: '/fonts/a.woff2', headers });
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.ok(!String(res.headers['access-control-expose-headers']).includes('x-request-id'), res.headers['access-control-expose-headers']);
  }
  // A handler policy that refuses APP: no CORS header at all, though the app's layer allowed APP.
  port = await mount({ origins: [OTHER] });
  const refused = await request(port, { path: '/fonts/a.woff2', headers: { Origin: APP } });
  assert.equal(refused.status, 200);
  assert.deepEqual(cors(refused), []);
  assert.match(refused.headers.vary, /Origin/);
  const allowed = await request(port, { path: '/fonts/a.woff2', headers: { Origin: OTHER } });
  assert.equal(allowed.headers['access-control-allow-origin'], OTHER);
  assert.equal(allowed.headers['access-control-allow-credentials'], undefined);
});

test('called as (req, res) after the app\'s own cors.handle, its answers carry its own policy alone (found by a review)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-standalone-layers-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const servers = [];
  t.after(async () => {
    for (const { s, files } of servers) {
      await s.close();
      files.close();
    }
    rmSync(root, { recursive: true, force: true });
  });
  const start = async (appPolicy, filesPolicy) => {
    const cors = createCors(appPolicy);
    const files = await createStaticHandler({ root, cors: filesPolicy, watch: false });
    const s = await listen((req, res) => {
      if (!cors.handle(req, res)) files(req, res);
    });
    servers.push({ s, files });
    return s.port;
  };
  // The app's `*` must not let an origin the files' policy refuses read them.
  let port = await start({ origins: ['*'] }, { origins: [APP] });
  for (const path of ['/a.woff2', '/missing']) {
    const refused = await request(port, { path, headers: { Origin: 'https://evil.example' } });
    assert.equal(refused.headers['access-control-allow-origin'], undefined, path);
    assert.match(refused.headers.vary, /Origin/, path);
  }
  assert.equal((await request(port, { path: '/a.woff2', headers: { Origin: APP } })).headers['access-control-allow-origin'], APP);
  // The app's credentials must not end up beside the files' `*`.
  port = await start({ origins: [APP], credentials: true, exposedHeaders: ['x-request-id'] }, { origins: ['*'] });
  for (const path of ['/a.woff2', '/missing']) {
    const res = await request(port, { path, headers: { Origin: APP } });
    assert.equal(res.headers['access-control-allow-origin'], '*', path);
    assert.equal(res.headers['access-control-allow-credentials'], undefined, path);
    assert.ok(!String(res.headers['access-control-expose-headers']).includes('x-request-id'), path);
  }
});

test('in an app\'s own node:http2 server (compatibility API), a download whose client vanished while a write waited gives back its fd and buffer after sendTimeout (found by a review)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2compat-vanish-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 7));
  const files = await createStaticHandler({ root, memoryBudget: 0, sendTimeout: 500, watch: false });
  const c = testCertificate();
  const server = http2.createSecureServer({ cert: readFileSync(c.cert), key: readFileSync(c.key), allowHTTP1: true }, (req, res) => files(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    files.close();
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  // A client that opens every window, asks for 32 MB and never reads its socket: the server's
  // writes fill the TCP buffers and wait. Then it closes its side. Node 20 never closes that stream.
  const socket = tls.connect({ host: '127.0.0.1', port: server.address().port, ca: c.pem, ALPNProtocols: ['h2'] });
  await once(socket, 'secureConnect');
  const settings = Buffer.from([0x00, 0x04, 0x7f, 0xff, 0xff, 0xff]); // SETTINGS_INITIAL_WINDOW_SIZE 2^31-1
  const path = Buffer.from('/big.bin');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, path.length]), path, Buffer.from([0x01, 9]), Buffer.from('localhost')]);
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, settings), frame(8, 0, 0, Buffer.from([0x7f, 0xff, 0, 0])), frame(1, 0x05, 1, block)]));
  socket.pause();
  const until = async (check, what) => {
    const end = Date.now() + 8000;
    while (!check()) {
      if (Date.now() > end) assert.fail(`${what}: ${JSON.stringify(files.stats)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await until(() => files.stats.openFiles === 1 && files.stats.buffersInUse === 1, 'the download under way');
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Its FIN, unread bytes still queued: the server's stream then never closed.
  socket.end();
  t.after(() => socket.destroy());
  await until(() => files.stats.inFlight === 0 && files.stats.openFiles === 0 && files.stats.buffersInUse === 0, 'everything given back');
});

test('in an app\'s own node:http2 server (compatibility API), downloads their client resets with NO_ERROR mid-body give back their fds, buffers and counts at once, not after sendTimeout', async (t) => {
  // Node 20 leaves such a stream open (no 'close') until its request is read, which nothing here does.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h2compat-noerror-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
  const files = await createStaticHandler({ root, memoryBudget: 0, watch: false });
  const server = http2.createServer((req, res) => files(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${server.address().port}`);
  t.after(async () => {
    client.destroy();
    files.close();
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });
  await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve) => {
    const stream = client.request({ ':path': '/big.bin' });
    stream.on('error', () => {});
    stream.once('data', () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    stream.on('close', resolve);
  })));
  // The session stays open: only the resets can give these back, well inside the default 60 s send timeout.
  const end = Date.now() + 3000;
  while (files.stats.inFlight + files.stats.openFiles + files.stats.buffersInUse > 0) {
    if (Date.now() > end) assert.fail(`still held 3 s after the resets: ${JSON.stringify(files.stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

/**
 * `handler` (by default one over a root holding a.woff2), given to node:http2's server as its listener
 * by `listenerOf(handler)`; returns a client session. Everything is closed after the test.
 */
async function startH2Compat(t, listenerOf, given = undefined) {
  let root = null;
  let handler = given;
  if (handler === undefined) {
    root = mkdtempSync(join(tmpdir(), 'xorigin-h2compat-'));
    writeFileSync(join(root, 'a.woff2'), 'font-a');
    handler = await createStaticHandler({ root, cors: { origins: [APP] }, watch: false });
  }
  const server = http2.createServer(listenerOf(handler));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${server.address().port}`);
  t.after(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    handler.close();
    if (root !== null) rmSync(root, { recursive: true, force: true });
  });
  return client;
}

test('under the compatibility API, a failure after the head resets the stream with INTERNAL_ERROR, not as a complete body', async (t) => {
  // The head goes out, then writing the body throws: the handler's last resort (fail) must cut it.
  const client = await startH2Compat(t, (handler) => (req, res) => {
    res.end = () => {
      throw new Error('the body could not be written');
    };
    handler(req, res);
  });
  const stream = client.request({ ':path': '/a.woff2', origin: APP });
  const closed = new Promise((resolve) => stream.on('close', resolve));
  stream.on('error', () => {}); // the reset, read below as rstCode
  let status = null;
  let ended = false;
  stream.on('response', (head) => (status = head[':status']));
  stream.on('end', () => (ended = true));
  stream.resume();
  await closed;
  // Node 20 sends the head before the reset; Node 22's nghttp2 drops a head still queued when the stream is reset.
  assert.ok(status === 200 || status === null, `status ${status}`);
  // NO_ERROR (what destroy() without an error sends) would tell a client that reads no
  // Content-Length that the empty body was all of it.
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  assert.equal(ended, false, 'the body read as complete');
});

test('a middleware whose write throws while a body comes from disk costs that response, not the process', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-throwing-write-'));
  const big = Buffer.alloc(1024 * 1024, 7);
  writeFileSync(join(root, 'big.otf'), big);
  const handler = await createStaticHandler({ root, watch: false, memoryBudget: 0 });
  let throwing = true;
  const server = http.createServer((req, res) => {
    // As a compression middleware wraps them: here, the wrapped write fails.
    if (throwing) res.write = () => {
      throw new Error('the wrapped write failed');
    };
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });
  const port = server.address().port;
  const cut = await new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/big.otf' }, (res) => {
      let got = 0;
      res.on('data', (c) => (got += c.length));
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode, length: Number(res.headers['content-length']), got, complete: res.complete }));
    });
    req.on('error', (e) => resolve({ error: e.code }));
  });
  // The head goes out with the first write: here none did, and the connection closes with no answer.
  assert.ok(cut.error !== undefined || cut.complete === false, `the client could take the cut body for a whole one: ${JSON.stringify(cut)}`);
  throwing = false;
  const res = await request(port, { path: '/big.otf' });
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(big));
  const { inFlight, openFiles, buffersInUse } = handler.stats;
  assert.deepEqual({ inFlight, openFiles, buffersInUse }, { inFlight: 0, openFiles: 0, buffersInUse: 0 });
});

test('standalone as the listener of a node:http2 server (compatibility API): HTTP/2 requests are served, not 505', async (t) => {
  const client = await startH2Compat(t, (handler) => handler);
  const stream = client.request({ ':path': '/a.woff2', origin: APP });
  const [head, body] = await Promise.all([
    once(stream, 'response').then(([h]) => h),
    stream.toArray().then((chunks) => Buffer.concat(chunks).toString()),
  ]);
  assert.equal(head[':status'], 200, body);
  assert.equal(body, 'font-a');
  assert.equal(head['access-control-allow-origin'], APP);
});

test('as the listener of a node:http2 server, a field sent on two lines reads as over HTTP/1.1 (node:http2 kept the first line)', async (t) => {
  const client = await startH2Compat(t, (handler) => handler);
  const first = client.request({ ':path': '/a.woff2' });
  first.resume();
  const [{ etag }] = await once(first, 'response');
  const port = client.socket.remotePort;
  const get = async (fields, method = 'GET') => (await rawH2Request(port, '/a.woff2', { fields, method, secure: false })).statusByte;
  // If-None-Match's lines are one list of tags (RFC 9110 §13.1.2): 304. One line not matching: 200.
  assert.equal(await get([['if-none-match', '"other"']]), 0x88);
  assert.equal(await get([['if-none-match', '"other"'], ['if-none-match', etag]]), 0x8b);
  // Two Access-Control-Request-Method lines are no method: not the 204 one line gets.
  const preflight = (...methods) => get([['origin', APP], ...methods.map((m) => ['access-control-request-method', m])], 'OPTIONS');
  assert.equal(await preflight('GET'), 0x89);
  assert.notEqual(await preflight('GET', 'PATCH'), 0x89);
});

test('mounted, a preflight with two Access-Control-Request-Method lines goes to the app over HTTP/2 as over HTTP/1.1 (found by a review)', async (t) => {
  // The app answers what the handler declines: 200 "app". The handler's own preflight answer is a 204.
  const app = (handler) => (req, res) => handler(req, res, () => res.end('app'));
  const client = await startH2Compat(t, app);
  const first = client.request({ ':path': '/a.woff2' });
  first.resume();
  await once(first, 'response');
  const port = client.socket.remotePort;
  const h2 = async (...methods) => (await rawH2Request(port, '/a.woff2', { method: 'OPTIONS', secure: false, fields: [['origin', APP], ...methods.map((m) => ['access-control-request-method', m])] })).statusByte;
  assert.equal(await h2('GET'), 0x89, 'one line: the handler answers (204)');
  assert.equal(await h2('GET', 'GET'), 0x88, 'two lines over HTTP/2: the app answers (200)');
  assert.equal(await h2('GET', 'PUT'), 0x88, 'two lines over HTTP/2: the app answers (200)');
  // The same handler mounted in a node:http app: node:http joins the lines ("GET, GET"), no method it serves.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-h1-mounted-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: [APP] }, watch: false });
  const h1Server = await listen(app(handler));
  t.after(async () => {
    await h1Server.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });
  const h1 = (...methods) => new Promise((resolve, reject) => {
    const socket = net.connect(h1Server.port, '127.0.0.1', () => {
      socket.end(`OPTIONS /a.woff2 HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n${methods.map((m) => `Access-Control-Request-Method: ${m}\r\n`).join('')}Connection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('end', () => resolve(Number(text.slice(9, 12))));
    socket.on('error', reject);
  });
  assert.equal(await h1('GET'), 204);
  assert.equal(await h1('GET', 'GET'), 200);
  assert.equal(await h1('GET', 'PUT'), 200);
});

test('mounted over node:http2\'s compatibility API, a request passed to next() reaches the app as node:http2 gave it', async (t) => {
  const app = (handler) => (req, res) => handler(req, res, () => res.end(String(req.headers['if-none-match'])));
  const client = await startH2Compat(t, app);
  const first = client.request({ ':path': '/a.woff2' });
  first.resume();
  await once(first, 'response');
  const port = client.socket.remotePort;
  // Two If-None-Match lines: the handler, had it answered, would read both; the app's own route gets node:http2's view.
  const seen = await rawH2Request(port, '/app', { fields: [['if-none-match', '"a"'], ['if-none-match', '"b"']], secure: false });
  assert.equal(seen.data, '"a"'.length);
});

describe('bodies held in memory where writes are copied (found by a hostile review)', () => {
  const MB = 1024 * 1024;
  let root;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-held-'));
    for (let i = 0; i < 12; i++) writeFileSync(join(root, `f${i}.woff2`), Buffer.alloc(MB, i + 1));
    writeFileSync(join(root, 'big.woff2'), Buffer.alloc(8 * MB, 0xab));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  // Every file here is held in memory from its first request on.
  const held = () => createStaticHandler({ root, watch: false, smallFileLimit: 64 * MB, memoryBudget: 256 * MB });

  test('HTTPS/1.1: a reader that stopped reading a 4 MB held body has one slice queued, not the body', async (t) => {
    const handler = await held();
    const { cert, key } = testCertificate();
    const sockets = [];
    const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler);
    server.on('secureConnection', (s) => sockets.push(s));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    let client = null;
    t.after(async () => {
      client?.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      handler.close();
    });
    const whole = await new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: server.address().port, path: '/big.woff2', rejectUnauthorized: false, agent: false }, (res) => {
        let got = 0;
        res.on('data', (c) => (got += c.length));
        res.on('end', () => resolve(got));
      }).on('error', reject);
    });
    assert.equal(whole, 8 * MB);
    // The first GET is answered from disk while the body is read into memory beside it.
    await eventually(() => handler.stats.bytesInMemory >= 8 * MB, () => `the body is not held in memory: ${handler.stats.bytesInMemory} bytes held`);
    client = tls.connect({ host: '127.0.0.1', port: server.address().port, rejectUnauthorized: false });
    await once(client, 'secureConnect');
    client.write('GET /big.woff2 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await once(client, 'data');
    client.pause();
    // Long enough for the server to have written all it would: with the body in one write, 8 MB queued.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const queued = sockets.at(-1).writableLength;
    assert.ok(queued > 0 && queued <= 128 * 1024, `${queued} bytes queued on a stalled TLS socket`);
    assert.equal(handler.stats.inFlight, 1);
  });

  test('HTTP/2 compatibility API: a page\'s parallel requests and cancelled streams are never refused', async (t) => {
    const handler = await held();
    const client = await startH2Compat(t, (h) => h, handler);
    const get = (path, cancelAfter = Infinity) =>
      new Promise((resolve) => {
        const stream = client.request({ ':path': path, origin: APP });
        let status = 0;
        let got = 0;
        let first = -1;
        stream.on('response', (h) => (status = h[':status']));
        stream.on('data', (c) => {
          if (first === -1) first = c[0];
          got += c.length;
          if (got >= cancelAfter) stream.close(http2.constants.NGHTTP2_CANCEL);
        });
        stream.on('error', () => {});
        stream.on('close', () => resolve({ status, got, first, rst: stream.rstCode }));
      });
    // Three rounds of twelve 1 MB fonts at once on one connection (the first reads them into memory).
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => get(`/f${i}.woff2`)));
      answers.forEach((a, i) => assert.deepEqual(a, { status: 200, got: MB, first: i + 1, rst: 0 }, `round ${round}, f${i}`));
    }
    // Two 8 MB answers cancelled mid-body: the connection still answers everything after.
    await Promise.all([get('/big.woff2', 200_000), get('/big.woff2', 200_000)]);
    for (let i = 0; i < 3; i++) assert.deepEqual(await get('/big.woff2'), { status: 200, got: 8 * MB, first: 0xab, rst: 0 });
    // HEAD of a held body over 64 KiB: no body, and the response ends (a sliced write waited for a
    // 'drain' that never came: the count of responses in flight stayed up, whenIdle never fired).
    for (let i = 0; i < 5; i++) {
      const stream = client.request({ ':method': 'HEAD', ':path': '/big.woff2' });
      stream.resume();
      const [head] = await once(stream, 'response');
      assert.equal(head[':status'], 200);
      assert.equal(head['content-length'], String(8 * MB));
      await once(stream, 'close');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(handler.stats.inFlight, 0);
  });

  for (const [what, wrap] of [
    ['throws', (write) => function (chunk, ...rest) {
      if (++this.writes === 3) throw new Error('over the size limit');
      return write.call(this, chunk, ...rest);
    }],
    ['ends the response itself', (write) => function (chunk, ...rest) {
      if (++this.writes === 3) {
        this.end();
        return true;
      }
      return write.call(this, chunk, ...rest);
    }],
  ]) {
    test(`HTTPS/1.1, a middleware whose write ${what} mid-body costs that response, not the process (held and from disk)`, async (t) => {
      const { cert, key } = testCertificate();
      for (const options of [{ smallFileLimit: 64 * MB, memoryBudget: 256 * MB }, { memoryBudget: 0 }]) {
        const handler = await createStaticHandler({ root, watch: false, ...options });
        let wrapping = false;
        const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
          if (wrapping) {
            res.writes = 0;
            res.write = wrap(res.write);
          }
          handler(req, res);
        });
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
        const port = server.address().port;
        const get = () =>
          new Promise((resolve) => {
            https.get({ host: '127.0.0.1', port, path: '/big.woff2', rejectUnauthorized: false, agent: false }, (res) => {
              let got = 0;
              res.on('data', (c) => (got += c.length));
              res.on('error', () => {});
              res.on('close', () => resolve({ status: res.statusCode, got, complete: res.complete }));
            }).on('error', (e) => resolve({ error: e.code }));
          });
        try {
          assert.equal((await get()).got, 8 * MB, 'read once, held from now on where it may be');
          wrapping = true;
          const cut = await get();
          assert.ok(cut.error !== undefined || cut.complete === false || cut.got < 8 * MB, JSON.stringify(cut));
          wrapping = false;
          assert.deepEqual(await get(), { status: 200, got: 8 * MB, complete: true }, 'the process still serves');
          await new Promise((resolve) => setTimeout(resolve, 50));
          const { inFlight, openFiles, buffersInUse } = handler.stats;
          assert.deepEqual({ inFlight, openFiles, buffersInUse }, { inFlight: 0, openFiles: 0, buffersInUse: 0 }, JSON.stringify(options));
        } finally {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
          handler.close();
        }
      }
    });
  }
});

describe('mounted behind a middleware that wraps write (found by a hostile review)', () => {
  let root;
  let text;
  let binary;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-wrapped-'));
    text = Buffer.from('body { font-family: "xorigin Blocks"; } /* a stylesheet */\n'.repeat(50_000));
    binary = Buffer.from(Array.from({ length: 5 * 1024 * 1024 }, (_, i) => (i * 31 + (i >> 12)) % 256));
    writeFileSync(join(root, 'big.css'), text);
    writeFileSync(join(root, 'big.woff2'), binary);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const memoryBudget of [0, undefined]) {
    test(`compression(), a wrapper that drops write's callback and one that defers writes get whole bodies (${memoryBudget === 0 ? 'from disk' : 'default budget'})`, async (t) => {
      const handler = await createStaticHandler({ root, watch: false, memoryBudget });
      const app = express();
      app.use('/c', compression(), handler);
      app.use('/d', (req, res, next) => {
        const write = res.write;
        // Passes the chunk on and says whether to go on, but never calls back.
        res.write = function (chunk) {
          return write.call(this, chunk);
        };
        next();
      }, handler);
      app.use('/a', (req, res, next) => {
        const { write, end } = res;
        // Hands the chunk on a turn later and says nothing: the chunk must still be the same bytes then.
        res.write = function (chunk) {
          setImmediate(() => write.call(this, chunk));
        };
        res.end = function (chunk) {
          setImmediate(() => end.call(this, chunk));
          return this;
        };
        next();
      }, handler);
      const s = await listen(app);
      // compression() hands 'drain' listeners to its zlib stream: one left behind per wait piled up there.
      const warnings = [];
      const onWarning = (w) => warnings.push(w.name);
      process.on('warning', onWarning);
      t.after(async () => {
        process.off('warning', onWarning);
        await s.close();
        handler.close();
      });
      for (let i = 0; i < 2; i++) {
        const gz = await request(s.port, { path: '/c/big.css', headers: { 'Accept-Encoding': 'gzip' } });
        assert.equal(gz.headers['content-encoding'], 'gzip');
        assert.ok(gunzipSync(gz.body).equals(text), `round ${i}: the compressed body inflates to the file`);
        const plain = await request(s.port, { path: '/d/big.woff2' });
        assert.equal(plain.status, 200);
        assert.ok(plain.body.equals(binary), `round ${i}: ${plain.body.length} of ${binary.length} bytes, in order`);
        const later = await request(s.port, { path: '/a/big.woff2' });
        assert.ok(later.body.equals(binary), `round ${i}: the bytes a deferring wrapper sent are the file's`);
      }
      const { inFlight, openFiles, buffersInUse } = handler.stats;
      assert.deepEqual({ inFlight, openFiles, buffersInUse }, { inFlight: 0, openFiles: 0, buffersInUse: 0 });
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
    });

    test(`compression() leaves a 206 alone: its bytes are the range Content-Range names, not gzip of them (expressjs/compression#185; ${memoryBudget === 0 ? 'from disk' : 'default budget'})`, async (t) => {
      const handler = await createStaticHandler({ root, watch: false, memoryBudget, cacheControl: 'public, max-age=60' });
      const app = express();
      app.use(compression(), handler);
      const s = await listen(app);
      t.after(async () => {
        await s.close();
        handler.close();
      });
      for (const [from, to] of [[100, 5099], [0, 200_000]]) {
        const r = await request(s.port, { path: '/big.css', headers: { 'Accept-Encoding': 'gzip', Range: `bytes=${from}-${to}` } });
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-encoding'], undefined, `bytes=${from}-${to}`);
        assert.equal(r.headers['content-range'], `bytes ${from}-${to}/${text.length}`);
        assert.ok(r.body.equals(text.subarray(from, to + 1)), `bytes=${from}-${to}: ${r.body.length} bytes`);
        assert.equal(r.headers['cache-control'], 'public, max-age=60, no-transform');
      }
      // The whole file is still compressed, and its Cache-Control is the option's.
      const whole = await request(s.port, { path: '/big.css', headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(whole.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(whole.body).equals(text));
      assert.equal(whole.headers['cache-control'], 'public, max-age=60');
    });

    test(`compression() gzips a 200 under its ETag: the ETag is weak there, strong where nothing wraps write; revalidation still hits (expressjs/compression#45; ${memoryBudget === 0 ? 'from disk' : 'default budget'})`, async (t) => {
      const siblings = mkdtempSync(join(tmpdir(), 'xorigin-weak-'));
      writeFileSync(join(siblings, 'big.css'), text);
      writeFileSync(join(siblings, 'big.css.br'), Buffer.from('brotli bytes, served as they are'));
      const handler = await createStaticHandler({ root: siblings, watch: false, memoryBudget });
      const app = express();
      app.use('/c', compression(), handler);
      app.use('/p', handler);
      const s = await listen(app);
      t.after(async () => {
        await s.close();
        handler.close();
        rmSync(siblings, { recursive: true, force: true });
      });
      const plain = await request(s.port, { path: '/p/big.css' });
      const strong = plain.headers.etag;
      assert.match(strong, /^"[^"]+"$/, 'nothing wraps write: the ETag stays strong');
      const gzipped = await request(s.port, { path: '/c/big.css', headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(gzipped.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(gzipped.body).equals(text));
      assert.equal(gzipped.headers.etag, `W/${strong}`);
      const identity = await request(s.port, { path: '/c/big.css' });
      assert.ok(identity.body.equals(text));
      assert.equal(identity.headers.etag, `W/${strong}`);
      // If-None-Match compares weakly (RFC 9110 §13.1.2): the weak tag, or the strong one cached before, gets a 304 that repeats the weak one.
      for (const tag of [`W/${strong}`, strong]) {
        const again = await request(s.port, { path: '/c/big.css', headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': tag } });
        assert.equal(again.status, 304, tag);
        assert.equal(again.headers.etag, `W/${strong}`, tag);
      }
      // A precompressed sibling says Content-Encoding itself, which compression() leaves alone: its own ETag stays strong.
      const br = await request(s.port, { path: '/c/big.css', headers: { 'Accept-Encoding': 'br' } });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(br.body.toString(), 'brotli bytes, served as they are');
      assert.match(br.headers.etag, /^"[^"]+"$/);
      assert.notEqual(br.headers.etag, strong);
    });
  }
});

test('mounted behind a writeHead wrapper that reads an array as [name, value] pairs (on-headers < 1.1.0): every header of its answers survives', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-old-on-headers-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: [APP] } });
  const app = express();
  app.use(oldOnHeaders);
  app.use(handler);
  const s = await listen(app);
  try {
    const res = await request(s.port, { path: '/a.woff2', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'font-a');
    assert.equal(res.headers['content-type'], 'font/woff2');
    assert.equal(res.headers['content-length'], '6');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers.vary, 'Origin');
    assert.deepEqual(Object.keys(res.headers).filter((name) => name.length === 1), []);
    const again = await request(s.port, { path: '/a.woff2', headers: { Origin: APP, 'If-None-Match': res.headers.etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers['access-control-allow-origin'], APP);
    const preflight = await request(s.port, { method: 'OPTIONS', path: '/a.woff2', headers: { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], APP);
    assert.equal(preflight.headers['access-control-allow-headers'], 'range');
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('called as (req, res) from an app\'s own listener (not mounted): a wrapped writeHead and the app\'s Vary are respected too', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-listener-wrapped-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: [APP] } });
  const s = await listen((req, res) => oldOnHeaders(req, res, () => {
    res.setHeader('Vary', 'Accept-Encoding');
    handler(req, res);
  }));
  try {
    const res = await request(s.port, { path: '/a.woff2', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'font-a');
    assert.equal(res.headers['content-type'], 'font/woff2');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
    assert.deepEqual(Object.keys(res.headers).filter((name) => name.length === 1), []);
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('behind a writeHead an app set on Express\'s response prototype (app.response.writeHead, reading arrays as pairs): heads intact', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-proto-wrapped-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: [APP] } });
  const cors = createCors({ origins: [APP], methods: ['PUT'] });
  const app = express();
  const node = app.response.writeHead;
  app.response.writeHead = function writeHead(status, headers) {
    if (Array.isArray(headers)) for (const pair of headers) this.setHeader(pair[0], pair[1]);
    return node.call(this, status);
  };
  app.use('/api', cors.middleware);
  app.use(handler);
  const s = await listen(app);
  try {
    const res = await request(s.port, { path: '/a.woff2', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'font/woff2');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    const preflight = await request(s.port, { method: 'OPTIONS', path: '/api/items', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], APP);
    assert.equal(preflight.headers['access-control-allow-methods'], 'PUT');
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});
