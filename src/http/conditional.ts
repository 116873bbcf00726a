/**
 * Conditional requests and ranges, RFC 9110 §13 and §14. Pure functions over header values, so
 * each rule is testable on its own; the server calls them in the order §13.2.2 prescribes.
 */

/** True when an entity-tag list (If-Match / If-None-Match) contains `etag`. `*` matches any. */
export function etagListMatches(list: string, etag: string, weak: boolean): boolean {
  if (list === etag) return true; // the common case: one tag, exactly ours
  const len = list.length;
  let i = 0;
  while (i < len) {
    let c = list.charCodeAt(i);
    if (c === 32 || c === 9 || c === 44) {
      i++;
      continue;
    }
    if (c === 42 /* * */) return true;
    let isWeak = false;
    if (c === 87 /* W */ && list.charCodeAt(i + 1) === 47 /* / */) {
      isWeak = true;
      i += 2;
      c = list.charCodeAt(i);
    }
    if (c !== 34 /* " */) return false; // malformed: stop, match nothing
    const end = list.indexOf('"', i + 1);
    if (end === -1) return false;
    // Strong comparison (If-Match) needs both tags strong; ours always is.
    if ((weak || !isWeak) && end + 1 - i === etag.length && list.startsWith(etag, i)) return true;
    i = end + 1;
  }
  return false;
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const MONTH_INDEX = new Map(MONTHS.split('|').map((m, i) => [m, i]));
// RFC 9110 §5.6.7, case-sensitive: IMF-fixdate, then the two obsolete forms a recipient must accept.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ( \\d|\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7) in milliseconds, or NaN when the value is not one: anything else
 * (ISO dates, a bare year, a date without GMT) must make the condition be ignored, which
 * `Date.parse` would not do; it also reads asctime dates in the server's local time zone.
 * `now` (ms) only anchors a two-digit rfc850 year.
 */
export function parseHttpDate(value: string, now = Date.now()): number {
  // Field order in each form: [day, month, year, hour, minute, second].
  let f: (string | undefined)[];
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) f = [m[1], m[2], m[3], m[4], m[5], m[6]];
  else if ((m = RFC850_DATE.exec(value)) !== null) f = [m[1], m[2], m[3], m[4], m[5], m[6]];
  else if ((m = ASCTIME_DATE.exec(value)) !== null) f = [m[2], m[1], m[6], m[3], m[4], m[5]];
  else return NaN;
  const day = Number((f[0] as string).trim());
  const month = MONTH_INDEX.get(f[1] as string) as number;
  let year = Number(f[2]);
  const hour = Number(f[3]);
  const minute = Number(f[4]);
  const second = Number(f[5]);
  if ((f[2] as string).length === 2) {
    // rfc850: a two-digit year more than 50 years ahead is the most recent past year with those digits.
    const current = new Date(now).getUTCFullYear();
    year += Math.floor(current / 100) * 100;
    if (year > current + 50) year -= 100;
    else if (year + 100 <= current + 50) year += 100;
  }
  if (hour > 23 || minute > 59 || second > 60) return NaN; // 60: a leap second
  // setUTCFullYear, not Date.UTC, which reads years below 100 as 19xx. A day the month does not
  // have (31 Feb) rolls over, and is rejected.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return NaN;
  return date.setUTCHours(hour, minute, second);
}

/** The outcome of evaluating preconditions (§13.2.2). */
export const enum Precondition {
  Proceed = 0,
  NotModified = 304,
  Failed = 412,
}

export interface Validators {
  readonly etag: string;
  /** Last-Modified in ms, whole seconds. */
  readonly lastModified: number;
}

export interface ConditionalHeaders {
  readonly 'if-match'?: string | undefined;
  readonly 'if-none-match'?: string | undefined;
  readonly 'if-modified-since'?: string | undefined;
  readonly 'if-unmodified-since'?: string | undefined;
}

/** Evaluates If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in RFC 9110 order, for GET/HEAD. */
export function evaluatePreconditions(h: ConditionalHeaders, v: Validators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag, false)) return Precondition.Failed;
  } else {
    const ius = h['if-unmodified-since'];
    if (ius !== undefined) {
      const date = parseHttpDate(ius);
      if (!Number.isNaN(date) && v.lastModified > date) return Precondition.Failed;
    }
  }
  const inm = h['if-none-match'];
  if (inm !== undefined) {
    return etagListMatches(inm, v.etag, true) ? Precondition.NotModified : Precondition.Proceed;
  }
  const ims = h['if-modified-since'];
  if (ims !== undefined) {
    const date = parseHttpDate(ims);
    if (!Number.isNaN(date) && v.lastModified <= date) return Precondition.NotModified;
  }
  return Precondition.Proceed;
}

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
