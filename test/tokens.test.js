// RFC 9110 lexical primitives (src/http/tokens.ts): tchar/token §5.6.2, OWS §5.6.3, ASCII case folding; and the Connection list (connection-options.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalsLower, equalsLowerAt, isOws, isTchar, isToken, rangeEqualsLower } from '../dist/http/tokens.js';
import { hasCloseOption } from '../dist/http/connection-options.js';

test('isTchar: exactly the 77 tchar code units of RFC 9110 §5.6.2', () => {
  const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let c = 0; c < 0x10000; c++) {
    assert.equal(isTchar(c), tchar.includes(String.fromCharCode(c)), `code ${c}`);
  }
  assert.equal(isTchar(NaN), false); // charCodeAt past the end
});

const tokens = [
  ['PUT', true],
  ["x-!#$%&'*+-.^_`|~1", true],
  ['*', true], // a token; "*" as a wildcard is the caller's business
  ['', false],
  ['P UT', false],
  ['PUT,', false],
  ['PÜT', false],
  ['"PUT"', false],
  ['PUT\t', false],
  ['a:b', false],
  ['a/b', false],
  ['a(b)', false],
  ['a;b', false],
  ['a=b', false],
  ['a@b', false],
  ['a[b]', false],
  ['a{b}', false],
  ['a\\b', false],
  ['a?b', false],
  ['\u0000', false],
  ['\u007f', false],
];
for (const [s, expected] of tokens) {
  test(`isToken(${JSON.stringify(s)}) is ${expected}`, () => assert.equal(isToken(s), expected));
}

test('isOws: SP and HTAB only (§5.6.3); CR, LF, NBSP and others are not OWS', () => {
  assert.equal(isOws(32), true);
  assert.equal(isOws(9), true);
  for (const c of [10, 11, 12, 13, 0, 0xa0, 0x3000, 44, NaN]) assert.equal(isOws(c), false, `code ${c}`);
});

const lower = [
  // s, lowercase literal, expected
  ['content-type', 'content-type', true],
  ['Content-Type', 'content-type', true],
  ['CONTENT-TYPE', 'content-type', true],
  ['content-typ', 'content-type', false],
  ['content-types', 'content-type', false],
  ['', '', true],
  ['x\r', 'x-', false], // CR | 0x20 is "-": folding must touch A-Z only
  ['x@', 'x`', false], // "@" | 0x20 is "`"
  ['[', '{', false],
  ['\u212a', 'k', false], // KELVIN SIGN lowercases to "k" in Unicode, never in ASCII folding
  ['\u0130', 'i', false],
];
for (const [s, l, expected] of lower) {
  test(`equalsLower(${JSON.stringify(s)}, ${JSON.stringify(l)}) is ${expected}`, () => assert.equal(equalsLower(s, l), expected));
}

test('equalsLowerAt / rangeEqualsLower: compare a slice in place, never past the end', () => {
  assert.equal(equalsLowerAt('x, GZIP, y', 3, 'gzip'), true);
  assert.equal(equalsLowerAt('x, GZIP', 3, 'gzip'), true);
  assert.equal(equalsLowerAt('x, GZI', 3, 'gzip'), false);
  assert.equal(equalsLowerAt('gzip', -1, 'gzip'), false);
  assert.equal(rangeEqualsLower('x, GZIP, y', 3, 7, 'gzip'), true);
  assert.equal(rangeEqualsLower('x, GZIPS, y', 3, 8, 'gzip'), false);
  assert.equal(rangeEqualsLower('x, GZIP, y', 3, 6, 'gzi'), true);
  assert.equal(rangeEqualsLower('x-gzip', 0, 6, 'x-gzip'), true);
  assert.equal(rangeEqualsLower('x\rgzip', 0, 6, 'x-gzip'), false);
});

test('trimmed, withoutTrailing, withoutOws: each character looked at once at most, whatever runs lie inside', async () => {
  const { trimmed, withoutTrailing, withoutOws, isHttpWhitespace } = await import('../dist/http/whitespace.js');
  const inner = ' '.repeat(60_000);
  // text, without HTTP whitespace at either end, without OWS at either end
  const cases = [
    [` \t a${inner}b \r\n`, `a${inner}b`, `a${inner}b \r\n`],
    [' \t\r\n ', '', '\r\n'],
    ['', '', ''],
    ['x', 'x', 'x'],
  ];
  for (const [text, both, ows] of cases) {
    let looked = 0;
    const counted = (c) => (looked++, isHttpWhitespace(c));
    assert.equal(trimmed(text, counted), both);
    assert.ok(looked <= text.length + 2, `${looked} looks for ${text.length} characters`);
    assert.equal(withoutOws(text), ows);
  }
  assert.equal(withoutTrailing(`a${'/'.repeat(60_000)}`, (c) => c === 0x2f), 'a');
  assert.equal(withoutTrailing(`/a//x//`, (c) => c === 0x2f, 1, 6), 'a//x');
  assert.equal(withoutOws('  a b  ', 1, 6), 'a b');
});

test('hasCloseOption: "close" as one element of a Connection list, any case, OWS and empty elements around it', () => {
  for (const v of ['close', 'CLOSE', 'keep-alive, close', 'close,keep-alive', ' ,\tClose\t, ', 'a,,close']) assert.equal(hasCloseOption(v), true, v);
  for (const v of ['', 'keep-alive', 'closed', 'clos', 'close-x', 'x close', '"close"', ',']) assert.equal(hasCloseOption(v), false, v);
});
