// The Fetch standard's method and header-name lists exist twice on purpose: the server's side
// (src/cors: the policy compiler and the engine) and the browser's side (src/check: `xorigin check`,
// whose corpus runs against Chromium and Firefox). These tests hold the two to the same lists, and
// each side's behaviour to its list, so that a change to one side fails here until the other follows.
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

test('normalised, safelisted and forbidden methods: the same lists on both sides', () => {
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

test('forbidden request-header names: the same list on both sides, refused in a policy, dropped by check', () => {
  assert.deepEqual(sorted(FORBIDDEN_REQUEST_HEADERS), sorted(FORBIDDEN_HEADERS));
  const others = ['authorization', 'content-type', 'range', 'x-token', 'accept', 'cache-control', 'priority'];
  for (const name of [...FORBIDDEN_REQUEST_HEADERS, 'proxy-authorization', 'sec-fetch-mode', ...others].flatMap(cases)) {
    const forbidden = !others.includes(name.toLowerCase());
    assert.equal(isForbiddenRequestHeader(name, 'x'), forbidden, name);
    assert.deepEqual(refusedBy({ allowedHeaders: [name] }), forbidden ? ['allowedHeaders[0]'] : [], name);
  }
});

test('forbidden response-header names: the same list on both sides, refused in a policy, never readable', () => {
  assert.deepEqual(sorted(FORBIDDEN_RESPONSE_HEADERS), sorted(FORBIDDEN_RESPONSE));
  for (const name of [...FORBIDDEN_RESPONSE_HEADERS, 'x-request-id', 'etag'].flatMap(cases)) {
    const forbidden = FORBIDDEN_RESPONSE_HEADERS.includes(name.toLowerCase());
    assert.equal(isForbiddenResponseName(name.toLowerCase()), forbidden, name);
    assert.deepEqual(refusedBy({ exposedHeaders: [name] }), forbidden ? ['exposedHeaders[0]'] : [], name);
  }
});
