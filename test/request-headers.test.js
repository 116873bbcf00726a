import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HeaderNameSet,
  MAX_REQUEST_HEADERS_BYTES,
  MAX_REQUEST_HEADERS_ELEMENTS,
} from '../dist/cors/request-headers.js';

const set = new HeaderNameSet(['Content-Type', 'x-requested-with', 'range', 'X-Custom-Header'], false);

const cases = [
  // value, allowed?
  ['', true],
  ['content-type', true],
  ['Content-Type', true],
  ['CONTENT-TYPE', true],
  ['content-type,x-requested-with', true],
  ['x-requested-with,content-type', true], // any order
  ['content-type, x-requested-with', true], // ", " as Node joins repeated lines
  ['content-type ,\tx-requested-with', true], // OWS either side
  ['  content-type  ', true],
  ['content-type,content-type', true], // duplicates
  ['content-type,,range', true], // empty element
  [',content-type,', true],
  ['x-custom-header', true],
  ['authorization', false],
  ['content-type,authorization', false],
  ['content-typ', false], // truncated
  ['content-typex', false], // longer
  ['content-typf', false], // the length of an allowed name, not the name (the whole-value fast path)
  ['rangE', true],
  ['rangf', false],
  ['x-requested-witH', true],
  ['content-type;x', false], // not a list separator
  ['content type', false], // a space inside an element
  ['content-type\r\nx-evil: 1', false],
  ['contént-type', false], // non-ASCII
  ['x-custom-headeR', true],
  ['x-custom-header~', false],
];

for (const [value, allowed] of cases) {
  test(`list ${JSON.stringify(value)} is ${allowed ? 'allowed' : 'refused'}`, () => {
    assert.equal(set.allowsList(value), allowed);
  });
}

test('a list over the byte bound is refused, even if every element is allowed', () => {
  const parts = [];
  while (parts.join(',').length <= MAX_REQUEST_HEADERS_BYTES) parts.push('content-type');
  assert.equal(set.allowsList(parts.join(',')), false);
  assert.equal(set.allowsList(parts.slice(0, MAX_REQUEST_HEADERS_ELEMENTS).join(',')), true);
});

test('a list over the element bound is refused', () => {
  assert.equal(set.allowsList(Array(MAX_REQUEST_HEADERS_ELEMENTS).fill('range').join(',')), true);
  assert.equal(set.allowsList(Array(MAX_REQUEST_HEADERS_ELEMENTS + 1).fill('range').join(',')), false);
  assert.equal(set.allowsList(','.repeat(MAX_REQUEST_HEADERS_ELEMENTS)), false);
});

test('a huge hostile list is refused', () => {
  // That it is refused at the length check, before any scanning, is what the byte-bound test above
  // shows: a list of allowed names is refused there once it is over the bound. No timing here.
  assert.equal(set.allowsList('a,'.repeat(5_000_000)), false);
});

test('"*" allows any valid name except authorization', () => {
  const any = new HeaderNameSet([], true);
  assert.equal(any.allowsList('x-anything, content-type, x-y'), true);
  assert.equal(any.allowsList('authorization'), false);
  assert.equal(any.allowsList('x-a, Authorization'), false);
  assert.equal(any.allowsList('x a'), false);
  const withAuth = new HeaderNameSet(['authorization'], true);
  assert.equal(withAuth.allowsList('x-anything, AUTHORIZATION'), true);
  assert.equal(withAuth.allowsList('authorization'), true);
  assert.equal(withAuth.allowsList('authorizatioN'), true);
  assert.equal(withAuth.allowsList('authorizatiom'), true); // any other valid name of that length
  assert.equal(withAuth.allowsList('authorizatio '), true); // trailing OWS
  assert.equal(withAuth.allowsList('authorizati@n'), false);
});

test('the whole-value fast path never skips the byte bound: an allowed name over it is refused', () => {
  // compilePolicy does not bound a name's length; the scan refuses any value over the bound, so the
  // fast path (value === a stored name) must come after that check.
  const long = `x-${'a'.repeat(MAX_REQUEST_HEADERS_BYTES)}`;
  const set = new HeaderNameSet([long], false);
  assert.equal(set.allowsList(long), false);
  const atBound = 'x'.repeat(MAX_REQUEST_HEADERS_BYTES);
  assert.equal(new HeaderNameSet([atBound], false).allowsList(atBound), true);
});

test('a name that is not a token is refused when the set is built (the fast path would allow it whole)', () => {
  // The scan refuses "x a" and "a,b" as values; with such a name stored, the fast path would not.
  for (const name of ['x a', 'a,b', 'x:y', 'a\r\nb', 'contént', '\u212Aey', '']) {
    assert.throws(() => new HeaderNameSet([name], false), (err) => err instanceof Error && /HeaderNameSet: .* is not a header name/.test(err.message), JSON.stringify(name));
  }
  assert.equal(new HeaderNameSet(['X-Ok'], false).allowsList('x-ok'), true);
});

// allowsList decides most elements by comparing them whole with the allowed names, and scans the
// others; this is the list's grammar read the simple way (RFC 9110 §5.6.1: 1#token with OWS around
// commas, empty elements allowed). Every value up to 6 characters over the characters that matter
// must get the same answer both ways.
function simply(value, names, any) {
  const elements = value.split(',');
  if (elements.length > MAX_REQUEST_HEADERS_ELEMENTS) return false;
  return elements.every((element) => {
    const name = element.replace(/^[ \t]+|[ \t]+$/g, '');
    if (name === '') return true;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return false;
    const lower = name.toLowerCase();
    return names.includes(lower) || (any && lower !== 'authorization');
  });
}

test('allowsList gives what the list grammar read simply gives, for every short value over a A b , space tab - @', () => {
  const alphabet = ['a', 'A', 'b', ',', ' ', '\t', '-', '@'];
  const sets = [
    [['a', 'ab', 'a-b'], false],
    [['a', 'ab', 'a-b'], true],
    [['b'], false],
  ];
  let values = [''];
  let compared = 0;
  for (let length = 1; length <= 6; length++) {
    values = values.flatMap((v) => alphabet.map((c) => v + c));
    for (const value of values) {
      for (const [names, any] of sets) {
        const want = simply(value, names, any);
        if (new HeaderNameSet(names, any).allowsList(value) !== want) assert.fail(`${JSON.stringify(value)} with ${JSON.stringify(names)}${any ? ' and *' : ''}: allowsList says ${!want}`);
        compared++;
      }
    }
  }
  assert.equal(compared, 3 * 299592);
});
