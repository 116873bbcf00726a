// The differential proof: for every case in test/check-corpus.js, the real browser's outcome (does
// fetch() resolve or reject; which response headers script can read; did a preflight go on the
// wire) must equal evaluateCors's under that browser's rules, as `xorigin check` computes it in
// process (every case) and as the command prints it with --json (a subset). Where the standard's
// verdict differs from the browser's, the case is listed in DEVIATIONS below, so the difference is
// recorded, not hidden.
//
// Page on http://127.0.0.1:A, the scriptable server on http://127.0.0.1:B, a third origin on
// http://127.0.0.1:C for cross-origin redirects. Chromium: Debian's, driven by playwright-core.
// Firefox: Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core.
// Without a browser these tests are skipped, unless XORIGIN_BROWSER_TESTS=required (.ci/run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { CASES } from './check-corpus.js';
import { checkCors } from '../dist/cli/check.js';

const REQUIRED = process.env.XORIGIN_BROWSER_TESTS === 'required';
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const FIREFOX = process.env.FIREFOX_PATH ?? ['/usr/bin/firefox-esr', '/usr/bin/firefox'].find((p) => existsSync(p));
const FONT = readFileSync('example/fonts/xorigin-blocks.ttf');

/**
 * Where the Fetch standard and the browser disagree on a case (verdict or preflight), found by this
 * test. Each entry: case -> what differs. The README's "known browser deviations" says the same.
 */
export const DEVIATIONS = {
  chromium: {
    'auth-star': 'chromium: allowed, preflight; standard: blocked, preflight',
    'accept-language-twice': 'chromium: blocked, preflight; standard: allowed, no preflight',
    'client-hint-dpr': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-width': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-save-data': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-viewport-width': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-device-memory': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-rtt': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-downlink': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-ect': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'intervention': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'range-bytes-capitalised': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'range-plus-sign': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'range-int64-max-plus-1': 'chromium: blocked, preflight; standard: allowed, no preflight',
    'range-uint64-max-plus-1': 'chromium: blocked, preflight; standard: allowed, no preflight',
    'user-agent': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'redirect-empty-location': 'chromium: allowed, no preflight; standard: blocked, no preflight',
    'redirect-two-same-location': 'chromium: allowed, no preflight; standard: blocked, no preflight',
    'redirect-two-empty-location': 'chromium: allowed, no preflight; standard: blocked, no preflight',
    'private-network-request-header': 'chromium: allowed, no preflight; standard: blocked, preflight',
    'client-hint-dpr-invalid-redirect': 'chromium: allowed, preflight; standard: blocked, preflight',
    'two-different-location-on-200': 'chromium: blocked, no preflight; standard: allowed, no preflight',
    'two-different-content-disposition': 'chromium: blocked, no preflight; standard: allowed, no preflight',
    'preflight-two-different-location': 'chromium: blocked, preflight; standard: allowed, preflight',
    'content-disposition-comma-in-one-line': 'chromium: blocked, no preflight; standard: allowed, no preflight',
    'font-300': 'chromium: allowed, no preflight; standard: blocked, no preflight',
    'font-302-without-location': 'chromium: allowed, no preflight; standard: blocked, no preflight',
    'font-399': 'chromium: allowed, no preflight; standard: blocked, no preflight',
  },

  firefox: {
    'auth-star': 'firefox: allowed, preflight; standard: blocked, preflight',
    'safelisted-over-1024': 'firefox: allowed, no preflight; standard: blocked, preflight',
    'redirect-303-put-becomes-get': 'firefox: blocked, preflight; standard: allowed, preflight',
    'range-uint64-max-plus-1': 'firefox: blocked, preflight; standard: allowed, no preflight',
    'accept-latin1-byte': 'firefox: blocked, preflight; standard: allowed, no preflight',
    'ct-latin1-byte-in-parameter': 'firefox: blocked, preflight; standard: allowed, no preflight',
    'cred-acac-true-and-empty': 'firefox: allowed, no preflight; standard: blocked, no preflight',
    'cred-acac-empty-and-true': 'firefox: allowed, no preflight; standard: blocked, no preflight',
    'redirect-cross-put-null-preflight': 'firefox: blocked, preflight; standard: allowed, preflight',
    'redirect-cross-put-page-preflight-null-actual': 'firefox: allowed, preflight; standard: blocked, preflight',
    'redirect-two-same-location': 'firefox: allowed, no preflight; standard: blocked, no preflight',
    'two-different-location-on-200': 'firefox: blocked, no preflight; standard: allowed, no preflight',
    'two-different-content-disposition': 'firefox: blocked, no preflight; standard: allowed, no preflight',
    'preflight-two-different-location': 'firefox: blocked, preflight; standard: allowed, preflight',
    'content-disposition-same-value-split': 'firefox: blocked, no preflight; standard: allowed, no preflight',
  },
};

function skipReason(name, path, hint) {
  if (path !== undefined && existsSync(path)) return false;
  if (REQUIRED) throw new Error(`XORIGIN_BROWSER_TESTS=required but no ${name} found: ${hint}`);
  return `no ${name}: ${hint}`;
}

/** Names compared: node:http's own connection headers depend on the client's keep-alive, not on CORS. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);
const comparable = (names) => names.filter((n) => !HOP.has(n)).sort();

/** The scriptable servers (B and C), the page server (A), and the preflights each case caused. */
async function startServers() {
  const hits = [];
  const listen = (handler) =>
    new Promise((resolve) => {
      const s = http.createServer(handler);
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
  const page = await listen((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>page</title>');
  });
  const origins = {};
  const subst = (v, path) =>
    v.replaceAll('{PAGE}', origins.page).replaceAll('{PAGEPORT}', String(page.address().port))
      .replaceAll('{API}', origins.api).replaceAll('{OTHER}', origins.other).replaceAll('{PATH}', path);
  const handler = (req, res) => {
    const m = /^\/c\/([\w-]+)(\/target)?$/.exec(req.url);
    hits.push({ method: req.method, url: req.url, host: req.headers.host });
    const c = m && CASES[m[1]];
    const route = c?.routes[m[2] ?? ''];
    const answer = route && (req.method === 'OPTIONS' ? route.preflight : route.actual);
    if (!answer) {
      res.writeHead(404, { 'content-length': '0' });
      return res.end();
    }
    const path = `/c/${m[1]}`;
    const flat = [];
    for (const [n, v] of answer.headers) flat.push(n, subst(v, path));
    const body = answer.status === 204 || answer.status === 304 || req.method === 'OPTIONS' || req.method === 'HEAD' ? null : c.request.as === 'font' ? FONT : Buffer.from('ok');
    if (body !== null) flat.push('Content-Length', String(body.length));
    res.writeHead(answer.status, flat);
    res.end(body ?? undefined);
  };
  const api = await listen(handler);
  const other = await listen(handler);
  origins.page = `http://127.0.0.1:${page.address().port}`;
  origins.api = `http://127.0.0.1:${api.address().port}`;
  origins.other = `http://127.0.0.1:${other.address().port}`;
  const close = () => {
    for (const s of [page, api, other]) {
      s.closeAllConnections();
      s.close();
    }
  };
  return { origins, hits, close };
}

/** Runs one case in a page: fetch() or a FontFace load. Returns { allowed, status, readable }. */
function inPage(evaluate, url, request, id) {
  return evaluate(
    async ({ url, request, id }) => {
      if (request.as === 'font') {
        const face = new FontFace(`f${id.replace(/\W/g, '')}`, `url(${url})`);
        try {
          await face.load();
          return { allowed: true, status: null, readable: [] };
        } catch {
          return { allowed: false, status: null, readable: [] };
        }
      }
      try {
        const init = { method: request.method ?? 'GET', headers: request.headers ?? [], credentials: request.credentials ?? 'same-origin', mode: 'cors' };
        const r = await fetch(url, init);
        await r.arrayBuffer();
        return { allowed: true, status: r.status, readable: [...r.headers.keys()] };
      } catch (e) {
        return { allowed: false, status: null, readable: [], error: String(e) };
      }
    },
    { url, request, id },
  );
}

/** What evaluateCors (through `xorigin check`'s in-process entry) says for a case, in the browser's terms. */
async function predicted(origins, id, browser) {
  const c = CASES[id];
  const { all } = await checkCors({ url: `${origins.api}/c/${id}`, origin: origins.page, ...c.request, browser, timeoutMs: 5000 });
  const shape = (v) => ({
    allowed: v.verdict === 'allowed',
    status: v.verdict === 'allowed' && c.request.as !== 'font' ? v.status : null,
    readable: v.verdict === 'allowed' && c.request.as !== 'font' ? comparable([...v.readable]) : [],
    preflight: v.preflight,
  });
  return { mine: shape(all[browser]), standard: shape(all.standard), verdict: all[browser] };
}

function cliJson(origins, id, browser) {
  const c = CASES[id];
  const args = ['dist/cli/main.js', 'check', `${origins.api}/c/${id}`, '--origin', origins.page, '--browser', browser, '--json'];
  if (c.request.method) args.push('--method', c.request.method);
  for (const [n, v] of c.request.headers ?? []) args.push('--header', `${n}: ${v}`);
  if (c.request.credentials) args.push('--credentials', c.request.credentials);
  if (c.request.as) args.push('--as', c.request.as);
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: 20000 }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : error.code, json: stdout ? JSON.parse(stdout) : null, stderr }));
  });
}

/**
 * Runs the whole corpus against one browser: `newPage()` returns { evaluate, close }. Returns the
 * mismatches (browser vs model) and the deviations (standard vs browser) found.
 */
async function runCorpus(t, browser, newPage) {
  const servers = await startServers();
  const mismatches = [];
  const deviations = {};
  const rows = [];
  try {
    const { evaluate, close } = await newPage(`${servers.origins.page}/`);
    try {
      for (const id of Object.keys(CASES)) {
        const before = servers.hits.length;
        const seen = await inPage(evaluate, `${servers.origins.api}/c/${id}`, CASES[id].request, id);
        const preflight = servers.hits.slice(before).some((h) => h.method === 'OPTIONS');
        const actual = { allowed: seen.allowed, status: seen.status, readable: comparable(seen.readable), preflight };
        const { mine, standard, verdict } = await predicted(servers.origins, id, browser);
        rows.push({ id, browser: actual, model: mine, standard });
        if (JSON.stringify(actual) !== JSON.stringify(mine)) mismatches.push({ id, browser: actual, model: mine, reason: verdict.reason, error: seen.error, wire: servers.hits.slice(before).map((h) => `${h.method} ${h.url}`).join(', ') });
        if (standard.allowed !== actual.allowed || standard.preflight !== actual.preflight) {
          deviations[id] = `${browser}: ${actual.allowed ? 'allowed' : 'blocked'}${actual.preflight ? ', preflight' : ', no preflight'}; standard: ${standard.allowed ? 'allowed' : 'blocked'}${standard.preflight ? ', preflight' : ', no preflight'}`;
        }
      }
    } finally {
      await close();
    }
    // The command itself, on a subset (every fifth case): the same verdict and preflight, exit 0/1.
    const ids = Object.keys(CASES).filter((_, i) => i % 5 === 0);
    for (const id of ids) {
      const row = rows.find((r) => r.id === id);
      const out = await cliJson(servers.origins, id, browser);
      const got = { code: out.code, verdict: out.json?.verdict, preflight: out.json?.preflight };
      const want = { code: row.browser.allowed ? 0 : 1, verdict: row.browser.allowed ? 'allowed' : 'blocked', preflight: row.browser.preflight };
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ id, browser: want, model: got, reason: `xorigin check --json ${out.stderr}` });
    }
    t.diagnostic(`${browser}: ${rows.length} cases, ${ids.length} also through the command; ${Object.keys(deviations).length} differ from the standard`);
  } finally {
    servers.close();
  }
  return { mismatches, deviations, rows };
}

/**
 * The preflight cache, which one fetch cannot show: for each Access-Control-Max-Age (one or two
 * lines), the page sends the same PUT twice; the second sends a preflight exactly when
 * evaluateCors's maxAge under that browser's rules is 0. Three PUTs to other URLs go first: a fresh
 * Firefox context did not cache its first two preflights, even with a valid Max-Age.
 */
/** Request headers that make a request conditional (RFC 9110 §13.1), each sent with one PUT pair. */
const CONDITIONAL = [['If-None-Match', '"e"'], ['If-Modified-Since', 'Sat, 01 Jan 2000 00:00:00 GMT'], ['If-Match', '"e"'], ['If-Unmodified-Since', 'Sat, 01 Jan 2000 00:00:00 GMT'], ['If-Range', '"e"']];
const MAX_AGES = [['5'], ['0'], ['-1'], ['-0'], ['1.5'], ['abc'], [''], ['+5'], [' 5'], ['05'], ['5, 5'], ['1e3'], [], ['5', '5'], ['5', '']];
async function runMaxAges(browser, newPage) {
  const hits = [];
  const listen = (handler) => new Promise((resolve) => {
    const s = http.createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const page = await listen((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>'));
  const pageOrigin = `http://127.0.0.1:${page.address().port}`;
  const api = await listen((req, res) => {
    const i = /^\/m\/([wc]?\d+)$/.exec(req.url)?.[1];
    hits.push({ i, method: req.method });
    const flat = ['Access-Control-Allow-Origin', pageOrigin, 'Access-Control-Allow-Methods', 'PUT', 'Access-Control-Allow-Headers', [...CONDITIONAL.map(([n]) => n), 'X-Token'].join(', ')];
    if (req.method === 'OPTIONS' && i !== undefined && !i.startsWith('w')) for (const v of i.startsWith('c') ? ['600'] : MAX_AGES[Number(i)]) flat.push('Access-Control-Max-Age', v);
    res.writeHead(req.method === 'OPTIONS' ? 204 : 200, flat).end();
  });
  const base = `http://127.0.0.1:${api.address().port}/m/`;
  const rows = [];
  const { evaluate, close } = await newPage(`${pageOrigin}/`);
  try {
    const twice = (url) => evaluate(async (u) => {
      for (let k = 0; k < 2; k++) await (await fetch(u, { method: 'PUT' })).text();
    }, url);
    for (const w of ['w0', 'w1', 'w2']) await twice(base + w);
    for (const [i, lines] of MAX_AGES.entries()) {
      await twice(base + i);
      const sent = hits.filter((h) => h.i === String(i) && h.method === 'OPTIONS').length;
      const { all } = await checkCors({ url: base + i, origin: pageOrigin, method: 'PUT', browser, timeoutMs: 5000 });
      rows.push({ lines, preflights: sent, expected: all[browser].maxAge > 0 ? 1 : 2, maxAge: all[browser].maxAge });
    }
    // A conditional request (and a control with a plain custom header), Max-Age 600.
    for (const [k, header] of [...CONDITIONAL, ['X-Token', 'x']].entries()) {
      const url = `${base}c${k}`;
      await evaluate(async ([u, h]) => {
        for (let n = 0; n < 2; n++) await (await fetch(u, { method: 'PUT', headers: [h] })).text();
      }, [url, header]);
      const sent = hits.filter((h) => h.i === `c${k}` && h.method === 'OPTIONS').length;
      const { all } = await checkCors({ url, origin: pageOrigin, method: 'PUT', headers: [header], browser, timeoutMs: 5000 });
      rows.push({ lines: [`600, with ${header[0]}`], preflights: sent, expected: all[browser].maxAge > 0 ? 1 : 2, maxAge: all[browser].maxAge });
    }
  } finally {
    await close();
    for (const s of [page, api]) {
      s.closeAllConnections();
      s.close();
    }
  }
  return rows;
}

const maxAgeReport = (rows) => rows.filter((r) => r.preflights !== r.expected).map((r) => `Access-Control-Max-Age ${JSON.stringify(r.lines)}: ${r.preflights} preflights for two fetches, the model's maxAge ${r.maxAge}`).join('\n');

const report = (mismatches) => mismatches.map((m) => `${m.id}: browser ${JSON.stringify(m.browser)} model ${JSON.stringify(m.model)} (${m.reason ?? ''}${m.error ? `; ${m.error}` : ''}${m.wire ? `; on the wire: ${m.wire}` : ''})`).join('\n');

test('the corpus has at least 60 cases', () => {
  assert.ok(Object.keys(CASES).length >= 60);
});

const chromiumSkip = skipReason('Chromium', CHROMIUM, 'apt-get install -y chromium (or set CHROMIUM_PATH)');
describe('xorigin check agrees with Chromium', { skip: chromiumSkip }, () => {
  let browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  after(() => browser?.close());
  const newPage = async (url) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    return { evaluate: (fn, arg) => page.evaluate(fn, arg), close: () => context.close() };
  };

  test('every case: fetch outcome, readable headers and preflight equal evaluateCors(chromium) and xorigin check --browser chromium', async (t) => {
    const { mismatches, deviations } = await runCorpus(t, 'chromium', newPage);
    assert.equal(mismatches.length, 0, `Chromium and the model disagree:\n${report(mismatches)}`);
    assert.deepEqual(deviations, DEVIATIONS.chromium, 'the standard-vs-Chromium differences, as recorded');
  });

  test('the preflight cache: a second PUT is preflighted again exactly when evaluateCors(chromium) says maxAge 0', async () => {
    const rows = await runMaxAges('chromium', newPage);
    assert.equal(maxAgeReport(rows), '');
    assert.ok(rows.some((r) => r.preflights === 2) && rows.some((r) => r.preflights === 1), JSON.stringify(rows));
  });
});

const firefoxSkip = skipReason('Firefox', FIREFOX, 'apt-get install -y firefox-esr (or set FIREFOX_PATH)');
describe('xorigin check agrees with Firefox (WebDriver BiDi)', { skip: firefoxSkip }, () => {
  let browser;
  before(async () => {
    const { default: puppeteer } = await import('puppeteer-core');
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, protocol: 'webDriverBiDi' });
  });
  after(() => browser?.close());
  const newPage = async (url) => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(url);
    return { evaluate: (fn, arg) => page.evaluate(fn, arg), close: () => context.close() };
  };

  test('every case: fetch outcome, readable headers and preflight equal evaluateCors(firefox) and xorigin check --browser firefox', async (t) => {
    const { mismatches, deviations } = await runCorpus(t, 'firefox', newPage);
    assert.equal(mismatches.length, 0, `Firefox and the model disagree:\n${report(mismatches)}`);
    assert.deepEqual(deviations, DEVIATIONS.firefox, 'the standard-vs-Firefox differences, as recorded');
  });

  test('the preflight cache: a second PUT is preflighted again exactly when evaluateCors(firefox) says maxAge 0', async () => {
    const rows = await runMaxAges('firefox', newPage);
    assert.equal(maxAgeReport(rows), '');
    assert.ok(rows.some((r) => r.preflights === 2) && rows.some((r) => r.preflights === 1), JSON.stringify(rows));
  });
});
