// One policy, every face: the same request through node:http (`handle`), Express (`middleware`),
// Fastify (the plugin), the Fetch face (withCors around Hono over sockets, and around a bare
// `new Request`) and the file server must get the same CORS answer. Table-driven: each row is a
// request; each face's status (for preflights) and CORS headers are compared with the file
// server's, and the rows that matter most also with the answer the Fetch standard calls for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve as honoServe } from '@hono/node-server';
import { createCors, serve } from '../dist/index.js';
import { withCors } from '../dist/cors/fetch.js';
import xoriginCors from '../dist/cors/fastify.js';
import { listen, request } from './helpers.js';

const APP = 'https://app.example.com';
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
/** What is compared: the CORS headers and Vary. Timing-Allow-Origin is set explicitly in every policy. */
const CORS_HEADER = /^(access-control-|vary$|timing-allow-origin$)/;

const pf = (origin, method, requestHeaders) => {
  const h = ['Origin', origin, 'Access-Control-Request-Method', method];
  if (requestHeaders !== undefined) h.push('Access-Control-Request-Headers', requestHeaders);
  return h;
};

// [name, method, raw header list (name, value, ...)]. Only GET and OPTIONS: the file server answers
// nothing else with its file, and every face must see the same resource.
const ROWS = [
  ['allowed origin', 'GET', ['Origin', APP]],
  ['subdomain pattern', 'GET', ['Origin', 'https://a.b.example.org']],
  ['any-port pattern', 'GET', ['Origin', 'http://localhost:5173']],
  ['IPv6 origin', 'GET', ['Origin', 'http://[::1]:8080']],
  ['apex of a subdomain pattern', 'GET', ['Origin', 'https://example.org']],
  ['look-alike suffix', 'GET', ['Origin', 'https://evil-example.org']],
  ['allowed origin as a prefix', 'GET', ['Origin', `${APP}.evil.example`]],
  ['upper-case origin', 'GET', ['Origin', 'HTTPS://APP.EXAMPLE.COM']],
  ['default port spelled out', 'GET', ['Origin', `${APP}:443`]],
  ['trailing slash', 'GET', ['Origin', `${APP}/`]],
  ['null origin', 'GET', ['Origin', 'null']],
  ['two Origin lines', 'GET', ['Origin', APP, 'Origin', APP]],
  ['an Origin list in one line', 'GET', ['Origin', `${APP}, https://b.example.org`]],
  ['no Origin', 'GET', []],
  ['preflight: allowed', 'OPTIONS', pf(APP, 'PUT', 'x-a,content-type')],
  ['preflight: safelisted method, no list', 'OPTIONS', pf(APP, 'GET')],
  ['preflight: method in the wrong case', 'OPTIONS', pf(APP, 'put')],
  ['preflight: method not allowed', 'OPTIONS', pf(APP, 'DELETE')],
  ['preflight: header list with OWS, empties, duplicates, upper case', 'OPTIONS', pf(APP, 'GET', ' X-A , ,content-type,x-a ')],
  ['preflight: header not allowed', 'OPTIONS', pf(APP, 'GET', 'x-a,x-b')],
  ['preflight: authorization', 'OPTIONS', pf(APP, 'GET', 'authorization')],
  ['preflight: empty header list', 'OPTIONS', pf(APP, 'GET', '')],
  ['preflight: origin refused', 'OPTIONS', pf('https://evil.example', 'GET')],
  ['preflight: null origin', 'OPTIONS', pf('null', 'GET')],
  ['preflight: forbidden method', 'OPTIONS', pf(APP, 'TRACE')],
];

const POLICIES = {
  'allow-list with credentials': {
    origins: [APP, 'https://*.example.org', 'http://localhost:*', 'http://[::1]:8080'],
    methods: ['PUT', 'PATCH'],
    allowedHeaders: ['x-a', 'content-type'],
    exposedHeaders: ['x-request-id'],
    credentials: true,
    maxAge: 600,
    timingAllowOrigin: true,
  },
  '"*" policy': {
    origins: ['*'],
    methods: ['*'],
    allowedHeaders: ['*'],
    exposedHeaders: ['*'],
    timingAllowOrigin: true,
    preflightStatus: 200,
  },
  'allow-list, "*" methods and headers, with credentials (echoed)': {
    origins: [APP],
    methods: ['*'],
    allowedHeaders: ['*', 'authorization'],
    exposedHeaders: [], // the file server's default list is for it alone: say none, as the others have
    credentials: true,
    timingAllowOrigin: true,
  },
};

// What the Fetch standard calls for, for the rows where one value decides a browser's verdict.
const EXPECTED = {
  'allow-list with credentials': {
    'allowed origin': { 'access-control-allow-origin': APP, 'access-control-allow-credentials': 'true', vary: 'Origin' },
    'two Origin lines': { 'access-control-allow-origin': undefined, vary: 'Origin' },
    'upper-case origin': { 'access-control-allow-origin': undefined, vary: 'Origin' },
    'no Origin': { 'access-control-allow-origin': undefined, vary: 'Origin' },
    'preflight: allowed': { status: 204, 'access-control-allow-methods': 'PUT, PATCH', 'access-control-allow-headers': 'x-a, content-type', vary: PREFLIGHT_VARY },
    'preflight: method in the wrong case': { status: 403, 'access-control-allow-origin': undefined },
    'preflight: authorization': { status: 403, 'access-control-allow-origin': undefined },
  },
  '"*" policy': {
    'no Origin': { 'access-control-allow-origin': '*', vary: undefined },
    'null origin': { 'access-control-allow-origin': '*', vary: undefined },
    'preflight: null origin': { status: 200, 'access-control-allow-origin': '*', 'access-control-allow-methods': '*' },
    'preflight: authorization': { status: 403, 'access-control-allow-origin': undefined },
    'preflight: forbidden method': { status: 403, 'access-control-allow-origin': undefined },
  },
  'allow-list, "*" methods and headers, with credentials (echoed)': {
    'preflight: allowed': { status: 204, 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'x-a,content-type' },
    'preflight: authorization': { status: 204, 'access-control-allow-headers': 'authorization' },
    'preflight: empty header list': { status: 204, 'access-control-allow-headers': undefined },
  },
};

/** The CORS part of a response: its headers, and its status when it answers a preflight. */
function corsOf(status, entries, preflight) {
  const out = {};
  for (const [name, value] of entries) if (CORS_HEADER.test(name)) out[name] = value;
  const sorted = Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  return preflight ? { status, ...sorted } : sorted;
}

/** Starts every face under `policy`: a map from face name to `(method, rawHeaders) => corsOf(...)`. */
async function startFaces(policy, root, closers) {
  const overSocket = (port) => async (method, raw) => {
    // A raw header list is sent as it is: node:http adds no Host to it.
    const res = await request(port, { method, path: '/a.txt', headers: ['Host', `127.0.0.1:${port}`, ...raw] });
    return corsOf(res.status, Object.entries(res.headers), method === 'OPTIONS');
  };
  const cors = createCors(policy);
  const plain = await listen((req, res) => cors.handle(req, res) || res.end('hello'));
  const app = express();
  app.use(createCors(policy).middleware);
  app.get('/a.txt', (req, res) => res.send('hello'));
  const viaExpress = await listen(app);
  const fastify = Fastify();
  await fastify.register(xoriginCors, policy);
  fastify.get('/a.txt', async () => 'hello');
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const hono = new Hono();
  hono.get('/a.txt', (c) => c.text('hello'));
  const handler = withCors(policy, hono.fetch);
  const honoServer = honoServe({ fetch: handler, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => honoServer.once('listening', resolve));
  const files = await serve({ root, cors: policy, watch: false, crossOriginResourcePolicy: false });
  await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
  closers.push(plain.close, viaExpress.close, () => fastify.close(), () => new Promise((r) => honoServer.close(r)), () => files.shutdown(100));
  const bareFetch = async (method, raw) => {
    const headers = new Headers();
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    const res = await handler(new Request('http://127.0.0.1/a.txt', { method, headers }));
    return corsOf(res.status, [...res.headers], method === 'OPTIONS');
  };
  return {
    'file server': overSocket(files.address().port),
    'node:http handle': overSocket(plain.port),
    express: overSocket(viaExpress.port),
    fastify: overSocket(fastify.server.address().port),
    'withCors + Hono': overSocket(honoServer.address().port),
    'withCors + new Request': bareFetch,
  };
}

for (const [policyName, policy] of Object.entries(POLICIES)) {
  describe(`every face answers alike: ${policyName}`, () => {
    const closers = [];
    let root;
    let faces;
    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'xorigin-faces-'));
      writeFileSync(join(root, 'a.txt'), 'hello');
      faces = await startFaces(policy, root, closers);
    });
    after(async () => {
      await Promise.all(closers.map((close) => close()));
      rmSync(root, { recursive: true, force: true });
    });

    for (const [rowName, method, raw] of ROWS) {
      test(`${method} ${rowName}`, async () => {
        const answers = {};
        for (const [face, ask] of Object.entries(faces)) answers[face] = await ask(method, raw);
        const reference = answers['file server'];
        for (const [face, got] of Object.entries(answers)) {
          assert.deepEqual(got, reference, `${face} differs from the file server for ${rowName}`);
        }
        const expected = EXPECTED[policyName][rowName] ?? {};
        for (const [key, value] of Object.entries(expected)) {
          assert.equal(reference[key], value, `${key} for ${rowName}`);
        }
      });
    }
  });
}

// An app-wide CORS layer in front (expressjs/cors#167: a permissive cors() before a strict route's) or
// inside (a framework's own CORS middleware under withCors): each face's answer carries its own policy's
// CORS headers alone, so a refused origin is not let through by the other layer's '*', and an
// allowed one gets no credentials this policy does not grant.
describe('another CORS layer\'s grant is removed before the policy applies', () => {
  const STRICT = { origins: [APP] };
  const GRANT = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': 'x-secret' };
  const setGrant = (set) => { for (const [n, v] of Object.entries(GRANT)) set(n, v); };
  const faces = {};
  const closers = [];
  before(async () => {
    const strict = createCors(STRICT);
    const plain = await listen((req, res) => {
      setGrant((n, v) => res.setHeader(n, v));
      if (!strict.handle(req, res)) res.end('x');
    });
    const app = express();
    app.use((req, res, next) => (setGrant((n, v) => res.set(n, v)), next()));
    app.get('/', strict.middleware, (req, res) => res.send('x'));
    app.options('/', strict.middleware);
    const viaExpress = await listen(app);
    const fastify = Fastify();
    fastify.addHook('onRequest', async (req, reply) => setGrant((n, v) => reply.header(n, v)));
    await fastify.register(xoriginCors, STRICT);
    fastify.get('/', async () => 'x');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const hono = new Hono();
    hono.get('/', (c) => (setGrant((n, v) => c.header(n, v)), c.text('x')));
    const fetchFace = withCors(STRICT, hono.fetch);
    closers.push(plain.close, viaExpress.close, () => fastify.close());
    faces['node:http handle'] = (headers, method) => request(plain.port, { method, headers });
    faces.Express = (headers, method) => request(viaExpress.port, { method, headers });
    faces.Fastify = (headers, method) => request(fastify.server.address().port, { method, headers });
    faces.withCors = async (headers, method) => {
      const res = await fetchFace(new Request('http://x.test/', { method, headers }));
      return { status: res.status, headers: Object.fromEntries(res.headers) };
    };
  });
  after(async () => {
    for (const close of closers) await close();
  });

  for (const face of ['node:http handle', 'Express', 'Fastify', 'withCors']) {
    test(face, async () => {
      const allowed = await faces[face]({ Origin: APP }, 'GET');
      assert.equal(allowed.headers['access-control-allow-origin'], APP);
      const refused = await faces[face]({ Origin: 'https://evil.example' }, 'GET');
      for (const res of [allowed, refused]) {
        assert.equal(res.status, 200);
        assert.equal(res.headers['access-control-allow-credentials'], undefined);
        assert.equal(res.headers['access-control-expose-headers'], undefined);
      }
      assert.equal(refused.headers['access-control-allow-origin'], undefined);
      if (face === 'withCors') return; // a preflight never reaches the handler inside
      const preflight = await faces[face]({ Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' }, 'OPTIONS');
      assert.equal(preflight.status, 403);
      assert.deepEqual(Object.keys(preflight.headers).filter((n) => n.startsWith('access-control-')), []);
    });
  }

  test('a header the app sets alone on an actual response, granting no reader (Access-Control-Expose-Headers), is left to it', async () => {
    const strict = createCors(STRICT);
    const s = await listen((req, res) => {
      res.setHeader('Access-Control-Expose-Headers', 'x-total');
      if (!strict.handle(req, res)) res.end('x');
    });
    try {
      const res = await request(s.port, { headers: { Origin: APP } });
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(res.headers['access-control-expose-headers'], 'x-total');
    } finally {
      await s.close();
    }
  });
});

// A layer in front that sets Access-Control-Allow-Methods or -Allow-Headers (or -Max-Age) and no origin:
// on a preflight's answer they grant by themselves, as the browser caches the methods and header names
// listed there for the Max-Age and sends such requests with no preflight (Fetch §4.9 step 7). So on a
// preflight they go whole, even when this policy's own answer has no such header (attack c25 F1).
describe('on a preflight, another layer\'s Allow-Methods, Allow-Headers and Max-Age go with no origin granted', () => {
  const POLICY = { origins: [APP], methods: ['PUT'], allowedHeaders: [], maxAge: 600 };
  const STRAY = { 'Access-Control-Allow-Methods': 'GET, PUT, DELETE', 'Access-Control-Allow-Headers': '*', 'Access-Control-Max-Age': '86400' };
  const setStray = (set) => { for (const [n, v] of Object.entries(STRAY)) set(n, v); };
  const faces = {};
  const closers = [];
  before(async () => {
    const cors = createCors(POLICY);
    const plain = await listen((req, res) => {
      setStray((n, v) => res.setHeader(n, v));
      if (!cors.handle(req, res)) res.end('x');
    });
    const app = express();
    app.use((req, res, next) => (setStray((n, v) => res.set(n, v)), next()));
    app.use(cors.middleware);
    app.all('/', (req, res) => res.send('x'));
    const viaExpress = await listen(app);
    const fastify = Fastify();
    fastify.addHook('onRequest', async (req, reply) => setStray((n, v) => reply.header(n, v)));
    await fastify.register(xoriginCors, POLICY);
    fastify.all('/', async () => 'x');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    closers.push(plain.close, viaExpress.close, () => fastify.close());
    faces['node:http handle'] = plain.port;
    faces.Express = viaExpress.port;
    faces.Fastify = fastify.server.address().port;
  });
  after(async () => {
    for (const close of closers) await close();
  });
  const preflight = (port, method, requestHeaders) =>
    request(port, { method: 'OPTIONS', headers: { Origin: APP, 'Access-Control-Request-Method': method, ...(requestHeaders ? { 'Access-Control-Request-Headers': requestHeaders } : {}) } });
  const corsNames = (res) => Object.keys(res.headers).filter((n) => n.startsWith('access-control-')).sort();

  for (const face of ['node:http handle', 'Express', 'Fastify']) {
    test(face, async () => {
      const allowed = await preflight(faces[face], 'PUT');
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers['access-control-allow-methods'], 'PUT');
      assert.equal(allowed.headers['access-control-max-age'], '600');
      assert.deepEqual(corsNames(allowed), ['access-control-allow-methods', 'access-control-allow-origin', 'access-control-max-age']);
      // Refused: a header, then a method, the policy does not allow; no Access-Control-* header at all.
      for (const refused of [await preflight(faces[face], 'PUT', 'x-secret'), await preflight(faces[face], 'DELETE')]) {
        assert.equal(refused.status, 403);
        assert.deepEqual(corsNames(refused), []);
      }
    });
  }
});
