/**
 * RFC 9110 lexical primitives shared by every header scanner: tchar and token (§5.6.2), OWS
 * (§5.6.3) and ASCII case-insensitive comparison. Each works on a string and a char index, so a
 * scanner can test a slice of a header value without creating a substring.
 */

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** True for an RFC 9110 tchar code unit. */
export function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** True when `s` is a non-empty RFC 9110 token (a valid method or field name). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

/** OWS = *( SP / HTAB ): true for one OWS code unit. */
export function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Compares s[start, start+lower.length) with a lowercase ASCII `lower`, folding only A-Z. Folding
 * with `| 0x20` alone would also equate CR (0x0D) with "-" (0x2D) and "@" with "`".
 */
export function equalsLowerAt(s: string, start: number, lower: string): boolean {
  if (start < 0 || start + lower.length > s.length) return false;
  for (let j = 0; j < lower.length; j++) {
    let c = s.charCodeAt(start + j);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(j)) return false;
  }
  return true;
}

/** True when s[start, end) equals the lowercase ASCII `lower`, ignoring ASCII case. */
export function rangeEqualsLower(s: string, start: number, end: number, lower: string): boolean {
  return end - start === lower.length && equalsLowerAt(s, start, lower);
}

/** True when the whole of `s` equals the lowercase ASCII `lower`, ignoring ASCII case; no allocation. */
export function equalsLower(s: string, lower: string): boolean {
  return s.length === lower.length && equalsLowerAt(s, 0, lower);
}
