// Real-browser tests: Debian's Chromium, driven by playwright-core, loads fonts and fetches across
// origins from a page on http://127.0.0.1:A to xorigin on http://localhost:B (both loopback).
// Outcomes are read inside the page; preflights are counted on the wire, in xorigin's access log.
//
// Needs Chromium (apt-get install -y chromium, or CHROMIUM_PATH=/path/to/chrome). Without it these
// tests are skipped, unless XORIGIN_BROWSER_TESTS=required (set by .ci/run), which makes it a failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { evaluateCors } from '../dist/check/index.js';
import { listeningPort } from './helpers.js';
import { testCertificate } from './transports.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const REQUIRED = process.env.XORIGIN_BROWSER_TESTS === 'required';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

let skip = false;
if (CHROMIUM === undefined || !existsSync(CHROMIUM)) {
  if (REQUIRED) throw new Error('XORIGIN_BROWSER_TESTS=required but no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH');
  // Reported as one skipped suite with this reason; every other test file still runs.
  skip = 'no Chromium: apt-get install -y chromium (or set CHROMIUM_PATH) to run the browser tests';
}

// Hosts for the wildcard-subdomain case, all mapped to loopback inside Chromium only.
const WILD = 'xorigin.test';
const HOST_RULES = `MAP ${WILD} 127.0.0.1, MAP *.${WILD} 127.0.0.1, MAP evil${WILD} 127.0.0.1`;

describe('real browser (Chromium)', { skip }, () => {
  let browser;
  let pagePort;
  let pageServer;
  let root;
  const servers = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--host-resolver-rules=${HOST_RULES}`,
        // Trusts exactly the test certificate (by its public key), not every certificate.
        `--ignore-certificate-errors-spki-list=${testCertificate().spki}`,
      ],
    });
    // The page origin: one blank page.
    pageServer = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>page origin</title><p>page</p>');
    });
    await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
    pagePort = pageServer.address().port;

    root = mkdtempSync(join(tmpdir(), 'xorigin-browser-'));
    mkdirSync(join(root, 'fonts'));
    copyFileSync('example/fonts/xorigin-blocks.ttf', join(root, 'fonts', 'blocks.ttf'));
    copyFileSync('example/fonts/xorigin-blocks.woff2', join(root, 'fonts', 'blocks.woff2'));
    writeFileSync(join(root, 'data.json'), JSON.stringify({ hello: 'fonts' }));
    writeFileSync(join(root, 'bytes.bin'), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256)));
  });

  after(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.shutdown(100)));
    pageServer?.closeAllConnections();
    pageServer?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  const pageOrigin = (host = '127.0.0.1') => `http://${host}:${pagePort}`;

  /**
   * Starts xorigin on the fixture root; its URL uses `localhost`, another origin than the page's.
   * `extra`: more serve() options (`tls` makes it https).
   */
  async function xorigin(cors, extra = {}) {
    const log = [];
    const server = await serve({ root, cors, logFormat: 'json', log: (line) => log.push(JSON.parse(line)), ...extra });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const url = `${server.scheme}://localhost:${server.address().port}`;
    const preflights = (path) => log.filter((l) => l.method === 'OPTIONS' && l.target === path).length;
    return { url, log, preflights };
  }

  /** A fresh browser context (own caches, own preflight cache) with a page on the page origin. */
  async function openPage(origin = pageOrigin()) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return { page, close: () => context.close() };
  }

  /** Loads a font with the FontFace API and measures a string in it against the fallback. */
  function loadFont(page, url) {
    return page.evaluate(async (fontUrl) => {
      const face = new FontFace('Probe', `url(${fontUrl})`);
      try {
        await face.load();
      } catch {
        return { status: face.status, differs: false };
      }
      document.fonts.add(face);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = '40px monospace';
      const fallback = ctx.measureText('Hello, fonts!').width;
      ctx.font = '40px Probe, monospace';
      const probe = ctx.measureText('Hello, fonts!').width;
      return { status: face.status, differs: Math.abs(probe - fallback) > 1, probe, fallback };
    }, url);
  }

  /** fetch() in the page; resolves to the status and chosen response headers, or the error's name. */
  function pageFetch(page, url, init = {}, read = []) {
    return page.evaluate(
      async ({ url, init, read }) => {
        try {
          const r = await fetch(url, init);
          const body = await r.arrayBuffer();
          const headers = Object.fromEntries(read.map((h) => [h, r.headers.get(h)]));
          return { status: r.status, length: body.byteLength, headers };
        } catch (e) {
          return { error: e.name };
        }
      },
      { url, init, read },
    );
  }

  for (const ext of ['ttf', 'woff2']) {
    test(`1. @font-face .${ext} loads and renders under a * policy and an exact-origin policy`, async () => {
      for (const cors of [{ origins: ['*'] }, { origins: [pageOrigin()] }]) {
        const x = await xorigin(cors);
        const { page, close } = await openPage();
        const r = await loadFont(page, `${x.url}/fonts/blocks.${ext}`);
        await close();
        assert.equal(r.status, 'loaded', `policy ${JSON.stringify(cors.origins)}`);
        assert.ok(r.differs, `glyphs must render in the font: ${JSON.stringify(r)}`);
      }
    });
  }

  test('2. the same font from a page origin the policy does not allow does not load', async () => {
    const x = await xorigin({ origins: ['http://127.0.0.1:1'] });
    const { page, close } = await openPage();
    const r = await loadFont(page, `${x.url}/fonts/blocks.woff2`);
    await close();
    assert.equal(r.status, 'error');
  });

  test('3. fetch() GET of JSON: readable when allowed, TypeError when not', async () => {
    const allowed = await xorigin({ origins: [pageOrigin()] });
    const denied = await xorigin({ origins: ['https://elsewhere.example'] });
    const { page, close } = await openPage();
    const ok = await page.evaluate((u) => fetch(u).then((r) => r.json()), `${allowed.url}/data.json`);
    const no = await pageFetch(page, `${denied.url}/data.json`);
    await close();
    assert.deepEqual(ok, { hello: 'fonts' });
    assert.deepEqual(no, { error: 'TypeError' });
  });

  test('4. PUT and DELETE: one preflight each, then the actual request gets a readable 405', async () => {
    const x = await xorigin({ origins: [pageOrigin()], methods: ['PUT', 'DELETE'] });
    const { page, close } = await openPage();
    const put = await pageFetch(page, `${x.url}/data.json`, { method: 'PUT', body: '{}' });
    const del = await pageFetch(page, `${x.url}/bytes.bin`, { method: 'DELETE' });
    await close();
    assert.equal(put.status, 405);
    assert.equal(del.status, 405);
    assert.equal(x.preflights('/data.json'), 1);
    assert.equal(x.preflights('/bytes.bin'), 1);
    assert.equal(x.log.filter((l) => l.method === 'PUT' && l.target === '/data.json').length, 1, 'the actual PUT reached the server');
  });

  test('5. a non-allowed method or header is blocked; Authorization needs listing beside "*"', async () => {
    const x = await xorigin({ origins: [pageOrigin()], methods: ['PUT'], allowedHeaders: ['x-allowed'] });
    const star = await xorigin({ origins: [pageOrigin()], allowedHeaders: ['*'] });
    const starAuth = await xorigin({ origins: [pageOrigin()], allowedHeaders: ['*', 'authorization'] });
    const { page, close } = await openPage();
    const patch = await pageFetch(page, `${x.url}/data.json`, { method: 'PATCH' });
    const badHeader = await pageFetch(page, `${x.url}/data.json`, { headers: { 'X-Other': '1' } });
    const goodHeader = await pageFetch(page, `${x.url}/data.json`, { headers: { 'X-Allowed': '1' } });
    const anyHeader = await pageFetch(page, `${star.url}/data.json`, { headers: { 'X-Whatever': '1' } });
    const auth = await pageFetch(page, `${star.url}/data.json`, { headers: { Authorization: 'Bearer t' } });
    const authListed = await pageFetch(page, `${starAuth.url}/data.json`, { headers: { Authorization: 'Bearer t' } });
    await close();
    assert.deepEqual(patch, { error: 'TypeError' });
    assert.deepEqual(badHeader, { error: 'TypeError' });
    assert.equal(goodHeader.status, 200);
    assert.equal(anyHeader.status, 200);
    assert.deepEqual(auth, { error: 'TypeError' });
    assert.equal(authListed.status, 200);
    assert.equal(x.log.filter((l) => l.method === 'PATCH').length, 0, 'a refused preflight stops the request');
  });

  test('6. an exposed header is readable from script; an unexposed one is not', async () => {
    const x = await xorigin({ origins: [pageOrigin()], exposedHeaders: ['etag'] });
    const { page, close } = await openPage();
    const r = await pageFetch(page, `${x.url}/data.json`, {}, ['etag', 'x-content-type-options', 'accept-ranges', 'content-type']);
    await close();
    assert.match(r.headers.etag, /^"[\w-]+"$/);
    assert.equal(r.headers['x-content-type-options'], null);
    assert.equal(r.headers['accept-ranges'], null);
    assert.equal(r.headers['content-type'], 'application/json'); // safelisted
  });

  test('7. maxAge: two preflighted requests 5.5 s apart cause one preflight; with maxAge -1, two', async () => {
    const cached = await xorigin({ origins: [pageOrigin()], methods: ['PUT'], maxAge: 600 });
    const uncached = await xorigin({ origins: [pageOrigin()], methods: ['PUT'], maxAge: -1 });
    // Both run at once, each in its own context (own preflight cache), so the wait is paid once.
    const twice = async (x) => {
      const { page, close } = await openPage();
      const first = await pageFetch(page, `${x.url}/data.json`, { method: 'PUT' });
      await new Promise((r) => setTimeout(r, 5500)); // beyond Chromium's 5 s default preflight cache
      const second = await pageFetch(page, `${x.url}/data.json`, { method: 'PUT' });
      await close();
      return [first.status, second.status];
    };
    const [a, b] = await Promise.all([twice(cached), twice(uncached)]);
    assert.deepEqual(a, [405, 405]);
    assert.deepEqual(b, [405, 405]);
    assert.equal(cached.preflights('/data.json'), 1);
    assert.equal(uncached.preflights('/data.json'), 2);
  });

  test('8. credentials: "include" succeeds with a credentialed policy, fails without', async () => {
    const withCreds = await xorigin({ origins: [pageOrigin()], credentials: true });
    const without = await xorigin({ origins: [pageOrigin()] });
    const { page, close } = await openPage();
    const ok = await pageFetch(page, `${withCreds.url}/data.json`, { credentials: 'include' });
    const no = await pageFetch(page, `${without.url}/data.json`, { credentials: 'include' });
    const plain = await pageFetch(page, `${without.url}/data.json`);
    await close();
    assert.equal(ok.status, 200);
    assert.deepEqual(no, { error: 'TypeError' });
    assert.equal(plain.status, 200);
  });

  test('9. Origin: null (sandboxed iframe) is refused under an allow-list policy', async () => {
    const list = await xorigin({ origins: [pageOrigin()] });
    const open = await xorigin({ origins: ['*'] });
    const fromSandbox = async (target) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${pageOrigin()}/`);
      // Listen before the frame exists, so its message cannot be missed.
      const waiting = page.evaluate(
        () => new Promise((resolve) => addEventListener('message', (e) => resolve(e.data), { once: true })),
      );
      // A sandboxed frame without allow-same-origin has an opaque origin: its requests send Origin: null.
      await page.evaluate((url) => {
        const f = document.createElement('iframe');
        f.sandbox = 'allow-scripts';
        f.srcdoc = `<script>fetch(${JSON.stringify(url)}).then(r => parent.postMessage('ok ' + r.status, '*'), e => parent.postMessage('error ' + e.name, '*'))</script>`;
        document.body.append(f);
      }, target);
      const result = await waiting;
      await context.close();
      return result;
    };
    assert.equal(await fromSandbox(`${list.url}/data.json`), 'error TypeError');
    // The control: the same frame can read from a * policy, so the refusal above is the policy's.
    assert.equal(await fromSandbox(`${open.url}/data.json`), 'ok 200');
    assert.ok(list.log.some((l) => l.origin === 'null'), 'the request carried Origin: null');
  });

  test('10. Range: bytes=0-99 gets a readable 206 of 100 bytes', async () => {
    const x = await xorigin({ origins: [pageOrigin()], exposedHeaders: ['content-range'] });
    const { page, close } = await openPage();
    const r = await pageFetch(page, `${x.url}/bytes.bin`, { headers: { Range: 'bytes=0-99' } }, ['content-range']);
    await close();
    assert.equal(r.status, 206);
    assert.equal(r.length, 100);
    assert.equal(r.headers['content-range'], 'bytes 0-99/1000');
  });

  test('15. with no exposedHeaders, a script resuming a download reads the ETag, Content-Range and Accept-Ranges', async () => {
    const x = await xorigin({ origins: [pageOrigin()] });
    const { page, close } = await openPage();
    const r = await pageFetch(page, `${x.url}/bytes.bin`, { headers: { Range: 'bytes=100-' } }, ['etag', 'content-range', 'accept-ranges', 'x-content-type-options']);
    await close();
    assert.equal(r.status, 206);
    assert.match(r.headers.etag, /^"[\w-]+"$/);
    assert.equal(r.headers['content-range'], 'bytes 100-999/1000');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['x-content-type-options'], null, 'a header the default does not expose stays unreadable');
  });

  test('11. error statuses are readable cross-origin: 404 is a status, not a CORS error', async () => {
    for (const cors of [{ origins: [pageOrigin()] }, { origins: ['*'] }]) {
      const x = await xorigin(cors);
      const { page, close } = await openPage();
      const r = await pageFetch(page, `${x.url}/no-such-font.woff2`);
      await close();
      assert.equal(r.status, 404);
    }
  });

  test('12. wildcard subdomains: a subdomain page loads the font; the apex and a look-alike do not', async () => {
    const x = await xorigin({ origins: [`http://*.${WILD}:${pagePort}`] });
    const outcome = async (host) => {
      const { page, close } = await openPage(pageOrigin(host));
      const r = await loadFont(page, `${x.url}/fonts/blocks.woff2`);
      await close();
      return r.status;
    };
    assert.equal(await outcome(`app.${WILD}`), 'loaded');
    assert.equal(await outcome(`deep.cdn.${WILD}`), 'loaded');
    assert.equal(await outcome(WILD), 'error');
    assert.equal(await outcome(`evil${WILD}`), 'error');
  });

  test('14. over HTTPS and HTTP/2: the font renders and a preflighted fetch succeeds, both on h2', async () => {
    const c = testCertificate();
    const tls = { cert: c.cert, key: c.key };
    const fonts = await xorigin({ origins: ['*'] }, { tls });
    const api = await xorigin({ origins: [pageOrigin()], allowedHeaders: ['x-probe'], timingAllowOrigin: true }, { tls });
    const { page, close } = await openPage();
    const font = await loadFont(page, `${fonts.url}/fonts/blocks.woff2`);
    const fetched = await pageFetch(page, `${api.url}/data.json`, { headers: { 'x-probe': '1' } });
    // The protocol Chromium used, from Resource Timing (readable: both send Timing-Allow-Origin).
    const protocols = await page.evaluate((urls) => urls.map((u) => performance.getEntriesByName(u)[0]?.nextHopProtocol ?? null), [`${fonts.url}/fonts/blocks.woff2`, `${api.url}/data.json`]);
    await close();
    assert.equal(font.status, 'loaded');
    assert.ok(font.differs, JSON.stringify(font));
    assert.equal(fetched.status, 200, JSON.stringify(fetched));
    assert.equal(api.preflights('/data.json'), 1, 'the custom header made Chromium send a preflight');
    assert.deepEqual(protocols, ['h2', 'h2']);
    assert.ok(api.log.every((l) => l.protocol === 'HTTP/2.0'), JSON.stringify(api.log.map((l) => l.protocol)));
  });

  test('16. from an HTTPS page, a plain-HTTP URL is mixed content: blocked before anything is sent, whatever its CORS headers, as xorigin check says; loopback is not', async () => {
    const c = testCertificate();
    const securePage = await xorigin({ origins: ['*'] }, { tls: { cert: c.cert, key: c.key } });
    const plain = await xorigin({ origins: ['*'] });
    const port = new URL(plain.url).port;
    const { page, close } = await openPage(securePage.url);
    const remote = await pageFetch(page, `http://${WILD}:${port}/data.json`);
    const loopback = await pageFetch(page, `http://localhost:${port}/data.json`);
    await close();
    assert.deepEqual(remote, { error: 'TypeError' });
    assert.equal(loopback.status, 200, JSON.stringify(loopback));
    // Only the loopback request reached the server: the blocked one was never sent.
    assert.equal(plain.log.length, 1, JSON.stringify(plain.log));
    const origin = new URL(securePage.url).origin;
    for (const browserRules of ['standard', 'chromium']) {
      const blocked = evaluateCors({ url: `http://${WILD}:${port}/data.json`, origin, browser: browserRules, responses: [] });
      assert.deepEqual([blocked.verdict, blocked.failedStep], ['blocked', 'request: mixed content']);
      assert.equal(evaluateCors({ url: `http://localhost:${port}/data.json`, origin, browser: browserRules, responses: [{ status: 200, headers: [['Access-Control-Allow-Origin', '*']] }] }).verdict, 'allowed');
    }
  });

  test('13. the bundled example (npm start) renders its page with the font from the other origin', async (t) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', 'example', '--origin', '*', '--port', '0', '--log', '--log-format', 'json', '--etag-cache', 'off'], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGTERM'));
    const seen = { out: '' };
    const port = await listeningPort(child, seen);
    const context = await browser.newContext({ viewport: { width: 900, height: 500 } });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('body[data-font]', { timeout: 10_000 });
    const state = await page.evaluate(() => ({
      font: document.body.dataset.font,
      fontOrigin: document.getElementById('font-origin').textContent,
      status: document.getElementById('status').textContent,
    }));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'example.png') });
    await context.close();
    assert.equal(state.font, 'loaded', state.status);
    assert.equal(state.fontOrigin, `http://localhost:${port}`);
    // The access log shows the font fetched cross-origin, as WOFF2, from the page's origin.
    const entries = seen.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    assert.ok(
      entries.some((e) => e.method === 'GET' && e.target === '/fonts/xorigin-blocks.woff2' && e.status === 200 && e.origin === `http://127.0.0.1:${port}`),
      seen.out,
    );
  });
});
