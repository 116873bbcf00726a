// HTTP-date, RFC 9110 §5.6.7 (src/http/http-date.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentHttpDate, parseHttpDate } from '../dist/http/http-date.js';

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
  // The timestamp decides, not the year (review v31): on 6 Dec 2026, a 76 date after 6 Dec is over 50 years ahead.
  const DEC6 = Date.UTC(2026, 11, 6, 20);
  assert.equal(parseHttpDate('Friday, 31-Dec-76 00:00:00 GMT', DEC6), Date.UTC(1976, 11, 31));
  assert.equal(parseHttpDate('Tuesday, 07-Dec-76 00:00:00 GMT', DEC6), Date.UTC(1976, 11, 7));
  assert.equal(parseHttpDate('Sunday, 06-Dec-76 19:59:59 GMT', DEC6), Date.UTC(2076, 11, 6, 19, 59, 59));
  assert.equal(parseHttpDate('Sunday, 06-Dec-76 20:00:01 GMT', DEC6), Date.UTC(1976, 11, 6, 20, 0, 1));
  // 29 Feb: the century is chosen first, then the day checked in it (2000 had one, 2100 will not).
  assert.equal(parseHttpDate('Tuesday, 29-Feb-00 00:00:00 GMT', DEC6), Date.UTC(2000, 1, 29));
  assert.ok(Number.isNaN(parseHttpDate('Monday, 29-Feb-00 00:00:00 GMT', Date.UTC(2060, 0, 1))), '2100 has no 29 Feb');
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

const dates = [
  // value, expected instant (or NaN)
  ['Tue, 29 Feb 2000 00:00:00 GMT', Date.UTC(2000, 1, 29)], // 2000 is a leap year
  ['Wed, 29 Feb 1900 00:00:00 GMT', NaN], // 1900 is not
  ['Sat, 29 Feb 2025 00:00:00 GMT', NaN],
  ['Thu, 31 Apr 2025 00:00:00 GMT', NaN],
  ['Fri, 31 Dec 9999 23:59:59 GMT', Date.UTC(9999, 11, 31, 23, 59, 59)],
  ['Sat, 01 Jan 0000 00:00:00 GMT', Date.parse('0000-01-01T00:00:00Z')], // year 0, not 1900
  ['Sun, 06 Nov 1994 08:49:37 GMT ', NaN], // the field parser strips OWS; a value that still has it is not a date
  [' Sun, 06 Nov 1994 08:49:37 GMT', NaN],
  ['Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT', NaN], // two members
  ['Sun, 06 NOV 1994 08:49:37 GMT', NaN],
  ['Sun, 06 Nov 1994 08:49:37 gmt', NaN],
  ['Sun, 06 Nov 19940 08:49:37 GMT', NaN],
  ['Sun, 06 Nov 1994 08:49 GMT', NaN],
  ['Sun, 06 Nov 1994 08:49:37.5 GMT', NaN],
  ['Sun, ٠٦ Nov 1994 08:49:37 GMT', NaN], // Arabic-Indic digits are not DIGIT
  ['Sun Nov 06 08:49:37 1994', T], // asctime: date1 = 2DIGIT / ( SP DIGIT ), so "06" is fine
  ['Sun Nov  6 08:49:37 94', NaN],
  ['Sunday, 06-Nov-94 08:49:37 GMT ', NaN],
  ['Sunday, 06-nov-94 08:49:37 GMT', NaN],
];
for (const [value, expected] of dates) {
  test(`parseHttpDate(${JSON.stringify(value)})`, () => {
    const got = parseHttpDate(value, NOW);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(got), `got ${got}`);
    else assert.equal(got, expected);
  });
}

test('currentHttpDate: now as an IMF-fixdate, the same string within a second, a new one in the next', async () => {
  const before = Math.floor(Date.now() / 1000) * 1000;
  const first = currentHttpDate();
  const after = Date.now();
  const at = parseHttpDate(first);
  assert.ok(at >= before && at <= after, `${first} is not now`);
  assert.equal(currentHttpDate(), first, 'made again within the same second');
  // Into the next second (plus a margin for the timer): a stale cached date would fail here.
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
  const next = currentHttpDate();
  assert.equal(parseHttpDate(next), Math.floor(Date.now() / 1000) * 1000, `${next} after ${first}`);
});

test('currentHttpDate: a new second is seen at once, even when the event loop was busy across its start', () => {
  const first = currentHttpDate();
  // Synchronous work (no timer can run) past the start of the next second.
  const next = Math.floor(Date.now() / 1000) * 1000 + 1000;
  while (Date.now() < next + 5);
  const now = currentHttpDate();
  assert.notEqual(now, first, 'the cached date of the second before was given');
  assert.equal(parseHttpDate(now), Math.floor(Date.now() / 1000) * 1000, now);
});

test('currentHttpDate: a clock set back is seen at once, not after it has caught up with the date given last', (t) => {
  const real = Date.now;
  t.after(() => (Date.now = real));
  const first = currentHttpDate();
  const stepped = real() - 3_600_000;
  Date.now = () => stepped;
  const now = currentHttpDate();
  assert.equal(parseHttpDate(now, stepped), Math.floor(stepped / 1000) * 1000, `${now} after ${first}, the clock an hour back`);
});
