// Preconditions and entity-tag lists, RFC 9110 §13 (src/http/conditional.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etagListMatches, evaluatePreconditions, withoutDateLists } from '../dist/http/conditional.js';

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

// list, our (strong) tag, weak comparison?, expected. Grammar, RFC 9110 §8.8.3 and §13.1.1-2:
//   If-Match = "*" / #entity-tag     entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
//   etagc = %x21 / %x23-7E / obs-text
const E = '"abc"';
const lists = [
  // exact and in lists, OWS and empty elements around "," (§5.6.1)
  ['"abc"', false, true],
  ['"abc"', true, true],
  ['"x", "abc"', false, true],
  ['"x","abc"', false, true],
  ['"abc" , "x"', false, true],
  [', "abc",', false, true],
  ['"x",\t"abc"', false, true],
  ['"x", "y"', false, false],
  ['"ABC"', true, false], // opaque-tags compare case-sensitively
  ['"abc', true, false],
  ['abc', true, false],
  ['""', true, false],
  // "*" is only valid as the whole field value (§13.1.1 grammar: "*" / #entity-tag): in a list
  // it is not an entity-tag, the list is malformed, and a malformed list matches nothing.
  ['*', false, true],
  ['*', true, true],
  ['"x", *', false, false],
  ['*, "x"', false, false],
  ['"abc", *', false, false],
  ['*, *', true, false],
  ['**', true, false],
  // weak tags: never match under strong comparison (If-Match, §13.1.1); do under weak (If-None-Match, §13.1.2)
  ['W/"abc"', false, false],
  ['W/"abc"', true, true],
  ['W/"x", W/"abc"', true, true],
  ['W/"x", "abc"', false, true],
  ['w/"abc"', true, false], // weak = %s"W/", case-sensitive (§8.8.3)
  ['W /"abc"', true, false],
  ['W/ "abc"', true, false],
  // malformed anywhere: the whole list matches nothing, even a tag listed before the fault
  ['"abc", garbage', true, false],
  ['"abc" "x"', true, false],
  ['"abc""x"', true, false],
  ['"abc"; "x"', true, false],
  ['"a b", "abc"', true, false], // SP is not etagc
  ['"a\\"b", "abc"', true, false],
  ['"x", "abc', true, false],
  ['', true, false],
  [' ', true, false],
  [',', true, false],
  // obs-text is etagc
  ['"\u00e9", "abc"', true, true],
];
for (const [list, weak, expected] of lists) {
  test(`etagListMatches(${JSON.stringify(list)}, ${E}, ${weak ? 'weak' : 'strong'}) is ${expected}`, () => {
    assert.equal(etagListMatches(list, E, weak), expected);
  });
}

const PROCEED = 0;
// headers, expected outcome for GET/HEAD (§13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since)
const LATER = 'Sun, 06 Nov 1994 08:49:38 GMT';
const SAME = 'Sun, 06 Nov 1994 08:49:37 GMT';
const EARLIER = 'Sun, 06 Nov 1994 08:49:36 GMT';
const preconditions = [
  [{}, PROCEED],
  [{ 'if-match': '"abc"' }, PROCEED],
  [{ 'if-match': '*' }, PROCEED],
  [{ 'if-match': '"x"' }, 412],
  [{ 'if-match': 'W/"abc"' }, 412], // strong comparison
  [{ 'if-match': '"x", *' }, 412], // malformed: no tag matches
  [{ 'if-match': 'garbage' }, 412],
  // If-Unmodified-Since applies only without If-Match (§13.2.2 step 2)
  [{ 'if-unmodified-since': EARLIER }, 412],
  [{ 'if-unmodified-since': SAME }, PROCEED],
  [{ 'if-unmodified-since': LATER }, PROCEED],
  [{ 'if-match': '"abc"', 'if-unmodified-since': EARLIER }, PROCEED],
  // If-None-Match: weak comparison (§13.1.2), 304 for GET/HEAD
  [{ 'if-none-match': '"abc"' }, 304],
  [{ 'if-none-match': 'W/"abc"' }, 304],
  [{ 'if-none-match': '"x", W/"abc"' }, 304],
  [{ 'if-none-match': '*' }, 304],
  [{ 'if-none-match': '"x"' }, PROCEED],
  [{ 'if-none-match': '"x", *' }, PROCEED], // malformed: matches nothing, so the full response
  [{ 'if-none-match': 'W/"x"' }, PROCEED],
  // If-Modified-Since only without If-None-Match (§13.1.3, §13.2.2 step 4)
  [{ 'if-modified-since': SAME }, 304],
  [{ 'if-modified-since': LATER }, 304],
  [{ 'if-modified-since': EARLIER }, PROCEED],
  [{ 'if-none-match': '"x"', 'if-modified-since': LATER }, PROCEED],
  [{ 'if-modified-since': `${SAME}, ${SAME}` }, PROCEED], // more than one member: ignored (§13.1.3)
  // If-Match failing wins over everything after it
  [{ 'if-match': '"x"', 'if-none-match': '"abc"' }, 412],
  [{ 'if-match': '"abc"', 'if-none-match': '"abc"' }, 304],
];
for (const [headers, expected] of preconditions) {
  test(`preconditions ${JSON.stringify(headers)} -> ${expected || 'proceed'}`, () => {
    assert.equal(evaluatePreconditions(headers, V), expected);
  });
}

test('withoutDateLists: a date field on two lines (any case) is dropped, one line or other fields kept, no copy when nothing is dropped', () => {
  const d = 'Sun, 06 Nov 1994 08:49:37 GMT';
  const h = { 'if-modified-since': d, 'if-unmodified-since': d, 'if-none-match': '"x"' };
  assert.equal(withoutDateLists(h, ['If-Modified-Since', d, 'If-Unmodified-Since', d]), h);
  assert.equal(withoutDateLists(h, undefined), h);
  assert.deepEqual(withoutDateLists(h, ['If-Modified-Since', d, 'if-modified-since', d, 'If-Unmodified-Since', d]), { ...h, 'if-modified-since': undefined });
  assert.deepEqual(withoutDateLists(h, ['if-unmodified-since', d, 'IF-UNMODIFIED-SINCE', d]), { ...h, 'if-unmodified-since': undefined });
  const none = { 'if-none-match': '"x"' };
  assert.equal(withoutDateLists(none, ['if-modified-since', d, 'if-modified-since', d]), none);
  // What the handler then decides: no 412 from the first of two If-Unmodified-Since lines.
  const two = withoutDateLists({ 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, ['If-Unmodified-Since', 'Thu, 01 Jan 1970 00:00:00 GMT', 'If-Unmodified-Since', d]);
  assert.equal(evaluatePreconditions(two, V), 0);
});

test('a representation sent without Last-Modified (undated) ignores If-Modified-Since and If-Unmodified-Since, never If-None-Match / If-Match', () => {
  const undated = { ...V, undated: true };
  const later = new Date(V.lastModified + 3_600_000).toUTCString();
  const earlier = new Date(V.lastModified - 3_600_000).toUTCString();
  assert.equal(evaluatePreconditions({ 'if-modified-since': later }, V), 304);
  assert.equal(evaluatePreconditions({ 'if-modified-since': later }, undated), 0);
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': earlier }, V), 412);
  assert.equal(evaluatePreconditions({ 'if-unmodified-since': earlier }, undated), 0);
  assert.equal(evaluatePreconditions({ 'if-none-match': V.etag }, undated), 304);
  assert.equal(evaluatePreconditions({ 'if-match': '"other"' }, undated), 412);
});
