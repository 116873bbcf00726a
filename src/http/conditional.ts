/**
 * Conditional requests, RFC 9110 §13: entity-tag lists and the preconditions, evaluated in the
 * order §13.2.2 prescribes. Pure functions over header values, so each rule is testable alone.
 */
import { parseHttpDate } from './http-date.js';

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
