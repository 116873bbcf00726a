/**
 * Byte ranges, RFC 9110 §14 (Range) and §13.1.5 (If-Range). Pure functions over header values.
 */
import { parseHttpDate } from './http-date.js';
import type { Validators } from './conditional.js';

/** A satisfiable single byte range, inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** `ignore`: serve the whole representation (no, unknown or multiple ranges); `unsatisfiable`: 416. */
export type RangeResult = ByteRange | 'ignore' | 'unsatisfiable';

const RANGE_SPEC = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * Parses a Range header for a representation of `size` bytes. One range (first-last, first-,
 * -suffix) is honoured; a list of several ranges is answered with the whole representation, which
 * RFC 9110 §14.2 allows and which avoids multipart/byteranges amplification.
 */
export function parseRange(value: string, size: number): RangeResult {
  const m = RANGE_SPEC.exec(value);
  if (m === null) return 'ignore'; // syntax we do not honour (other units, several ranges): §14.2 allows ignoring
  const first = m[1] as string;
  const last = m[2] as string;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  if (last === '') return { start, end: size - 1 };
  const end = Number(last);
  if (end < start) return 'ignore'; // invalid range-spec: the field is ignored
  return { start, end: Math.min(end, size - 1) };
}

/** If-Range (§13.1.5): true when the Range may be honoured. A date must equal Last-Modified exactly. */
export function ifRangeAllows(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.charCodeAt(0) === 34 /* " */) return ifRange === v.etag; // strong comparison
  if (ifRange.startsWith('W/')) return false; // weak tags never validate a range
  const date = parseHttpDate(ifRange);
  return !Number.isNaN(date) && date === v.lastModified;
}
