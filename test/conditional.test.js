// Preconditions and entity-tag lists, RFC 9110 §13 (src/http/conditional.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etagListMatches, evaluatePreconditions } from '../dist/http/conditional.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // the RFC's example instant

const V = { etag: '"abc"', lastModified: T };

test('preconditions: an invalid date is ignored, never a 412 or a 304', () => {
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': 'garbage 1994' }, V), 0);
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': '1994-01-01' }, V), 0);
  assert.equal(evaluatePreconditions({ 'if-modified-since': '2099-01-01' }, V), 0);
  // The same instants as HTTP-dates do apply.
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': 'Sat, 01 Jan 1994 00:00:00 GMT' }, V), 412);
  assert.equal(evaluatePreconditions({ 'if-modified-since': 'Thu, 01 Jan 2099 00:00:00 GMT' }, V), 304);
  assert.equal(evaluatePreconditions({ 'if-modified-since': 'Sun Nov  6 08:49:37 1994' }, V), 304);
});
