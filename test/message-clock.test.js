// message-clock.ts: where node:http's parser is in the message it reads, which the keep-alive and
// request timeouts need. Real connections; on Node 20 the readings are checked against the parser's
// own duration() and headersCompleted(), which Node 22 dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { headParsed, messageBegan, startClock } from '../dist/static/message-clock.js';

async function clockedServer(t) {
  const sockets = [];
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('connection', (socket) => {
    // Clocked on Node 20 too, whose parser's own readings check the clock's (reading()).
    assert.equal(startClock(socket.parser), true);
    sockets.push(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: server.address().port, sockets, requests };
}

/** Writes `text`, then waits until the server side has read it (and its loop turn has run). */
async function send(client, serverSide, text) {
  const before = serverSide.bytesRead;
  client.write(text);
  const until = performance.now() + 2000;
  while (serverSide.bytesRead < before + Buffer.byteLength(text)) {
    assert.ok(performance.now() < until, `the server read ${serverSide.bytesRead - before} of ${Buffer.byteLength(text)} bytes`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setImmediate(r));
}

function connectTo(port) {
  const client = net.connect(port, '127.0.0.1');
  client.on('data', () => {});
  client.on('error', () => {});
  return new Promise((resolve) => client.once('connect', () => resolve(client)));
}

/**
 * [began (NaN between messages), head parsed]; on Node 20 first checked against node's own readings,
 * once a message has begun (before any, node times the first from the connection's start).
 */
function reading(socket, fresh = false) {
  const parser = socket.parser;
  const began = messageBegan(parser);
  if (typeof parser.duration === 'function' && !fresh) {
    assert.equal(parser.duration() === 0, Number.isNaN(began), 'node: between messages');
    if (!Number.isNaN(began)) {
      assert.ok(Math.abs(performance.now() - parser.duration() - began) < 50, 'node: when the message began');
      assert.equal(parser.headersCompleted(), headParsed(parser), 'node: head parsed');
    }
  }
  return [began, headParsed(parser)];
}

test('a message is begun by its first byte, its head parsed at the blank line, and whole with its body; blank lines between begin none', async (t) => {
  const { port, sockets, requests } = await clockedServer(t);
  const client = await connectTo(port);
  await new Promise((r) => setTimeout(r, 20));
  const [side] = sockets;
  assert.deepEqual(reading(side, true), [Number.NaN, false], 'before any byte');

  const atStart = performance.now();
  await send(client, side, 'POST /a HTTP/1.1\r\nHo');
  const [began, head] = reading(side);
  assert.ok(began >= atStart && began <= performance.now(), `began ${began}, sent at ${atStart}`);
  assert.equal(head, false, 'head half sent');

  await send(client, side, 'st: x\r\nContent-Length: 4\r\n\r\n');
  assert.equal(requests.length, 1);
  assert.deepEqual(reading(side), [began, true], 'head parsed, body to come: the same message');

  await send(client, side, 'bo');
  assert.deepEqual(reading(side), [began, true], 'half the body');
  await send(client, side, 'dy');
  assert.deepEqual(reading(side), [Number.NaN, false], 'whole');

  await send(client, side, '\r\n\r\n\r\n');
  assert.deepEqual(reading(side), [Number.NaN, false], 'blank lines begin no message (RFC 9112 section 2.2)');

  const atNext = performance.now();
  await send(client, side, 'GET /b');
  const [next, nextHead] = reading(side);
  assert.ok(next >= atNext, 'a next message, begun later');
  assert.equal(nextHead, false);
  await send(client, side, ' HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual(reading(side), [Number.NaN, false], 'a GET without a body is whole at its head');
  assert.equal(requests.length, 2);
  client.destroy();
});

test('a parser node reuses for a later connection starts with no message, whatever the last one left half read', async (t) => {
  const { port, sockets } = await clockedServer(t);
  const first = await connectTo(port);
  await new Promise((r) => setTimeout(r, 20));
  await send(first, sockets[0], 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nhal');
  const parser = sockets[0].parser;
  assert.deepEqual(reading(sockets[0])[1], true, 'left with a body half read');
  first.destroy();
  await new Promise((r) => sockets[0].once('close', r));
  const second = await connectTo(port);
  await new Promise((r) => setTimeout(r, 20));
  // node:http takes parsers from a free list: the one just freed, here.
  assert.equal(sockets[1].parser, parser, 'the parser was reused');
  assert.deepEqual(reading(sockets[1], true), [Number.NaN, false]);
  await send(second, sockets[1], 'GET');
  assert.equal(Number.isNaN(reading(sockets[1])[0]), false, 'a message begun on the new connection');
  second.destroy();
});
