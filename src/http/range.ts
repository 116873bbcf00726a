/**
 * Byte ranges, RFC 9110 §14 (Range) and §13.1.5 (If-Range). Pure functions over header values.
 */
import { parseHttpDate } from './http-date.js';
import { equalsLowerAt, isOws } from './tokens.js';
import type { Validators } from './conditional.js';

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

/** The end of the run of DIGITs starting at `i`. */
function digitsEnd(s: string, i: number): number {
  while (i < s.length && isDigit(s.charCodeAt(i))) i++;
  return i;
}

/**
 * The value of the digits s[start, end), or Infinity past Number.MAX_SAFE_INTEGER: a file is never
 * that large, so "beyond every file" is all such a number can mean, and no rounding can turn it
 * into a smaller, wrong, satisfiable position.
 */
function digitsValue(s: string, start: number, end: number): number {
  let v = 0;
  for (let i = start; i < end; i++) {
    v = v * 10 + (s.charCodeAt(i) - C_0);
    if (v > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return v;
}

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
  if (!equalsLowerAt(value, 0, 'bytes') || value.charCodeAt(5) !== 61 /* = */) return 'ignore';
  if (isOws(value.charCodeAt(6))) return 'ignore'; // OWS may stand only next to a comma (§5.6.1)
  const len = value.length;
  let firstStart = -1;
  let firstEnd = -1;
  let lastStart = -1;
  let lastEnd = -1;
  let specs = 0;
  let i = 6;
  while (i < len) {
    const c = value.charCodeAt(i);
    if (c === C_COMMA || isOws(c)) {
      i++; // an empty list element, or OWS around ","
      continue;
    }
    if (++specs > 1) return 'ignore';
    firstStart = i;
    firstEnd = i = digitsEnd(value, i);
    if (value.charCodeAt(i) !== C_DASH) return 'ignore';
    lastStart = ++i;
    lastEnd = i = digitsEnd(value, i);
    if (firstEnd === firstStart && lastEnd === lastStart) return 'ignore'; // "-" alone
    while (i < len && isOws(value.charCodeAt(i))) i++;
    if (i < len && value.charCodeAt(i) !== C_COMMA) return 'ignore';
  }
  if (specs === 0) return 'ignore'; // range-set needs one range-spec

  if (firstEnd === firstStart) {
    // suffix-range: satisfiable only with a non-zero suffix-length (§14.1.2).
    const suffix = digitsValue(value, lastStart, lastEnd);
    if (suffix === 0) return 'unsatisfiable';
    // §14.1.2: on an empty representation a non-zero suffix-range is the one satisfiable form, but
    // a 206 cannot describe zero bytes; §14.2 lets a server ignore Range when there is no content.
    if (size === 0) return 'ignore';
    return { start: suffix >= size ? 0 : size - suffix, end: size - 1 };
  }
  // §14.1.1: an int-range whose last-pos is below its first-pos is invalid (ignored), whatever
  // the length; checked on the digits, so two positions past 2^53 cannot round equal.
  if (lastEnd > lastStart && compareDigits(value, lastStart, lastEnd, firstStart, firstEnd) < 0) return 'ignore';
  const start = digitsValue(value, firstStart, firstEnd);
  if (start >= size) return 'unsatisfiable'; // §14.1.2: first-pos must be below the length
  const last = lastEnd > lastStart ? digitsValue(value, lastStart, lastEnd) : Infinity;
  return { start, end: last >= size ? size - 1 : last };
}

/** If-Range (§13.1.5): true when the Range may be honoured. A date must equal Last-Modified exactly. */
export function ifRangeAllows(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.charCodeAt(0) === 34 /* " */) return ifRange === v.etag; // strong comparison
  if (ifRange.startsWith('W/')) return false; // weak tags never validate a range
  const date = parseHttpDate(ifRange);
  return !Number.isNaN(date) && date === v.lastModified;
}
