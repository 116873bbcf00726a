// The framework-neutral engine: answers owned by the caller, the same rules as the node:http path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorsEngine, RequestKind, classify, createCors } from '../dist/cors/index.js';

const A = 'https://a.example.com';
const B = 'https://b.example.com';

test('decidePreflight: each answer is its own array, safe to keep across await', async () => {
  const engine = new CorsEngine({ origins: [A, B], methods: ['PUT'], allowedHeaders: ['x-foo'], credentials: true });
  const one = engine.decidePreflight(A, 'PUT', 'x-foo');
  const two = engine.decidePreflight(B, 'PUT', 'x-foo');
  await new Promise((r) => setImmediate(r));
  assert.notEqual(one.headers, two.headers);
  const acao = (h) => h[h.indexOf('Access-Control-Allow-Origin') + 1];
  assert.equal(acao(one.headers), A);
  assert.equal(acao(two.headers), B);
  assert.deepEqual([one.allowed, one.status], [true, 204]);
  const denied = engine.decidePreflight('https://evil.example', 'PUT', undefined);
  assert.deepEqual([denied.allowed, denied.status], [false, 403]);
  assert.ok(!denied.headers.some((n, i) => i % 2 === 0 && n.startsWith('Access-Control-')));
});

test('actualHeaders: allowed, disallowed, absent Origin, and the "*" policy', () => {
  const list = new CorsEngine({ origins: [A], exposedHeaders: ['x-id'], credentials: true, timingAllowOrigin: true });
  assert.deepEqual(list.actualHeaders(A), [
    'Access-Control-Allow-Origin', A, 'Access-Control-Allow-Credentials', 'true',
    'Access-Control-Expose-Headers', 'x-id', 'Timing-Allow-Origin', A, 'Vary', 'Origin',
  ]);
  assert.deepEqual(list.actualHeaders('https://evil.example'), ['Vary', 'Origin']);
  assert.deepEqual(list.actualHeaders(undefined), ['Vary', 'Origin']);
  const any = new CorsEngine({ origins: ['*'] });
  assert.deepEqual(any.actualHeaders(undefined), ['Access-Control-Allow-Origin', '*']);
  assert.deepEqual(any.actualHeaders(A), ['Access-Control-Allow-Origin', '*']);
  // Copies: changing one answer never changes the next.
  list.actualHeaders(A)[1] = 'x';
  assert.equal(list.actualHeaders(A)[1], A);
});

test('classify and the node:http class agree', () => {
  assert.equal(classify('GET', undefined, undefined), RequestKind.Plain);
  assert.equal(classify('OPTIONS', A, undefined), RequestKind.Actual);
  assert.equal(classify('OPTIONS', A, 'PUT'), RequestKind.Preflight);
  const cors = createCors({ origins: [A] });
  assert.ok(cors instanceof CorsEngine);
  assert.equal(cors.classify({ method: 'OPTIONS', headers: { origin: A, 'access-control-request-method': 'PUT' } }), RequestKind.Preflight);
});
