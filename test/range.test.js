// Range (RFC 9110 §14) and If-Range (§13.1.5) (src/http/range.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ifRangeAllows, parseRange } from '../dist/http/range.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // the RFC's example instant
const V = { etag: '"abc"', lastModified: T };

test('If-Range: a date validates only when it is an HTTP-date equal to Last-Modified', () => {
  assert.equal(ifRangeAllows('Sun, 06 Nov 1994 08:49:37 GMT', V), true);
  assert.equal(ifRangeAllows('Sunday, 06-Nov-94 08:49:37 GMT', V), true);
  assert.equal(ifRangeAllows('Sun, 06 Nov 1994 08:49:38 GMT', V), false);
  assert.equal(ifRangeAllows('1994-11-06T08:49:37Z', V), false);
  assert.equal(ifRangeAllows('"abc"', V), true);
  assert.equal(ifRangeAllows('W/"abc"', V), false);
});
