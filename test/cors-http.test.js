// The engine embedded in a plain node:http server, driven over real sockets on 127.0.0.1.
// Each test maps to a protocol decision in ../shared/DESIGN.md.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import { createCors } from '../dist/index.js';
import { acHeaders, listen, rawRequest, request } from './helpers.js';
import { rawH2Request } from './transports.js';

const APP = 'https://app.example.com';
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/** A server whose handler answers 200 "handler" (or the status in ?status=) unless the engine answered. */
async function serve(options, onHandler = () => {}) {
  const cors = createCors(options);
  let handled = 0;
  const s = await listen((req, res) => {
    if (cors.handle(req, res)) return;
    handled++;
    onHandler(req, res);
    if (res.headersSent) return;
    const status = Number(new URL(req.url, 'http://x').searchParams.get('status') ?? 200);
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end('handler');
  });
  return { ...s, handled: () => handled };
}

function preflight(port, origin, method, requestHeaders, path = '/') {
  const headers = { Origin: origin, 'Access-Control-Request-Method': method };
  if (requestHeaders !== undefined) headers['Access-Control-Request-Headers'] = requestHeaders;
  return request(port, { method: 'OPTIONS', path, headers });
}

function assertDenied(res) {
  assert.equal(res.status, 403);
  assert.equal(res.body.length, 0);
  assert.deepEqual(acHeaders(res), [], 'a denied preflight carries no Access-Control-* header');
}

describe('allow-list policy', () => {
  let s;
  before(async () => {
    s = await serve({
      origins: [APP, 'https://*.example.org', 'http://localhost:*'],
      methods: ['PUT', 'DELETE', 'PATCH'],
      allowedHeaders: ['content-type', 'x-requested-with', 'range'],
      exposedHeaders: ['x-request-id', 'content-range'],
      maxAge: 600,
      timingAllowOrigin: true,
    });
  });
  after(() => s.close());

  test('allowed preflight: 204, echoed origin, full lists, max-age, Vary, empty body, handler not run', async () => {
    const before = s.handled();
    const res = await preflight(s.port, APP, 'PUT', 'content-type');
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-methods'], 'PUT, DELETE, PATCH');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-requested-with, range');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers.vary, PREFLIGHT_VARY);
    assert.equal(res.headers['content-length'], undefined, 'a 204 has no Content-Length');
    assert.equal(res.headers['transfer-encoding'], undefined);
    assert.equal(s.handled(), before);
  });

  test('a preflight for a safelisted method with allowed headers succeeds', async () => {
    const res = await preflight(s.port, APP, 'GET', 'range');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });

  test('wildcard-subdomain and any-port origins are echoed', async () => {
    for (const origin of ['https://a.b.example.org', 'http://localhost:5173', 'http://localhost']) {
      const res = await preflight(s.port, origin, 'DELETE');
      assert.equal(res.status, 204, origin);
      assert.equal(res.headers['access-control-allow-origin'], origin);
    }
  });

  test('denied preflight: origin not allowed -> 403, no Access-Control-*', async () => {
    for (const origin of ['https://evil.com', 'https://example.org', 'https://app.example.com.evil.com', 'null', 'https://APP.example.com']) {
      const res = await preflight(s.port, origin, 'PUT');
      assertDenied(res);
      assert.equal(res.headers.vary, PREFLIGHT_VARY);
    }
  });

  test('denied preflight: method not allowed, compared case-sensitively', async () => {
    assertDenied(await preflight(s.port, APP, 'OPTIONSX'));
    assertDenied(await preflight(s.port, APP, 'patch')); // Fetch does not normalise patch
    assertDenied(await preflight(s.port, APP, 'CONNECT'));
    assertDenied(await preflight(s.port, APP, 'PUT, PUT'));
    assert.equal((await preflight(s.port, APP, 'PATCH')).status, 204);
  });

  test('denied preflight: a header not allowed', async () => {
    assertDenied(await preflight(s.port, APP, 'PUT', 'content-type, x-evil'));
    assertDenied(await preflight(s.port, APP, 'PUT', 'authorization'));
  });

  test('request-header list: case-insensitive, any order, OWS, duplicates', async () => {
    for (const list of ['Content-Type', 'range,content-type', 'x-requested-with ,\tRANGE', 'range,range,,range']) {
      const res = await preflight(s.port, APP, 'PUT', list);
      assert.equal(res.status, 204, list);
    }
  });

  test('request-header list split over two header lines (Node joins them) is accepted', async () => {
    const res = await rawRequest(
      s.port,
      `OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: PUT\r\n` +
        'Access-Control-Request-Headers: content-type\r\nAccess-Control-Request-Headers: range\r\nConnection: close\r\n\r\n',
    );
    assert.equal(res.status, 204);
    assert.equal(res.get('access-control-allow-origin'), APP);
  });

  test('an over-long request-header list is refused (403), the server keeps serving', async () => {
    const list = Array(300).fill('content-type').join(',');
    assertDenied(await preflight(s.port, APP, 'PUT', list));
    const huge = 'x-a,'.repeat(3000); // 12 KB, under Node's 16 KB header limit
    assertDenied(await preflight(s.port, APP, 'PUT', huge));
    assert.equal((await preflight(s.port, APP, 'PUT', 'range')).status, 204);
  });

  test('headers past Node\'s limit get 431 from Node and the server keeps serving', async () => {
    const res = await rawRequest(
      s.port,
      `OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: ${'a,'.repeat(20000)}\r\n\r\n`,
    );
    assert.equal(res.status, 431);
    assert.equal((await preflight(s.port, APP, 'PUT', 'range')).status, 204);
  });

  test('two Origin header lines never match (Node joins them with ", ")', async () => {
    const res = await rawRequest(
      s.port,
      `OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(res.status, 403);
    assert.equal(res.get('access-control-allow-origin'), undefined);
  });

  test('OWS around the Origin value is stripped by the HTTP parser, so the origin still matches', async () => {
    const res = await rawRequest(
      s.port,
      `OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: \t ${APP} \t\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(res.status, 204);
    assert.equal(res.get('access-control-allow-origin'), APP);
  });

  test('non-canonical origins do not match on the wire', async () => {
    for (const origin of [`${APP}/`, `${APP}:443`, 'HTTPS://app.example.com', `${APP}, https://evil.com`]) {
      assertDenied(await preflight(s.port, origin, 'PUT'));
    }
  });

  test('OPTIONS without Access-Control-Request-Method is an ordinary request', async () => {
    const before = s.handled();
    const res = await request(s.port, { method: 'OPTIONS', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'handler');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(s.handled(), before + 1);
  });

  test('OPTIONS with Access-Control-Request-Method but no Origin is an ordinary request', async () => {
    const res = await request(s.port, { method: 'OPTIONS', headers: { 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'handler');
    assert.deepEqual(acHeaders(res), []);
    assert.equal(res.headers.vary, 'Origin');
  });

  test('actual request from an allowed origin: ACAO, expose, timing, Vary: Origin', async () => {
    const res = await request(s.port, { headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-expose-headers'], 'x-request-id, content-range');
    assert.equal(res.headers['timing-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers.vary, 'Origin');
  });

  test('actual request from a disallowed origin: no Access-Control-*, still Vary: Origin', async () => {
    const res = await request(s.port, { method: 'PUT', headers: { Origin: 'https://evil.com' } });
    assert.equal(res.status, 200);
    assert.deepEqual(acHeaders(res), []);
    assert.equal(res.headers['timing-allow-origin'], undefined);
    assert.equal(res.headers.vary, 'Origin');
  });

  test('plain request (no Origin): only Vary: Origin', async () => {
    const res = await request(s.port);
    assert.deepEqual(acHeaders(res), []);
    assert.equal(res.headers.vary, 'Origin');
  });

  test('error statuses written by the handler carry the CORS headers', async () => {
    for (const status of [404, 405, 500]) {
      const res = await request(s.port, { path: `/?status=${status}`, headers: { Origin: APP } });
      assert.equal(res.status, status);
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(res.headers.vary, 'Origin');
    }
  });
});

describe('credentials', () => {
  let s;
  before(async () => {
    s = await serve({ origins: [APP, 'http://localhost:3000'], credentials: true, methods: ['*'], allowedHeaders: ['*'] });
  });
  after(() => s.close());

  test('preflight echoes origin, method and headers, with Allow-Credentials', async () => {
    const res = await preflight(s.port, APP, 'PURGE', 'x-one, X-Two');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'PURGE');
    assert.equal(res.headers['access-control-allow-headers'], 'x-one, X-Two');
  });

  test('no Allow-Headers when the preflight asks for none', async () => {
    const res = await preflight(s.port, 'http://localhost:3000', 'DELETE');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-headers'], undefined);
    assert.equal(res.headers['access-control-allow-methods'], 'DELETE');
  });

  test('"*" still never covers authorization, and forbidden methods stay forbidden', async () => {
    assertDenied(await preflight(s.port, APP, 'PUT', 'x-one, authorization'));
    assertDenied(await preflight(s.port, APP, 'TRACE'));
    assertDenied(await preflight(s.port, APP, 'BAD METHOD'));
  });

  test('actual request: Allow-Credentials beside the echoed origin', async () => {
    const res = await request(s.port, { headers: { Origin: APP } });
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
  });
});

describe('"*" policy', () => {
  let s;
  before(async () => {
    s = await serve({ origins: ['*'], methods: ['PUT'], allowedHeaders: ['*'], exposedHeaders: ['*'], timingAllowOrigin: true, preflightStatus: 200 });
  });
  after(() => s.close());

  test('preflight: ACAO *, ACAH *, preflightStatus 200 with Content-Length 0, Vary without Origin', async () => {
    const res = await preflight(s.port, 'https://anyone.test', 'PUT', 'x-custom');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.body.length, 0);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-headers'], '*');
    assert.equal(res.headers.vary, 'Access-Control-Request-Method, Access-Control-Request-Headers');
  });

  test('"*" allows the null origin, but not a method outside the list or authorization', async () => {
    assert.equal((await preflight(s.port, 'null', 'PUT')).status, 200);
    assertDenied(await preflight(s.port, 'https://anyone.test', 'DELETE'));
    assertDenied(await preflight(s.port, 'https://anyone.test', 'PUT', 'authorization'));
  });

  test('actual responses carry ACAO * with or without Origin, and no Vary: Origin', async () => {
    for (const headers of [{ Origin: 'https://anyone.test' }, {}]) {
      const res = await request(s.port, { headers });
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-expose-headers'], '*');
      assert.equal(res.headers['timing-allow-origin'], '*');
      assert.equal(res.headers.vary, undefined);
    }
  });
});

// "*" in Access-Control-Allow-Headers never covers Authorization (Fetch §4.8 step 7.7: only a name listed
// as itself does), so a policy that lists it beside "*" must say it by name: `*, authorization`. Chromium
// here accepts a bare "*" for it; Firefox and the standard do not, so the browser suite cannot see this.
test('"*" beside authorization: the preflight answer names authorization, not "*" alone', async () => {
  const s = await serve({ origins: ['*'], methods: ['PUT'], allowedHeaders: ['*', 'authorization'] });
  try {
    for (const asked of ['authorization', 'x-custom, authorization', 'x-custom']) {
      const res = await preflight(s.port, 'https://anyone.test', 'PUT', asked);
      assert.equal(res.status, 204, asked);
      assert.equal(res.headers['access-control-allow-headers'], '*, authorization', asked);
    }
  } finally {
    s.close();
  }
});

describe('Vary is appended, never replaced', () => {
  let s;
  before(async () => {
    const cors = createCors({ origins: [APP], methods: ['PUT'] });
    s = await listen((req, res) => {
      res.setHeader('Vary', 'Accept-Encoding');
      if (cors.handle(req, res)) return;
      res.end('ok');
    });
  });
  after(() => s.close());

  test('actual response: the application\'s Vary is kept and Origin added', async () => {
    const res = await request(s.port, { headers: { Origin: APP } });
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });

  test('preflight: the application\'s Vary is kept and the preflight tokens added', async () => {
    const res = await preflight(s.port, APP, 'PUT');
    assert.equal(res.status, 204);
    assert.equal(res.headers.vary, `Accept-Encoding, ${PREFLIGHT_VARY}`);
    assert.equal(res.headers['access-control-allow-origin'], APP);
  });
});

describe('Vary set by the handler after handle() keeps Origin', () => {
  // Each way a handler can replace or drop Vary once handle() has set it; `wrapped`: a middleware
  // (like on-headers) had made writeHead its own before handle() ran.
  const ways = {
    setHeader: (res) => { res.setHeader('Vary', 'Accept'); res.end('ok'); },
    removeHeader: (res) => { res.removeHeader('Vary'); res.end('ok'); },
    'writeHead object': (res) => { res.writeHead(200, { vary: 'Accept', 'Content-Type': 'text/plain' }); res.end('ok'); },
    'writeHead reason + object': (res) => { res.writeHead(200, 'Fine', { Vary: 'Accept' }); res.end('ok'); },
    'writeHead array': (res) => { res.writeHead(200, ['Vary', 'Accept', 'Content-Type', 'text/plain']); res.end('ok'); },
    'setHeader then write': (res) => { res.setHeader('Vary', ['Accept', 'Accept-Language']); res.write('o'); res.end('k'); },
    'setHeader then flushHeaders': (res) => { res.setHeader('Vary', 'Accept'); res.flushHeaders(); res.end('ok'); },
    'writeHead object with Vary and vary': (res) => { res.writeHead(200, { Vary: 'Accept', vary: 'Cookie' }); res.end('ok'); },
    // node's writeHead takes its headers from the third argument whenever there is one.
    'writeHead undefined reason + object': (res) => { res.writeHead(200, undefined, { 'X-T': '1', Vary: 'Accept' }); res.end('ok'); },
    'writeHead null reason + array': (res) => { res.writeHead(200, null, ['X-T', '1', 'Vary', 'Accept']); res.end('ok'); },
    'writeHead odd array': (res) => {
      try {
        res.writeHead(200, ['Vary']);
      } catch (e) {
        res.end(e.code === 'ERR_INVALID_ARG_VALUE' ? 'ok' : String(e.code));
      }
    },
  };
  const expectedVary = {
    removeHeader: ['Origin', undefined],
    'setHeader then write': ['Accept, Accept-Language, Origin', 'Accept, Accept-Language'],
    'writeHead object with Vary and vary': ['Accept, Cookie, Origin', 'Cookie'],
    'writeHead odd array': ['Origin', undefined],
  };
  let s;
  let star;
  before(async () => {
    const cors = createCors({ origins: [APP] });
    const any = createCors({ origins: ['*'] });
    const handler = (engine) => (req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.searchParams.has('wrapped')) {
        const original = res.writeHead;
        res.writeHead = function (...args) {
          this.setHeader('X-Wrapped', 'yes');
          return original.apply(this, args);
        };
      }
      if (engine.handle(req, res)) return;
      ways[url.searchParams.get('way')](res);
    };
    s = await listen(handler(cors));
    star = await listen(handler(any));
  });
  after(() => Promise.all([s.close(), star.close()]));

  for (const way of Object.keys(ways)) {
    test(way, async () => {
      for (const wrapped of [false, true]) {
        const res = await request(s.port, { path: `/?way=${encodeURIComponent(way)}${wrapped ? '&wrapped' : ''}`, headers: { Origin: APP } });
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), 'ok');
        assert.equal(res.headers['access-control-allow-origin'], APP);
        assert.equal(res.headers.vary, expectedVary[way]?.[0] ?? 'Accept, Origin', `wrapped: ${wrapped}`);
        if (way.includes('reason +')) assert.equal(res.headers['x-t'], way.startsWith('writeHead reason') ? undefined : '1', 'the headers argument is applied');
        assert.equal(res.headers['x-wrapped'], wrapped ? 'yes' : undefined, 'the earlier wrapper still runs');
      }
      // Under "*" nothing varies by Origin: the handler's Vary is left as it set it.
      const any = await request(star.port, { path: `/?way=${encodeURIComponent(way)}`, headers: { Origin: APP } });
      assert.equal(any.headers['access-control-allow-origin'], '*');
      assert.equal(any.headers.vary, way in expectedVary ? expectedVary[way][1] : 'Accept');
    });
  }

  test('under node:http2\'s compatibility API too, a list of [name, value] pairs included', async (t) => {
    const cors = createCors({ origins: [APP] });
    const server = http2.createServer((req, res) => {
      cors.handle(req, res);
      if (req.url === '/pairs') res.writeHead(200, [['Vary', 'Accept'], ['X-T', '1']]);
      else if (req.url === '/pairs-no-vary') {
        // Pairs without Vary: the response's own Vary (set earlier) must survive beside Origin.
        res.setHeader('Vary', 'Accept');
        res.writeHead(200, [['X-T', '1']]);
      } else res.setHeader('Vary', 'Accept');
      res.end('ok');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`http://127.0.0.1:${server.address().port}`);
    t.after(async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    for (const path of ['/pairs', '/pairs-no-vary', '/set']) {
      const stream = client.request({ ':path': path, origin: APP });
      stream.resume();
      const [head] = await once(stream, 'response');
      assert.equal(head['access-control-allow-origin'], APP, path);
      assert.equal(head.vary, 'Accept, Origin', path);
      if (path !== '/set') assert.equal(head['x-t'], '1');
    }
  });

  test('under node:http2\'s compatibility API, two Access-Control-Request-Method lines are no method (node:http2 kept the first)', async (t) => {
    const cors = createCors({ origins: [APP], methods: ['PUT'] });
    const server = http2.createServer((req, res) => {
      if (!cors.handle(req, res)) res.end('app');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const preflight = async (...methods) => {
      const fields = [['origin', APP], ...methods.map((m) => ['access-control-request-method', m])];
      return (await rawH2Request(server.address().port, '/x', { fields, method: 'OPTIONS', secure: false })).statusByte;
    };
    assert.equal(await preflight('PUT'), 0x89); // 204
    assert.notEqual(await preflight('PUT', 'PATCH'), 0x89);
  });

  test('handle() run twice on one response: Vary once, the earlier wrapper run once', async () => {
    const cors = createCors({ origins: [APP] });
    let wrapperRuns = 0;
    const t = await listen((req, res) => {
      const original = res.writeHead;
      res.writeHead = function (...args) {
        wrapperRuns++;
        return original.apply(this, args);
      };
      cors.handle(req, res);
      cors.handle(req, res);
      res.setHeader('Vary', 'Accept');
      res.end('ok');
    });
    try {
      const res = await request(t.port, { headers: { Origin: APP } });
      assert.equal(res.headers.vary, 'Accept, Origin');
      assert.equal(res.headers['access-control-allow-origin'], APP);
      assert.equal(wrapperRuns, 1);
    } finally {
      await t.close();
    }
  });
});

describe('maxAge -1', () => {
  let s;
  before(async () => {
    s = await serve({ origins: [APP], methods: ['PUT'], maxAge: -1 });
  });
  after(() => s.close());

  test('sends Access-Control-Max-Age: 0', async () => {
    const res = await preflight(s.port, APP, 'PUT');
    assert.equal(res.headers['access-control-max-age'], '0');
  });
});

describe('no allowed methods or headers', () => {
  let s;
  before(async () => {
    s = await serve({ origins: [APP] });
  });
  after(() => s.close());

  test('a safelisted-method preflight succeeds without Allow-Methods; anything else is denied', async () => {
    const ok = await preflight(s.port, APP, 'GET');
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-methods'], undefined);
    assert.equal(ok.headers['access-control-allow-headers'], undefined);
    assertDenied(await preflight(s.port, APP, 'PUT'));
    assertDenied(await preflight(s.port, APP, 'GET', 'content-type'));
  });
});

test('a Timing-Allow-Origin another layer set before handle() is a grant: it goes, with that layer\'s other CORS headers (found by a review)', async () => {
  const cors = createCors({ origins: [APP] });
  const s = await listen((req, res) => {
    // The earlier layer: timing for everyone, and an exposed header.
    res.setHeader('Timing-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'x-secret');
    if (!cors.handle(req, res)) res.end('ok');
  });
  try {
    for (const origin of ['https://evil.example', APP]) {
      const res = await request(s.port, { headers: { Origin: origin } });
      assert.equal(res.headers['timing-allow-origin'], undefined, origin);
      assert.equal(res.headers['access-control-expose-headers'], undefined, origin);
    }
  } finally {
    await s.close();
  }
});

test('handle() after the head was sent (a route decorating late): no throw into the listener, the response completes, reported once', async () => {
  const cors = createCors({ origins: [APP] });
  const reports = [];
  const original = console.error;
  console.error = (...args) => reports.push(args.join(' '));
  const s = await listen((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('streamed ');
    if (!cors.handle(req, res)) res.end('then done');
  });
  try {
    const actual = await request(s.port, { headers: { Origin: APP } });
    assert.equal(actual.status, 200);
    assert.equal(actual.body.toString(), 'streamed then done');
    assert.deepEqual(acHeaders(actual), []);
    const preflight = await request(s.port, { method: 'OPTIONS', headers: { Origin: APP, 'Access-Control-Request-Method': 'GET' } });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.body.toString(), 'streamed then done');
  } finally {
    console.error = original;
    await s.close();
  }
  assert.equal(reports.length, 1);
  assert.match(reports[0], /after the head was sent/);
});
