// Every per-response resource (fd, pooled buffer, in-flight count, access-log line) is released or
// written exactly once, however the response ends. Counted from the outside (/proc/self/fd) and
// from the server's own stats, over real sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { mkdtempSync, readdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { testCertificate } from './transports.js';

const BIG = 400_000; // above the in-memory limit: served from disk
// Several pooled chunks, and more than loopback socket buffers take in (tcp_wmem caps the sender at
// 4 MiB): a client that aborts after its first bytes aborts a response the server has not finished.
const HUGE = 16 * 1024 * 1024;
// Larger than a paused client's socket buffers on loopback absorb (~4 MiB sent + the receive window),
// so the server is really blocked on it.
const STALLING = 16 * 1024 * 1024;

function makeRoot() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-res-'));
  writeFileSync(join(root, 'big.otf'), Buffer.alloc(BIG, 7));
  writeFileSync(join(root, 'huge.otf'), Buffer.alloc(HUGE, 9));
  writeFileSync(join(root, 'small.css'), 'a{}\n'.repeat(100));
  writeFileSync(join(root, 'stalling.otf'), Buffer.alloc(STALLING, 3));
  return root;
}

const fdCount = () => readdirSync('/proc/self/fd').length;

/** A server on `root`; `options` are those it was started with, for a test that reloads it. */
async function start(root, extra = {}) {
  const log = [];
  // Files above 256 KiB are never held in memory here, so large ones always take the disk path under test.
  const options = { root, cors: { origins: ['*'] }, log: (l) => log.push(l), smallFileLimit: 256 * 1024, ...extra };
  const server = await serve(options);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, log, options };
}

/** Polls until `check()` is true, or fails with `describe()` after `ms`. */
async function eventually(check, describe, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(describe());
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function eventuallyAsync(check, describe, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(describe());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The Content-Length a HEAD request gets. */
function head(port, path) {
  return new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port, path, method: 'HEAD', agent: false }, (res) => {
      res.resume();
      resolve(res.headers['content-length']);
    }).on('error', reject).end();
  });
}

/**
 * Waits until the server holds nothing for responses and the process's fd count is back at `baseline`,
 * besides the fds the fd cache keeps open for later responses (bounded: see fd-cache.test.js).
 */
async function backToBaseline(s, baseline) {
  await eventually(
    () => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0 && fdCount() <= baseline + s.server.stats.cachedFds,
    () => `not released: fds ${fdCount()} (baseline ${baseline} + ${s.server.stats.cachedFds} cached), stats ${JSON.stringify(s.server.stats)}`,
  );
}

/** Writes `count` copies of `request` on one connection in one go, waits `waitMs` without reading, then closes. */
function pipelineThenClose(port, request, count, waitMs) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.pause(); // never read: the head response stalls, the rest queue behind it
      socket.write(request.repeat(count));
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, waitMs);
    });
    socket.on('error', reject);
  });
}

describe('resources are released exactly once', () => {
  let root;
  let s;
  let baseline;
  before(async () => {
    root = makeRoot();
    s = await start(root);
    baseline = fdCount();
  });
  after(async () => {
    await s.server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });

  const cases = [
    ['disk path (GET of a 400 KB font)', 'GET /big.otf HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['memory path (GET of a small file)', 'GET /small.css HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['ranges from disk', 'GET /big.otf HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-300000\r\n\r\n'],
    ['HEAD of a disk file', 'HEAD /big.otf HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a multi-chunk download', 'GET /huge.otf HTTP/1.1\r\nHost: x\r\n\r\n'],
  ];
  for (const [name, request] of cases) {
    test(`500 pipelined requests then a close: ${name}`, async () => {
      const logged = s.log.length;
      await pipelineThenClose(s.port, request, 500, 500);
      await backToBaseline(s, baseline);
      // One access-log line per request: none lost with the connection, none written twice.
      await eventually(() => s.log.length - logged === 500, () => `log lines: ${s.log.length - logged}, want 500`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(s.log.length - logged, 500);
    });
  }

  test('two such connections in a row leave the fd count where it was', async () => {
    for (let i = 0; i < 2; i++) await pipelineThenClose(s.port, 'GET /big.otf HTTP/1.1\r\nHost: x\r\n\r\n', 500, 300);
    await backToBaseline(s, baseline);
  });

  test('a client that aborts mid-body, and one that resets the connection', async () => {
    for (const end of ['destroy', 'reset']) {
      await new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: s.port, path: '/huge.otf', agent: false }, (res) => {
          res.once('data', () => {
            if (end === 'destroy') res.destroy();
            else req.socket.resetAndDestroy();
            resolve();
          });
        });
        req.on('error', () => {});
        setTimeout(() => reject(new Error('no data')), 3000);
      });
    }
    await backToBaseline(s, baseline);
    // Common Log Format marks a response cut short by what it sent: its status and fewer body bytes than the file.
    for (const line of s.log.slice(-2)) {
      const m = /"GET \/huge\.otf HTTP\/1\.1" 200 (\d+|-)$/.exec(line);
      assert.ok(m !== null && (m[1] === '-' || Number(m[1]) < HUGE), line);
    }
  });

  test('finished responses of every kind: 200, 206, 304, 416, 404, HEAD, each logged once', async () => {
    const logged = s.log.length;
    const get = (path, headers = {}, method = 'GET') =>
      new Promise((resolve, reject) => {
        http
          .request({ host: '127.0.0.1', port: s.port, path, headers, method, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res));
          })
          .on('error', reject)
          .end();
      });
    const first = await get('/big.otf');
    const statuses = [
      (await get('/big.otf', { Range: 'bytes=0-9' })).statusCode,
      (await get('/big.otf', { 'If-None-Match': first.headers.etag })).statusCode,
      (await get('/big.otf', { Range: `bytes=${BIG}-` })).statusCode,
      (await get('/missing.otf')).statusCode,
      (await get('/big.otf', {}, 'HEAD')).statusCode,
      (await get('/small.css', { Range: 'bytes=2-5' })).statusCode,
    ];
    assert.deepEqual([first.statusCode, ...statuses], [200, 206, 304, 416, 404, 200, 206]);
    await backToBaseline(s, baseline);
    await eventually(() => s.log.length - logged === 7, () => `log lines: ${s.log.length - logged}, want 7`);
  });
});

describe('a file that vanishes or shrinks mid-body', () => {
  test('the response is cut, and everything it held is released', async () => {
    const root = makeRoot();
    const s = await start(root);
    const baseline = fdCount();
    try {
      for (const change of ['truncate', 'unlink']) {
        writeFileSync(join(root, 'stalling.otf'), Buffer.alloc(STALLING, 3));
        // Served from memory while it was 1000 bytes: wait until the watcher has seen it grow.
        await eventuallyAsync(async () => (await head(s.port, '/stalling.otf')) === String(STALLING), () => 'the rewrite was never picked up');
        const outcome = await new Promise((resolve) => {
          http
            .get({ host: '127.0.0.1', port: s.port, path: '/stalling.otf', agent: false }, (res) => {
              let got = 0;
              res.pause();
              // Change the file once the first chunk is out, then read on.
              setTimeout(() => {
                if (change === 'truncate') truncateSync(join(root, 'stalling.otf'), 1000);
                else unlinkSync(join(root, 'stalling.otf'));
                res.on('data', (c) => (got += c.length));
                res.resume();
              }, 100);
              res.on('end', () => resolve({ ended: true, got }));
              res.on('error', () => resolve({ ended: false, got }));
              res.on('aborted', () => resolve({ ended: false, got }));
            })
            .on('error', () => resolve({ ended: false, got: -1 }));
        });
        // Unlinked: the open fd still reads the old, whole file, which is correct; truncated: cut.
        if (change === 'truncate') assert.equal(outcome.ended && outcome.got === STALLING, false, 'a truncated file must not end as if whole');
        else assert.deepEqual(outcome, { ended: true, got: STALLING });
        await backToBaseline(s, baseline);
      }
    } finally {
      await s.server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('shutdown with responses in flight and queued', () => {
  test('a stalled download and pipelined requests are dropped at the deadline; nothing leaks', async () => {
    const root = makeRoot();
    const s = await start(root);
    const baseline = fdCount();
    const socket = net.connect(s.port, '127.0.0.1');
    socket.pause();
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /stalling.otf HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20));
    await eventually(() => s.server.stats.buffersInUse > 0, () => 'the download never started');
    await new Promise((r) => setTimeout(r, 100));
    // Node may stop parsing a pipeline while a response is blocked: count what the server took in.
    const received = s.server.stats.inFlight;
    assert.ok(received >= 2, `requests received: ${received}`);
    const logged = s.log.length;
    await s.server.shutdown(200);
    await backToBaseline(s, baseline);
    await eventually(() => s.log.length - logged === received, () => `log lines: ${s.log.length - logged}, want ${received}`);
    socket.destroy();
    rmSync(root, { recursive: true, force: true });
  });
});

describe('send timeout: a client that stops reading', () => {
  test('stalled readers are cut after the timeout, release everything, and never starve others', async () => {
    const root = makeRoot();
    // A timeout no stalled download reaches while the test looks at them: with 400 ms from the start,
    // the first were cut (their buffers back in the pool) before the last of 70 had begun on a busy
    // machine, and the pool was never seen lent whole. It is cut to 400 ms by a reload below.
    const s = await start(root, { sendTimeout: 60_000 });
    const baseline = fdCount();
    try {
      // 70 stalled downloads: more than the 64 pooled buffers.
      const stalled = [];
      for (let i = 0; i < 70; i++) {
        const socket = net.connect(s.port, '127.0.0.1');
        socket.pause();
        socket.on('error', () => {});
        socket.write('GET /stalling.otf HTTP/1.1\r\nHost: x\r\n\r\n');
        stalled.push(socket);
      }
      await eventually(() => s.server.stats.buffersInUse === 64, () => `pool: ${JSON.stringify(s.server.stats)}`);
      // While they last, a normal client still gets whole, exact bodies (disk and memory).
      for (const [path, size] of [['/stalling.otf', STALLING], ['/huge.otf', HUGE], ['/big.otf', BIG], ['/small.css', 400]]) {
        const body = await new Promise((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: s.port, path, agent: false }, (res) => {
              const chunks = [];
              res.on('data', (c) => chunks.push(c));
              res.on('end', () => resolve(Buffer.concat(chunks)));
            })
            .on('error', reject);
        });
        assert.equal(body.length, size, path);
      }
      // Then, with a 400 ms timeout (a reload gives it to the connections already open), the server
      // gives everything back and closes every stalled connection itself (a paused socket notices only
      // once it reads again).
      assert.equal(s.server.stats.buffersInUse, 64, 'a stalled download was cut under the 60 s timeout');
      s.server.reload({ ...s.options, sendTimeout: 400 });
      await eventually(() => s.server.stats.inFlight === 0, () => `stats: ${JSON.stringify(s.server.stats)}`);
      await Promise.all(
        stalled.map((socket) => new Promise((resolve) => {
          socket.on('close', resolve);
          socket.resume();
        })),
      );
      // The client sockets live in this process too, so fds are counted once they are gone.
      await backToBaseline(s, baseline);
    } finally {
      await s.server.shutdown(200);
      rmSync(root, { recursive: true, force: true });
    }
  });

  // Over TLS the responses queue in the TLS socket, not the TCP one: HTTPS/1.1 alone and HTTP/1.1
  // chosen by ALPN on the HTTP/2 server.
  for (const http2 of [false, true]) {
    test(`over HTTPS/1.1${http2 ? ' (ALPN http/1.1 on the HTTP/2 server)' : ''}: a stalled reader is cut after the timeout`, async () => {
      const root = makeRoot();
      const { cert, key } = testCertificate();
      const s = await start(root, { sendTimeout: 400, tls: { cert, key }, http2 });
      try {
        const socket = tls.connect({ port: s.port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('secureConnect', resolve));
        socket.pause();
        socket.write('GET /stalling.otf HTTP/1.1\r\nHost: x\r\n\r\n');
        await eventually(() => s.server.stats.openFiles === 1, () => `stats: ${JSON.stringify(s.server.stats)}`);
        // The server gives up on it: the response ends, its fd and buffer are back.
        await eventually(() => s.server.stats.inFlight === 0 && s.server.stats.openFiles === 0 && s.server.stats.buffersInUse === 0, () => `stats: ${JSON.stringify(s.server.stats)}`);
        const closed = new Promise((resolve) => socket.on('close', resolve));
        socket.resume();
        await closed;
      } finally {
        await s.server.shutdown(200);
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
