// The Fetch standard's method and header-name lists exist twice on purpose: the server's side
// (src/cors: the policy compiler and the engine) and the browser's side (src/check: `xorigin check`,
// whose corpus runs against Chromium and Firefox). These tests hold both to the standard's lists,
// written out here as it gives them, and each side's behaviour to its list, so that a change to one
// side fails here until the other follows, and a name dropped from both fails too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../dist/cors/index.js';
import { FORBIDDEN_METHODS, isForbiddenMethod, NORMALISED_METHODS, SAFELISTED_METHODS } from '../dist/cors/methods.js';
import { FORBIDDEN_REQUEST_HEADERS, FORBIDDEN_RESPONSE_HEADERS } from '../dist/cors/options.js';
import { FORBIDDEN_HEADERS, isForbiddenRequestHeader, isSafelistedMethod, normalizeMethod, NORMALIZED_METHODS } from '../dist/check/request.js';
import { FORBIDDEN_RESPONSE, isForbiddenResponseName } from '../dist/check/readable.js';

const sorted = (list) => [...list].sort();
const cases = (name) => [...new Set([name, name.toUpperCase(), name.toLowerCase(), name[0].toUpperCase() + name.slice(1).toLowerCase()])];
const refusedBy = (options) => {
  try {
    compilePolicy({ origins: ['https://app.example'], ...options });
    return [];
  } catch (e) {
    return e.problems.map((p) => p.option);
  }
};

test('normalised, safelisted and forbidden methods: the Fetch standard\'s lists on both sides', () => {
  // Fetch §2.2.1: normalize DELETE, GET, HEAD, OPTIONS, POST, PUT; safelisted GET, HEAD, POST; forbidden CONNECT, TRACE, TRACK.
  assert.deepEqual(sorted(NORMALIZED_METHODS), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
  assert.deepEqual(sorted(SAFELISTED_METHODS), ['GET', 'HEAD', 'POST']);
  assert.deepEqual(sorted(FORBIDDEN_METHODS), ['connect', 'trace', 'track']);
  assert.deepEqual(sorted(NORMALISED_METHODS.map((m) => m.toUpperCase())), sorted(NORMALIZED_METHODS));
  const candidates = [...NORMALIZED_METHODS, ...FORBIDDEN_METHODS, 'PATCH', 'QUERY', 'FOO'].flatMap(cases);
  assert.deepEqual(sorted(candidates.filter(isSafelistedMethod)), sorted(SAFELISTED_METHODS));
  for (const m of candidates) {
    let forbiddenForCheck = false;
    try {
      normalizeMethod(m);
    } catch (e) {
      forbiddenForCheck = /forbidden/.test(e.message);
    }
    assert.equal(isForbiddenMethod(m), forbiddenForCheck, m);
    assert.equal(forbiddenForCheck, FORBIDDEN_METHODS.includes(m.toLowerCase()), m);
  }
});

// Fetch §2.2.2 "forbidden request-header" (https://fetch.spec.whatwg.org/#forbidden-request-header), as
// the standard lists the names, besides the `Proxy-` and `Sec-` prefixes and the X-HTTP-Method rule.
const FETCH_FORBIDDEN_REQUEST_NAMES = [
  'Accept-Charset', 'Accept-Encoding', 'Access-Control-Request-Headers', 'Access-Control-Request-Method', 'Connection',
  'Content-Length', 'Cookie', 'Cookie2', 'Date', 'DNT', 'Expect', 'Host', 'Keep-Alive', 'Origin', 'Referer', 'Set-Cookie',
  'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade', 'Via',
];

test('forbidden request-header names: the Fetch standard\'s list on both sides, refused in a policy, dropped by check', () => {
  assert.deepEqual(sorted(FORBIDDEN_REQUEST_HEADERS), sorted(FETCH_FORBIDDEN_REQUEST_NAMES.map((n) => n.toLowerCase())));
  assert.deepEqual(sorted(FORBIDDEN_REQUEST_HEADERS), sorted(FORBIDDEN_HEADERS));
  const others = ['authorization', 'content-type', 'range', 'x-token', 'accept', 'cache-control', 'priority'];
  for (const name of [...FORBIDDEN_REQUEST_HEADERS, 'proxy-authorization', 'sec-fetch-mode', ...others].flatMap(cases)) {
    const forbidden = !others.includes(name.toLowerCase());
    assert.equal(isForbiddenRequestHeader(name, 'x'), forbidden, name);
    assert.deepEqual(refusedBy({ allowedHeaders: [name] }), forbidden ? ['allowedHeaders[0]'] : [], name);
  }
});

test('forbidden response-header names: the Fetch standard\'s (Set-Cookie, Set-Cookie2) on both sides, refused in a policy, never readable', () => {
  assert.deepEqual(sorted(FORBIDDEN_RESPONSE_HEADERS), ['set-cookie', 'set-cookie2']);
  assert.deepEqual(sorted(FORBIDDEN_RESPONSE_HEADERS), sorted(FORBIDDEN_RESPONSE));
  for (const name of [...FORBIDDEN_RESPONSE_HEADERS, 'x-request-id', 'etag'].flatMap(cases)) {
    const forbidden = FORBIDDEN_RESPONSE_HEADERS.includes(name.toLowerCase());
    assert.equal(isForbiddenResponseName(name.toLowerCase()), forbidden, name);
    assert.deepEqual(refusedBy({ exposedHeaders: [name] }), forbidden ? ['exposedHeaders[0]'] : [], name);
  }
});
