// xorigin serve: the static server over real sockets on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { chmodSync, mkdtempSync, mkdirSync, readdirSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { brotliCompressSync, gunzipSync, gzipSync, brotliDecompressSync } from 'node:zlib';
import { serve } from '../dist/index.js';
import { acHeaders, request } from './helpers.js';
import { TRANSPORTS } from './transports.js';
import http2 from 'node:http2';
import { testCertificate } from './transports.js';

const APP = 'https://app.example.com';
const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';

/** `huge`: also a 6 MiB font, past the size read whole, so it takes the streaming path. */
/** 20,000 bytes of every value, held in memory as a Buffer (over the 4 KiB held as a string). */
const MID = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7 + (i >> 8)) % 256));

function makeTree({ huge = false } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-'));
  const root = join(base, 'root');
  mkdirSync(join(root, 'fonts'), { recursive: true });
  mkdirSync(join(root, '.well-known'), { recursive: true });
  mkdirSync(join(root, '.git'), { recursive: true });
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(root, 'fonts', 'a.woff2'), Buffer.from('wOF2' + 'x'.repeat(96)));
  writeFileSync(join(root, 'fonts', 'b.ttf'), Buffer.alloc(50, 1));
  writeFileSync(join(root, 'hello.txt'), 'hello world');
  // Every byte value: small bodies are kept as latin1 strings, which must round-trip exactly.
  writeFileSync(join(root, 'fonts', 'bytes.otf'), Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256)));
  writeFileSync(join(root, 'fonts', 'mid.otf'), MID);
  writeFileSync(join(root, 'index.html'), '<h1>hi</h1>');
  writeFileSync(join(root, 'a b.css'), 'body{}');
  writeFileSync(join(root, '.env'), SECRET);
  writeFileSync(join(root, '.git', 'config'), SECRET);
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: x');
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  writeFileSync(join(root, 'fonts', 'big.otf'), big);
  let hugeFile = null;
  if (huge) {
    hugeFile = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < hugeFile.length; i++) hugeFile[i] = i % 253;
    writeFileSync(join(root, 'fonts', 'huge.otf'), hugeFile);
  }
  // Precompressed siblings: a small one (served from memory) and a large one (streamed).
  const css = Buffer.from('body { font-family: "xorigin Blocks"; }\n'.repeat(40));
  writeFileSync(join(root, 'app.css'), css);
  writeFileSync(join(root, 'app.css.br'), brotliCompressSync(css));
  writeFileSync(join(root, 'app.css.gz'), gzipSync(css));
  writeFileSync(join(root, 'fonts', 'big.otf.gz'), gzipSync(big));
  symlinkSync(join(base, 'secret.txt'), join(root, 'outside-link.txt'));
  symlinkSync(join(root, 'hello.txt'), join(root, 'inside-link.txt'));
  // Deployed a while ago, as served trees are: a file read in the second it was written has no
  // Last-Modified for its first ~2 s (AssetInfo.undated), which the validator tests here would race.
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const name of readdirSync(root, { recursive: true })) utimesSync(join(root, name), hourAgo, hourAgo);
  return { base, root, big, css, huge: hugeFile };
}

// Files above 256 KiB are never held in memory here (unless a test says otherwise), so large ones take the disk path.
async function start(options, transport = TRANSPORTS[0]) {
  const server = await serve({ smallFileLimit: 256 * 1024, ...options, ...transport.options() });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

// The same promises over each protocol: HTTP/1.1, HTTPS/1.1 and HTTP/2 (transports.js).
for (const transport of TRANSPORTS) {
  const request = transport.request;
  describe(transport.name, () => {
    describe('allow-list policy', () => {
      let tree;
      let s;
      before(async () => {
        tree = makeTree({ huge: true });
        s = await start({ root: tree.root, cors: { origins: [APP], exposedHeaders: ['content-range'] }, smallFileLimit: 64 * 1024 }, transport);
      });
      after(async () => {
        await s.server.shutdown(1000);
        rmSync(tree.base, { recursive: true, force: true });
      });

      test('GET a font from an allowed origin: body, type, validators, CORS, nosniff, cache', async () => {
        const res = await request(s.port, { path: '/fonts/a.woff2', headers: { Origin: APP } });
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), 'wOF2' + 'x'.repeat(96));
        assert.equal(res.headers['content-type'], 'font/woff2');
        assert.equal(res.headers['content-length'], '100');
        assert.equal(res.headers['access-control-allow-origin'], APP);
        assert.equal(res.headers['access-control-expose-headers'], 'content-range');
        assert.equal(res.headers.vary, 'Origin');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['cache-control'], 'public, max-age=3600');
        assert.equal(res.headers['accept-ranges'], 'bytes');
        assert.match(res.headers.etag, /^"[A-Za-z0-9_-]+"$/);
        assert.ok(Date.parse(res.headers['last-modified']) > 0);
        assert.equal(res.headers['cross-origin-resource-policy'], undefined);
      });

      test('the ETag is derived from content: same bytes, same tag', async () => {
        const a = await request(s.port, { path: '/hello.txt' });
        const b = await request(s.port, { path: '/inside-link.txt' });
        assert.equal(a.headers.etag, b.headers.etag);
        const digest = createHash('sha256').update('hello world').digest('base64url').slice(0, 27);
        assert.equal(a.headers.etag, `"${digest}"`);
      });

      test('disallowed and plain requests: no Access-Control-*, Vary: Origin', async () => {
        for (const headers of [{ Origin: 'https://evil.com' }, {}]) {
          const res = await request(s.port, { path: '/hello.txt', headers });
          assert.equal(res.status, 200);
          assert.deepEqual(acHeaders(res), []);
          assert.equal(res.headers.vary, 'Origin');
        }
      });

      test('HEAD: headers of a GET, no body', async () => {
        const res = await request(s.port, { method: 'HEAD', path: '/hello.txt', headers: { Origin: APP } });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-length'], '11');
        assert.equal(res.body.length, 0);
        assert.equal(res.headers['access-control-allow-origin'], APP);
      });

      test('If-None-Match -> 304 with validators, Cache-Control, Vary and CORS', async () => {
        const { headers } = await request(s.port, { path: '/fonts/a.woff2' });
        for (const inm of [headers.etag, `W/${headers.etag}`, `"nope", ${headers.etag}`, '*']) {
          const res = await request(s.port, { path: '/fonts/a.woff2', headers: { Origin: APP, 'If-None-Match': inm } });
          assert.equal(res.status, 304, inm);
          assert.equal(res.body.length, 0);
          assert.equal(res.headers.etag, headers.etag);
          assert.equal(res.headers['last-modified'], headers['last-modified']);
          assert.equal(res.headers['cache-control'], 'public, max-age=3600');
          assert.equal(res.headers['access-control-allow-origin'], APP);
          assert.equal(res.headers.vary, 'Origin');
        }
        const miss = await request(s.port, { path: '/fonts/a.woff2', headers: { 'If-None-Match': '"other"' } });
        assert.equal(miss.status, 200);
      });

      test('If-Modified-Since only without If-None-Match', async () => {
        const { headers } = await request(s.port, { path: '/hello.txt' });
        const lm = headers['last-modified'];
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Modified-Since': lm } })).status, 304);
        const old = new Date(Date.parse(lm) - 60_000).toUTCString();
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Modified-Since': old } })).status, 200);
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Modified-Since': lm, 'If-None-Match': '"x"' } })).status, 200);
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Modified-Since': 'garbage' } })).status, 200);
      });

      test('If-Match / If-Unmodified-Since -> 412 with CORS', async () => {
        const { headers } = await request(s.port, { path: '/hello.txt' });
        let res = await request(s.port, { path: '/hello.txt', headers: { Origin: APP, 'If-Match': '"other"' } });
        assert.equal(res.status, 412);
        assert.equal(res.headers['access-control-allow-origin'], APP);
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Match': headers.etag } })).status, 200);
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Match': `W/${headers.etag}` } })).status, 412);
        res = await request(s.port, { path: '/hello.txt', headers: { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
        assert.equal(res.status, 412);
        // Not an HTTP-date (Date.parse would read a year into each): the condition is ignored.
        for (const v of ['garbage 1970', '1970-01-01', 'Thu, 01 Jan 1970 00:00:00']) {
          assert.equal((await request(s.port, { path: '/hello.txt', headers: { 'If-Unmodified-Since': v } })).status, 200, v);
        }
      });

      test('Range: single, open-ended, suffix -> 206 with Content-Range and CORS', async () => {
        const cases = [
          ['bytes=0-4', 'hello', 'bytes 0-4/11'],
          ['bytes=6-', 'world', 'bytes 6-10/11'],
          ['bytes=-5', 'world', 'bytes 6-10/11'],
          ['bytes=6-100', 'world', 'bytes 6-10/11'],
        ];
        for (const [range, body, contentRange] of cases) {
          const res = await request(s.port, { path: '/hello.txt', headers: { Origin: APP, Range: range } });
          assert.equal(res.status, 206, range);
          assert.equal(res.body.toString(), body);
          assert.equal(res.headers['content-range'], contentRange);
          assert.equal(res.headers['content-length'], String(body.length));
          assert.equal(res.headers['access-control-allow-origin'], APP);
        }
      });

      test('each 206 describes its own range: asked again, or sharing its first or last byte with the one before', async () => {
        // A 206's header values are kept for the next response asking the same range (representation.ts).
        const files = [['/fonts/mid.otf', MID], ['/fonts/big.otf', tree.big]];
        const ranges = [[0, 9], [0, 19], [10, 19], [10, 19], [0, 9], [5, 5], [0, 9]];
        for (const [path, bytes] of files) {
          for (const origin of [APP, undefined, APP]) {
            for (const [start, end] of ranges) {
              const headers = { Range: `bytes=${start}-${end}`, ...(origin === undefined ? {} : { Origin: origin }) };
              const part = await request(s.port, { path, headers });
              const what = `${path} ${headers.Range} from ${origin}`;
              assert.equal(part.status, 206, what);
              assert.equal(part.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`, what);
              assert.equal(part.headers['content-length'], String(end - start + 1), what);
              assert.ok(part.body.equals(bytes.subarray(start, end + 1)), `${what}: the bytes differ`);
            }
          }
        }
      });

      test('Range: unsatisfiable -> 416 with bytes */size; multiple ranges or bad syntax -> 200', async () => {
        let res = await request(s.port, { path: '/hello.txt', headers: { Origin: APP, Range: 'bytes=50-60' } });
        assert.equal(res.status, 416);
        assert.equal(res.headers['content-range'], 'bytes */11');
        assert.equal(res.headers['access-control-allow-origin'], APP);
        for (const range of ['bytes=0-1,3-4', 'items=0-1', 'bytes=5-2']) {
          res = await request(s.port, { path: '/hello.txt', headers: { Range: range } });
          assert.equal(res.status, 200, range);
          assert.equal(res.body.toString(), 'hello world');
        }
      });

      test('If-Range: the strong ETag honours Range; anything else, the exact Last-Modified included, gets 200', async () => {
        const { headers } = await request(s.port, { path: '/hello.txt' });
        assert.equal((await request(s.port, { path: '/hello.txt', headers: { Range: 'bytes=0-0', 'If-Range': headers.etag } })).status, 206);
        for (const v of ['"stale"', `W/${headers.etag}`, headers['last-modified'], 'Thu, 01 Jan 1970 00:00:00 GMT']) {
          assert.equal((await request(s.port, { path: '/hello.txt', headers: { Range: 'bytes=0-0', 'If-Range': v } })).status, 200, v);
        }
      });

      test('HEAD with Range answers 200', async () => {
        const res = await request(s.port, { method: 'HEAD', path: '/hello.txt', headers: { Range: 'bytes=0-1' } });
        assert.equal(res.status, 200);
      });

      test('a large file is served whole, and by range, from disk', async () => {
        const res = await request(s.port, { path: '/fonts/big.otf', headers: { Origin: APP } });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'font/otf');
        assert.equal(res.headers['content-length'], String(tree.big.length));
        assert.ok(res.body.equals(tree.big));
        assert.equal(res.headers['access-control-allow-origin'], APP);
        const part = await request(s.port, { path: '/fonts/big.otf', headers: { Range: 'bytes=1000000-1000099' } });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(tree.big.subarray(1000000, 1000100)));
      });

      test('ranges of a body held in memory are sent byte for byte, under, at and over 4 KiB', async () => {
        for (const [range, start, end] of [['bytes=0-4094', 0, 4094], ['bytes=0-4095', 0, 4095], ['bytes=100-4196', 100, 4196], ['bytes=-4095', 20_000 - 4095, 19_999], ['bytes=19990-', 19_990, 19_999], ['bytes=255-255', 255, 255]]) {
          const part = await request(s.port, { path: '/fonts/mid.otf', headers: { Origin: APP, Range: range } });
          assert.equal(part.status, 206, range);
          assert.equal(part.headers['content-range'], `bytes ${start}-${end}/20000`, range);
          assert.ok(part.body.equals(MID.subarray(start, end + 1)), `${range}: the bytes differ`);
        }
      });

      test('a small binary file is sent byte for byte, whole and by range', async () => {
        const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
        const res = await request(s.port, { path: '/fonts/bytes.otf', headers: { Origin: APP } });
        assert.equal(res.headers['content-length'], '1024');
        assert.ok(res.body.equals(bytes));
        const part = await request(s.port, { path: '/fonts/bytes.otf', headers: { Range: 'bytes=100-899' } });
        assert.equal(part.status, 206);
        assert.equal(part.headers['content-length'], '800');
        assert.ok(part.body.equals(bytes.subarray(100, 900)));
        const head = await request(s.port, { method: 'HEAD', path: '/fonts/bytes.otf' });
        assert.equal(head.headers['content-length'], '1024');
        assert.equal(head.body.length, 0);
      });

      test('a file past the whole-read size is streamed byte for byte, whole and by range', async () => {
        const res = await request(s.port, { path: '/fonts/huge.otf', headers: { Origin: APP } });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-length'], String(tree.huge.length));
        assert.ok(res.body.equals(tree.huge));
        assert.equal(res.headers['access-control-allow-origin'], APP);
        // A range longer than the whole-read size streams too; a short one is a single read.
        for (const [from, to] of [[1, 5 * 1024 * 1024], [6 * 1024 * 1024 - 10, 6 * 1024 * 1024 - 1]]) {
          const part = await request(s.port, { path: '/fonts/huge.otf', headers: { Range: `bytes=${from}-${to}` } });
          assert.equal(part.status, 206);
          assert.equal(part.headers['content-range'], `bytes ${from}-${to}/${tree.huge.length}`);
          assert.ok(part.body.equals(tree.huge.subarray(from, to + 1)));
        }
      });

      test('directory index and percent-encoded names', async () => {
        assert.equal((await request(s.port, { path: '/' })).body.toString(), '<h1>hi</h1>');
        assert.equal((await request(s.port, { path: '/a%20b.css' })).body.toString(), 'body{}');
        assert.equal((await request(s.port, { path: '/hello.txt?v=3' })).status, 200);
      });

      test('traversal attempts never reach outside the root', async () => {
        const attempts = [
          '/../secret.txt',
          '/fonts/../../secret.txt',
          '/%2e%2e/secret.txt',
          '/%2e%2e%2fsecret.txt',
          '/..%2fsecret.txt',
          '/..%5csecret.txt',
          '/%252e%252e/secret.txt',
          '/hello.txt%00.css',
          '/.env',
          '/%2eenv',
          '/.git/config',
          '/outside-link.txt',
          '//secret.txt',
          '/./hello.txt/../../secret.txt',
        ];
        for (const path of attempts) {
          const res = await request(s.port, { path, headers: { Origin: APP } });
          assert.ok(!res.body.toString('latin1').includes(SECRET), `${path} leaked the secret`);
          assert.ok([400, 404].includes(res.status), `${path} -> ${res.status}`);
          assert.equal(res.headers['access-control-allow-origin'], APP, `${path}: error statuses carry CORS`);
        }
        assert.equal((await request(s.port, { path: '/.well-known/security.txt' })).status, 200);
        assert.equal((await request(s.port, { path: '/inside-link.txt' })).body.toString(), 'hello world');
      });

      test('bad percent-encoding -> 400; unknown path -> 404; both with CORS and Vary', async () => {
        for (const [path, status] of [['/%zz', 400], ['/%E0%A4%A', 400], ['/missing.woff2', 404]]) {
          const res = await request(s.port, { path, headers: { Origin: APP } });
          assert.equal(res.status, status, path);
          assert.equal(res.headers['access-control-allow-origin'], APP);
          assert.equal(res.headers.vary, 'Origin');
        }
      });

      test('methods: OPTIONS non-preflight 204 with Allow; others 405 with Allow and CORS', async () => {
        let res = await request(s.port, { method: 'OPTIONS', path: '/hello.txt', headers: { Origin: APP } });
        assert.equal(res.status, 204);
        assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
        assert.equal(res.headers['access-control-allow-origin'], APP);
        for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
          res = await request(s.port, { method, path: '/hello.txt', headers: { Origin: APP } });
          assert.equal(res.status, 405, method);
          assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
          assert.equal(res.headers['access-control-allow-origin'], APP);
        }
      });

      test('preflights: range allowed by default, methods not, 403 for other origins', async () => {
        const pf = (origin, method, acrh) =>
          request(s.port, { method: 'OPTIONS', path: '/fonts/a.woff2', headers: { Origin: origin, 'Access-Control-Request-Method': method, ...(acrh ? { 'Access-Control-Request-Headers': acrh } : {}) } });
        const ok = await pf(APP, 'GET', 'range');
        assert.equal(ok.status, 204);
        assert.equal(ok.headers['access-control-allow-headers'], 'range');
        assert.equal((await pf(APP, 'PUT')).status, 403);
        assert.equal((await pf('https://evil.com', 'GET', 'range')).status, 403);
      });

      test('precompressed siblings: chosen by Accept-Encoding, own ETag, original type, Vary', async () => {
        const br = await request(s.port, { path: '/app.css', headers: { Origin: APP, 'Accept-Encoding': 'gzip, deflate, br, zstd' } });
        assert.equal(br.status, 200);
        assert.equal(br.headers['content-encoding'], 'br');
        assert.equal(br.headers['content-type'], 'text/css; charset=utf-8');
        assert.ok(brotliDecompressSync(br.body).equals(tree.css));
        assert.equal(Number(br.headers['content-length']), br.body.length);
        assert.equal(br.headers.vary, 'Origin, Accept-Encoding');
        assert.equal(br.headers['access-control-allow-origin'], APP);

        const gz = await request(s.port, { path: '/app.css', headers: { 'Accept-Encoding': 'gzip;q=1, br;q=0.5' } });
        assert.equal(gz.headers['content-encoding'], 'gzip');
        assert.ok(gunzipSync(gz.body).equals(tree.css));
        assert.equal(gz.headers.vary, 'Origin, Accept-Encoding');

        const plain = await request(s.port, { path: '/app.css', headers: { 'Accept-Encoding': 'br;q=0, gzip;q=0' } });
        assert.equal(plain.headers['content-encoding'], undefined);
        assert.ok(plain.body.equals(tree.css));
        assert.equal(plain.headers.vary, 'Origin, Accept-Encoding');
        const none = await request(s.port, { path: '/app.css' });
        assert.equal(none.headers['content-encoding'], undefined);
        assert.equal(none.headers.etag, plain.headers.etag);

        // Each representation has its own strong ETag.
        assert.equal(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size, 3);
        // A file without siblings does not vary on Accept-Encoding.
        const font = await request(s.port, { path: '/fonts/a.woff2', headers: { 'Accept-Encoding': 'br, gzip' } });
        assert.equal(font.headers['content-encoding'], undefined);
        assert.equal(font.headers.vary, 'Origin');
      });

      test('precompressed siblings: conditional requests and ranges apply to the chosen representation', async () => {
        const ae = { 'Accept-Encoding': 'br' };
        const br = await request(s.port, { path: '/app.css', headers: ae });
        const hit = await request(s.port, { path: '/app.css', headers: { ...ae, Origin: APP, 'If-None-Match': br.headers.etag } });
        assert.equal(hit.status, 304);
        assert.equal(hit.headers.etag, br.headers.etag);
        assert.equal(hit.headers.vary, 'Origin, Accept-Encoding');
        assert.equal(hit.headers['access-control-allow-origin'], APP);
        // The identity tag does not validate the br representation.
        const identity = await request(s.port, { path: '/app.css' });
        const miss = await request(s.port, { path: '/app.css', headers: { ...ae, 'If-None-Match': identity.headers.etag } });
        assert.equal(miss.status, 200);
        assert.equal(miss.headers['content-encoding'], 'br');
        const part = await request(s.port, { path: '/app.css', headers: { ...ae, Range: 'bytes=0-9' } });
        assert.equal(part.status, 206);
        assert.equal(part.headers['content-encoding'], 'br');
        assert.equal(part.headers['content-range'], `bytes 0-9/${br.body.length}`);
        assert.ok(part.body.equals(br.body.subarray(0, 10)));
        // A large streamed file and its streamed sibling.
        const big = await request(s.port, { path: '/fonts/big.otf', headers: { 'Accept-Encoding': 'gzip' } });
        assert.equal(big.headers['content-encoding'], 'gzip');
        assert.equal(big.headers['content-type'], 'font/otf');
        assert.ok(gunzipSync(big.body).equals(tree.big));
        // The sibling is also an ordinary file at its own URL.
        const direct = await request(s.port, { path: '/app.css.gz' });
        assert.equal(direct.headers['content-encoding'], undefined);
        assert.ok(gunzipSync(direct.body).equals(tree.css));
      });

      test('If-Range with a date shared by a file and its gzip -k sibling: the whole representation; each ETag gives its own range', async () => {
        // gzip -k keeps the original's mtime: a client resuming the plain bytes with that date must not be
        // sent a range of the gzip ones (RFC 9110 §13.1.5, §8.8.2.2). Dates never validate a range here.
        const root = mkdtempSync(join(tmpdir(), 'xorigin-ifrange-'));
        const text = Buffer.from('0123456789abcdef'.repeat(64));
        const shared = new Date('2025-03-04T05:06:07Z');
        for (const [name, bytes] of [['same.txt', text], ['same.txt.gz', gzipSync(text)]]) {
          writeFileSync(join(root, name), bytes);
          utimesSync(join(root, name), shared, shared);
        }
        const t = await start({ root, cors: { origins: [APP] } }, transport);
        try {
          const gz = { 'Accept-Encoding': 'gzip' };
          const full = await request(t.port, { path: '/same.txt', headers: gz });
          const plain = await request(t.port, { path: '/same.txt' });
          assert.equal(full.headers['last-modified'], plain.headers['last-modified']);
          for (const h of [gz, {}]) {
            const res = await request(t.port, { path: '/same.txt', headers: { ...h, Range: 'bytes=10-19', 'If-Range': plain.headers['last-modified'] } });
            assert.equal(res.status, 200, JSON.stringify(h));
            assert.ok(res.body.equals(h === gz ? full.body : text));
          }
          for (const [h, whole] of [[gz, full.body], [{}, text]]) {
            const tagged = await request(t.port, { path: '/same.txt', headers: { ...h, Range: 'bytes=10-19', 'If-Range': h === gz ? full.headers.etag : plain.headers.etag } });
            assert.equal(tagged.status, 206);
            assert.ok(tagged.body.equals(whole.subarray(10, 20)));
          }
          // One representation's ETag never validates the other's range.
          const crossed = await request(t.port, { path: '/same.txt', headers: { ...gz, Range: 'bytes=10-19', 'If-Range': plain.headers.etag } });
          assert.equal(crossed.status, 200);
          assert.ok(crossed.body.equals(full.body));
        } finally {
          await t.server.shutdown(1000);
          rmSync(root, { recursive: true, force: true });
        }
      });

      test('a file added, changed and removed is served correctly without a restart', async () => {
        const file = join(tree.root, 'fresh.txt');
        writeFileSync(file, 'one');
        // Polls for the change; 10 s is a safety net for a slow machine (the debounce is 30 ms).
        const wait = async (check) => {
          for (const end = Date.now() + 10_000; Date.now() < end; ) {
            if (await check()) return;
            await new Promise((r) => setTimeout(r, 25));
          }
          assert.fail('change not picked up within 10 s');
        };
        await wait(async () => (await request(s.port, { path: '/fresh.txt' })).body.toString() === 'one');
        const first = await request(s.port, { path: '/fresh.txt' });
        writeFileSync(file, 'two!');
        await wait(async () => (await request(s.port, { path: '/fresh.txt' })).body.toString() === 'two!');
        const second = await request(s.port, { path: '/fresh.txt' });
        assert.notEqual(second.headers.etag, first.headers.etag);
        assert.equal(second.headers['content-length'], '4');
        // A sibling added later is negotiated; removed, the original is served again.
        const ae = { 'Accept-Encoding': 'gzip' };
        writeFileSync(`${file}.gz`, gzipSync('two!'));
        await wait(async () => (await request(s.port, { path: '/fresh.txt', headers: ae })).headers['content-encoding'] === 'gzip');
        const zipped = await request(s.port, { path: '/fresh.txt', headers: ae });
        assert.equal(gunzipSync(zipped.body).toString(), 'two!');
        assert.equal(zipped.headers.vary, 'Origin, Accept-Encoding');
        rmSync(`${file}.gz`);
        await wait(async () => (await request(s.port, { path: '/fresh.txt', headers: ae })).headers['content-encoding'] === undefined);
        assert.equal((await request(s.port, { path: '/fresh.txt', headers: ae })).headers.vary, 'Origin');
        rmSync(file);
        await wait(async () => (await request(s.port, { path: '/fresh.txt' })).status === 404);
      });
    });

    describe('"*" policy defaults (a public font host)', () => {
      let tree;
      let s;
      before(async () => {
        tree = makeTree();
        s = await start({ root: tree.root, immutable: true }, transport);
      });
      after(async () => {
        await s.server.shutdown(1000);
        rmSync(tree.base, { recursive: true, force: true });
      });

      test('ACAO *, Timing-Allow-Origin *, CORP cross-origin, immutable, no Vary: Origin', async () => {
        for (const headers of [{ Origin: 'https://anyone.test' }, {}]) {
          const res = await request(s.port, { path: '/fonts/b.ttf', headers });
          assert.equal(res.headers['content-type'], 'font/ttf');
          assert.equal(res.headers['access-control-allow-origin'], '*');
          assert.equal(res.headers['timing-allow-origin'], '*');
          assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
          assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
          assert.equal(res.headers.vary, undefined);
        }
        // Under `*`, only a file with siblings varies, and only on Accept-Encoding.
        const css = await request(s.port, { path: '/app.css', headers: { Origin: 'https://anyone.test', 'Accept-Encoding': 'gzip' } });
        assert.equal(css.headers['content-encoding'], 'gzip');
        assert.equal(css.headers.vary, 'Accept-Encoding');
        assert.equal(css.headers['access-control-allow-origin'], '*');
        const missing = await request(s.port, { path: '/nope', headers: { Origin: 'https://anyone.test' } });
        assert.equal(missing.status, 404);
        assert.equal(missing.headers['access-control-allow-origin'], '*');
      });
    });
  });
}

test('serve() rejects bad options with every problem listed', async () => {
  await assert.rejects(
    serve({ root: '', cors: { origins: ['https://a.com/'] }, cacheControl: 'x\r\ny', colour: 1 }),
    (e) => {
      assert.equal(e.name, 'PolicyError');
      const options = e.problems.map((p) => p.option).sort();
      assert.deepEqual(options, ['cacheControl', 'colour', 'cors.origins[0]', 'root']);
      return true;
    },
  );
});

test('serve() rejects a root that is missing, a file, or one this process may not list (it served nothing, saying nothing) with a PolicyError naming root', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-api-root-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  writeFileSync(join(base, 'file.txt'), 'x');
  await assert.rejects(serve({ root: join(base, 'file.txt'), cors: { origins: ['*'] } }), (e) => e.name === 'PolicyError' && /root = ".*file\.txt": not a directory\. Fix: pass the directory/.test(e.message));
  await assert.rejects(serve({ root: join(base, 'nope'), cors: { origins: ['*'] } }), (e) => e.name === 'PolicyError' && /root = ".*nope": no such directory\. Fix: pass an existing directory/.test(e.message));
  const locked = join(base, 'locked');
  mkdirSync(locked);
  writeFileSync(join(locked, 'a.txt'), 'x');
  chmodSync(locked, 0o300);
  chmodSync(base, 0o711);
  // Root may list anything: the call is made as nobody then, in a child process.
  const script = `import { serve } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    serve({ root: ${JSON.stringify(locked)}, cors: { origins: ['*'] } })
      .then((s) => { console.log('served'); return s.shutdown(); }, (e) => console.log(e.message));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000, uid: process.getuid?.() === 0 ? 65534 : undefined });
  assert.match(r.stdout, /root = ".*locked": this process( \(uid \d+\))? may not list it \(EACCES\)\. Fix: give the user xorigin runs as read and execute permission/, r.stderr);
  // Readable but not searchable: listed, never entered (each file a 404).
  chmodSync(locked, 0o444);
  const unsearchable = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000, uid: process.getuid?.() === 0 ? 65534 : undefined });
  assert.match(unsearchable.stdout, /root = ".*locked": this process( \(uid \d+\))? may not list it \(EACCES\)/, unsearchable.stderr);
});

test('serve() starts on a root its user may read only through CAP_DAC_READ_SEARCH (systemd AmbientCapabilities), and serves it', { skip: process.getuid?.() !== 0 && 'needs root to start a process as nobody with a capability' }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-api-cap-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const locked = join(base, 'locked');
  mkdirSync(locked);
  writeFileSync(join(locked, 'a.txt'), 'capable');
  chmodSync(locked, 0o700); // root's alone: nobody gets through only with the capability
  chmodSync(base, 0o755);
  const script = `import { serve } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const s = await serve({ root: ${JSON.stringify(locked)} }).catch((e) => { console.log(e.message); process.exit(0); });
    s.listen(0, '127.0.0.1', async () => {
      const r = await fetch('http://127.0.0.1:' + s.address().port + '/a.txt');
      console.log(r.status, await r.text());
      await s.shutdown();
    });`;
  const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  const capable = spawnSync('setpriv', [...asNobody, '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(capable.stdout.trim(), '200 capable', capable.stderr);
  // Without it, the same process is refused at start-up (so the capability is what let it in).
  const plain = spawnSync('setpriv', [...asNobody, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.match(plain.stdout, /may not list it \(EACCES\)/, plain.stderr);
});

/**
 * A GET whose response has begun (headers received, body still flowing) when `started` resolves;
 * over HTTP/2, `goaway` resolves when the server announces it is going away.
 */
function startDownload(port, path, transport) {
  let started;
  let goaway;
  const sawGoaway = new Promise((r) => (goaway = r));
  const begun = new Promise((r) => (started = r));
  const done = new Promise((resolve, reject) => {
    const onResponse = (res, statusOf) => {
      started();
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: statusOf(), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    if (transport.name === 'HTTP/2') {
      const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCertificate().pem });
      session.on('goaway', () => goaway(true));
      session.on('error', reject);
      const stream = session.request({ ':path': path });
      stream.on('response', (h) => onResponse(stream, () => h[':status']));
      stream.on('close', () => session.close());
      return;
    }
    const lib = transport.name === 'HTTP/1.1' ? http : https;
    const req = lib.request({ host: '127.0.0.1', port, path, agent: false, ca: testCertificate().pem }, (res) => onResponse(res, () => res.statusCode));
    req.on('error', reject);
    req.end();
  });
  return { started: begun, done, sawGoaway };
}

for (const transport of TRANSPORTS) {
  test(`${transport.name}: close() is graceful too: a large download in flight finishes (streamed)`, async () => {
    const tree = makeTree({ huge: true });
    const s = await start({ root: tree.root }, transport);
    const download = startDownload(s.port, '/fonts/huge.otf', transport);
    await download.started;
    await new Promise((resolve) => s.server.close(resolve));
    const res = await download.done;
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(tree.huge));
    if (transport.name === 'HTTP/2') assert.equal(await download.sawGoaway, true);
    rmSync(tree.base, { recursive: true, force: true });
  });

  test(`${transport.name}: shutdown lets a large download in flight finish (read whole)`, async () => {
    const tree = makeTree();
    const s = await start({ root: tree.root }, transport);
    const download = startDownload(s.port, '/fonts/big.otf', transport);
    await download.started;
    await s.server.shutdown(5000);
    const res = await download.done;
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(tree.big));
    assert.equal(s.server.stats.inFlight, 0);
    rmSync(tree.base, { recursive: true, force: true });
  });
}

test('a file truncated in place mid-stream: the response is cut, never ended short or mixed', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-trunc-'));
  const size = 48 * 1024 * 1024; // well beyond what loopback socket buffers hold while the client is paused
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE(i, i);
  const file = join(base, 'big.otf');
  writeFileSync(file, data);
  const s = await start({ root: base, smallFileLimit: 1024 });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(base, { recursive: true, force: true });
  });
  // Keep-alive, so a response ended short would leave the client waiting instead of being masked by a close.
  const agent = new http.Agent({ keepAlive: true });
  const outcome = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, path: '/big.otf', agent }, (res) => {
      const chunks = [];
      res.pause();
      // Truncate while the server is blocked on back-pressure, then drain.
      setTimeout(() => {
        truncateSync(file, 1000);
        res.on('data', (c) => chunks.push(c));
        res.resume();
      }, 100);
      const done = (how) => resolve({ how, complete: res.complete, length: Number(res.headers['content-length']), body: Buffer.concat(chunks) });
      res.on('end', () => done('end'));
      res.on('aborted', () => done('aborted'));
      res.on('error', () => done('error'));
    });
    req.setTimeout(5000, () => req.destroy(new Error('the server neither finished nor cut the response')));
    req.on('error', (e) => {
      agent.destroy();
      reject(e);
    });
    req.end();
  });
  agent.destroy();
  assert.equal(outcome.length, size);
  assert.equal(outcome.complete, false, `response ended ${outcome.how} with ${outcome.body.length} of ${size} bytes`);
  assert.ok(outcome.body.length < size);
  assert.ok(outcome.body.equals(data.subarray(0, outcome.body.length)), 'the bytes sent are a prefix of the original');
  // The server keeps serving, with the new length and a new tag.
  const after = await request(s.port, { path: '/big.otf' });
  assert.equal(after.status, 200);
  assert.equal(after.body.length, 1000);
  assert.equal(after.headers['content-length'], '1000');
});

test('72 slow downloads at once (more than the 64 pooled read buffers), and aborted ones, all get exact bytes', async (t) => {
  const tree = makeTree({ huge: true });
  const s = await start({ root: tree.root });
  t.after(async () => {
    await s.server.shutdown(100);
    rmSync(tree.base, { recursive: true, force: true });
  });
  // Each client waits before reading, so every response holds its read buffer at once: the server
  // runs out of pooled buffers and streams the rest with fresh ones. Some clients abort midway,
  // which must give their buffers back only once no read can still land in them.
  const burst = () =>
    Promise.all(
      Array.from({ length: 72 }, (_, i) =>
        new Promise((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: s.port, path: '/fonts/huge.otf', agent: false }, (res) => {
            res.pause();
            const chunks = [];
            setTimeout(() => {
              if (i % 10 === 9) {
                res.once('data', () => req.destroy());
                res.resume();
                req.on('close', () => resolve(null));
                return;
              }
              res.on('data', (c) => chunks.push(c));
              res.on('end', () => resolve(Buffer.concat(chunks)));
              res.resume();
            }, 300);
          });
          req.on('error', (e) => (i % 10 === 9 ? resolve(null) : reject(e)));
          req.end();
        }),
      ),
    );
  const bodies = await burst();
  const complete = bodies.filter((b) => b !== null);
  assert.equal(complete.length, 65);
  for (const b of complete) assert.ok(b.equals(tree.huge), `a body of ${b.length} bytes differs from the file`);
  // The buffers given back are reused without mixing bytes between responses.
  const again = await Promise.all(Array.from({ length: 4 }, () => request(s.port, { path: '/fonts/huge.otf' })));
  for (const r of again) assert.ok(r.body.equals(tree.huge));
});
