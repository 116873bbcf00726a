import { isOws } from './tokens.js';

// Trimming by a scan from each end, never by a `^[ \t]+|[ \t]+$` regex: what is trimmed comes from
// clients, servers (`xorigin check`) or HAR files, and such a regex backtracks on every run of
// whitespace inside the value (a 60 KB Origin value took 1.6 s, a 64 KB header value 2.4 s).

/** `s[start, end)` without the characters `strip` accepts at either end. */
export function trimmed(s: string, strip: (c: number) => boolean, start = 0, end = s.length): string {
  while (start < end && strip(s.charCodeAt(start))) start++;
  return withoutTrailing(s, strip, start, end);
}

/** `s[start, end)` without the characters `strip` accepts at its end. */
export function withoutTrailing(s: string, strip: (c: number) => boolean, start = 0, end = s.length): string {
  while (end > start && strip(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/** `s[start, end)` without OWS (SP, HTAB: RFC 9110 §5.6.3) at either end. */
export function withoutOws(s: string, start = 0, end = s.length): string {
  return trimmed(s, isOws, start, end);
}

/** Fetch §2.2 HTTP whitespace: TAB, LF, CR, SPACE. */
export function isHttpWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
