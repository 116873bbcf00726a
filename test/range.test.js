// Range (RFC 9110 §14) and If-Range (§13.1.5) (src/http/range.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ifRangeAllows, parseRange } from '../dist/http/range.js';

test('If-Range: only the strong ETag itself validates; a date never does (every response has an ETag)', () => {
  assert.equal(ifRangeAllows(undefined, '"abc"'), true);
  assert.equal(ifRangeAllows('"abc"', '"abc"'), true);
  for (const v of ['"abd"', 'W/"abc"', '"abc" ', 'abc', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', '']) {
    assert.equal(ifRangeAllows(v, '"abc"'), false, v);
  }
});

const I = 'ignore';
const U = 'unsatisfiable';
const r = (start, end) => ({ start, end });
// value, size, expected. Grammar, RFC 9110 §14.1.1/§14.1.2:
//   ranges-specifier = range-unit "=" range-set      range-set = 1#range-spec
//   int-range = first-pos "-" [ last-pos ]            suffix-range = "-" suffix-length
const ranges = [
  // the examples of §14.1.2 against a 10000-byte representation
  ['bytes=0-499', 10000, r(0, 499)],
  ['bytes=500-999', 10000, r(500, 999)],
  ['bytes=-500', 10000, r(9500, 9999)],
  ['bytes=9500-', 10000, r(9500, 9999)],
  ['bytes=0-0', 10000, r(0, 0)],
  ['bytes=-1', 10000, r(9999, 9999)],
  // last-pos past the end is clamped (§14.1.2); suffix longer than the file is the whole file
  ['bytes=0-99999', 100, r(0, 99)],
  ['bytes=-500', 100, r(0, 99)],
  ['bytes=99-', 100, r(99, 99)],
  ['bytes=99-99', 100, r(99, 99)],
  // last-pos at and just past the last byte: size - 1 is the last, size and size + 1 are clamped to it
  ['bytes=0-98', 100, r(0, 98)],
  ['bytes=0-99', 100, r(0, 99)],
  ['bytes=0-100', 100, r(0, 99)],
  ['bytes=0-101', 100, r(0, 99)],
  ['bytes=98-100', 100, r(98, 99)],
  ['bytes=-99', 100, r(1, 99)],
  ['bytes=-100', 100, r(0, 99)],
  ['bytes=-101', 100, r(0, 99)],
  ['bytes=0-0', 1, r(0, 0)],
  ['bytes=0-1', 1, r(0, 0)],
  ['bytes=1-', 1, U],
  // unsatisfiable (§14.1.2: first-pos not below the length; a suffix-length of zero)
  ['bytes=100-', 100, U],
  ['bytes=100-200', 100, U],
  ['bytes=-0', 100, U],
  ['bytes=-000', 100, U],
  // leading zeros are digits like any other (1*DIGIT)
  ['bytes=000-001', 100, r(0, 1)],
  ['bytes=-0005', 100, r(95, 99)],
  // invalid int-range: last-pos below first-pos (§14.1.1) is ignored, whatever the length
  ['bytes=5-4', 100, I],
  ['bytes=500-400', 100, I], // first-pos beyond the file, still invalid rather than unsatisfiable
  // the range unit is case-insensitive (§14.1); other units are ignored (§14.2)
  ['BYTES=0-4', 100, r(0, 4)],
  ['Bytes=0-4', 100, r(0, 4)],
  ['items=0-4', 100, I],
  ['byte=0-4', 100, I],
  ['bytesx=0-4', 100, I],
  ['none', 100, I],
  // empty list elements are accepted around the one range-spec (#rule, §5.6.1), with OWS around ","
  ['bytes=0-0,', 100, r(0, 0)],
  ['bytes=0-0 ,', 100, r(0, 0)],
  ['bytes=,0-0', 100, r(0, 0)],
  ['bytes=, 0-0 , ,', 100, r(0, 0)],
  ['bytes=0-0\t', 100, r(0, 0)],
  // no whitespace is allowed around "=" or "-": not a ranges-specifier, ignored (§14.2)
  ['bytes =0-4', 100, I],
  ['bytes= 0-4', 100, I],
  ['bytes=0 -4', 100, I],
  ['bytes=0- 4', 100, I],
  ['bytes = 0 - 4', 100, I],
  [' bytes=0-4', 100, I],
  // malformed
  ['', 100, I],
  ['bytes', 100, I],
  ['bytes=', 100, I],
  ['bytes=,', 100, I],
  ['bytes=-', 100, I],
  ['bytes=--5', 100, I],
  ['bytes=0-4-', 100, I],
  ['bytes=0-4-8', 100, I],
  ['bytes=+1-4', 100, I],
  ['bytes=0x10-', 100, I],
  ['bytes=1e2-', 100, I],
  ['bytes=1.5-', 100, I],
  ['bytes=0-4;x', 100, I],
  ['bytes=٠-٤', 100, I], // Arabic-Indic digits are not DIGIT
  ['bytes==0-4', 100, I],
  // several ranges: the whole representation (§14.2 allows ignoring; no multipart amplification)
  ['bytes=0-0,5-6', 100, I],
  ['bytes=0-0, -1', 100, I],
  ['bytes=0-0,0-0', 100, I],
  ['bytes=0-0, garbage', 100, I],
  // huge numbers: never rounded into a wrong range (2^53 = 9007199254740992, 2^64 = 18446744073709551616)
  ['bytes=0-9007199254740993', 100, r(0, 99)],
  ['bytes=0-18446744073709551616', 100, r(0, 99)],
  ['bytes=9007199254740993-', 100, U],
  ['bytes=18446744073709551616-', 100, U],
  ['bytes=18446744073709551616-18446744073709551617', 100, U],
  ['bytes=-18446744073709551616', 100, r(0, 99)],
  ['bytes=' + '9'.repeat(400) + '-', 100, U], // Number() would give Infinity
  ['bytes=0-' + '9'.repeat(400), 100, r(0, 99)],
  // last < first where both round to the same double: still invalid, so ignored
  ['bytes=9007199254740993-9007199254740992', 100, I],
  ['bytes=18446744073709551617-18446744073709551616', 100, I],
  ['bytes=' + '9'.repeat(400) + '-' + '9'.repeat(399), 100, I],
  ['bytes=00000000000000000000000000001-00000000000000000000000000000', 100, I],
  ['bytes=00000000000000000000000000000-00000000000000000000000000001', 100, r(0, 1)],
  // at the largest file size a double holds exactly
  ['bytes=9007199254740990-', 9007199254740991, r(9007199254740990, 9007199254740990)],
  ['bytes=9007199254740991-', 9007199254740991, U],
  ['bytes=-2', 9007199254740991, r(9007199254740989, 9007199254740990)],
  // an empty representation: no int-range is satisfiable (§14.1.2), yet one from 0 (CDN range
  // slicing, media players: rack#2159) is ignored, as nginx does (§14.2: a server MAY ignore
  // Range), so 200 with the empty body; one from past 0 is 416. A non-zero suffix-range is
  // satisfiable yet a 206 cannot describe zero bytes, so Range is ignored.
  ['bytes=0-', 0, I],
  ['bytes=0-0', 0, I],
  ['bytes=0-1023', 0, I],
  ['bytes=5-', 0, U],
  ['bytes=-5', 0, I],
  ['bytes=-0', 0, U],
];

for (const [value, size, expected] of ranges) {
  test(`Range ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)} on ${size} bytes -> ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(parseRange(value, size), expected);
  });
}

/**
 * parseRange is a hand-optimized one-pass scanner; this is the same policy written plainly, on
 * BigInt (so no position rounds), to compare it with over random and adversarial values. Policy:
 * the unit is `bytes`, any case (§14.1); OWS only next to a comma, so none right after "=" (§5.6.1);
 * exactly one range-spec among empty list elements, else the whole representation (§14.2).
 */
function referenceRange(value, size) {
  const m = /^bytes=(.*)$/is.exec(value);
  if (m === null || /^[ \t]/.test(m[1])) return I;
  const specs = m[1].split(',').map((e) => e.replace(/^[ \t]+|[ \t]+$/g, '')).filter((e) => e !== '');
  if (specs.length !== 1) return I;
  const spec = /^([0-9]*)-([0-9]*)$/.exec(specs[0]);
  if (spec === null || (spec[1] === '' && spec[2] === '')) return I;
  const n = BigInt(size);
  if (spec[1] === '') {
    const suffix = BigInt(spec[2]);
    if (suffix === 0n) return U; // §14.1.2
    if (n === 0n) return I; // a 206 cannot describe zero bytes (§14.2 lets Range be ignored)
    return r(Number(suffix >= n ? 0n : n - suffix), size - 1);
  }
  const first = BigInt(spec[1]);
  const last = spec[2] === '' ? null : BigInt(spec[2]);
  if (last !== null && last < first) return I; // §14.1.1
  if (first >= n) return n === 0n && first === 0n ? I : U; // §14.1.2; an empty one asked from 0: ignored, as nginx
  return r(Number(first), Number(last === null || last >= n ? n - 1n : last));
}

test('parseRange agrees with a plain BigInt reference on 200,000 random and adversarial values (positions around 2^53 and 2^64, leading zeros, OWS, empty elements)', () => {
  let seed = 20260;
  // mulberry32: 32-bit integer arithmetic throughout (Math.imul), so the low bits stay random.
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const around = (base) => (base + BigInt(Math.floor(rnd() * 9)) - 4n).toString();
  let size = 0;
  const position = () =>
    pick([
      // the last byte, the length, one past it: where an off-by-one in clamping shows
      () => String(Math.max(0, size - 1 + Math.floor(rnd() * 3))),
      () => String(Math.floor(rnd() * 3000)),
      () => String(Math.floor(rnd() * 2 ** 53)),
      () => around(2n ** 53n),
      () => around(2n ** 64n),
      () => '0'.repeat(1 + Math.floor(rnd() * 25)) + Math.floor(rnd() * 3000),
      () => '9'.repeat(1 + Math.floor(rnd() * 30)),
      () => '',
    ])();
  const ows = () => pick(['', '', ' ', '\t', ' \t ']);
  // Mostly well-formed, with one kind of damage now and then.
  const rarely = (...noise) => (rnd() < 0.08 ? pick(noise) : '');
  const sizes = [0, 1, 2, 100, 2999, 2 ** 53 - 2, 2 ** 53 - 1];
  let satisfiable = 0;
  let clamped = 0;
  for (let k = 0; k < 200_000; k++) {
    size = rnd() < 0.3 ? Math.floor(rnd() * 3000) : pick(sizes);
    let value = (rnd() < 0.9 ? pick(['bytes=', 'BYTES=', 'Bytes=']) : pick(['bytes =', 'items=', 'bytes=\t', 'bytes= '])) + rarely(',', ', ', ',,');
    const specs = rnd() < 0.9 ? 1 : pick([0, 2]);
    for (let s = 0; s < specs; s++) {
      value += (s > 0 ? `${ows()},${ows()}` : '') + rarely(' ', 'x', '+') + position() + (rnd() < 0.95 ? '-' : pick(['--', '', ' -'])) + position();
    }
    value += rarely(ows(), ',', `${ows()},${ows()}`, 'x', '\u0660', ' x');
    const expected = referenceRange(value, size);
    if (typeof expected === 'object') satisfiable++;
    if (typeof expected === 'object' && expected.end === size - 1 && new RegExp(`-0*${size}(?![0-9])`).test(value)) clamped++;
    assert.deepEqual(parseRange(value, size), expected, `${JSON.stringify(value)} on ${size} bytes`);
  }
  assert.ok(satisfiable > 20_000, `only ${satisfiable} satisfiable cases: the generator no longer reaches them`);
  assert.ok(clamped > 1_000, `only ${clamped} ranges ending at the length itself`);
});
