// Plain HTTP sent to the TLS port: answered 400 with a word on https:// (as nginx and Go do), logged,
// closed; anything else that is not TLS closed without a word; TLS clients (ALPN h2 and http/1.1)
// unaffected; a connection that stalls before or after its first byte cut by the handshake timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { firstBytesOf } from '../dist/static/plain-http-on-tls.js';
import { HANDSHAKE_TIMEOUT } from '../dist/static/secure-server.js';
import { TRANSPORTS, negotiated } from './transports.js';
import { eventually } from './helpers.js';

test('the first bytes: 0x16 is TLS; a method, a space and a target is HTTP; anything else is not', () => {
  const cases = [
    [[0x16], 'tls'],
    [[0x16, 0x03, 0x01, 0x02, 0x00], 'tls'],
    ['GET / HTTP/1.1\r\n', 'http'],
    ['OPTIONS * HTTP/1.1\r\n', 'http'],
    ['GET http://a.example/ HTTP/1.1\r\n', 'http'],
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'http'],
    ['M-SEARCH * HTTP/1.1\r\n', 'http'],
    ['G', 'more'],
    ['GET', 'more'],
    ['GET ', 'more'],
    ['', 'more'],
    [' GET / HTTP/1.1', 'other'],
    ['GET \x00', 'other'],
    ['GE\x01T / HTTP/1.1', 'other'],
    [[0x80, 0x2e, 0x01], 'other'],
    ['SSH-2.0-OpenSSH_9.2\r\n', 'other'],
    ['A'.repeat(30), 'other'],
  ];
  for (const [bytes, kind] of cases) {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    assert.equal(firstBytesOf(b), kind, JSON.stringify(b.toString('latin1')));
  }
});

/** Writes `bytes` on a cleartext connection; resolves with all it got back once the server closed it. */
function cleartext(port, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5000, () => reject(new Error('the server did not close the connection')));
  });
}

for (const transport of TRANSPORTS.filter((t) => t.scheme === 'https')) {
  describe(`plain HTTP on the TLS port (${transport.name} server)`, () => {
    let root;
    let server;
    let port;
    const log = [];
    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'xorigin-plain-'));
      writeFileSync(join(root, 'a.woff2'), 'wOF2');
      server = await serve({ root, cors: { origins: ['*'] }, log: (l) => log.push(l), logFormat: 'json', ...transport.options() });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      port = server.address().port;
    });
    after(async () => {
      await server.shutdown(100);
      rmSync(root, { recursive: true, force: true });
    });

    test('a cleartext request gets 400 saying to use https://, with CORS headers and Connection: close; it is logged', async () => {
      const before = log.length;
      const answer = await cleartext(port, 'GET /a.woff2 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\n\r\n');
      const [head, body] = answer.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(head, /\r\nConnection: close(\r\n|$)/i);
      assert.match(head, /\r\nAccess-Control-Allow-Origin: \*(\r\n|$)/i);
      assert.equal(Number(/\r\nContent-Length: (\d+)/i.exec(head)[1]), body.length);
      assert.match(body, /https:\/\//);
      await eventually(() => log.length > before, () => 'no log line for the 400');
      const entry = JSON.parse(log[before]);
      assert.equal(entry.status, 400);
      assert.equal(entry.bytes, body.length);
      assert.equal(entry.remote, '127.0.0.1');
    });

    test('under an allow-list, the 400 echoes an allowed Origin read from the request, and no other', async () => {
      const listed = await serve({ root, cors: { origins: ['http://app.example'] }, ...transport.options() });
      await new Promise((r) => listed.listen(0, '127.0.0.1', r));
      try {
        const p = listed.address().port;
        const request = (origin) => `GET /a.woff2 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${origin}\r\n\r\n`;
        const allowed = (await cleartext(p, request('http://app.example'))).split('\r\n\r\n')[0];
        assert.match(allowed, /^HTTP\/1\.1 400 /);
        assert.match(allowed, /\r\nAccess-Control-Allow-Origin: http:\/\/app\.example(\r\n|$)/i);
        assert.match(allowed, /\r\nVary: Origin(\r\n|$)/i);
        const refused = (await cleartext(p, request('http://evil.example'))).split('\r\n\r\n')[0];
        assert.match(refused, /^HTTP\/1\.1 400 /);
        assert.doesNotMatch(refused, /Access-Control-Allow-Origin/i);
        assert.match(refused, /\r\nVary: Origin(\r\n|$)/i);
      } finally {
        await listed.shutdown(100);
      }
    });

    test('a request that arrives a byte at a time is answered too', async () => {
      const answer = await new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        const bytes = Buffer.from('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
        let i = 0;
        const next = () => (i < bytes.length ? socket.write(bytes.subarray(i, ++i), () => setTimeout(next, 2)) : null);
        socket.on('connect', next);
        const chunks = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    });

    test('a client that half-closes and keeps sending after the 400 is still closed, and shutdown is not held by it', async () => {
      const closed = await new Promise((resolve) => {
        const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        let answer = '';
        socket.on('data', (c) => {
          answer += c;
        });
        // Each byte would reset an idle timeout: only a limit on the whole drain closes this one.
        const drip = setInterval(() => socket.write('x'), 100);
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(drip);
          resolve(answer);
        });
        // The safety net: past the handshake timeout the server has failed; report it, do not wait forever.
        setTimeout(() => {
          resolve('never closed');
          socket.destroy();
        }, HANDSHAKE_TIMEOUT + 5_000).unref();
      });
      assert.match(closed, /^HTTP\/1\.1 400 Bad Request\r\n/);
    });

    test('bytes that are neither TLS nor HTTP are closed without an answer or a log line', async () => {
      const before = log.length;
      for (const garbage of ['SSH-2.0-OpenSSH_9.2\r\n', '\x00\x01\x02\x03', ' GET / HTTP/1.1\r\n\r\n']) {
        assert.equal(await cleartext(port, Buffer.from(garbage, 'latin1')), '', JSON.stringify(garbage));
      }
      assert.equal(log.length, before, log.slice(before).join('\n'));
    });

    test('HTTP/2 with prior knowledge is not offered in cleartext; TLS clients are served as before', async () => {
      const refused = await new Promise((resolve) => {
        const session = http2.connect(`http://127.0.0.1:${port}`);
        session.on('error', (e) => resolve(e.code ?? e.message));
        session.on('close', () => resolve('closed'));
        const stream = session.request({ ':path': '/a.woff2' });
        stream.on('response', () => resolve('answered'));
        stream.on('error', () => {});
        stream.end();
      });
      assert.notEqual(refused, 'answered');
      assert.equal(await negotiated(port), transport.name === 'HTTP/2' ? 'h2' : 'http/1.1');
      const res = await transport.request(port, { path: '/a.woff2', headers: { Origin: 'https://app.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'wOF2');
      await eventually(() => server.stats.inFlight === 0, () => JSON.stringify(server.stats));
    });
  });
}

test(`a connection that sends nothing, one byte of HTTP or of TLS, or a byte every 1.5 s of either, is cut at the handshake timeout (${HANDSHAKE_TIMEOUT} ms) from its accept`, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-plain-'));
  const server = await serve({ root, ...TRANSPORTS[2].options() });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  const port = server.address().port;
  // `drip`: the bytes after the first, one every 1.5 s (each restarted an idle timeout: a review held a
  // socket for minutes in the peek, and as long as it liked in the handshake).
  const stall = (first, drip = Buffer.alloc(0)) =>
    new Promise((resolve) => {
      let sent = 0;
      const timer = setInterval(() => sent < drip.length && socket.write(drip.subarray(sent, ++sent)), 1500);
      const socket = net.connect(port, '127.0.0.1', () => (first === null ? null : socket.write(first)));
      const start = Date.now();
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve(Date.now() - start);
      });
      // The safety net: a connection the server never cut is reported, not waited for forever.
      setTimeout(() => {
        resolve(-1);
        socket.destroy();
      }, HANDSHAKE_TIMEOUT + 10_000).unref();
    });
  // A method's letters (24 are looked at), and a ClientHello's record header and first bytes (a 512-byte record).
  const letters = Buffer.from('ETETETETETETETETETETET');
  const hello = Buffer.from([0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array(20).fill(7)]);
  const cut = await Promise.all([stall(null), stall('G'), stall(Buffer.from([0x16])), stall('G', letters), stall(Buffer.from([0x16]), hello)]);
  const whats = ['nothing', 'one byte of HTTP', 'one byte of TLS', 'HTTP, a byte every 1.5 s', 'TLS, a byte every 1.5 s'];
  cut.forEach((ms, i) => {
    assert.ok(ms >= HANDSHAKE_TIMEOUT - 50 && ms < HANDSHAKE_TIMEOUT + 1_000, `${whats[i]}: cut after ${ms} ms (-1: never)`);
  });
  const open = await new Promise((r) => server.getConnections((e, n) => r(n)));
  assert.equal(open, 0, 'connections left open');
});

test('shutdown closes at once the connections that have asked nothing yet: in the peek or the TLS handshake', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-plain-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const server = await serve({ root, ...TRANSPORTS[2].options() });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  let seen = 0;
  server.on('connection', () => seen++);
  const closes = [null, 'G', Buffer.from([0x16])].map(
    (first) =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => (first === null ? null : socket.write(first)));
        socket.on('error', () => {});
        socket.on('close', () => resolve('closed'));
        // The safety net, well short of the handshake timeout that cut them before.
        setTimeout(() => {
          resolve(`open after ${HANDSHAKE_TIMEOUT / 2} ms`);
          socket.destroy();
        }, HANDSHAKE_TIMEOUT / 2).unref();
      }),
  );
  await eventually(() => seen === 3, () => 'the three connections did not reach the server');
  await server.shutdown(100);
  assert.deepEqual(await Promise.all(closes), ['closed', 'closed', 'closed']);
});
