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
    // More than two names of one length: an element of that length is looked up by its hash.
    [['aa', 'ab', 'ba', 'bb', 'a-', '-a', 'a-b', 'b-a', 'aab'], false],
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
  assert.equal(compared, 4 * 299592);
});

// A value that counts the work done on it: every charCodeAt, and the characters a startsWith may
// compare. allowsList scans a list through these two (and indexOf, which visits each byte once).
class CountingValue extends String {
  work = 0;
  charCodeAt(i) {
    this.work++;
    return super.charCodeAt(i);
  }
  startsWith(search, position) {
    this.work += search.length;
    return super.startsWith(search, position);
  }
}

test('a list costs work in proportion to its length, however many allowed names share its elements\' length and prefix', () => {
  // 40 names of 31 characters sharing 25: comparing each element with every name of its length
  // cost ~30 character comparisons per byte of the list (350 µs for 128 elements).
  const names = Array.from({ length: 40 }, (_, i) => `x-acme-tenant-feature-flag-${String(i).padStart(4, '0')}`);
  const set = new HeaderNameSet(names, false);
  const lists = [
    names.join(','),
    names.map((n) => n.toUpperCase()).join(', '),
    Array(MAX_REQUEST_HEADERS_ELEMENTS).fill(names[39]).join(','),
    Array(MAX_REQUEST_HEADERS_ELEMENTS).fill(names[39].toUpperCase()).join(','),
  ];
  for (const list of lists) {
    const value = new CountingValue(list);
    assert.equal(set.allowsList(value), true, list.slice(0, 40));
    assert.ok(value.work <= 3 * list.length, `${value.work} characters visited for a ${list.length}-byte list (${list.slice(0, 40)}…)`);
  }
});

test('the hash table finds every name of large sets, and only them', () => {
  let seed = 7;
  const random = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const chars = 'abcAB-_0';
  const word = () => Array.from({ length: 1 + random(6) }, () => chars[random(chars.length)]).join('');
  for (let round = 0; round < 300; round++) {
    const names = Array.from({ length: 1 + random(60) }, word);
    const set = new HeaderNameSet(names, false);
    const lower = names.map((n) => n.toLowerCase());
    for (let k = 0; k < 50; k++) {
      const list = Array.from({ length: 1 + random(4) }, () => (random(2) ? names[random(names.length)] : word())).join(random(2) ? ',' : ' , ');
      assert.equal(set.allowsList(list), simply(list, lower, false), `${JSON.stringify(list)} with ${JSON.stringify(names)}`);
    }
  }
});

test('names crafted to share a hash cost one comparison an element all the same', () => {
  // 'a~' and 'b_' have one polynomial hash under 31 (97 * 31 + 126 = 98 * 31 + 95), so names made of
  // such pairs all collided there, and an element naming the last was compared whole with every one.
  const names = [];
  for (let m = 0; m < 256; m++) {
    let name = `x-${'p'.repeat(200)}`;
    for (let b = 7; b >= 0; b--) name += (m >> b) & 1 ? 'b_' : 'a~';
    names.push(name);
  }
  const set = new HeaderNameSet(names, false);
  for (const name of [names[255], names[128], names[0]]) {
    const value = new CountingValue(name.toUpperCase());
    assert.equal(set.allowsList(value), true);
    assert.ok(value.work <= 3 * name.length, `${value.work} characters visited for one ${name.length}-byte name`);
  }
  assert.equal(set.allowsList(`${names[255].slice(0, -2)}b~`), false);
});
