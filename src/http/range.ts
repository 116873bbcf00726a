/**
 * Byte ranges, RFC 9110 §14 (Range) and §13.1.5 (If-Range). Pure functions over header values.
 */
import { equalsLowerAt, isOws } from './tokens.js';

/** A satisfiable single byte range, inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** `ignore`: serve the whole representation (no, unknown or multiple ranges); `unsatisfiable`: 416. */
export type RangeResult = ByteRange | 'ignore' | 'unsatisfiable';

const C_0 = 48;
const C_9 = 57;
const C_DASH = 45;
const C_COMMA = 44;

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

/**
 * The character code at `i`, or -1 past the end. Reading past the end (charCodeAt's NaN) made V8's
 * optimised parseRange call the generic charCodeAt builtin on every request (callgrind, a Range GET).
 */
function codeAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : -1;
}

/** Positions past this are "beyond every file": see parseRange. */
const MAX_POSITION = Number.MAX_SAFE_INTEGER;

/** Compares two digit strings by value (leading zeros ignored) without converting them: -1, 0, 1. */
function compareDigits(s: string, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  while (aStart < aEnd - 1 && s.charCodeAt(aStart) === C_0) aStart++;
  while (bStart < bEnd - 1 && s.charCodeAt(bStart) === C_0) bStart++;
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  if (aLen !== bLen) return aLen < bLen ? -1 : 1;
  for (let k = 0; k < aLen; k++) {
    const d = s.charCodeAt(aStart + k) - s.charCodeAt(bStart + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Parses a Range header for a representation of `size` bytes, after RFC 9110 §14.1:
 *
 *   ranges-specifier = range-unit "=" range-set      (range-unit case-insensitive, §14.1)
 *   range-set        = 1#range-spec                  (empty elements and OWS around "," allowed, §5.6.1)
 *   int-range        = first-pos "-" [ last-pos ]    suffix-range = "-" suffix-length
 *
 * No whitespace is allowed around "=" or "-", so `bytes = 0-4` is not a ranges-specifier and is
 * ignored, as are other units and invalid specs (§14.2: a server MAY ignore them). One range
 * (first-last, first-, -suffix) is honoured; a list of several is answered with the whole
 * representation, which §14.2 allows and which avoids multipart/byteranges amplification.
 * Positions are compared as digit strings where it matters, so 2^53 and 2^64 never round.
 */
export function parseRange(value: string, size: number): RangeResult {
  if (!equalsLowerAt(value, 0, 'bytes') || codeAt(value, 5) !== 61 /* = */) return 'ignore';
  if (isOws(codeAt(value, 6))) return 'ignore'; // OWS may stand only next to a comma (§5.6.1)
  const len = value.length;
  // One pass, each position's value summed as its digits are read: charCodeAt is most of the cost.
  // A value past 2^53 is inexact but stays past it (the sums only grow), and is made Infinity below.
  let firstStart = -1;
  let firstEnd = -1;
  let lastStart = -1;
  let lastEnd = -1;
  let first = 0;
  let last = 0;
  let specs = 0;
  let i = 6;
  while (i < len) {
    let c = value.charCodeAt(i);
    if (c === C_COMMA || isOws(c)) {
      i++; // an empty list element, or OWS around ","
      continue;
    }
    if (++specs > 1) return 'ignore';
    firstStart = i;
    for (; isDigit(c); c = codeAt(value, ++i)) first = first * 10 + (c - C_0);
    firstEnd = i;
    if (c !== C_DASH) return 'ignore';
    lastStart = ++i;
    for (c = codeAt(value, i); isDigit(c); c = codeAt(value, ++i)) last = last * 10 + (c - C_0);
    lastEnd = i;
    if (firstEnd === firstStart && lastEnd === lastStart) return 'ignore'; // "-" alone
    while (isOws(c)) c = codeAt(value, ++i);
    if (i < len && c !== C_COMMA) return 'ignore';
  }
  if (specs === 0) return 'ignore'; // range-set needs one range-spec
  // Past 2^53 a number means only "beyond every file", and no rounding can make it a smaller,
  // wrong, satisfiable position.
  if (first > MAX_POSITION) first = Infinity;
  if (last > MAX_POSITION) last = Infinity;

  if (firstEnd === firstStart) {
    // suffix-range: satisfiable only with a non-zero suffix-length (§14.1.2).
    if (last === 0) return 'unsatisfiable';
    // §14.1.2: on an empty representation a non-zero suffix-range is the one satisfiable form, but
    // a 206 cannot describe zero bytes; §14.2 lets a server ignore Range when there is no content.
    if (size === 0) return 'ignore';
    return { start: last >= size ? 0 : size - last, end: size - 1 };
  }
  // §14.1.1: an int-range whose last-pos is below its first-pos is invalid (ignored), whatever
  // the length; two positions past 2^53 are compared on their digits, so they cannot round equal.
  if (lastEnd > lastStart) {
    const below = first === Infinity || last === Infinity ? compareDigits(value, lastStart, lastEnd, firstStart, firstEnd) < 0 : last < first;
    if (below) return 'ignore';
  }
  // §14.1.2: first-pos must be below the length. An empty representation asked from 0 (what CDNs'
  // range slicing and media players send for every object: rack#2159) is ignored instead, as nginx
  // does (§14.2: a server MAY ignore Range): 200 with its empty body serves them; a 416 broke them.
  if (first >= size) return size === 0 && first === 0 ? 'ignore' : 'unsatisfiable';
  return { start: first, end: lastEnd === lastStart || last >= size ? size - 1 : last };
}

/**
 * If-Range (§13.1.5): true when the Range may be honoured, that is when there is no If-Range or it is
 * the representation's strong ETag. A date never validates here: every response carries a strong
 * ETag, and a client that has one MUST NOT send a date (§13.1.5); and a file server cannot reliably
 * tell that a date names one representation only (§8.8.2.2): `gzip -k` gives a sibling the
 * original's mtime, two versions can share a second, a file removed and put back with its old mtime
 * (`tar`, `cp -p`) has the old date. A client that sends one anyway gets the whole representation.
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  // Strong comparison (W/ never matches), of one value: If-Range is no list (§13.1.5). Two lines come
  // joined with ", " (node:http; joinRepeatedLines over HTTP/2), never equal to a tag.
  return ifRange.charCodeAt(0) === 34 /* " */ && ifRange === etag;
}
