// Idle keep-alive connections: many held at once must not keep a new client out, and the server itself
// must close every one of them once the keep-alive timeout has passed. What each costs in memory is
// measured by bench/idle.js (10,000 of them), not asserted here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { request } from './helpers.js';

const APP = 'https://app.example.com';
const N = 1000; // within the fd limits CI and developers have: 2,000 fds (both ends live in this process)
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
