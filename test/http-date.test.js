// HTTP-date, RFC 9110 §5.6.7 (src/http/http-date.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpDate } from '../dist/http/http-date.js';

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
