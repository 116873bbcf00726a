/**
 * Conditional requests, RFC 9110 §13: entity-tag lists and the preconditions, evaluated in the
 * order §13.2.2 prescribes. Pure functions over header values, so each rule is testable alone.
 */
import { parseHttpDate } from './http-date.js';
import { fieldLines } from './field-lines.js';
import { isOws } from './tokens.js';

/** etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3): visible ASCII but DQUOTE, and 0x80-0xFF. */
function isEtagc(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

/**
 * True when an If-Match / If-None-Match value lists `etag` (ours, always strong). `weak` selects
 * weak comparison (If-None-Match, §13.1.2), where `W/"x"` matches `"x"`; under strong comparison
 * (If-Match, §13.1.1) a weak tag never matches.
 *
 * The grammar is `"*" / #entity-tag` (§13.1.1): `*` counts only as the whole field value. Inside a
 * list (`"a", *`) it is not an entity-tag, so such a list is malformed, and a malformed list
 * (anywhere, even after a matching tag) matches nothing: If-Match then fails (412) and
 * If-None-Match lets the full response through. The whole value is checked, so the answer never
 * depends on where in the list the fault sits.
 */
export function etagListMatches(list: string, etag: string, weak: boolean): boolean {
  if (list === etag || list === '*') return true; // the common cases
  const len = list.length;
  let matched = false;
  let i = 0;
  while (i < len) {
    const c = list.charCodeAt(i);
    if (c === 44 /* , */ || isOws(c)) {
      i++; // empty list elements and OWS around "," (§5.6.1)
      continue;
    }
    let isWeak = false;
    if (c === 87 /* W */ && list.charCodeAt(i + 1) === 47 /* / */) {
      isWeak = true;
      i += 2;
    }
    const open = i;
    if (list.charCodeAt(i) !== 34 /* " */) return false;
    i++;
    while (i < len && isEtagc(list.charCodeAt(i))) i++;
    if (list.charCodeAt(i) !== 34) return false;
    i++;
    if (!matched && (weak || !isWeak) && i - open === etag.length && list.startsWith(etag, open)) matched = true;
    while (i < len && isOws(list.charCodeAt(i))) i++;
    if (i < len && list.charCodeAt(i) !== 44) return false; // two tags need a "," between them
  }
  return matched;
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
  /**
   * True when no Last-Modified is sent (the static server's AssetInfo.undated): the date conditions
   * are then ignored, as for a representation without a modification date (RFC 9110 §13.1.3, §13.1.4).
   */
  readonly undated?: boolean;
}

export interface ConditionalHeaders {
  readonly 'if-match'?: string | undefined;
  readonly 'if-none-match'?: string | undefined;
  readonly 'if-modified-since'?: string | undefined;
  readonly 'if-unmodified-since'?: string | undefined;
}


/**
 * `h`, or a copy without the If-Modified-Since / If-Unmodified-Since that came on more than one
 * field line. Lines of one field make one list (RFC 9110 §5.3), and a list of dates MUST be ignored
 * (§13.1.3: "more than one member"; §13.1.4: "appears to be a list of dates"); node:http and
 * node:http2 keep only the first line's value of these fields, so the lines are counted in the
 * request's raw `[name, value, ...]` list. Nothing is scanned unless one of them is present.
 */
export function withoutDateLists(h: ConditionalHeaders, rawHeaders: readonly string[] | undefined): ConditionalHeaders {
  const ims = h['if-modified-since'] !== undefined;
  const ius = h['if-unmodified-since'] !== undefined;
  if ((!ims && !ius) || rawHeaders === undefined) return h;
  const imsLines = ims ? fieldLines(rawHeaders, 'if-modified-since') : 0;
  const iusLines = ius ? fieldLines(rawHeaders, 'if-unmodified-since') : 0;
  if (imsLines < 2 && iusLines < 2) return h;
  return { ...h, 'if-modified-since': imsLines < 2 ? h['if-modified-since'] : undefined, 'if-unmodified-since': iusLines < 2 ? h['if-unmodified-since'] : undefined };
}

/** Evaluates If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in RFC 9110 order, for GET/HEAD. */
export function evaluatePreconditions(h: ConditionalHeaders, v: Validators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag, false)) return Precondition.Failed;
  } else {
    const ius = h['if-unmodified-since'];
    if (ius !== undefined && v.undated !== true) {
      const date = parseHttpDate(ius);
      if (!Number.isNaN(date) && v.lastModified > date) return Precondition.Failed;
    }
  }
  const inm = h['if-none-match'];
  if (inm !== undefined) {
    return etagListMatches(inm, v.etag, true) ? Precondition.NotModified : Precondition.Proceed;
  }
  const ims = h['if-modified-since'];
  if (ims !== undefined && v.undated !== true) {
    const date = parseHttpDate(ims);
    if (!Number.isNaN(date) && v.lastModified <= date) return Precondition.NotModified;
  }
  return Precondition.Proceed;
}
