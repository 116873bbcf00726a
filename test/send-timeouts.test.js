// The HTTP/1.x send timeout (send-timeouts.ts): progress is any byte the kernel took, including
// part of one large write, which neither writableLength nor bytesWritten show until it is all out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { SendTimeouts } from '../dist/static/send-timeouts.js';
import { testCertificate } from './transports.js';

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
    const timeouts = new SendTimeouts(400);
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
