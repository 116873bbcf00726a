// The HTTP/2 response object (static/http2-exchange.ts) as the handler's later steps see it once the
// client has reset the stream: a retry after a rescan and the disk path's turn run after awaits, when
// the stream may be gone. Real node:http2 streams on 127.0.0.1; every wait is on an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { answerStream } from '../dist/static/http2-exchange.js';
import { DISK_BODIES_PER_CONNECTION, takeWaiting, whenDiskTurn } from '../dist/static/disk-turns.js';
import { testCertificate } from './transports.js';

/** A server whose first stream is handed over unanswered, with the client's session. */
async function oneStream() {
  const c = testCertificate();
  const server = http2.createSecureServer({ cert: c.pem, key: readFileSync(c.key) });
  const arrived = new Promise((resolve) => server.once('stream', (stream, headers) => resolve({ stream, headers })));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`https://127.0.0.1:${server.address().port}`, { ca: c.pem });
  client.on('error', () => {});
  const req = client.request({ ':path': '/big.otf' });
  req.on('error', () => {});
  const { stream, headers } = await arrived;
  const stop = async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return { stream, headers, req, stop };
}

test('a response whose stream the client reset reads as destroyed, and gets no disk turn', async () => {
  const { stream, headers, req, stop } = await oneStream();
  try {
    const closed = [];
    const res = answerStream(stream, headers, undefined, { opened: () => 7, closed: (s, slot) => closed.push([s, slot]), progressed: () => {}, sendBudget: () => null, reachesSocket: () => true }, () => {});
    assert.equal(res.destroyed, false, 'an open stream is not destroyed');
    const gone = new Promise((resolve) => res.on('close', resolve));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await gone;
    assert.deepEqual(closed, [[stream, 7]], 'the tracker is told once, with the slot opened() gave');
    // handler.ts retryAfterRescan stops on this: a reset stream must not be answered again.
    assert.equal(res.destroyed, true, 'a reset stream reads as destroyed');
    // A closed stream no longer names its session: the disk turn must still see an HTTP/2 response
    // that has ended (not an HTTP/1.x one waiting for its socket), and never start.
    let started = false;
    assert.doesNotThrow(() => whenDiskTurn(res, () => (started = true)));
    assert.equal(started, false, 'no disk read for a stream that has closed');
  } finally {
    await stop();
  }
});

const tracker = { opened: () => 0, closed: () => {}, progressed: () => {}, sendBudget: () => null, reachesSocket: () => true };

test('a request answered in full when the handler returns lets go of its headers; one still being answered keeps them', async () => {
  for (const complete of [true, false]) {
    const { stream, headers, stop } = await oneStream();
    try {
      let during;
      const res = answerStream(stream, headers, ['origin', 'https://app.example'], tracker, (req, r) => {
        r.writeHead(200, ['Content-Length', '1']);
        if (complete) r.end(Buffer.from('a'));
        // Read after end(), still inside the handler (as explain mode reads a refused preflight).
        during = req.headers[':path'];
      });
      assert.equal(during, '/big.otf', 'the handler reads its headers until it returns');
      if (complete) {
        assert.equal(res.req.headers[':path'], undefined, 'answered: the header block is let go');
        assert.equal(res.req.rawHeaders, undefined);
      } else {
        assert.equal(res.req.headers[':path'], '/big.otf', 'still being answered (a retry may read them): kept');
        assert.deepEqual(res.req.rawHeaders, ['origin', 'https://app.example']);
        res.end(Buffer.from('a'));
      }
      // What the access log reads at close stays.
      assert.equal(res.req.method, 'GET');
      assert.equal(res.req.url, '/big.otf');
    } finally {
      await stop();
    }
  }
});

test('a connection\'s streams that close while waiting for a disk turn do not pile up in its queue (found by a review: a client holding its 8 turns and resetting streams meanwhile grew it by 82,000 entries in 25 s)', () => {
  const session = {};
  /** A response as the disk turns see it: its stream, and its 'close' (never emitted here: the 8 keep their turns). */
  const response = () => ({ stream: { closed: false, destroyed: false, session }, once() {} });
  let started = 0;
  for (let i = 0; i < DISK_BODIES_PER_CONNECTION; i++) whenDiskTurn(response(), () => started++);
  assert.equal(started, DISK_BODIES_PER_CONNECTION);
  // 10,000 streams wait, each reset a moment later (its stream closed), as the client opens the next.
  for (let i = 0; i < 10_000; i++) {
    const res = response();
    whenDiskTurn(res, () => started++);
    res.stream.closed = res.stream.destroyed = true;
  }
  const live = response();
  whenDiskTurn(live, () => started++);
  assert.equal(started, DISK_BODIES_PER_CONNECTION, 'no turn was given');
  const queued = takeWaiting(session, Infinity);
  assert.ok(queued.length <= 256, `${queued.length} entries queued for one connection`);
  assert.ok(queued.includes(live), 'the stream still open is still queued');
});
