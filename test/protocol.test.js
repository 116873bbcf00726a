// Protocol details checked against RFC 9110/9112, over raw sockets so nothing normalises the request.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serve } from '../dist/index.js';
import { rawRequest } from './helpers.js';
import { hasEncodedSlash, targetPath } from '../dist/http/request-target.js';

const APP = 'https://app.example.com';

function makeRoot() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-proto-'));
  mkdirSync(join(root, 'fonts'));
  mkdirSync(join(root, 'sub'));
  mkdirSync(join(root, 'sub', 'inner.woff2')); // a directory named like the file below
  mkdirSync(join(root, 'q{b}')); // a name with characters a URI may not carry as they are
  writeFileSync(join(root, 'q{b}', 'index.html'), 'q');
  writeFileSync(join(root, 'font.woff2'), 'wOF2-font');
  writeFileSync(join(root, 'sub', 'x.woff2'), 'sub-x');
  writeFileSync(join(root, 'fonts', 'index.html'), '<h1>fonts</h1>');
  writeFileSync(join(root, 'fonts', 'a.woff2'), 'a-font');
  writeFileSync(join(root, 'x#y.woff2'), 'hash-font'); // named as an invalid target would read
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'cafe\u0301.txt'), 'nfd'); // é decomposed, as macOS tools write it
  writeFileSync(join(root, 'dated.txt'), 'dated'); // old enough to be sent with its Last-Modified
  utimesSync(join(root, 'dated.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const css = Buffer.from('body{}\n'.repeat(50));
  writeFileSync(join(root, 'app.css'), css);
  writeFileSync(join(root, 'app.css.gz'), gzipSync(css));
  // sub/inner.woff2 would be served for /sub%2Finner.woff2 if %2F were a separator.
  writeFileSync(join(root, 'sub', 'inner.woff2', 'index.html'), 'never');
  return root;
}

async function start(root, cors) {
  const server = await serve({ root, cors });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

test('targetPath: origin-form, absolute-form, and what has no path', () => {
  const table = [
    ['/a/b?q=1', '/a/b'],
    ['/', '/'],
    ['http://localhost/font.woff2', '/font.woff2'],
    ['HTTPS://Example.com:8443/a%20b.css?x', '/a%20b.css'],
    ['http://localhost', '/'],
    ['http://localhost?x=/y', '/'],
    ['*', null],
    ['localhost:80', null],
    ['ftp://x/y', null],
    ['', null],
  ];
  for (const [target, want] of table) assert.equal(targetPath(target), want, target);
  for (const [path, want] of [['/a%2Fb', true], ['/a%2fb', true], ['/a%252Fb', false], ['/a%20b', false], ['/a%2', false]]) {
    assert.equal(hasEncodedSlash(path), want, path);
  }
});

for (const [name, cors, expectAcao] of [
  ['allow-list', { origins: [APP] }, APP],
  ['"*"', { origins: ['*'] }, '*'],
]) {
  describe(`request targets and redirects (${name} policy)`, () => {
    let root;
    let s;
    before(async () => {
      root = makeRoot();
      s = await start(root, cors);
    });
    after(async () => {
      await s.server.shutdown(200);
      rmSync(root, { recursive: true, force: true });
    });

    test('OPTIONS, a preflight or not, to a target GET refuses as malformed is 400 with CORS headers, not granted; any well-formed path and `*` get 204', async () => {
      const ask = (target, preflight) => rawRequest(s.port, `OPTIONS ${target} HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n${preflight ? 'Access-Control-Request-Method: GET\r\n' : ''}\r\n`);
      for (const target of ['/%zz', '/../x', '/a#b', '/a\\b', 'http:///a', 'http://u@x/a']) {
        assert.equal((await rawRequest(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`)).status, 400, `GET ${target}`);
        for (const preflight of [true, false]) {
          const res = await ask(target, preflight);
          assert.equal(res.status, 400, `OPTIONS ${target}${preflight ? ' (preflight)' : ''}`);
          assert.equal(res.get('access-control-allow-origin'), expectAcao);
          assert.equal(res.get('access-control-allow-methods'), undefined);
        }
      }
      for (const target of ['*', '/', '/no-such-file', '/font.woff2']) {
        for (const preflight of [true, false]) assert.equal((await ask(target, preflight)).status, 204, `OPTIONS ${target}${preflight ? ' (preflight)' : ''}`);
      }
    });

    test('an OPTIONS that is not a preflight ignores its preconditions (RFC 9110 §13.2.1: it selects no representation): 204 with Allow and CORS headers', async () => {
      const etag = (await rawRequest(s.port, 'GET /font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).get('etag');
      assert.ok(etag);
      // The same fields on a GET do decide its answer (the control: preconditions are read at all).
      assert.equal((await rawRequest(s.port, 'GET /font.woff2 HTTP/1.1\r\nHost: x\r\nIf-Match: "nomatch"\r\n\r\n')).status, 412);
      assert.equal((await rawRequest(s.port, `GET /font.woff2 HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`)).status, 304);
      const cases = [
        ['/font.woff2', 'If-Match: "nomatch"'],
        ['/font.woff2', `If-Match: ${etag}`],
        ['/font.woff2', `If-None-Match: ${etag}`],
        ['/font.woff2', 'If-None-Match: *'],
        ['/dated.txt', 'If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT'],
        ['/dated.txt', 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT'],
        ['/font.woff2', 'If-Range: "nomatch"\r\nRange: bytes=0-1'],
        ['/no-such-file', 'If-Match: *'],
        ['*', 'If-Match: *'],
      ];
      for (const [target, field] of cases) {
        const res = await rawRequest(s.port, `OPTIONS ${target} HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n${field}\r\n\r\n`);
        assert.equal(res.status, 204, `OPTIONS ${target} with ${field}`);
        assert.equal(res.get('allow'), 'GET, HEAD, OPTIONS', `OPTIONS ${target} with ${field}`);
        assert.equal(res.get('access-control-allow-origin'), expectAcao);
      }
    });

    test('a request head unfinished at the head timeout gets 408 with the CORS headers the README promises (no origin read back under an allow-list)', async () => {
      const before = s.server.headersTimeout;
      s.server.headersTimeout = 1000;
      try {
        // The Origin line whole, in the first write; the head never ends.
        const res = await rawRequest(s.port, `GET /font.woff2 HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nX-Slow: 1`);
        assert.equal(res.status, 408);
        assert.equal(res.get('connection'), 'close');
        // Under "*" every answer says so; under an allow-list node's parser kept the unfinished head to itself.
        assert.equal(res.get('access-control-allow-origin'), expectAcao === '*' ? '*' : undefined);
        if (expectAcao !== '*') assert.equal(res.get('vary'), 'Origin');
      } finally {
        s.server.headersTimeout = before;
      }
    });

    test('names are matched byte for byte (README): a decomposed é is found by its own bytes, not by the composed form', async () => {
      assert.equal((await rawRequest(s.port, 'GET /cafe%CC%81.txt HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
      const nfc = await rawRequest(s.port, `GET /caf%C3%A9.txt HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n\r\n`);
      assert.equal(nfc.status, 404);
      assert.equal(nfc.get('access-control-allow-origin'), expectAcao);
    });

    test('absolute-form targets are served as their path (RFC 9112 §3.2.2)', async () => {
      const res = await rawRequest(s.port, `GET http://localhost/font.woff2 HTTP/1.1\r\nHost: other\r\nOrigin: ${APP}\r\n\r\n`);
      assert.equal(res.status, 200);
      assert.ok(res.text.endsWith('wOF2-font'));
      assert.equal(res.get('access-control-allow-origin'), expectAcao);
    });

    test('RFC 9112 §3.2: a "#" in the target (a fragment, no part of a request target) is an invalid target: 400 with CORS; %23 names the file', async () => {
      for (const target of ['/font.woff2#x', '/font.woff2?q#x', '/x#y.woff2']) {
        const res = await rawRequest(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n\r\n`);
        assert.equal(res.status, 400, target);
        assert.equal(res.get('access-control-allow-origin'), expectAcao, target);
      }
      const res = await rawRequest(s.port, `GET /x%23y.woff2 HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(res.status, 200);
      assert.ok(res.text.endsWith('hash-font'));
    });

    test('an encoded slash is not a separator: 404, with CORS', async () => {
      for (const path of ['/sub%2Fx.woff2', '/sub%2fx.woff2', '/sub%2Finner.woff2/']) {
        const res = await rawRequest(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n\r\n`);
        assert.equal(res.status, 404, path);
        assert.equal(res.get('access-control-allow-origin'), expectAcao, path);
      }
      assert.equal((await rawRequest(s.port, 'GET /sub/x.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
    });

    test('runs of slashes are one (nginx merge_slashes); a redirect never says //host', async () => {
      for (const [path, body] of [['//font.woff2', 'wOF2-font'], ['/sub//x.woff2', 'sub-x'], ['///fonts//a.woff2', 'a-font'], ['//fonts//', '<h1>fonts</h1>'], ['http://localhost//font.woff2', 'wOF2-font']]) {
        const res = await rawRequest(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n\r\n`);
        assert.equal(res.status, 200, path);
        assert.ok(res.text.endsWith(body), path);
        assert.equal(res.get('access-control-allow-origin'), expectAcao, path);
      }
      // `//fonts/` as a Location is a network-path reference: a browser would go to the host "fonts".
      for (const path of ['//fonts', '///fonts?v=1', '/./fonts']) {
        const res = await rawRequest(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        if (res.status === 308) assert.match(res.get('location'), /^\/[^/\\]/, path);
      }
      assert.equal((await rawRequest(s.port, 'GET //fonts?v=2 HTTP/1.1\r\nHost: x\r\n\r\n')).get('location'), '/fonts/?v=2');
      // Merging never crosses an encoded slash (404) or climbs above the root (400); within it, dot segments resolve.
      assert.equal((await rawRequest(s.port, 'GET /sub%2F/x.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).status, 404);
      assert.equal((await rawRequest(s.port, 'GET //..//font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).status, 400);
      // A backslash, which a browser reads as "/", never gets as far as a Location (/\host/../dir/ is another host).
      const backslash = await rawRequest(s.port, 'GET /\\evil.example/../fonts HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(backslash.status, 400);
      assert.equal(backslash.get('location'), undefined);
      const within = await rawRequest(s.port, 'GET /sub//..//font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(within.status, 200);
      assert.ok(within.text.endsWith('wOF2-font'));
    });

    test('a directory without its slash: 308 to dir/ with the query kept, and CORS', async () => {
      const res = await rawRequest(s.port, `GET /fonts?v=2 HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\n\r\n`);
      assert.equal(res.status, 308);
      assert.equal(res.get('location'), '/fonts/?v=2');
      assert.equal(res.get('access-control-allow-origin'), expectAcao);
      assert.equal(res.get('content-length'), '0');
      const target = await rawRequest(s.port, 'GET /fonts/ HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(target.status, 200);
      // A file is never redirected, and a name that is neither is a plain 404.
      assert.equal((await rawRequest(s.port, 'GET /font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
      assert.equal((await rawRequest(s.port, 'GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n')).status, 404);
    });

    test('a redirect\'s Location is a valid URI reference: what the target carried that a URI may not is pct-encoded (RFC 9110 §10.2.2, RFC 9112 §3)', async () => {
      // Found replaying serve-handler#72 / serve-static's encodeurl: `Location: /q{b}/?a<b>"c"` was sent as it came.
      for (const [target, location] of [
        ['/q{b}?a<b>"c"|d^e`f%zz%4', '/q%7Bb%7D/?a%3Cb%3E%22c%22%7Cd%5Ee%60f%25zz%254'],
        ['/q%7Bb%7D?x=%41&y=[1]', '/q%7Bb%7D/?x=%41&y=%5B1%5D'],
        ['/fonts?back\\slash', '/fonts/?back%5Cslash'],
        ["/fonts?keep=!$&'()*+,;=:@/?~-._", "/fonts/?keep=!$&'()*+,;=:@/?~-._"],
      ]) {
        const res = await rawRequest(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal(res.status, 308, target);
        assert.equal(res.get('location'), location, target);
      }
    });

    test('a 416 has no Content-Type or Content-Encoding on its empty body', async () => {
      for (const headers of ['', 'Accept-Encoding: gzip\r\n']) {
        const res = await rawRequest(s.port, `GET /app.css HTTP/1.1\r\nHost: x\r\nRange: bytes=99999-\r\n${headers}Origin: ${APP}\r\n\r\n`);
        assert.equal(res.status, 416);
        assert.equal(res.get('content-type'), undefined);
        assert.equal(res.get('content-encoding'), undefined);
        assert.match(res.get('content-range'), /^bytes \*\/\d+$/);
        assert.equal(res.get('content-length'), '0');
        assert.equal(res.get('access-control-allow-origin'), expectAcao);
      }
    });

    test('an empty file asked for a range from 0 gets 200 and its empty body (CDN slicing, media players), from past 0 a 416', async () => {
      for (const range of ['bytes=0-', 'bytes=0-1023', 'bytes=-5']) {
        const res = await rawRequest(s.port, `GET /empty.txt HTTP/1.1\r\nHost: x\r\nRange: ${range}\r\nOrigin: ${APP}\r\n\r\n`);
        assert.equal(res.status, 200, range);
        assert.equal(res.get('content-length'), '0');
        assert.equal(res.get('content-range'), undefined);
        assert.equal(res.get('access-control-allow-origin'), expectAcao);
      }
      const beyond = await rawRequest(s.port, `GET /empty.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5-\r\nOrigin: ${APP}\r\n\r\n`);
      assert.equal(beyond.status, 416);
      assert.equal(beyond.get('content-range'), 'bytes */0');
    });

    test('RFC 9110 §13.1.3/§13.1.4: If-(Un)Modified-Since on two lines is a list of dates, ignored (node:http keeps only the first line)', async () => {
      const past = 'Thu, 01 Jan 1970 00:00:00 GMT';
      const future = 'Thu, 01 Jan 2099 00:00:00 GMT';
      const ask = (lines) => rawRequest(s.port, `GET /font.woff2 HTTP/1.1\r\nHost: x\r\n${lines}Origin: ${APP}\r\n\r\n`);
      // Written just before the start: dated (and its dates compared) once that second is over.
      while ((await ask('')).get('last-modified') === undefined) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await ask(`If-Unmodified-Since: ${past}\r\n`)).status, 412);
      assert.equal((await ask(`If-Modified-Since: ${future}\r\n`)).status, 304);
      assert.equal((await ask(`If-Unmodified-Since: ${past}\r\nIf-Unmodified-Since: ${future}\r\n`)).status, 200);
      assert.equal((await ask(`If-Modified-Since: ${future}\r\nif-modified-since: ${future}\r\n`)).status, 200);
    });

    test("requests Node cannot parse get Node's status with the policy's CORS headers, and the server goes on", async () => {
      const cases = [
        ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400],
        [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
        ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
      ];
      for (const [raw, status] of cases) {
        const res = await rawRequest(s.port, raw);
        assert.equal(res.status, status);
        assert.equal(res.get('connection'), 'close');
        if (expectAcao === '*') assert.equal(res.get('access-control-allow-origin'), '*');
        else assert.equal(res.get('vary'), 'Origin');
      }
      assert.equal((await rawRequest(s.port, 'GET /font.woff2 HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
    });
  });
}

test('during shutdown, a keep-alive connection reused while others finish is told Connection: close', async () => {
  const root = makeRoot();
  writeFileSync(join(root, 'big.otf'), Buffer.alloc(16 * 1024 * 1024, 5)); // more than loopback buffers absorb
  const s = await start(root, { origins: ['*'] });
  const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];
  const get = (agent, path, onResponse) =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: s.port, path, agent }, (res) => {
          let length = 0;
          res.on('data', (c) => (length += c.length));
          res.on('end', () => resolve({ res, length }));
          onResponse?.(res);
        })
        .on('error', reject);
    });
  try {
    // A: a download that stays in flight (paused) through the whole shutdown.
    let pausedA;
    const a = get(agents[0], '/big.otf', (res) => {
      res.pause();
      pausedA = res;
    });
    // B: a download under way when shutdown begins, then its connection reused.
    let closing;
    const b = await get(agents[1], '/big.otf', (res) => {
      res.pause();
      closing = s.server.shutdown(5000);
      setTimeout(() => res.resume(), 50);
    });
    assert.equal(b.length, 16 * 1024 * 1024);
    assert.equal(b.res.headers.connection, 'keep-alive'); // its headers went out before shutdown
    const again = await get(agents[1], '/font.woff2');
    assert.equal(again.res.headers.connection, 'close');
    assert.equal(again.length, 'wOF2-font'.length);
    pausedA.resume();
    assert.equal((await a).length, 16 * 1024 * 1024);
    await closing;
  } finally {
    for (const agent of agents) agent.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});

describe('a pipelining client that reads steadily, while node has stopped reading its socket behind the responses', () => {
  let root;
  let server;
  let port;
  // Past the largest body held in memory: each answer is read from disk in chunks as the client reads,
  // and node pauses reading the socket while they are written.
  const BIG = 3 * 1024 * 1024;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-pipe-'));
    writeFileSync(join(root, 'big.otf'), Buffer.alloc(BIG, 7));
    writeFileSync(join(root, 'small.woff2'), Buffer.alloc(1000, 1));
    // More than the loopback buffers take at once: read slowly, it holds the socket for seconds.
    writeFileSync(join(root, 'huge.otf'), Buffer.alloc(8 * BIG, 7));
    ({ server, port } = await start(root, { origins: ['*'] }));
    // Asked for once: its fd is kept open (fd-cache.ts), so the answers below start without waiting.
    await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/big.otf' }, (r) => r.resume().on('end', resolve)));
  });
  beforeEach(() => {
    // node:http checks its timeouts every second here; short ones keep these tests short.
    server.headersTimeout = 1000;
    server.requestTimeout = 2000;
  });
  after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });

  const get = (path) => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
  // 5 answers of 3 MB, then 15 of 1 KB: ~4 s to read, node's socket paused most of it.
  const DOWNLOADS = Array.from({ length: 20 }, (_, i) => get(i < 5 ? `/big.otf?i=${i}` : `/small.woff2?i=${i}`)).join('');
  const ANSWERED = 5 * BIG + 15 * 1000;

  /**
   * Sends `text`, then reads: at ~3 MB/s until 4 of the 5 large answers have come, at once after that.
   * `writes` are [ms, text] sent that long after connecting, or (`afterAnswers`) after the 20th
   * answer has come. Resolves when the server closes, when `stopAt(statuses)` says so, or after `ms`,
   * with the bytes received, their answers' statuses, and whether the server closed.
   */
  function pipeline({ text, writes = [], afterAnswers = [], stopAt = () => false, ms }) {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const timers = [];
      const later = (list) => {
        for (const [delay, more] of list) timers.push(setTimeout(() => socket.write(more), delay));
      };
      let bytes = 0;
      let statuses = [];
      let tail = '';
      let closed = false;
      const done = () => {
        for (const t of timers) clearTimeout(t);
        socket.destroy();
        resolve({ bytes, statuses, closed });
      };
      socket.on('connect', () => {
        socket.write(text);
        later(writes);
      });
      socket.on('data', (d) => {
        bytes += d.length;
        // Status lines counted as they come (the bodies hold no letters).
        const seen = tail + d.toString('latin1');
        const before = statuses.length;
        statuses = statuses.concat([...seen.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])));
        tail = seen.slice(-16);
        if (before < 20 && statuses.length >= 20) later(afterAnswers);
        if (stopAt(statuses)) return done();
        if (bytes < 4 * BIG) {
          // The last large answer is read at once: the server's clock for a request behind the
          // answers starts when it has handed them to the kernel, and the client then sees them
          // within milliseconds, not after megabytes still in the buffers at 3 MB/s.
          socket.pause();
          timers.push(setTimeout(() => socket.resume(), d.length / 3000));
        }
      });
      timers.push(setTimeout(done, ms));
      socket.on('close', () => {
        closed = true;
        done();
      });
      socket.on('error', () => {});
    });
  }

  test('gets every answer, though a request waited longer than the head timeout for node to read it', async () => {
    // A 21st request whose last bytes come 200 ms later: node has read its first bytes, then stops
    // reading behind the answers before it, which take ~4 s to read (the head timeout is 1 s).
    const last = get('/small.woff2?i=20');
    const r = await pipeline({
      text: DOWNLOADS + last.slice(0, -20),
      writes: [[200, last.slice(-20)]],
      stopAt: (s) => s.length === 21,
      ms: 20_000,
    });
    assert.deepEqual(r.statuses, Array(21).fill(200), `closed: ${r.closed}, bytes: ${r.bytes}`);
    assert.ok(r.bytes > ANSWERED + 1000, `bytes: ${r.bytes}`);
  });

  test('a request head still unfinished a head timeout after the answers before it is answered 408, and closed', async () => {
    const r = await pipeline({ text: DOWNLOADS + get('/small.woff2?i=20').slice(0, -20), ms: 15_000 });
    assert.ok(r.closed, `the connection is closed (bytes: ${r.bytes})`);
    assert.deepEqual(r.statuses, [...Array(20).fill(200), 408]);
  });

  test('the next request is timed from its own start, not by the timer of the one before it', async () => {
    // The 21st head is finished only once the 20 answers have come; a 22nd begins 1 s later, its
    // end 1.5 s after that. Its head took less than the 2 s head timeout: no 408. (Timed from the
    // end of the answers, as the 21st was, it would get one.)
    server.headersTimeout = 2000;
    const last = get('/small.woff2?i=20');
    const next = get('/small.woff2?i=21');
    const r = await pipeline({
      text: DOWNLOADS + last.slice(0, -20),
      afterAnswers: [[0, last.slice(-20)], [1000, next.slice(0, -20)], [2500, next.slice(-20)]],
      stopAt: (s) => s.length === 22 || s.includes(408),
      ms: 20_000,
    });
    assert.deepEqual(r.statuses, Array(22).fill(200), `closed: ${r.closed}`);
  });

  test('a head finished late behind the answers, then its body trickled: the body is still timed, and closed', async () => {
    // node puts a connection back on its timed list only when a later message begins: the head
    // timed again and finished, its body must still be timed (request timeout, 2 s here).
    const started = Date.now();
    const head = 'POST /small.woff2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n';
    const trickle = Array.from({ length: 150 }, (_, i) => [100 * (i + 1), 'x']);
    const r = await pipeline({ text: DOWNLOADS + head.slice(0, 10), afterAnswers: [[0, head.slice(10)], ...trickle], ms: 15_000 });
    assert.ok(r.closed, `the connection is closed (after ${Date.now() - started} ms, bytes ${r.bytes})`);
    assert.deepEqual(r.statuses, [...Array(20).fill(200), 405]);
  });

  test('heads struck by the timeout again and again behind one long answer hold one listener, not one each', async () => {
    // A client reading one 24 MB answer at ~300 KB/s starts a head every 2.1 s and finishes it 2 s
    // later, past the 1 s head timeout: each is timed again behind the answer, by the same timer.
    let serverSide;
    server.once('connection', (s) => {
      serverSide = s;
    });
    let strikes = 0;
    const count = (err) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') strikes++;
    };
    server.prependListener('clientError', count);
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {
      socket.pause();
      setTimeout(() => socket.resume(), 200);
    });
    socket.write(get('/huge.otf'));
    const counts = [];
    for (let i = 0; i < 4; i++) {
      const head = get(`/small.woff2?late=${i}`);
      socket.write(head.slice(0, 10));
      await new Promise((resolve) => setTimeout(resolve, 2000));
      // Counted once the strike has come: under load node's once-a-second check can come later than 2 s,
      // and a count taken before the first strike (no timer yet) read as a listener added per strike.
      for (const until = Date.now() + 10_000; strikes < i + 1 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(serverSide._httpMessage?.req.url, '/huge.otf', 'the long answer holds the socket');
      counts.push([serverSide.listenerCount('close'), serverSide._httpMessage.listenerCount('close')]);
      socket.write(head.slice(10));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    socket.destroy();
    server.removeListener('clientError', count);
    assert.equal(strikes, 4, 'every head was struck by the head timeout');
    assert.deepEqual(counts.slice(1), [counts[0], counts[0], counts[0]], `close listeners (socket, answer) after each head: ${JSON.stringify(counts)}`);
  });

  test('a request body trickled behind the answers is still timed: the connection is closed after them', async () => {
    // node's request timeout (2 s here) strikes while the answers are written; counted again from
    // their end, the body, one byte every 100 ms of 1,000, is still unfinished: closed.
    const started = Date.now();
    const trickle = Array.from({ length: 150 }, (_, i) => [100 * (i + 1), 'x']);
    const r = await pipeline({
      text: DOWNLOADS + 'POST /small.woff2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n',
      writes: trickle,
      ms: 15_000,
    });
    assert.ok(r.closed, `the connection is closed (after ${Date.now() - started} ms, bytes ${r.bytes})`);
    // Every download and the POST's own answer (405) came first.
    assert.deepEqual(r.statuses, [...Array(20).fill(200), 405]);
  });
});
