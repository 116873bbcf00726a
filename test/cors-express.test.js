// The same compiled policy as Connect/Express middleware, over real sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import express from 'express';
import { createCors } from '../dist/index.js';
import { acHeaders, listen, request } from './helpers.js';
import { oldOnHeaders } from './fixtures/old-on-headers.js';

const APP = 'https://app.example.com';

describe('express middleware', () => {
  let s;
  let routeRuns = 0;
  before(async () => {
    const cors = createCors({ origins: [APP, 'https://*.example.net'], methods: ['PUT', 'DELETE'], allowedHeaders: ['content-type'], credentials: true });
    const app = express();
    app.use((req, res, next) => {
      res.setHeader('Vary', 'Accept-Encoding'); // an earlier middleware, like compression
      res.setHeader('X-Frame-Options', 'DENY');
      next();
    });
    app.use(cors.middleware);
    app.get('/data', (req, res) => {
      routeRuns++;
      res.json({ ok: true });
    });
    app.get('/localized', (req, res) => {
      res.set('Vary', 'Accept-Language'); // replaces the header, as res.set does
      res.send('bonjour');
    });
    app.put('/data', (req, res) => {
      routeRuns++;
      res.status(201).send('created');
    });
    app.options('/data', (req, res) => {
      routeRuns++;
      res.status(200).send('route options');
    });
    s = await listen(app);
  });
  after(() => s.close());

  test('allowed preflight answered by the middleware, routes not run, Vary merged', async () => {
    const before = routeRuns;
    const res = await request(s.port, {
      method: 'OPTIONS',
      path: '/data',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'PUT, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type');
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(res.headers['x-frame-options'], 'DENY', 'headers set earlier survive');
    assert.equal(routeRuns, before);
  });

  test('denied preflight: 403, no Access-Control-*', async () => {
    const res = await request(s.port, {
      method: 'OPTIONS',
      path: '/data',
      headers: { Origin: 'https://evil.example.com', 'Access-Control-Request-Method': 'PUT' },
    });
    assert.equal(res.status, 403);
    assert.deepEqual(acHeaders(res), []);
    assert.equal(res.body.length, 0);
  });

  test('actual GET from an allowed pattern origin: ACAO and credentials, Vary appended', async () => {
    const res = await request(s.port, { path: '/data', headers: { Origin: 'https://eu.example.net' } });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ok: true });
    assert.equal(res.headers['access-control-allow-origin'], 'https://eu.example.net');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
  });

  test('a route that replaces Vary (res.set) still sends Vary: Origin with the echoed origin', async () => {
    const res = await request(s.port, { path: '/localized', headers: { Origin: APP } });
    assert.equal(res.body.toString(), 'bonjour');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers.vary, 'Accept-Language, Origin');
  });

  test('actual PUT from a disallowed origin: the route runs, the response has no Access-Control-*', async () => {
    const res = await request(s.port, { method: 'PUT', path: '/data', headers: { Origin: 'https://evil.com' } });
    assert.equal(res.status, 201);
    assert.deepEqual(acHeaders(res), []);
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
  });

  test('a plain OPTIONS reaches the route', async () => {
    const res = await request(s.port, { method: 'OPTIONS', path: '/data', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'route options');
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });

  test('a 404 from Express carries the CORS headers', async () => {
    const res = await request(s.port, { path: '/missing', headers: { Origin: APP } });
    assert.equal(res.status, 404);
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });
});

/** An allowed preflight for PUT with content-type, from APP, to `port`. */
const preflightTo = (port) => request(port, { method: 'OPTIONS', path: '/data', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' } });

/** A writeHead over `node` that reads a header array as [name, value] pairs (on-headers < 1.1.0 did). */
const pairsReading = (node) => function writeHead(status, headers) {
  if (Array.isArray(headers)) for (const pair of headers) this.setHeader(pair[0], pair[1]);
  return node.call(this, status);
};

/** The preflight's answer has every header of the policy's grant, and none a pairs reading makes. */
function assertWholeGrant(res) {
  assert.equal(res.status, 204);
  assert.equal(res.headers['access-control-allow-origin'], APP);
  assert.equal(res.headers['access-control-allow-methods'], 'PUT');
  assert.equal(res.headers['access-control-allow-headers'], 'content-type');
  assert.deepEqual(Object.keys(res.headers).filter((name) => name.length === 1), []);
}

test('a writeHead an app sets on its response prototype after preflights were answered is seen at the next preflight (the check is remembered per prototype)', async () => {
  const cors = createCors({ origins: [APP], methods: ['PUT'], allowedHeaders: ['content-type'] });
  const app = express();
  app.use(cors.middleware);
  const s = await listen(app);
  try {
    for (let i = 0; i < 3; i++) assertWholeGrant(await preflightTo(s.port));
    // Same prototype, another writeHead in effect.
    app.response.writeHead = pairsReading(app.response.writeHead);
    assertWholeGrant(await preflightTo(s.port));
  } finally {
    await s.close();
  }
});

test('a writeHead that reads arrays as pairs set in place of node\'s own, on node:http\'s response prototype: preflights keep every header (review h34)', async () => {
  const cors = createCors({ origins: [APP], methods: ['PUT'], allowedHeaders: ['content-type'] });
  const app = express();
  app.use(cors.middleware);
  const plain = http.createServer((req, res) => cors.handle(req, res) || res.end());
  const servers = [await listen(app), await new Promise((resolve) => plain.listen(0, '127.0.0.1', () => resolve({ port: plain.address().port, close: () => plain.close() })))];
  const node = http.ServerResponse.prototype.writeHead;
  try {
    for (const s of servers) assertWholeGrant(await preflightTo(s.port));
    http.ServerResponse.prototype.writeHead = pairsReading(node);
    for (const s of servers) assertWholeGrant(await preflightTo(s.port));
  } finally {
    http.ServerResponse.prototype.writeHead = node;
    for (const s of servers) await s.close();
  }
});

test('the same writeHead set on node:http\'s response prototype before xorigin is loaded: preflights keep every header (review h34b)', async () => {
  // Taken for node's own when xorigin captured the prototype's writeHead at load. Node's own is the
  // one its deprecated alias writeHeader still names. Import order needs a process of its own.
  const script = `
    import http from 'node:http';
    const node = http.ServerResponse.prototype.writeHead;
    http.ServerResponse.prototype.writeHead = function writeHead(status, headers) {
      if (Array.isArray(headers)) for (const pair of headers) this.setHeader(pair[0], pair[1]);
      return node.call(this, status);
    };
    const { createCors } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    const cors = createCors({ origins: [${JSON.stringify(APP)}], methods: ['PUT'], allowedHeaders: ['content-type'] });
    const server = http.createServer((req, res) => cors.handle(req, res) || res.end());
    server.listen(0, '127.0.0.1', () => {
      const headers = { Origin: ${JSON.stringify(APP)}, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' };
      http.request({ host: '127.0.0.1', port: server.address().port, method: 'OPTIONS', path: '/data', headers }, (res) => {
        res.resume();
        console.log(JSON.stringify({ status: res.statusCode, headers: res.headers }));
        server.close();
      }).end();
    });`;
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  assertWholeGrant(JSON.parse(out));
});

describe('behind a writeHead wrapper that reads an array as [name, value] pairs (on-headers < 1.1.0, under morgan 1.10.0 and others)', () => {
  let s;
  before(async () => {
    const cors = createCors({ origins: [APP], methods: ['PUT'], allowedHeaders: ['content-type'], maxAge: 600 });
    const app = express();
    app.use(oldOnHeaders);
    app.use(cors.middleware);
    app.get('/data', (req, res) => res.json({ ok: true }));
    s = await listen(app);
  });
  after(() => s.close());

  test('an allowed preflight keeps every header of the answer, and no stray one (the flat list was read as pairs)', async () => {
    const res = await request(s.port, {
      method: 'OPTIONS',
      path: '/data',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-methods'], 'PUT');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    const stray = Object.keys(res.headers).filter((name) => name.length === 1);
    assert.deepEqual(stray, []);
  });

  test('a refused preflight: 403 with Vary and no Access-Control-*; an actual request decorated', async () => {
    const refused = await request(s.port, { method: 'OPTIONS', path: '/data', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(acHeaders(refused), []);
    assert.match(refused.headers.vary, /Origin/);
    const actual = await request(s.port, { path: '/data', headers: { Origin: APP } });
    assert.equal(actual.headers['access-control-allow-origin'], APP);
    assert.equal(actual.headers.vary, 'Origin');
  });
});
