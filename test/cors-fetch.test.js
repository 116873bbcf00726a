// xorigin/fetch: withCors around Fetch handlers, under Node's own Request/Response and with a real
// Hono app served over sockets by @hono/node-server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { withCors } from '../dist/cors/fetch.js';
import { PolicyError } from '../dist/cors/index.js';
import { POLICY_CHANGE, acrossChange, assertOneChange, listen, request } from './helpers.js';

const APP = 'https://app.example.com';
const POLICY = { origins: [APP, 'https://*.example.org'], methods: ['PUT'], allowedHeaders: ['content-type'], exposedHeaders: ['x-request-id'] };
const URL_ = 'http://api.test/items';

const get = (origin, init = {}) =>
  new Request(URL_, { ...init, headers: { ...(origin ? { Origin: origin } : {}), ...(init.headers ?? {}) } });
const preflight = (origin, method = 'PUT', headers) =>
  new Request(URL_, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': method, ...(headers ? { 'Access-Control-Request-Headers': headers } : {}) },
  });
const acNames = (res) => [...res.headers.keys()].filter((n) => n.startsWith('access-control-'));

describe('withCors under the Fetch API', () => {
  test('a bad policy throws PolicyError when wrapping, before any request', () => {
    assert.throws(() => withCors({ origins: ['https://app.example.com/'] }, () => new Response()), PolicyError);
  });

  test('a preflight is answered without calling the handler', async () => {
    let calls = 0;
    const h = withCors(POLICY, () => (calls++, new Response('no')));
    const res = await h(preflight(APP, 'PUT', 'content-type'));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.equal(res.headers.get('access-control-allow-methods'), 'PUT');
    assert.equal(res.headers.get('access-control-allow-headers'), 'content-type');
    assert.equal(res.headers.get('vary'), 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(await res.text(), '');
    assert.equal(calls, 0);
  });

  test('a refused preflight is 403 with no Access-Control-* header', async () => {
    const h = withCors(POLICY, () => new Response('no'));
    for (const req of [preflight('https://evil.test'), preflight(APP, 'DELETE'), preflight(APP, 'PUT', 'x-evil')]) {
      const res = await h(req);
      assert.equal(res.status, 403);
      assert.deepEqual(acNames(res), []);
    }
  });

  test('preflightStatus 200 answers 200 with Content-Length: 0', async () => {
    const res = await withCors({ ...POLICY, preflightStatus: 200 }, () => new Response('no'))(preflight(APP));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
  });

  test('an OPTIONS without Access-Control-Request-Method goes to the handler', async () => {
    const h = withCors(POLICY, (req) => new Response(`handled ${req.method}`, { status: 200 }));
    const res = await h(new Request(URL_, { method: 'OPTIONS', headers: { Origin: APP } }));
    assert.equal(await res.text(), 'handled OPTIONS');
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
  });

  test('an actual response keeps its status, body and headers and gains the CORS headers', async () => {
    const h = withCors(POLICY, () => new Response('{"ok":1}', { status: 201, headers: { 'Content-Type': 'application/json', 'X-Request-Id': '7' } }));
    const res = await h(get(APP));
    assert.equal(res.status, 201);
    assert.equal(await res.text(), '{"ok":1}');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.equal(res.headers.get('access-control-expose-headers'), 'x-request-id');
    assert.equal(res.headers.get('vary'), 'Origin');
  });

  test('a disallowed or absent Origin gets Vary: Origin and no Access-Control-* header', async () => {
    const h = withCors(POLICY, () => new Response('x'));
    for (const origin of ['https://evil.test', undefined]) {
      const res = await h(get(origin));
      assert.deepEqual(acNames(res), []);
      assert.equal(res.headers.get('vary'), 'Origin');
    }
  });

  test('the "*" policy: Access-Control-Allow-Origin: * with or without Origin, no Vary', async () => {
    const h = withCors({ origins: ['*'] }, () => new Response('x'));
    for (const origin of [APP, undefined]) {
      const res = await h(get(origin));
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('vary'), null);
    }
  });

  test('Vary is merged into the handler\'s own: appended, never replaced, never duplicated', async () => {
    const cases = [
      ['Accept-Encoding', 'Accept-Encoding, Origin'],
      ['accept-encoding, origin', 'accept-encoding, origin'],
      ['*', '*'],
    ];
    for (const [mine, want] of cases) {
      const res = await withCors(POLICY, () => new Response('x', { headers: { Vary: mine } }))(get(APP));
      assert.equal(res.headers.get('vary'), want, `handler Vary ${mine}`);
    }
  });

  test('a redirect (immutable headers) is copied and keeps status and Location', async () => {
    const h = withCors(POLICY, () => Response.redirect('https://elsewhere.test/x', 307));
    const res = await h(get(APP));
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), 'https://elsewhere.test/x');
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.equal(res.headers.get('vary'), 'Origin');
  });

  test('a fetch()ed response (immutable headers) is copied with its body, status and Vary merged', async () => {
    const upstream = await listen((req, res) => {
      res.writeHead(203, { 'Content-Type': 'text/plain', Vary: 'Accept' });
      res.end('from upstream');
    });
    try {
      const h = withCors(POLICY, () => fetch(`http://127.0.0.1:${upstream.port}/`));
      const res = await h(get('https://a.example.org'));
      assert.equal(res.status, 203);
      assert.equal(await res.text(), 'from upstream');
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://a.example.org');
      assert.equal(res.headers.get('vary'), 'Accept, Origin');
    } finally {
      await upstream.close();
    }
  });

  test('a 101 (Deno.upgradeWebSocket, immutable headers) is passed on untouched: no CORS for a WebSocket handshake', async () => {
    const immutable = new Headers({ Upgrade: 'websocket' });
    immutable.set = immutable.append = immutable.delete = () => {
      throw new TypeError('immutable');
    };
    const upgrade = { status: 101, type: 'default', headers: immutable, body: null };
    const seen = [];
    const h = withCors(POLICY, () => upgrade, { onError: (e) => seen.push(e) });
    assert.equal(await h(new Request('https://api.test/ws', { headers: { Origin: APP, Upgrade: 'websocket', Connection: 'Upgrade' } })), upgrade);
    assert.deepEqual(seen, []);
  });

  test('a fetch()ed response whose body the handler read cannot be copied: a 500 with the CORS headers, and onError', async () => {
    const upstream = await listen((req, res) => res.end('read already'));
    try {
      const seen = [];
      const h = withCors(POLICY, async () => {
        const res = await fetch(`http://127.0.0.1:${upstream.port}/`);
        await res.text();
        return res;
      }, { onError: (error) => seen.push(error.name) });
      const res = await h(get(APP));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('access-control-allow-origin'), APP);
      assert.deepEqual(seen, ['TypeError']);
    } finally {
      await upstream.close();
    }
  });

  test('a Response of its own whose body the handler read: a 500 with the CORS headers and onError, not the host\'s bare 500', async () => {
    const seen = [];
    const h = withCors(POLICY, async () => {
      const res = new Response('read already', { headers: { 'X-Own': '1' } });
      await res.text();
      return res;
    }, { onError: (error) => seen.push(error.message) });
    const res = await h(get(APP));
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.equal(await res.text(), 'Internal Server Error');
    assert.equal(seen.length, 1);
    assert.match(seen[0], /body it had already read/);
  });

  test('... or locked (a reader taken, or tee()d) without reading it', async () => {
    for (const lock of [(body) => body.getReader(), (body) => body.tee()]) {
      const seen = [];
      const h = withCors(POLICY, async () => {
        const res = new Response('locked');
        lock(res.body);
        return res;
      }, { onError: (error) => seen.push(error.message) });
      const res = await h(get(APP));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('access-control-allow-origin'), APP);
      assert.match(seen[0], /already read or locked/);
    }
  });

  test('a handler that throws or rejects becomes a 500 with the CORS headers and no error text', async () => {
    const seen = [];
    const hooks = { onError: (error, req) => seen.push([error.message, req.method]) };
    const throwing = [
      () => {
        throw new Error('secret: db password wrong');
      },
      async () => {
        await sleep(1);
        throw new Error('secret: db password wrong');
      },
    ];
    for (const handler of throwing) {
      const res = await withCors(POLICY, handler, hooks)(get(APP));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('access-control-allow-origin'), APP);
      assert.equal(res.headers.get('vary'), 'Origin');
      assert.doesNotMatch(await res.text(), /secret/);
    }
    assert.deepEqual(seen, [['secret: db password wrong', 'GET'], ['secret: db password wrong', 'GET']]);
  });

  test('a throwing onError still gives the 500 with CORS headers', async () => {
    const h = withCors(POLICY, () => Promise.reject(new Error('x')), { onError: () => { throw new Error('logger down'); } });
    const res = await h(get(APP));
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
  });

  test('an async onError that rejects: the 500 with CORS headers, and no unhandled rejection (which ends a Node process)', async () => {
    const unhandled = [];
    const listener = (e) => unhandled.push(e);
    process.on('unhandledRejection', listener);
    try {
      const h = withCors(POLICY, () => Promise.reject(new Error('x')), { onError: async () => { throw new Error('logger down'); } });
      const res = await h(get(APP));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('access-control-allow-origin'), APP);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  test('concurrent requests interleaving at await each get their own origin', async () => {
    // The first request's handler resumes after the others have been decided: a shared, in-place
    // filled array would hand it the last origin.
    const origins = ['https://one.example.org', 'https://two.example.org', 'https://three.example.org'];
    const h = withCors(POLICY, async (req) => {
      await sleep(req.headers.get('origin') === origins[0] ? 30 : 1);
      return new Response('x');
    });
    const responses = await Promise.all(origins.map((o) => h(get(o))));
    assert.deepEqual(responses.map((r) => r.headers.get('access-control-allow-origin')), origins);
  });

  test('extra handler arguments (env, ctx) are passed through', async () => {
    const h = withCors(POLICY, (req, env, ctx) => new Response(`${env.name} ${ctx.id}`));
    const res = await h(get(APP), { name: 'env' }, { id: 'ctx' });
    assert.equal(await res.text(), 'env ctx');
  });
});

describe('withCors around a real Hono app over sockets', () => {
  let s;
  before(async () => {
    const app = new Hono();
    app.get('/items', (c) => c.json({ items: [] }));
    app.put('/items/:id', (c) => c.json({ saved: c.req.param('id') }));
    app.get('/vary', (c) => {
      c.header('Vary', 'Accept-Language');
      return c.text('hi');
    });
    app.get('/boom', () => {
      throw new Error('secret');
    });
    app.get('/moved', (c) => c.redirect('/items', 301));
    app.get('/counted', (c) => {
      c.header('X-Total-Count', '3');
      c.header('Access-Control-Expose-Headers', 'x-total-count');
      return c.json([]);
    });
    app.onError((err, c) => c.text('Internal Server Error', 500)); // Hono's own 500, quietly
    const server = createAdaptorServer({ fetch: withCors(POLICY, app.fetch) });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    s = {
      port: server.address().port,
      close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  });
  after(() => s.close());

  test('a preflight to a route Hono does not have is still answered', async () => {
    const res = await request(s.port, {
      method: 'OPTIONS',
      path: '/nowhere',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-methods'], 'PUT');
    assert.equal(res.body.length, 0);
  });

  test('a route, Hono\'s 404, its 500 and a redirect all carry the CORS headers', async () => {
    for (const [path, status] of [['/items', 200], ['/missing', 404], ['/boom', 500], ['/moved', 301]]) {
      const res = await request(s.port, { path, headers: { Origin: APP } });
      assert.equal(res.status, status, path);
      assert.equal(res.headers['access-control-allow-origin'], APP, path);
      assert.equal(res.headers.vary, 'Origin', path);
    }
  });

  test('a Vary set by a Hono route is kept, Origin appended', async () => {
    const res = await request(s.port, { path: '/vary', headers: { Origin: 'https://x.example.org' } });
    assert.equal(res.headers.vary, 'Accept-Language, Origin');
    assert.equal(res.headers['access-control-allow-origin'], 'https://x.example.org');
  });

  test('a route\'s own Access-Control-Expose-Headers is kept, as under node:http, Express and Fastify', async () => {
    const res = await request(s.port, { path: '/counted', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-expose-headers'], 'x-total-count');
    // A route that sets none gets the policy's list.
    const other = await request(s.port, { path: '/items', headers: { Origin: APP } });
    assert.equal(other.headers['access-control-expose-headers'], 'x-request-id');
  });

  test('an actual PUT reaches the route and is decorated', async () => {
    const res = await request(s.port, { method: 'PUT', path: '/items/9', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { saved: '9' });
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });
});

test('a handler that returns something other than a Response gets a 500 with the CORS headers, reported', async () => {
  for (const value of [undefined, null, 'text', 42]) {
    const errors = [];
    const wrapped = withCors({ origins: ['https://app.example.com'] }, () => value, { onError: (e) => errors.push(e) });
    const res = await wrapped(new Request('http://x/a', { headers: { Origin: 'https://app.example.com' } }));
    assert.equal(res.status, 500, String(value));
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
  }
});

test('a handler that took a request with Upgrade over (Bun.serve\'s server.upgrade) and returned nothing: undefined is passed on, nothing reported', async () => {
  // Found replaying peers' reports: every WebSocket connection behind withCors was logged as a 500.
  const errors = [];
  const wrapped = withCors({ origins: ['https://app.example.com'] }, () => undefined, { onError: (e) => errors.push(e) });
  const upgrade = { Origin: 'https://app.example.com', Upgrade: 'websocket', Connection: 'Upgrade' };
  assert.equal(await wrapped(new Request('http://x/ws', { headers: upgrade })), undefined);
  assert.equal(errors.length, 0);
  assert.equal(await wrapped(new Request('http://x/ws', { headers: { ...upgrade, Upgrade: 'foo, WebSocket' } })), undefined);
  assert.equal(errors.length, 0);
  // Anything else, nothing returned is still a handler bug: 500 with the CORS headers, reported
  // (an attack found `Upgrade: h2c` skipping it).
  const others = [{ Origin: 'https://app.example.com' }, { ...upgrade, Upgrade: 'h2c' }, { ...upgrade, Upgrade: 'websockets' }];
  for (const headers of others) {
    const res = await wrapped(new Request('http://x/ws', { headers }));
    assert.equal(res.status, 500, JSON.stringify(headers));
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
  }
  const post = await wrapped(new Request('http://x/ws', { method: 'POST', headers: upgrade }));
  assert.equal(post.status, 500);
  assert.equal(errors.length, 4);
});

test('a handler\'s own Timing-Allow-Origin grants: it goes with every CORS header the handler set, over a socket (found by a review)', async (t) => {
  const handler = withCors({ origins: [APP], credentials: true, timingAllowOrigin: true }, () =>
    new Response('ok', { headers: { 'Timing-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'x-secret' } }),
  );
  const server = createAdaptorServer({ fetch: handler });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const port = server.address().port;
  const refused = await request(port, { path: '/', headers: { Origin: 'https://evil.example' } });
  assert.equal(refused.headers['timing-allow-origin'], undefined);
  assert.equal(refused.headers['access-control-expose-headers'], undefined);
  const allowed = await request(port, { path: '/', headers: { Origin: APP } });
  assert.equal(allowed.headers['timing-allow-origin'], APP);
  assert.equal(allowed.headers['access-control-allow-origin'], APP);
  assert.equal(allowed.headers['access-control-expose-headers'], undefined);
});

/** A Fetch handler served over a socket by @hono/node-server; closed after the test. */
async function served(t, handler) {
  const server = createAdaptorServer({ fetch: handler });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return server.address().port;
}

test('reconfigure: under a steady stream of requests the policy changes at one point, with no failure and no mix; an invalid policy throws and changes nothing', async (t) => {
  const handler = withCors(POLICY_CHANGE.old, () => new Response('ok'));
  const port = await served(t, handler);
  const seen = await acrossChange(port, { requestOf: (i) => POLICY_CHANGE.requestOf(i), change: () => handler.reconfigure(POLICY_CHANGE.new) });
  assertOneChange(seen);
  assert.deepEqual(handler.policy.methods, ['PUT', 'DELETE']);
  assert.throws(() => handler.reconfigure({ origins: ['*'], credentials: true }), (e) => e instanceof PolicyError && e.problems.length > 0);
  assert.deepEqual(handler.policy.methods, ['PUT', 'DELETE'], 'the refused policy changed nothing');
  for (let i = 0; i < 2; i++) assert.equal(POLICY_CHANGE.generation(await request(port, POLICY_CHANGE.requestOf(i))), 'new');
});

test('reconfigure while a handler runs: its response carries the policy in force when it is decorated, whole', async () => {
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  let started;
  const running = new Promise((resolve) => (started = resolve));
  const handler = withCors(POLICY_CHANGE.old, async () => (started(), await gate, new Response('ok')));
  const pending = handler(get(POLICY_CHANGE.origin));
  await running;
  handler.reconfigure(POLICY_CHANGE.new);
  release();
  const res = await pending;
  assert.equal(POLICY_CHANGE.generation({ headers: Object.fromEntries(res.headers) }), 'new');
});
