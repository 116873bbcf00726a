// The HTTP/2 response object (static/http2-exchange.ts) as the handler's later steps see it once the
// client has reset the stream: a retry after a rescan and the disk path's turn run after awaits, when
// the stream may be gone. Real node:http2 streams on 127.0.0.1; every wait is on an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { answerStream } from '../dist/static/http2-exchange.js';
import { whenDiskTurn } from '../dist/static/disk-turns.js';
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
    const res = answerStream(stream, headers, undefined, { opened: () => 7, closed: (s, slot) => closed.push([s, slot]), progressed: () => {} }, () => {});
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

const tracker = { opened: () => 0, closed: () => {}, progressed: () => {} };

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

/** Enough of a ServerHttp2Stream for Http2Response, whose close the test decides (node:http2's timing is load's). */
class ScriptedStream extends EventEmitter {
  constructor(session) {
    super();
    this.session = session;
    this.endAfterHeaders = true;
    this.headersSent = false;
    this.writableEnded = false;
    this.writableFinished = false;
    this.rstCode = 0;
    this.closed = false;
    this.destroyed = false;
  }

  pause() {}

  respond() {
    this.headersSent = true;
  }

  write(chunk, callback) {
    setImmediate(callback);
    return true;
  }

  end() {
    this.writableEnded = true;
  }

  /** Closes as node:http2 does under load: 'close' before the last write (end()'s) is reported. */
  closeWith(rstCode) {
    this.rstCode = rstCode;
    this.closed = this.destroyed = true;
    this.emit('close');
  }
}

test('a stream closed with NO_ERROR after its answer ended was sent whole, even when node:http2 reports its last slice after \'close\': nothing is charged unsent, the log counts every byte (found by a review: a fast client\'s connection was sent GOAWAY); a reset, or a session destroyed, still counts the slice in flight', async () => {
  const body = Buffer.alloc(300_000, 1);
  const lastSlice = body.length - 4 * 65_536;
  for (const [rstCode, sessionDestroyed, unsent] of [[0, false, 0], [http2.constants.NGHTTP2_CANCEL, false, lastSlice], [0, true, lastSlice]]) {
    const session = { destroyed: false };
    const stream = new ScriptedStream(session);
    const charged = [];
    const track = { opened: () => 0, closed: (s, slot, complete, bytes) => charged.push(bytes), progressed: () => {} };
    const res = answerStream(stream, { ':method': 'GET', ':path': '/big.woff2' }, undefined, track, (req, r) => {
      r.writeHead(200, ['Content-Length', String(body.length)]);
      r.end(body);
    });
    // The four 64 KiB slices written before the last are reported sent; the last went with end().
    while (res.bodyBytesSent < 4 * 65_536) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.writableEnded, true);
    session.destroyed = sessionDestroyed;
    stream.closeWith(rstCode);
    const what = `rstCode ${rstCode}, session destroyed: ${sessionDestroyed}`;
    assert.deepEqual(charged, [unsent], what);
    assert.equal(res.endedNormally, unsent === 0, what);
    assert.equal(res.bodyBytesSent, unsent === 0 ? body.length : 4 * 65_536, what);
  }
});
