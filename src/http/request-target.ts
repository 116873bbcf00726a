import { isIPv6 } from 'node:net';
import { equalsLower } from './tokens.js';

/**
 * The path of a request target (RFC 9112 §3.2), still percent-encoded and without the query, or
 * null when the target has no path this server can serve.
 *
 * - origin-form `/a/b?q` gives `/a/b`;
 * - absolute-form `http://host:8080/a?q` gives `/a`, and `http://host` gives `/`: §3.2.2 says a
 *   server must accept it (proxies and some clients send it). Its authority replaces Host, and
 *   like Host it does not matter here: every host name gets the same files.
 * - an absolute-form target with an empty host (`http:///a`) or an authority that is no host
 *   [":" port] (`http://x:abc/a`, as a Host value) is invalid (RFC 9110 §4.2.1), and one with
 *   userinfo (`http://u:p@host/a`) is treated as an error (§4.2.4): null.
 * - a `#` anywhere: a fragment is no part of a request target (RFC 9112 §3.2, RFC 9113 §8.3.1),
 *   so the target is invalid (§3: SHOULD get 400) rather than a file name with `#` in it: null.
 * - a `\` in the path: no URI character (RFC 3986 §2; a file name with one is asked for as `%5C`),
 *   and browsers read it as `/` (WHATWG URL), so a redirect built from the target could send one to
 *   another host (`/\evil.com/../dir` → `Location: /\evil.com/../dir/`): null. In the query, where
 *   browsers send it as it is, it stays.
 * - asterisk-form (`*`, valid only for OPTIONS, which is answered before any path is needed),
 *   authority-form and anything else give null (400).
 */
export function targetPath(target: string): string | null {
  if (target.includes('#')) return null;
  const q = target.indexOf('?');
  const end = q === -1 ? target.length : q;
  const backslash = target.indexOf('\\');
  if (backslash !== -1 && backslash < end) return null;
  if (target.charCodeAt(0) === 47 /* / */) return q === -1 ? target : target.slice(0, q);
  const scheme = schemeLength(target);
  if (scheme === 0) return null;
  const slash = target.indexOf('/', scheme);
  const authorityEnd = slash === -1 || slash > end ? end : slash;
  // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and must be rejected, and its
  // authority is host [":" port] as Host's is (isHostValue); §4.2.4: userinfo, to be treated as an
  // error (it serves to disguise the authority), has an "@", which no host has.
  if (scheme === authorityEnd || target.charCodeAt(scheme) === 58 /* : */) return null;
  if (!isHostValue(target.slice(scheme, authorityEnd))) return null;
  return authorityEnd === end ? '/' : target.slice(slash, end);
}

/** Length of a leading `http://` or `https://` (any case, RFC 9110 §4.2.3), else 0. */
function schemeLength(target: string): number {
  const lower = target.slice(0, 8).toLowerCase();
  if (lower.startsWith('http://')) return 7;
  if (lower.startsWith('https://')) return 8;
  return 0;
}

/**
 * The decoded path of a request target (see targetPath), or the status to answer: 400 for a target
 * with no path to serve or a bad percent-encoding, 404 for an encoded slash (hasEncodedSlash). Runs
 * of slashes are merged first (mergeSlashes).
 */
export function decodedPath(target: string): string | 400 | 404 {
  const plain = plainPath(target);
  if (plain !== null) return plain;
  const path = targetPath(target);
  if (path === null) return 400;
  const encoded = mergeSlashes(path);
  if (!encoded.includes('%')) return withoutDotSegments(encoded);
  if (hasEncodedSlash(encoded)) return 404;
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return 400;
  }
  return withoutDotSegments(decoded);
}

/**
 * The path of an origin-form target that needs none of decodedPath's steps (no `%`, `\` or `#`,
 * no run of slashes, no dot segment), which is what nearly every request names; else null. One
 * charCodeAt pass instead of the six searches of the string the steps make: ~700 of a GET's
 * instructions (callgrind, `/big.ttf`). The query, when there is one, is only searched for `#`.
 */
function plainPath(target: string): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) return null;
  let previous = 47;
  for (let i = 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */) return target.indexOf('#', i) === -1 ? target.slice(0, i) : null;
    if (c === 37 /* % */ || c === 92 /* \\ */ || c === 35 /* # */) return null;
    if (previous === 47 && (c === 47 || c === 46 /* . */)) return null;
    previous = c;
  }
  return target;
}

/** `path` with its dot segments resolved (removeDotSegments), or 400 when they climb above the root. */
function withoutDotSegments(path: string): string | 400 {
  return path.includes('/.') ? (removeDotSegments(path) ?? 400) : path;
}

/**
 * An absolute path with its `.` and `..` segments resolved, as RFC 3986 §5.2.4 does and RFC 9110
 * §4.2.3 compares targets: `/fonts/../a.woff2` is `/a.woff2`, `/dir/.` is `/dir/`, `/dir/..` is `/`.
 * Applied to the decoded path, so `%2e%2e` is `..` too (§6.2.2.2: `.` is unreserved). Browsers
 * resolve these before sending; curl --path-as-is, proxies and scanners may not. A `..` above the
 * root (`/../a`) gives null: RFC 3986 would drop it, but no browser sends one, and nginx answers such
 * a target 400, as this server does. No file-system path is built from the result (the table is
 * looked up), so nothing here could leave the root anyway.
 */
export function removeDotSegments(path: string): string | null {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    if (segment === '..') {
      if (out.pop() === undefined) return null;
    } else if (segment !== '.') {
      out.push(segment);
      continue;
    }
    // A dot segment last names a directory: `/dir/..` is `/`, `/dir/.` is `/dir/`.
    if (last) out.push('');
  }
  return `/${out.join('/')}`;
}

/**
 * True when an encoded path contains `%2F` (an encoded slash). Decoded, it would act as a
 * separator here while a front proxy's path rules saw one segment (`/a%2Fb`), so such paths are
 * refused (404), as Apache does by default with AllowEncodedSlashes Off.
 */
export function hasEncodedSlash(path: string): boolean {
  let i = path.indexOf('%');
  while (i !== -1) {
    if (path.charCodeAt(i + 1) === 50 /* 2 */ && (path.charCodeAt(i + 2) | 0x20) === 102 /* f */) return true;
    i = path.indexOf('%', i + 1);
  }
  return false;
}

/** Characters RFC 3986 allows as they are in a path or query (§3.3, §3.4), besides a valid pct-encoding. */
const NOT_IN_URI = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]|%(?![0-9A-Fa-f]{2})/g;

/**
 * `target` (a path and query as the client sent them) as a URI reference fit for `Location` (RFC
 * 9110 §10.2.2): every character RFC 3986 does not allow there, and a `%` not starting a
 * pct-encoding, is pct-encoded, as RFC 9112 §3 asks of a redirect for an invalid target. Node gives
 * the target's bytes as latin1 characters, so each character is one byte. What is already encoded
 * stays as it is. A browser repairs `"`, `<`, `{`, `|`... itself; strict URI parsers refuse them.
 */
export function uriReference(target: string): string {
  return target.replace(NOT_IN_URI, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * The path with each run of slashes made one (`//fonts///a.woff2` → `/fonts/a.woff2`), as nginx
 * (`merge_slashes`, on by default) and Caddy do: a link built as `${base}/${file}` from a base that
 * already ends in a slash is a common page bug, and the file it means is not in doubt. Also what
 * keeps a redirect's Location from starting with `//`, which a browser reads as another host.
 */
export function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2), port = *DIGIT, and uri-host (RFC 3986 §3.2.2) an
// IP-literal ("[" IPv6address / IPvFuture "]") or a reg-name (an IPv4 address is one too): unreserved,
// pct-encoded and sub-delims. So one ":" at most outside brackets, digits after it, and "[" "]" only
// around a literal. Anything else (a space, "/", "@", "?", "#", "\\", "x:abc", "::1") is no Host value.
const REG_NAME_CHAR = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=") {
  REG_NAME_CHAR[c.charCodeAt(0)] = 1;
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

/** Where the reg-name starting at `i` ends (at ":" or the end), or -1 when a character is no reg-name's. */
function regNameEnd(value: string, i: number): number {
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c === 0x3a /* : */) return i;
    if (c === 0x25 /* % */) {
      if (!isHexDigit(value.charCodeAt(i + 1)) || !isHexDigit(value.charCodeAt(i + 2))) return -1;
      i += 3;
    } else if (c < 128 && REG_NAME_CHAR[c] === 1) i++;
    else return -1;
  }
  return i;
}

/**
 * IPv6address (node:net's parser, without a zone: RFC 3986 has none, and RFC 6874's "%25" zones are
 * for URIs a user types, which browsers do not send) or IPvFuture, "v" 1*HEXDIG "." 1*( unreserved /
 * sub-delims / ":" ).
 */
function isIpLiteral(inner: string): boolean {
  if ((inner.charCodeAt(0) | 0x20) !== 118 /* v */) return !inner.includes('%') && isIPv6(inner);
  const dot = inner.indexOf('.');
  if (dot < 2 || dot === inner.length - 1) return false;
  for (let i = 1; i < dot; i++) if (!isHexDigit(inner.charCodeAt(i))) return false;
  for (let i = dot + 1; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (c !== 0x3a && (c >= 128 || REG_NAME_CHAR[c] !== 1)) return false;
  }
  return true;
}

/**
 * The last value isHostValue accepted. A client names the same host on every request, and most
 * clients the same one: compared whole, it is not checked again character by character, which was
 * ~600 of an HTTP/2 1-byte GET's ~130,000 instructions (bench/instructions.js --h2 --functions).
 * Only an accepted value is kept, so a refused one is checked in full every time.
 */
let lastHostValue = '';

function isHostValue(value: string): boolean {
  if (value === lastHostValue) return true;
  if (!hostValueSyntax(value)) return false;
  lastHostValue = value;
  return true;
}

function hostValueSyntax(value: string): boolean {
  let i: number;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close === -1 || !isIpLiteral(value.slice(1, close))) return false;
    i = close + 1;
  } else {
    i = regNameEnd(value, 0);
    // An empty Host is allowed (a target without authority, RFC 9110 §7.2); a port after no host is not (§4.2.1).
    if (i === -1 || (i === 0 && value.length > 0)) return false;
  }
  if (i === value.length) return true;
  if (value.charCodeAt(i) !== 0x3a) return false;
  for (i++; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * True when the Host lines of an HTTP/1.x request are acceptable: exactly one, whose value is a
 * host with an optional port (or empty, RFC 9110 §7.2), or, in HTTP/1.0 only, none. RFC 9112 §3.2:
 * a server MUST answer 400 to an HTTP/1.1 request without Host, and to any request with more than
 * one Host line or an invalid Host value (a front proxy and this server could read two different
 * hosts from one request). `rawHeaders` is node:http's `[name, value, …]`, as received (node:http
 * keeps only the first Host in `headers`).
 */
export function hostLinesValid(rawHeaders: readonly string[], http11: boolean): boolean {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 4 || !equalsLower(name, 'host')) continue;
    if (value !== undefined) return false;
    value = rawHeaders[i + 1] as string;
  }
  return value === undefined ? !http11 : isHostValue(value);
}

/**
 * True when an HTTP/2 request's authority is acceptable (RFC 9113 §8.3.1): `:authority` and any
 * `host` field are host [":" port] values, as HTTP/1.1's Host must be (so no userinfo, which
 * §8.3.1 says :authority MUST NOT include), and when both are present they name the same host and
 * port (a server SHOULD treat a differing Host as malformed: a front proxy routing on one while
 * this server reads the other would disagree about the request). Compared without ASCII case and
 * without the scheme's default port, the normalization §8.3.1 asks for.
 */
export function authorityValid(authority: string | undefined, host: string | undefined, scheme: string | undefined): boolean {
  if (authority !== undefined && !isHostValue(authority)) return false;
  if (host === undefined) return true;
  if (!isHostValue(host)) return false;
  if (authority === undefined || authority === host) return true;
  const port = scheme === 'http' ? ':80' : ':443';
  const bare = (v: string): string => (v.endsWith(port) ? v.slice(0, -port.length) : v).toLowerCase();
  return bare(authority) === bare(host);
}
