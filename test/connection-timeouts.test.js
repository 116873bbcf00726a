// The HTTP/1.x send timeout (connection-timeouts.ts): progress is any byte the kernel took, including
// part of one large write, which neither writableLength nor bytesWritten show until it is all out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { ConnectionTimeouts } from '../dist/static/connection-timeouts.js';
import { closeAfterPoll } from '../dist/static/keep-alive-expiry.js';
import { testCertificate } from './transports.js';
import { readSteadilyBesideStopped } from './helpers.js';

/**
 * A socket in the middle of one large write: writableLength and bytesWritten stay as they are; the
 * bytes libuv still holds (writeQueueSize) are on the TCP handle, under a TLSWrap (`_parent`) for TLS.
 */
function writingSocket(overTls) {
  const socket = new EventEmitter();
  socket.writableLength = 12 * 1024 * 1024;
  socket.bytesWritten = 12 * 1024 * 1024 + 300;
  const tcp = { writeQueueSize: 9 * 1024 * 1024 };
  // A TLSWrap has a writeQueueSize of its own, which a partial write of the TCP handle leaves as is.
  socket._handle = overTls ? { writeQueueSize: 80, _parent: tcp } : tcp;
  socket.destroyedAt = -1;
  socket.destroy = () => {
    if (socket.destroyedAt === -1) socket.destroyedAt = Date.now();
    socket.emit('close');
  };
  return { socket, tcp };
}

for (const overTls of [false, true]) {
  test(`a write the kernel keeps taking part of is progress; one it stops taking is cut (${overTls ? 'TLS' : 'TCP'})`, async () => {
    const timeouts = new ConnectionTimeouts({ send: 400, keepAlive: 60_000 });
    const { socket, tcp } = writingSocket(overTls);
    timeouts.add(socket);
    // 2 s of partial writes, 40 ms apart: five times the timeout.
    const moving = setInterval(() => (tcp.writeQueueSize -= 16 * 1024), 40);
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(moving);
    assert.equal(socket.destroyedAt, -1, 'cut while the kernel was taking its bytes');
    const stopped = Date.now();
    const deadline = Date.now() + 5000;
    while (socket.destroyedAt === -1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.notEqual(socket.destroyedAt, -1, 'not cut 5 s after the kernel stopped taking bytes');
    assert.ok(socket.destroyedAt - stopped >= 400 - 20, `cut ${socket.destroyedAt - stopped} ms after it stopped`);
    // The promise is the limit plus two sweeps (600 ms here); 3 s leaves a loaded machine its slack and
    // still fails a timeout read ten times too long.
    assert.ok(socket.destroyedAt - stopped < 3000, `cut ${socket.destroyedAt - stopped} ms after it stopped, for a 400 ms send timeout`);
  });
}

test('the handles read are where Node keeps them: writeQueueSize on a TCP socket, on the TLSWrap\'s _parent over TLS', async (t) => {
  const c = testCertificate();
  const server = tls.createServer({ cert: c.pem, key: (await import('node:fs')).readFileSync(c.key) }, (s) => s.end());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const socket = tls.connect({ host: '127.0.0.1', port: server.address().port, ca: c.pem });
  await new Promise((r) => socket.once('secureConnect', r));
  assert.equal(typeof socket._handle._parent.writeQueueSize, 'number');
  assert.notEqual(socket._handle._parent, socket._handle);
  socket.destroy();
  const plain = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => plain.once('connect', r));
  assert.equal(typeof plain._handle.writeQueueSize, 'number');
  plain.destroy();
});

/**
 * A connection whose queued output never moves; `looks` counts the sweeps that read it, so a test waits
 * for a sweep instead of sleeping.
 */
function stuckSocket() {
  const socket = new EventEmitter();
  let looks = 0;
  Object.defineProperty(socket, 'writableLength', { get: () => (looks++, 1024) });
  Object.defineProperty(socket, 'looks', { get: () => looks });
  socket.bytesWritten = 0;
  socket._handle = { writeQueueSize: 1024 };
  socket.destroyed = false;
  socket.destroy = () => {
    socket.destroyed = true;
    socket.emit('close');
  };
  return socket;
}

/** Waits for `check()`; the bound only turns a hang into a message. */
async function until(what, check, ms = 5000) {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sets Date.now `byMs` off (an NTP step, an operator), running on from there; returns what puts it back. */
function stepWallClock(byMs) {
  const realNow = Date.now;
  const from = realNow();
  Date.now = () => from + byMs + (realNow() - from);
  return () => {
    Date.now = realNow;
  };
}

/** A stuck connection under a send timeout of `timeoutMs`, once a first sweep has seen it stuck. */
async function sweptOnce(timeoutMs) {
  const socket = stuckSocket();
  new ConnectionTimeouts({ send: timeoutMs, keepAlive: 60_000 }).add(socket);
  await until('a first sweep', () => socket.looks >= 1);
  return socket;
}

test('a wall clock stepped forward an hour (NTP, an operator) does not cut a connection that stalled for less than the timeout', async () => {
  // 4 s timeout, swept every second: the sweep after the step comes long before the timeout is really up.
  const socket = await sweptOnce(4000);
  const stalledAt = performance.now();
  const restore = stepWallClock(3_600_000);
  try {
    await until('a sweep after the step', () => socket.looks >= 2);
    const stalledMs = performance.now() - stalledAt;
    assert.ok(stalledMs < 4000, `the sweep after the step came ${stalledMs} ms after the first: the test cannot tell`);
    assert.equal(socket.destroyed, false, `cut after ${Math.round(stalledMs)} ms of a 4000 ms send timeout`);
  } finally {
    restore();
    socket.destroy();
  }
});

test('a wall clock set back an hour does not keep a stalled connection open for the hour', async () => {
  const socket = await sweptOnce(400);
  const restore = stepWallClock(-3_600_000);
  try {
    // Within the limit plus two sweeps (600 ms), with a loaded machine's slack: not the hour, nor ten times the limit.
    await until('the stalled connection cut after the clock was set back', () => socket.destroyed, 3000);
  } finally {
    restore();
    socket.destroy();
  }
});

// The keep-alive timeout, enforced by the same sweep (node:http's own timer cost ~2,000 instructions
// per request): an idle connection after a response closes at the timeout plus node:http's 1 s of
// grace, never before, at most two sweeps (2 × 1/4 of it) after; reading part of a next request is
// activity, as it was for node's timer; blank lines between requests are not.

async function keepAliveServer(t, keepAliveTimeout) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-keepalive-'));
  writeFileSync(join(root, 'a.txt'), 'hello');
  const server = await serve({ root, etagCache: 'off', keepAliveTimeout, sendTimeout: 60_000 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await server.shutdown(200);
    rmSync(root, { recursive: true, force: true });
  });
  return server;
}

/** A raw connection; `answered()` resolves at the end of the next whole answer, `closed` when the server closes. */
function rawConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let waiting = null;
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => {
    text += chunk;
    if (waiting !== null && /\r\n\r\nhello$/.test(text)) {
      waiting(text);
      waiting = null;
      text = '';
    }
  });
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', () => resolve(performance.now())));
  return { socket, closed, answered: () => new Promise((resolve) => (waiting = resolve)) };
}

test('an idle keep-alive connection closes 1 s past the keep-alive timeout after its response (as node:http), not before, within two sweeps after', async (t) => {
  const server = await keepAliveServer(t, 800);
  const c = rawConnection(server.address().port);
  const answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await answer, /\r\nKeep-Alive: timeout=0\r\n/i, 'the field says the timeout (floor of 0.8 s, as node:http)');
  const at = performance.now();
  const closedAfter = (await c.closed) - at;
  assert.ok(closedAfter >= 1790 && closedAfter <= 1800 + 2 * 450 + 300, `closed ${Math.round(closedAfter)} ms after the response (timeout 800 ms + 1 s, swept every 450 ms)`);
});

test('a connection reused half a second past the advertised keep-alive timeout is answered, not reset (node:http\'s grace)', async (t) => {
  const server = await keepAliveServer(t, 800);
  const c = rawConnection(server.address().port);
  let answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  await answer;
  await new Promise((r) => setTimeout(r, 1300));
  answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  const outcome = await Promise.race([answer, c.closed.then(() => 'closed')]);
  assert.match(outcome, /^HTTP\/1\.1 200 /, 'the request sent 1.3 s after the answer (timeout 0.8 s) was answered');
  c.socket.destroy();
});

test('blank lines sent between requests do not keep an idle connection open (they begin no request)', async (t) => {
  const server = await keepAliveServer(t, 300);
  const c = rawConnection(server.address().port);
  const answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  await answer;
  const at = performance.now();
  const trickle = setInterval(() => c.socket.write('\r\n'), 100);
  const limit = new Promise((r) => setTimeout(() => r(Infinity), 4000));
  const closedAfter = (await Promise.race([c.closed, limit])) - at;
  clearInterval(trickle);
  c.socket.destroy();
  assert.ok(closedAfter <= 1300 + 2 * 325 + 300, `closed ${Math.round(closedAfter)} ms after the answer, CRLF sent every 100 ms (timeout 300 ms + 1 s)`);
});

test('a next request read a byte at a time keeps the connection past the keep-alive timeout, and is answered', async (t) => {
  const server = await keepAliveServer(t, 400);
  const c = rawConnection(server.address().port);
  let answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  await answer;
  let gone = false;
  void c.closed.then(() => (gone = true));
  answer = c.answered();
  // 3.3 s of a head dripped every 300 ms: over twice the 1.4 s an idle connection is kept, never that of silence.
  for (const part of ['GET /a', '.txt', ' HTTP', '/1.1', '\r\nHo', 'st: ', 'x\r\n', 'Orig', 'in: h', 'ttps://a', '.example\r\n']) {
    c.socket.write(part);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(gone, false, 'closed while the next request was coming in');
  }
  c.socket.write('\r\n');
  assert.match(await answer, /^HTTP\/1\.1 200 /);
  c.socket.destroy();
});

/** A connection that has had one answer and then sends `next`; `after()` is what came back since, `at` when `next` went. */
async function afterOneAnswer(server, next) {
  const c = rawConnection(server.address().port);
  const answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  await answer;
  let after = '';
  c.socket.on('data', (chunk) => (after += chunk));
  const at = performance.now();
  c.socket.write(next);
  return { c, at, after: () => after };
}

test('a partial next request head sent after an answer, then silence, gets the head timeout\'s 408, not a silent close at the keep-alive timeout', async (t) => {
  // The sweep counted the connection idle once no more bytes came, though node's parser held a begun
  // head: it closed it at the keep-alive timeout, with no answer and nothing logged (review h41 O1).
  const server = await keepAliveServer(t, 300);
  server.headersTimeout = 2500;
  const { c, at, after } = await afterOneAnswer(server, 'GET /a.txt HTTP/1.1\r\nHost: x\r\n');
  const closedAfter = (await c.closed) - at;
  // The idle limit is 1.3 s, swept every 325 ms; node checks its head timeout every second.
  assert.ok(closedAfter >= 2400 && closedAfter <= 2500 + 1000 + 500, `closed ${Math.round(closedAfter)} ms after the partial head (head timeout 2.5 s)`);
  assert.match(after(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
});

test('a request body dripped after its answer is closed at the keep-alive timeout, not held to node\'s 30 s request timeout', async (t) => {
  // Only a next request's *head* is node's to time: a body's request is answered (405 here), and counting
  // it as under way held such a connection 30 s whatever the keep-alive timeout (review h45 F2).
  const server = await keepAliveServer(t, 300);
  const { c, at, after } = await afterOneAnswer(server, `POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'b'.repeat(10)}`);
  const closedAfter = (await Promise.race([c.closed, new Promise((r) => setTimeout(() => r(Infinity), 8000))])) - at;
  assert.match(after(), /^HTTP\/1\.1 405 /);
  // The idle limit is 1.3 s, swept every 325 ms.
  assert.ok(closedAfter <= 1300 + 2 * 325 + 500, `closed ${Math.round(closedAfter)} ms after the body stalled`);
  c.socket.destroy();
});

test('a connection asked again and again within the idle limit stays open: each answer restarts its idle time', async (t) => {
  const server = await keepAliveServer(t, 300);
  const c = rawConnection(server.address().port);
  let gone = false;
  void c.closed.then(() => (gone = true));
  // 6 answers 600 ms apart: 3.6 s, well past the 1.3 s idle limit plus two sweeps, had the first answer started it.
  for (let i = 0; i < 6; i++) {
    const answer = c.answered();
    c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await answer, /^HTTP\/1\.1 200 /);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(gone, false, `closed after answer ${i + 1}, though asked again every 600 ms`);
  }
  c.socket.destroy();
});

test('a short keep-alive timeout does not make the sweep walk every connection 40 times a second', async () => {
  // The sweep's period is a quarter of the idle limit (timeout + 1 s): 275 ms for 100 ms, not 25 ms.
  let looks = 0;
  const idle = Object.assign(new EventEmitter(), { writableLength: 0, bytesWritten: 10, writableEnded: false, destroy() {} });
  Object.defineProperty(idle, 'bytesRead', { get: () => (looks++, 10) });
  const timeouts = new ConnectionTimeouts({ send: 60_000, keepAlive: 100 });
  timeouts.add(idle);
  await new Promise((r) => setTimeout(r, 1000));
  idle.emit('close');
  assert.ok(looks >= 2 && looks <= 5, `the sweep looked at the connection ${looks} times in 1 s (every 275 ms: 3 or 4)`);
});

test('a reload that changes the keep-alive timeout applies to HTTP/1.1 connections already idle, and to the Keep-Alive field', async (t) => {
  const server = await keepAliveServer(t, 60_000);
  const c = rawConnection(server.address().port);
  const answer = c.answered();
  c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await answer, /\r\nKeep-Alive: timeout=60\r\n/i);
  const root = server.root;
  server.reload({ root, etagCache: 'off', keepAliveTimeout: 300, sendTimeout: 60_000 });
  const reloadedAt = performance.now();
  const closedAfter = (await c.closed) - reloadedAt;
  assert.ok(closedAfter <= 1300 + 2 * 325 + 300, `closed ${Math.round(closedAfter)} ms after the reload (new timeout 300 ms + 1 s)`);
  const d = rawConnection(server.address().port);
  const next = d.answered();
  d.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await next, /\r\nKeep-Alive: timeout=0\r\n/i, 'the field says the new timeout');
  d.socket.destroy();
});

test('the close at the keep-alive timeout waits for the poll: a request read in that loop turn keeps the connection', async () => {
  const socket = (bytesRead) => Object.assign(new EventEmitter(), { bytesRead, destroyed: false, destroy() { this.destroyed = true; } });
  const quiet = socket(100);
  const spoken = socket(100);
  closeAfterPoll(quiet);
  closeAfterPoll(spoken);
  spoken.bytesRead += 40; // what the poll phase reads before the check phase runs closeAfterPoll's immediate
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([quiet.destroyed, spoken.destroyed], [true, false]);
});

test('the close at the keep-alive timeout is not put off by blank lines read in that loop turn (a client sending CRLF without pause)', async (t) => {
  const server = await keepAliveServer(t, 60_000);
  const accepted = [];
  server.on('connection', (socket) => accepted.push(socket));
  const blank = rawConnection(server.address().port);
  const request = rawConnection(server.address().port);
  for (const c of [blank, request]) {
    const answer = c.answered();
    c.socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await answer;
  }
  // From a timer: the poll phase that reads what the clients write here comes before closeAfterPoll's immediate.
  await new Promise((r) => setTimeout(r, 20));
  blank.socket.write('\r\n\r\n\r\n'); // llhttp skips these: no message begins (RFC 9112 section 2.2)
  request.socket.write('GET /a'); // a next request has begun
  const [blankSide, requestSide] = accepted;
  const read = [blankSide.bytesRead, requestSide.bytesRead];
  closeAfterPoll(blankSide);
  closeAfterPoll(requestSide);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([blankSide.bytesRead > read[0], requestSide.bytesRead > read[1]], [true, true], 'both writes were read in that turn');
  assert.deepEqual([blankSide.destroyed, requestSide.destroyed], [true, false]);
  blank.socket.destroy();
  request.socket.destroy();
});

const HAS_IPV6_LOOPBACK = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));

for (const host of ['127.0.0.1', '::1']) {
  const skip = process.platform !== 'linux' ? 'reads /proc/net/tcp' : host === '::1' && !HAS_IPV6_LOOPBACK ? 'no IPv6 loopback' : false;
  test(`a client reading a large file steadily but slowly is not cut by the send timeout while the kernel holds MBs for it, nor one that half-closed after its request; one that stops reading is (Linux: the kernel's send queue; ${host})`, { skip }, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-slow-reader-'));
    writeFileSync(join(root, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 7));
    const server = await serve({ root, etagCache: 'off', memoryBudget: 0, sendTimeout: 2000 });
    await new Promise((resolve) => server.listen(0, host, resolve));
    const accepted = [];
    server.on('connection', (socket) => accepted.push(socket));
    t.after(async () => {
      await server.shutdown(200);
      rmSync(root, { recursive: true, force: true });
    });
    const ask = (halfClose = false) => {
      const socket = net.connect(server.address().port, host);
      socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      // A FIN after the request: the server's side of it is in CLOSE_WAIT, no longer ESTABLISHED.
      if (halfClose) socket.end();
      socket.pause();
      return socket;
    };
    const reader = ask();
    const halfClosed = ask(true);
    const stopper = ask();
    // The reader takes 20 KB every 50 ms (400 KB/s): less than the third of a 4 MB send buffer per 2 s
    // timeout that the kernel must drain before it lets the server write again; the bytes it acknowledges
    // move in steps of ~93 KB, several per second. The stopper takes 200 KB, then nothing.
    const [readBytes, halfBytes] = await readSteadilyBesideStopped(t, [reader, halfClosed], stopper, 8000);
    const sideOf = (client) => accepted.find((side) => side.remotePort === client.localPort);
    assert.ok(readBytes > 2_400_000 && halfBytes > 2_400_000, `the readers read ${readBytes} and ${halfBytes} bytes in 8 s`);
    assert.equal(sideOf(stopper).destroyed, true, 'the client that stopped reading was cut');
    assert.equal(sideOf(reader).destroyed, false, `the steady reader was cut (it had read ${readBytes} bytes)`);
    assert.equal(sideOf(halfClosed).destroyed, false, `the steady reader that half-closed was cut (it had read ${halfBytes} bytes)`);
  });
}

test('a client that never reads cannot borrow the kernel count of another connection of its own (same source port, another local address): it is cut at the send timeout', { skip: process.platform !== 'linux' && 'reads /proc/net/tcp' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-borrowed-count-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 7));
  const server = await serve({ root, etagCache: 'off', memoryBudget: 0, sendTimeout: 2000 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const accepted = [];
  server.on('connection', (socket) => accepted.push(socket));
  // Partners on the same port at other loopback addresses, each sending without end to a client that
  // reads steadily: their lines in /proc/net/tcp differ from the stalled one's only in the local address.
  const partners = [];
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    for (const p of partners) p.close();
    await server.shutdown(200);
    rmSync(root, { recursive: true, force: true });
  });
  const sourcePort = 40_000 + Math.floor(Math.random() * 10_000);
  for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    const partner = net.createServer((c) => {
      c.on('error', () => {});
      const block = Buffer.alloc(65536, 1);
      const fill = () => {
        while (c.writable && c.write(block));
      };
      c.on('drain', fill);
      fill();
    });
    await new Promise((resolve) => partner.listen(port, address, resolve));
    partners.push(partner);
    const reader = net.connect({ host: address, port, localAddress: '127.0.0.1', localPort: sourcePort });
    reader.on('error', () => {});
    await new Promise((resolve) => reader.once('connect', resolve));
    reader.pause();
    const pace = setInterval(() => reader.read(20_000), 50);
    reader.on('close', () => clearInterval(pace));
    clients.push(reader);
  }
  const stalled = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: sourcePort });
  stalled.on('error', () => {});
  clients.push(stalled);
  stalled.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  stalled.pause();
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0].destroyed, true, 'a client that read nothing kept its connection 5 s past a 2 s send timeout');
});
