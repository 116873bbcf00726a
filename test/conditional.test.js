import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllows, parseHttpDate } from '../dist/http/conditional.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // the RFC's example instant
const NOW = Date.UTC(2026, 10, 25);

test('parseHttpDate: the three forms RFC 9110 §5.6.7 requires a recipient to accept', () => {
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW), T); // IMF-fixdate
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), T); // rfc850-date
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW), T); // asctime-date, always GMT
  assert.equal(parseHttpDate('Sun Nov 16 08:49:37 1994', NOW), Date.UTC(1994, 10, 16, 8, 49, 37));
  assert.equal(parseHttpDate('Thu, 01 Jan 1970 00:00:00 GMT', NOW), 0);
  assert.equal(parseHttpDate('Wed, 31 Dec 2025 23:59:60 GMT', NOW), Date.UTC(2026, 0, 1)); // a leap second
  // The day name is not checked against the date (the grammar does not ask for it).
  assert.equal(parseHttpDate('Mon, 06 Nov 1994 08:49:37 GMT', NOW), T);
});

test('parseHttpDate: an rfc850 two-digit year more than 50 years ahead is in the past century', () => {
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), T);
  assert.equal(parseHttpDate('Friday, 01-Jan-76 00:00:00 GMT', NOW), Date.UTC(2076, 0, 1)); // 50 years ahead: kept
  assert.equal(parseHttpDate('Monday, 01-Jan-77 00:00:00 GMT', NOW), Date.UTC(1977, 0, 1)); // 51 ahead: 1977
  assert.equal(parseHttpDate('Monday, 01-Jan-05 00:00:00 GMT', Date.UTC(2090, 0, 1)), Date.UTC(2105, 0, 1));
});

test('parseHttpDate: anything else is not a date (NaN), whatever Date.parse would make of it', () => {
  for (const v of [
    '',
    'garbage',
    'garbage 1994',
    '1994',
    '784111777',
    '2026-11-25',
    '2026-11-25T10:00:00Z',
    'Sun, 06 Nov 1994 08:49:37', // no GMT
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Nov 1994 08:49:37 +0000',
    'sun, 06 nov 1994 08:49:37 gmt', // case-sensitive
    'Sun, 6 Nov 1994 08:49:37 GMT', // day needs two digits
    'Sun,  06 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 94 08:49:37 GMT',
    'Sun, 31 Feb 1994 08:49:37 GMT',
    'Sun, 00 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT',
    'Sun, 06 Nov 1994 08:60:00 GMT',
    'Sun, 06 Nov 1994 08:49:61 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sunday, 06-Nov-1994 08:49:37 GMT',
    'Sun, 06-Nov-94 08:49:37 GMT', // rfc850 needs the long day name
    'Sun Nov 6 08:49:37 1994', // asctime pads a one-digit day with a space
    'Sun Nov  6 08:49:37 1994 GMT',
  ]) {
    assert.ok(Number.isNaN(parseHttpDate(v, NOW)), `${JSON.stringify(v)} must not parse`);
  }
});

test('parseHttpDate: a four-digit year below 100 is that year, not 19xx', () => {
  assert.equal(new Date(parseHttpDate('Mon, 01 Jan 0050 00:00:00 GMT', NOW)).getUTCFullYear(), 50);
});

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

test('If-Range: a date validates only when it is an HTTP-date equal to Last-Modified', () => {
  assert.equal(ifRangeAllows('Sun, 06 Nov 1994 08:49:37 GMT', V), true);
  assert.equal(ifRangeAllows('Sunday, 06-Nov-94 08:49:37 GMT', V), true);
  assert.equal(ifRangeAllows('Sun, 06 Nov 1994 08:49:38 GMT', V), false);
  assert.equal(ifRangeAllows('1994-11-06T08:49:37Z', V), false);
  assert.equal(ifRangeAllows('"abc"', V), true);
  assert.equal(ifRangeAllows('W/"abc"', V), false);
});
