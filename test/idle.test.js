// Idle keep-alive connections: many held at once must not keep a new client out, and the server itself
// must close every one of them once the keep-alive timeout has passed. What each costs in memory is
// measured by bench/idle.js (10,000 of them), not asserted here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { request } from './helpers.js';

const APP = 'https://app.example.com';
/**
 * Both ends of every connection live in this process, so N connections take 2N fds. Node raises
 * its soft limit to the hard one; a machine whose hard limit is low gets fewer connections (never
 * fewer than 200) rather than an EMFILE failure that says nothing about the server.
 */
function connectionsWithinFdLimit() {
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return hard === 'unlimited' ? 1000 : Math.max(200, Math.min(1000, Math.floor((Number(hard) - 400) / 2)));
}
const N = connectionsWithinFdLimit();
const FONT = Buffer.alloc(2048, 7);

let root;
let server;
let port;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'xorigin-idle-'));
  writeFileSync(join(root, 'font.woff2'), FONT);
  // The default keep-alive timeout (5 s): the test holds the connections well inside it.
  server = await serve({ root, cors: { origins: [APP] } });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  port = server.address().port;
});

after(async () => {
  await server?.shutdown(100);
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** A connection, not yet used; `closedByServer` turns true when the server's FIN arrives. */
function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.closedByServer = false;
    socket.answers = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => (socket.answers += d));
    socket.on('end', () => (socket.closedByServer = true));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One request on `socket`; resolves once its whole answer (head and 2 KiB body) has arrived. */
function requestOn(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in 10 s: ${JSON.stringify(socket.answers.slice(0, 80))}`)), 10_000);
    const check = () => {
      const head = socket.answers.indexOf('\r\n\r\n');
      if (head === -1 || socket.answers.length < head + 4 + FONT.length) return;
      clearTimeout(timer);
      socket.off('data', check);
      resolve(socket.answers.slice(0, head));
    };
    socket.on('data', check);
    socket.write(`GET /font.woff2 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\n\r\n`);
  });
}

test(`${N} idle keep-alive connections do not keep a new client out, and the server closes them all after the keep-alive timeout`, async () => {
  const sockets = [];
  for (let i = 0; i < N; i += 200) sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, N - i) }, connect))));
  // One request each, all at once, so that every keep-alive timer starts within the same moment.
  const heads = await Promise.all(sockets.map(requestOn));
  for (const head of heads) {
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\nKeep-Alive: timeout=5(\r\n|$)/i, 'the connection is kept alive');
  }

  // While they are all held, idle, a new client is served in full.
  const fresh = await request(port, { path: '/font.woff2', headers: { origin: APP } });
  assert.equal(fresh.status, 200);
  assert.ok(fresh.body.equals(FONT));
  assert.equal(fresh.headers['access-control-allow-origin'], APP);
  const held = sockets.filter((s) => !s.closedByServer).length;
  assert.equal(held, N, 'every idle connection was still open while the new client was served');

  // Then the server closes every one of them (its FIN), with nothing from the client side.
  const deadline = Date.now() + 20_000;
  while (sockets.some((s) => !s.closedByServer) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(sockets.filter((s) => !s.closedByServer).length, 0, 'every idle connection was closed by the server within 20 s');
  for (const s of sockets) s.destroy();
  const connections = () => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  const gone = Date.now() + 5000;
  while ((await connections()) > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await connections(), 0, 'the server holds no connection any more');
});

// xorigin sets no connection cap (no maxConnections): the process's fd limit is the one limit. Past it,
// Node (libuv) accepts and at once closes each new connection, so clients see a reset; the server keeps
// serving the connections it has and accepts again once fds are free. Run here with the CLI under
// `ulimit -n 200` (lowering needs no privilege) and a 1 s keep-alive timeout.
test('at the fd limit new connections are reset, the server lives on and serves again once idle connections time out', async (t) => {
  const child = spawn('sh', ['-c', `ulimit -n 200 && exec "$0" dist/cli/main.js serve "$1" --port 0 --keep-alive-timeout 1000 --etag-cache off`, process.execPath, root], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const cliPort = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`xorigin exited (${code}): ${err}`)));
  });
  const outcomes = await Promise.all(
    Array.from({ length: 300 }, () => new Promise((resolve) => {
      const socket = net.connect(cliPort, '127.0.0.1', () => socket.write('GET /font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n'));
      const done = (held) => {
        clearTimeout(timer);
        resolve({ socket, held });
      };
      const timer = setTimeout(() => done(false), 10_000);
      let got = 0;
      socket.on('data', (d) => {
        got += d.length;
        if (got >= FONT.length) done(true);
      });
      socket.on('error', () => done(false));
      socket.on('end', () => done(false));
    })),
  );
  const held = outcomes.filter((o) => o.held).length;
  assert.ok(held > 0 && held < 200, `${held} connections held under a limit of 200 fds`);
  const get = () =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: cliPort, path: '/font.woff2', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', (e) => resolve(e.code));
      req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    });
  assert.equal(await get(), 'ECONNRESET', 'a new client is reset while every fd is taken');
  // The held connections go idle and the server closes them after 1 s; then it accepts again.
  let status;
  const deadline = Date.now() + 15_000;
  while ((status = await get()) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(status, 200, 'served again once the idle connections were closed');
  assert.equal(child.exitCode, null, 'the server is still running');
  for (const o of outcomes) o.socket.destroy();
});
