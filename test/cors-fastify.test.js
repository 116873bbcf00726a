// xorigin/fastify: the plugin in real Fastify 5 and Fastify 4 apps (the peer range) over real sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import xoriginCors from '../dist/cors/fastify.js';
import { PolicyError } from '../dist/cors/index.js';
import http from 'node:http';
import http2 from 'node:http2';
import { POLICY_CHANGE, acHeaders, acrossChange, assertOneChange, request } from './helpers.js';
import { rawH2Request } from './transports.js';

function requestWithBody(port, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const APP = 'https://app.example.com';
const POLICY = { origins: [APP, 'https://*.example.org'], methods: ['PUT'], allowedHeaders: ['content-type'], credentials: true, maxAge: 600 };
const PREFLIGHT = { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' };

/** Every test below, for each Fastify major the peer range admits. */
function suite(Fastify, major) {
  async function start(register, policy = POLICY) {
    const app = Fastify();
    await app.register(xoriginCors, policy);
    register(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, port: app.server.address().port };
  }

  describe(`fastify ${major} plugin`, () => {
    let s;
    let routeRuns = 0;
    before(async () => {
      s = await start((app) => {
        app.get('/items', async () => ({ items: [] }));
        app.put('/items/:id', async (req) => (routeRuns++, { saved: req.params.id }));
        app.get('/boom', async () => {
          throw new Error('secret');
        });
        app.get('/vary', async (req, reply) => {
          reply.header('Vary', 'Accept-Language'); // replaces what the plugin set in onRequest
          return 'hi';
        });
        // An encapsulated sibling context registered after the plugin: the plugin must reach it too.
        app.register(async (child) => {
          child.get('/child', async () => 'child');
        }, { prefix: '/nested' });
      });
    });
    after(() => s.app.close());

    test('a preflight is answered in onRequest, before the route runs', async () => {
      const res = await request(s.port, { method: 'OPTIONS', path: '/items/1', headers: PREFLIGHT });
      assert.equal(res.status, 204);
      assert.equal(res.body.length, 0);
      assert.deepEqual(Object.fromEntries(acHeaders(res).map((n) => [n, res.headers[n]])), {
        'access-control-allow-origin': APP,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'PUT',
        'access-control-allow-headers': 'content-type',
        'access-control-max-age': '600',
      });
      assert.equal(res.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      assert.equal(routeRuns, 0);
    });

    test('a preflight to a URL with no route is still answered', async () => {
      const res = await request(s.port, { method: 'OPTIONS', path: '/no/such/route', headers: PREFLIGHT });
      assert.equal(res.status, 204);
      assert.equal(res.headers['access-control-allow-origin'], APP);
    });

    test('a refused preflight is 403 with no Access-Control-* header', async () => {
      for (const headers of [{ ...PREFLIGHT, Origin: 'https://evil.test' }, { ...PREFLIGHT, 'Access-Control-Request-Method': 'DELETE' }]) {
        const res = await request(s.port, { method: 'OPTIONS', path: '/items/1', headers });
        assert.equal(res.status, 403);
        assert.deepEqual(acHeaders(res), []);
      }
    });

    test('a route, Fastify\'s 404 and its error reply all carry the CORS headers', async () => {
      for (const [path, status] of [['/items', 200], ['/missing', 404], ['/boom', 500], ['/nested/child', 200]]) {
        const res = await request(s.port, { path, headers: { Origin: 'https://a.example.org' } });
        assert.equal(res.status, status, path);
        assert.equal(res.headers['access-control-allow-origin'], 'https://a.example.org', path);
        assert.equal(res.headers['access-control-allow-credentials'], 'true', path);
        assert.equal(res.headers.vary, 'Origin', path);
      }
    });

    test('a disallowed or absent Origin: Vary: Origin and no Access-Control-* header', async () => {
      for (const headers of [{ Origin: 'https://evil.test' }, {}]) {
        const res = await request(s.port, { path: '/items', headers });
        assert.deepEqual(acHeaders(res), []);
        assert.equal(res.headers.vary, 'Origin');
      }
    });

    test('a route that replaces Vary keeps its token and gets Origin back', async () => {
      const res = await request(s.port, { path: '/vary', headers: { Origin: APP } });
      assert.equal(res.headers.vary, 'Accept-Language, Origin');
    });

    test('an actual PUT runs the route and is decorated', async () => {
      const res = await request(s.port, { method: 'PUT', path: '/items/4', headers: { Origin: APP } });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { saved: '4' });
      assert.equal(res.headers['access-control-allow-origin'], APP);
    });
  });

  test(`fastify ${major}: a Vary set by an earlier onRequest hook is merged, not replaced`, async () => {
    const app = Fastify();
    app.addHook('onRequest', async (req, reply) => {
      reply.header('Vary', 'Accept-Encoding');
    });
    await app.register(xoriginCors, { origins: [APP] });
    app.get('/', async () => 'x');
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = app.server.address().port;
      const res = await request(port, { path: '/', headers: { Origin: APP } });
      assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
      const pre = await request(port, { method: 'OPTIONS', path: '/', headers: { Origin: APP, 'Access-Control-Request-Method': 'GET' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.vary, 'Accept-Encoding, Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    } finally {
      await app.close();
    }
  });

  test(`fastify ${major}: preflights pass an auth hook registered after the plugin; its 401 and body-parse 400s carry CORS headers`, async () => {
    // Browsers send preflights without credentials, so the answer must come before any auth hook;
    // and errors raised before the handler (auth, content-type parsing) must still be readable.
    const s = await start((app) => {
      app.addHook('onRequest', async (req, reply) => {
        if (req.headers.authorization === undefined) return reply.code(401).send({ error: 'no credentials' });
      });
      app.post('/items', async (req) => req.body);
    });
    try {
      const pre = await request(s.port, { method: 'OPTIONS', path: '/items', headers: PREFLIGHT });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], APP);
      const denied = await request(s.port, { method: 'POST', path: '/items', headers: { Origin: APP } });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers['access-control-allow-origin'], APP);
      const bad = await requestWithBody(s.port, '/items', { Origin: APP, Authorization: 'x', 'Content-Type': 'application/json' }, '{bad');
      assert.equal(bad.status, 400);
      assert.equal(bad.headers['access-control-allow-origin'], APP);
    } finally {
      await s.app.close();
    }
  });

  test(`fastify ${major}: the "*" policy sends * everywhere and no Vary: Origin; preflightStatus 200`, async () => {
    const s = await start((app) => app.get('/', async () => 'x'), { origins: ['*'], methods: ['PUT'], preflightStatus: 200 });
    try {
      const res = await request(s.port, { path: '/' });
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers.vary, undefined);
      const pre = await request(s.port, { method: 'OPTIONS', path: '/', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' } });
      assert.equal(pre.status, 200);
      assert.equal(pre.headers['content-length'], '0');
      assert.equal(pre.headers['access-control-allow-origin'], '*');
    } finally {
      await s.app.close();
    }
  });

  test(`fastify ${major}: a bad policy fails registration with PolicyError`, async () => {
    const app = Fastify();
    app.register(xoriginCors, { origins: ['https://app.example.com:443'] });
    await assert.rejects(app.ready(), PolicyError);
    await app.close();
  });

  test(`fastify ${major}: Fastify's own register options (prefix, logLevel, logSerializers) beside the policy are Fastify's, not unknown policy options`, async (t) => {
    const app = Fastify();
    await app.register(xoriginCors, { ...POLICY, prefix: '/api', logLevel: 'warn', logSerializers: {} });
    app.get('/items', async () => ({ items: [] }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const preflight = await request(port, { method: 'OPTIONS', path: '/items', headers: PREFLIGHT });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], APP);
    // Still checked: a misspelt policy option beside them fails registration.
    const bad = Fastify();
    bad.register(xoriginCors, { ...POLICY, prefix: '/api', orgins: [APP] });
    await assert.rejects(bad.ready(), (e) => e instanceof PolicyError && /orgins/.test(e.message));
    await bad.close();
  });

  test(`fastify ${major}: registered inside a child plugin with a prefix, preflights to the prefix are answered by that child's policy alone`, async (t) => {
    const B = 'https://b.example.com';
    const app = Fastify();
    let ownOptionsRuns = 0;
    // A root catch-all of the app's own, routed before the children load.
    app.options('/*', async () => 'root-own');
    app.delete('/admin/users/:id', async () => 'deleted');
    app.register(async (child) => {
      await child.register(xoriginCors, POLICY);
      child.put('/items', async () => 'saved');
    }, { prefix: '/api' });
    // A sibling with a policy of its own, and an OPTIONS route of its own declared first.
    app.register(async (child) => {
      child.options('/*', async () => (ownOptionsRuns++, 'own'));
      await child.register(xoriginCors, { origins: [B], methods: ['PUT'], allowedHeaders: ['content-type'] });
      child.put('/items', async () => 'saved');
    }, { prefix: '/b' });
    // A child without a prefix: its routes only (a /* route of its own would be every URL's).
    app.register(async (child) => {
      await child.register(xoriginCors, POLICY);
      child.put('/things', async () => 'saved');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const preflight = (path, origin = APP) => request(port, { method: 'OPTIONS', path, headers: { ...PREFLIGHT, Origin: origin } });
    for (const path of ['/api/items', '/api', '/api/', '/api/no/route']) {
      const answer = await preflight(path);
      assert.equal(answer.status, 204, path);
      assert.equal(answer.headers['access-control-allow-origin'], APP, path);
      assert.equal(answer.headers['access-control-allow-methods'], 'PUT', path);
    }
    const refused = await preflight('/api/items', 'https://evil.example');
    assert.equal(refused.status, 403);
    assert.deepEqual(acHeaders(refused), []);
    // Each child's own policy: /b allows B only.
    assert.equal((await preflight('/b/items', B)).headers['access-control-allow-origin'], B);
    assert.equal((await preflight('/b/items', APP)).status, 403);
    assert.equal(ownOptionsRuns, 0, 'the preflight is answered in the hook, before the child\'s own OPTIONS route');
    // Outside every prefix: no child's policy grants anything (the browser then sends no DELETE).
    for (const path of ['/admin/users/1', '/things']) {
      const outside = await preflight(path);
      assert.equal(outside.headers['access-control-allow-origin'], undefined, path);
      assert.equal(outside.body.toString(), 'root-own', path);
    }
    // An OPTIONS that is no preflight, under the prefix: Fastify's 404, as with no route.
    assert.equal((await request(port, { method: 'OPTIONS', path: '/api/items', headers: { Origin: APP } })).status, 404);
    const put = await request(port, { method: 'PUT', path: '/api/items', headers: { Origin: APP } });
    assert.equal(put.status, 200);
    assert.equal(put.headers['access-control-allow-origin'], APP);
    const things = await request(port, { method: 'PUT', path: '/things', headers: { Origin: APP } });
    assert.equal(things.headers['access-control-allow-origin'], APP);
    // Without a root catch-all, a child without a prefix still grants nothing outside it.
    const bare = Fastify();
    bare.delete('/admin/users/:id', async () => 'deleted');
    bare.register(async (child) => {
      await child.register(xoriginCors, POLICY);
      child.put('/things', async () => 'saved');
    });
    await bare.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => bare.close());
    const admin = await request(bare.server.address().port, { method: 'OPTIONS', path: '/admin/users/1', headers: PREFLIGHT });
    assert.equal(admin.status, 404);
    assert.deepEqual(acHeaders(admin), []);
    // At the root nothing is routed: an app's own catch-all declared after the plugin does not clash (fastify-cors#380).
    const root = Fastify();
    await root.register(xoriginCors, POLICY);
    root.options('/*', async () => 'own');
    root.options('/', async () => 'own');
    await root.ready();
    await root.close();
  });

  test(`fastify ${major}: in children whose prefix is not a fixed path (a parameter, /), nothing outside them is granted; two children with one prefix are a start-up error`, async (t) => {
    for (const prefix of ['/:tenant', '/']) {
      const app = Fastify();
      app.delete('/admin/users/:id', async () => 'deleted');
      app.register(async (child) => {
        await child.register(xoriginCors, POLICY);
        child.put('/items', async () => 'saved');
      }, { prefix });
      await app.listen({ port: 0, host: '127.0.0.1' });
      t.after(() => app.close());
      const admin = await request(app.server.address().port, { method: 'OPTIONS', path: '/admin/users/1', headers: PREFLIGHT });
      assert.equal(admin.status, 404, prefix);
      assert.deepEqual(acHeaders(admin), [], prefix);
    }
    const twice = Fastify();
    for (const origins of [[APP], ['https://b.example.com']]) {
      twice.register(async (child) => {
        await child.register(xoriginCors, { origins });
        child.put(`/${origins.length}${origins[0].length}`, async () => 'saved');
      }, { prefix: '/api' });
    }
    await assert.rejects(twice.ready(), /xorigin-cors is registered in two child plugins with the prefix \/api/);
    await twice.close();
  });

  test(`fastify ${major}: prefixes the router matches alike (a trailing slash; another case without case sensitivity), and a registration inside another's reach, are start-up errors (review h50: the first policy answered the other's preflights)`, async (t) => {
    const refused = async (options, build, pattern) => {
      const app = Fastify(options);
      build(app);
      await assert.rejects(app.ready(), pattern);
      await app.close();
    };
    const child = (app, prefix, origins) => app.register(async (c) => {
      await c.register(xoriginCors, { origins, methods: ['DELETE'] });
      c.delete('/two', async () => 'deleted');
    }, { prefix });
    const alike = /xorigin-cors is registered in two child plugins with the prefix \/+(api|API)\/* \(or one the router matches alike/;
    for (const [first, second] of [['/api', '/api/'], ['/api/', '/api']]) {
      await refused({}, (app) => (child(app, first, [APP]), child(app, second, ['https://b.example.com'])), alike);
    }
    await refused({ caseSensitive: false }, (app) => (child(app, '/api', [APP]), child(app, '/API', ['https://b.example.com'])), alike);
    // Repeated slashes, where the router ignores them (review h52).
    for (const second of ['//api', '/api//']) await refused({ ignoreDuplicateSlashes: true }, (app) => (child(app, '/api', [APP]), child(app, second, ['https://b.example.com'])), alike);
    // Where it does not ignore them, such a prefix is no fixed path, and /api/* caught its preflights (review h53).
    for (const second of ['/api//', '/api//v1']) await refused({}, (app) => (child(app, '/api', [APP]), child(app, second, ['https://b.example.com'])), /with the prefix \/api\/\/(v1)?, whose repeated slashes keep it from being routed as \/api(\/v1)?:/);
    if (major === 5) await refused({ routerOptions: { ignoreDuplicateSlashes: true } }, (app) => (child(app, '/api', [APP]), child(app, '//api', ['https://b.example.com'])), alike);
    await refused({}, (app) => app.register(async (outer) => {
      await outer.register(xoriginCors, { origins: [APP] });
      child(outer, '/v1', ['https://b.example.com']);
    }, { prefix: '/api' }), /registered in the plugin with the prefix \/api\/v1 and in its parent with the prefix \/api: the first registration's hook answers every preflight there/);
    await refused({}, (app) => (app.register(xoriginCors, { origins: [APP] }), child(app, '/v1', ['https://b.example.com'])), /registered in the plugin with the prefix \/v1 and at the root/);
    await refused({}, (app) => (app.register(xoriginCors, { origins: [APP] }), app.register(xoriginCors, { origins: ['https://b.example.com'] })), /registered twice at the root: (?![\s\S]*does not scope)/);
    // Two prefixes in the register options read as two scoped policies: the message says they are not.
    await refused({}, (app) => (app.register(xoriginCors, { origins: [APP], prefix: '/a' }), app.register(xoriginCors, { origins: ['https://b.example.com'], prefix: '/b' })), /registered twice at the root: [\s\S]*a `prefix` in its register options does not scope it: register it inside a child plugin that has the prefix\)$/);
    // Case-sensitive routes (the default): /api and /API are two paths, each child its own.
    const apart = Fastify();
    child(apart, '/api', [APP]);
    child(apart, '/API', ['https://b.example.com']);
    await apart.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => apart.close());
    const port = apart.server.address().port;
    const preflight = (path, origin) => request(port, { method: 'OPTIONS', path, headers: { Origin: origin, 'Access-Control-Request-Method': 'DELETE' } });
    assert.equal((await preflight('/API/two', 'https://b.example.com')).status, 204);
    assert.equal((await preflight('/API/two', APP)).status, 403);
    assert.equal((await preflight('/api/two', APP)).status, 204);
  });

  test(`fastify ${major}: app.xoriginCors.reconfigure changes the policy at one point under a steady stream of requests, with no failure and no mix; an invalid policy throws and changes nothing`, async (t) => {
    const app = Fastify();
    await app.register(xoriginCors, POLICY_CHANGE.old);
    app.get('/items', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const seen = await acrossChange(port, { requestOf: (i) => POLICY_CHANGE.requestOf(i), change: () => app.xoriginCors.reconfigure(POLICY_CHANGE.new) });
    assertOneChange(seen);
    assert.deepEqual(app.xoriginCors.policy.methods, ['PUT', 'DELETE']);
    assert.throws(() => app.xoriginCors.reconfigure({ origins: ['*'], credentials: true }), (e) => e instanceof PolicyError && e.problems.length > 0);
    for (const notAPolicy of [null, undefined, 'x']) assert.throws(() => app.xoriginCors.reconfigure(notAPolicy), PolicyError, String(notAPolicy));
    for (let i = 0; i < 2; i++) assert.equal(POLICY_CHANGE.generation(await request(port, POLICY_CHANGE.requestOf(i))), 'new');
  });

  test(`fastify ${major}: registered in a child plugin, the child's xoriginCors changes that child's policy alone`, async (t) => {
    const app = Fastify();
    let child;
    await app.register(async (api) => {
      await api.register(xoriginCors, { origins: [APP] });
      api.get('/items', async () => 'ok');
      child = api;
    }, { prefix: '/api' });
    app.get('/items', async () => 'root');
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    assert.equal(app.xoriginCors, undefined, 'the root has no policy of its own');
    child.xoriginCors.reconfigure({ ...POLICY_CHANGE.new, prefix: '/ignored' });
    const inChild = await request(port, { path: '/api/items', headers: { Origin: APP } });
    assert.equal(inChild.headers['access-control-allow-origin'], '*');
    const outside = await request(port, { path: '/items', headers: { Origin: APP } });
    assert.deepEqual(acHeaders(outside), []);
  });

  test(`fastify ${major}: the plugin carries fastify-plugin's markers`, async () => {
    assert.equal(xoriginCors[Symbol.for('skip-override')], true);
    assert.equal(xoriginCors[Symbol.for('fastify.display-name')], 'xorigin-cors');
  });

  test(`fastify ${major} over HTTP/2 (http2: true), two Access-Control-Request-Method lines are no method, as over HTTP/1.1 (node:http2 kept the first)`, async (t) => {
    const app = Fastify({ http2: true });
    await app.register(xoriginCors, POLICY);
    app.get('/items', async () => ({ items: [] }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const preflight = async (...methods) => {
      const fields = [['origin', APP], ...methods.map((m) => ['access-control-request-method', m])];
      return (await rawH2Request(app.server.address().port, '/items', { fields, method: 'OPTIONS', secure: false })).statusByte;
    };
    assert.equal(await preflight('PUT'), 0x89); // 204
    assert.notEqual(await preflight('PUT', 'PATCH'), 0x89);
  });

  /** One h2c request to a Fastify `http2: true` app: { status, vary, acao }. */
  function h2cRequest(port, path, headers) {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', reject);
      const stream = session.request({ ':path': path, ...headers }, { endStream: true });
      stream.on('response', (h) => {
        stream.resume();
        stream.on('end', () => {
          session.close();
          resolve({ status: h[':status'], vary: h.vary, acao: h['access-control-allow-origin'] });
        });
      });
      stream.on('error', reject);
    });
  }

  for (const http2Mode of [false, true]) {
    test(`fastify ${major}${http2Mode ? ' (http2: true)' : ''}: hooks that run after the plugin's (a route's onSend, a child plugin's, a root one added later) cannot take Origin out of Vary`, async (t) => {
      const app = Fastify({ http2: http2Mode });
      await app.register(xoriginCors, { origins: [APP] });
      app.get('/route-hook', { onSend: async (req, reply, payload) => (reply.header('Vary', 'Accept-Encoding'), payload) }, async () => 'x');
      app.register(async (child) => {
        child.addHook('onSend', async (req, reply, payload) => (reply.removeHeader('vary'), payload));
        child.get('/child-hook', async () => 'x');
      });
      app.get('/late-root-hook', async () => 'x');
      app.addHook('onSend', async (req, reply, payload) => (req.url === '/late-root-hook' && reply.header('Vary', ['Accept-Language', 'Accept-Encoding']), payload));
      app.get('/hijacked', (req, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { Vary: 'Accept-Encoding', 'Content-Length': 1 });
        reply.raw.end('x');
      });
      // Server-sent events as the README says to write them: the reply's headers passed on to the raw head.
      app.get('/hijacked-sse', (req, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { ...reply.getHeaders(), 'Content-Type': 'text/event-stream' });
        reply.raw.end('data: x\n\n');
      });
      // A list of pairs: node:http takes one only while no header is set, so Vary must go into the list.
      app.get('/hijacked-pairs', (req, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, [['Content-Type', 'text/plain']]); // one pair: an odd-length list once a header is set
        reply.raw.end('x');
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      t.after(() => app.close());
      const port = app.server.address().port;
      const expected = {
        '/route-hook': 'Accept-Encoding, Origin',
        '/child-hook': 'Origin',
        '/late-root-hook': 'Accept-Language, Accept-Encoding, Origin',
        '/hijacked': 'Accept-Encoding, Origin',
        '/hijacked-pairs': 'Origin',
        '/hijacked-sse': 'Origin',
      };
      for (const [path, vary] of Object.entries(expected)) {
        for (const origin of [APP, 'https://other.example', undefined]) {
          const headers = origin === undefined ? {} : { origin };
          const res = http2Mode ? await h2cRequest(port, path, headers) : await request(port, { path, headers }).then((r) => ({ status: r.status, vary: r.headers.vary, acao: r.headers['access-control-allow-origin'] }));
          assert.equal(res.status, 200, `${path} ${origin}`);
          assert.equal(res.vary, vary, `${path} ${origin}`);
          if (!path.startsWith('/hijacked') || path === '/hijacked-sse') assert.equal(res.acao, origin === APP ? APP : undefined, `${path} ${origin}`);
        }
      }
    });
  }

  // A permissive CORS layer in front writing to reply.raw, as a Connect middleware through
  // @fastify/middie or @fastify/express does: Fastify 4's removeHeader left the raw response's, so a
  // refused origin read the response by its '*' and the allowed preflight kept its Allow-Headers: *
  // (attack b25 F1).
  test(`fastify ${major}: another layer's CORS headers on reply.raw go before the policy applies`, async (t) => {
    const app = Fastify();
    app.addHook('onRequest', (request, reply, done) => {
      const raw = reply.raw;
      raw.setHeader('Access-Control-Allow-Origin', '*');
      raw.setHeader('Access-Control-Allow-Headers', '*');
      raw.setHeader('Access-Control-Allow-Methods', 'GET, PUT, DELETE');
      raw.setHeader('Access-Control-Max-Age', '86400');
      done();
    });
    await app.register(xoriginCors, { origins: [APP], methods: ['PUT'], maxAge: 600 });
    app.all('/x', async () => 'x');
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const preflight = (origin, extra = {}) => request(port, { method: 'OPTIONS', path: '/x', headers: { Origin: origin, 'Access-Control-Request-Method': 'PUT', ...extra } });
    const corsOf = (res) => Object.fromEntries(Object.entries(res.headers).filter(([n]) => n.startsWith('access-control-')));
    assert.deepEqual(corsOf(await preflight(APP)), { 'access-control-allow-origin': APP, 'access-control-allow-methods': 'PUT', 'access-control-max-age': '600' });
    for (const refused of [await preflight(APP, { 'Access-Control-Request-Headers': 'x-secret' }), await preflight('https://evil.example')]) {
      assert.equal(refused.status, 403);
      assert.deepEqual(corsOf(refused), {});
    }
    const read = await request(port, { path: '/x', headers: { Origin: 'https://evil.example' } });
    assert.equal(read.status, 200);
    assert.deepEqual(corsOf(read), {});
  });

  // A layer whose onSend hook comes after the plugin's answer (registered later) added its own CORS
  // headers to the preflight's 204, which the browser caches for the Max-Age (attack b25 F3): the
  // answer is now written past onSend. onResponse hooks still run, and a non-CORS header set before
  // the plugin answered is kept.
  test(`fastify ${major}: a preflight's answer carries the policy's CORS headers alone, whatever a later onSend hook adds`, async (t) => {
    const app = Fastify();
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('X-Frame-Options', 'DENY');
      done();
    });
    await app.register(xoriginCors, { origins: [APP], methods: ['PUT'], maxAge: 600 });
    let onSend = 0;
    let onResponse = 0;
    app.addHook('onSend', (request, reply, payload, done) => {
      onSend++;
      reply.header('Access-Control-Allow-Headers', '*');
      reply.header('Access-Control-Allow-Origin', '*');
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      onResponse++;
      done();
    });
    app.all('/x', async () => 'x');
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const corsOf = (res) => Object.fromEntries(Object.entries(res.headers).filter(([n]) => n.startsWith('access-control-')));
    const allowed = await request(port, { method: 'OPTIONS', path: '/x', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(allowed.status, 204);
    assert.deepEqual(corsOf(allowed), { 'access-control-allow-origin': APP, 'access-control-allow-methods': 'PUT', 'access-control-max-age': '600' });
    assert.equal(allowed.headers['x-frame-options'], 'DENY');
    assert.equal(allowed.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    const refused = await request(port, { method: 'OPTIONS', path: '/x', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(corsOf(refused), {});
    assert.equal(onSend, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(onResponse, 2);
    // An actual request goes through Fastify's lifecycle as before: its onSend hook runs.
    await request(port, { path: '/x', headers: { Origin: APP } });
    assert.equal(onSend, 1);
  });

  // The answer is written before the reply is hijacked: a header value node refuses, set by a layer
  // before the plugin (a newline decoded from the query string), made writeHead throw after hijack(),
  // and the preflight got no answer at all, unlogged, its connection held (attack b25b F1).
  test(`fastify ${major}: a preflight whose head node refuses gets Fastify's 500, and the connection goes on`, async (t) => {
    const app = Fastify();
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('Content-Language', request.query.lang ?? 'en');
      done();
    });
    await app.register(xoriginCors, { origins: [APP], methods: ['PUT'] });
    app.all('/x', async () => 'x');
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const port = app.server.address().port;
    const within = (promise) => Promise.race([promise, new Promise((resolve, reject) => setTimeout(() => reject(new Error('no answer in 5 s')), 5000))]);
    const refused = await within(request(port, { method: 'OPTIONS', path: '/x?lang=%0A', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' } }));
    assert.equal(refused.status, 500);
    const fine = await within(request(port, { method: 'OPTIONS', path: '/x?lang=fr', headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' } }));
    assert.equal(fine.status, 204);
    assert.equal(fine.headers['content-language'], 'fr');
  });
}

for (const [Fastify, major] of [[Fastify5, 5], [Fastify4, 4]]) suite(Fastify, major);
