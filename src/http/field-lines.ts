import type { IncomingHttpHeaders } from 'node:http';
import { equalsLower } from './tokens.js';

/**
 * The request fields node:http joins when they come on several lines (", ", RFC 9110 §5.3: the lines
 * of a field are one list) and node:http2 reads from the first line only (its "single value" fields),
 * as a bit each; 0 for any other name. HTTP/2 field names are lower case (RFC 9113 §8.2.1).
 */
function firstLineOnlyInHttp2(name: string): number {
  // A first character that differs settles most names without comparing the strings: node:http2's
  // names are not V8's interned strings, so each === is a call to V8's string comparison.
  switch (name.length) {
    case 5:
      return name.charCodeAt(0) === 114 /* r */ && name === 'range' ? 1 : 0;
    case 8:
      return name.charCodeAt(0) !== 105 /* i */ ? 0 : name === 'if-match' ? 2 : name === 'if-range' ? 4 : 0;
    case 13:
      return name.charCodeAt(0) === 105 && name === 'if-none-match' ? 8 : 0;
    case 29:
      return name.charCodeAt(0) === 97 /* a */ && name === 'access-control-request-method' ? 16 : 0;
    default:
      return 0;
  }
}

/**
 * Makes an HTTP/2 request's header object read as node:http's would: each of If-Match,
 * If-None-Match, If-Range, Range and Access-Control-Request-Method sent on several lines becomes
 * their values joined by ", ", in place (node:http2 kept the first line's). So a request means the
 * same on every transport: two If-None-Match lines are one list of tags (RFC 9110 §13.1.2), two
 * Range or If-Range lines are no valid range or validator (ignored, §14.2, §13.1.5), two
 * Access-Control-Request-Method lines no method (a refused preflight). `rawHeaders` is node:http2's
 * `[name, value, ...]` as received; nothing is allocated unless a field repeats.
 */
export function joinRepeatedLines(headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined): void {
  if (rawHeaders === undefined) return;
  let seen = 0;
  let repeated = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const bit = firstLineOnlyInHttp2(rawHeaders[i] as string);
    if ((seen & bit) !== 0) repeated |= bit;
    seen |= bit;
  }
  if (repeated === 0) return;
  const joined = new Map<string, string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if ((firstLineOnlyInHttp2(name) & repeated) === 0) continue;
    const before = joined.get(name);
    joined.set(name, before === undefined ? (rawHeaders[i + 1] as string) : `${before}, ${rawHeaders[i + 1] as string}`);
  }
  for (const [name, value] of joined) headers[name] = value;
}

/**
 * How many lines of the field `lower` (its name in lower case) a request's raw `[name, value, ...]`
 * list has; 0 when the list is unknown. node:http and node:http2 keep one value of some fields (or
 * join them), so a field that must come once is counted here.
 */
export function fieldLines(rawHeaders: readonly string[] | undefined, lower: string): number {
  if (rawHeaders === undefined) return 0;
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (equalsLower(rawHeaders[i] as string, lower)) n++;
  return n;
}
