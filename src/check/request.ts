// Does the request need a preflight? Method normalisation, forbidden headers, and the CORS-safelisted
// request-header rules of the Fetch standard.
import { isHttpWhitespace, trimmed, withoutTrailing } from '../http/whitespace.js';
import { isToken, normalizeValue } from './headers.js';
import { STANDARD_RULES, type EngineRules, type RangeRules } from './rules.js';
import { CheckInputError, type HeaderPair } from './types.js';

/** Fetch §2.2.1 "normalize a method": the methods fetch() upper-cases, whatever case they are written in. */
export const NORMALIZED_METHODS: readonly string[] = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];

/** Fetch §2.2.1 "forbidden method": fetch() throws for these, in any case. */
const FORBIDDEN_METHODS: readonly string[] = ['CONNECT', 'TRACE', 'TRACK'];

/**
 * Fetch §2.2.1 "normalize" a method (https://fetch.spec.whatwg.org/#concept-method-normalize): only
 * DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased; `patch` stays `patch`. A forbidden
 * method (CONNECT, TRACE, TRACK) or a non-token is a CheckInputError, as fetch() throws a TypeError.
 */
export function normalizeMethod(method: string): string {
  if (!isToken(method)) throw new CheckInputError(`--method ${JSON.stringify(method)}: not a valid HTTP method`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.includes(upper)) throw new CheckInputError(`--method ${method}: a forbidden method; fetch() throws a TypeError`);
  return NORMALIZED_METHODS.includes(upper) ? upper : method;
}

/** Fetch §2.2.1 "CORS-safelisted method" (https://fetch.spec.whatwg.org/#cors-safelisted-method): `GET`, `HEAD`, `POST`, byte for byte. */
export const isSafelistedMethod = (method: string): boolean => method === 'GET' || method === 'HEAD' || method === 'POST';

export const FORBIDDEN_HEADERS = new Set([
  'accept-charset', 'accept-encoding', 'access-control-request-headers', 'access-control-request-method', 'connection',
  'content-length', 'cookie', 'cookie2', 'date', 'dnt', 'expect', 'host', 'keep-alive', 'origin', 'referer',
  'set-cookie', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'via',
]);

/**
 * Fetch §2.2.2 "forbidden request-header" (https://fetch.spec.whatwg.org/#forbidden-request-header):
 * headers fetch() silently drops. The X-HTTP-Method(-Override) rule is kept too.
 */
export function isForbiddenRequestHeader(name: string, value: string): boolean {
  const lower = name.toLowerCase();
  if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) return true;
  if (['x-http-method', 'x-http-method-override', 'x-method-override'].includes(lower)) {
    return value.split(',').some((m) => FORBIDDEN_METHODS.includes(normalizeValue(m).toUpperCase()));
  }
  return false;
}

/**
 * Fetch §2.2.2 "CORS-unsafe request-header byte" (https://fetch.spec.whatwg.org/#cors-unsafe-request-header-byte):
 * a control byte other than HT, or one of `"():<>?@[\]{}` and DEL.
 */
export function isUnsafeByte(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || '"():<>?@[\\]{}'.includes(String.fromCharCode(code)) || code === 0x7f;
}

const hasUnsafeByte = (v: string): boolean => {
  for (let i = 0; i < v.length; i++) if (isUnsafeByte(v.charCodeAt(i))) return true;
  return false;
};

/**
 * The essence of a MIME type, per MIME Sniffing §4.4 "parse a MIME type"
 * (https://mimesniff.spec.whatwg.org/#parse-a-mime-type), or null on failure. Parameters never make it fail.
 */
export function mimeEssence(value: string): string | null {
  const v = trimmed(value, isHttpWhitespace);
  const slash = v.indexOf('/');
  if (slash === -1) return null;
  const type = v.slice(0, slash);
  const semi = v.indexOf(';', slash + 1);
  const subtype = withoutTrailing(v, isHttpWhitespace, slash + 1, semi === -1 ? v.length : semi);
  // MIME Sniffing's "HTTP token code points" are RFC 9110's tchar.
  if (!isToken(type) || !isToken(subtype)) return null;
  return `${type}/${subtype}`.toLowerCase();
}

/**
 * Fetch §2.2.2 "parse a single range header value" with allowWhitespace false, then "simple range"
 * (https://fetch.spec.whatwg.org/#simple-range-header-value): `bytes=N-` or `bytes=N-M` with N <= M,
 * the unit in lower case, the positions compared exactly however many digits they have; a suffix
 * range (`bytes=-500`) is not safelisted. `range`: how an engine departs from that (RangeRules).
 */
export function isSimpleRange(value: string, range: RangeRules = STANDARD_RULES.range): boolean {
  const m = /^([^=]*)=([^-]*)-([^-]*)$/.exec(value);
  if (m === null) return false;
  const unit = m[1] as string;
  if (unit !== 'bytes' && !(range.unitAnyCase && unit.toLowerCase() === 'bytes')) return false;
  const start = rangePosition(m[2] as string, range);
  const end = rangePosition(m[3] as string, range);
  if (start === null || start === undefined || end === undefined) return false;
  return end === null || start <= end;
}

/** A position of a Range (digits, as an exact integer), null when empty, undefined when the engine does not read it. */
function rangePosition(text: string, range: RangeRules): bigint | null | undefined {
  if (text === '') return null;
  const digits = range.plusSign && text.startsWith('+') ? text.slice(1) : text;
  if (!/^\d+$/.test(digits)) return undefined;
  const n = BigInt(digits);
  return range.maxPosition !== null && n > range.maxPosition ? undefined : n;
}

/**
 * Fetch §2.2.2 "CORS-safelisted request-header" (https://fetch.spec.whatwg.org/#cors-safelisted-request-header):
 * whether one header needs no preflight, with the engine's extra names. Returns null when it is
 * safelisted, else why not.
 */
export function whyNotSafelisted(name: string, value: string, rules: EngineRules): string | null {
  if (value.length > 128) return `its value is ${value.length} bytes, over the 128 a safelisted header may have`;
  const lower = name.toLowerCase();
  switch (lower) {
    case 'accept':
      if (hasUnsafeByte(value)) return 'its value has a CORS-unsafe byte (a control character or one of "():<>?@[\\]{})';
      return highByteProblem(value, rules);
    case 'accept-language':
    case 'content-language':
      return /^[0-9A-Za-z *,\-.;=]*$/.test(value) ? null : 'its value has a byte outside 0-9 A-Z a-z space *,-.;=';
    case 'content-type': {
      if (hasUnsafeByte(value)) return 'its value has a CORS-unsafe byte (a control character or one of "():<>?@[\\]{})';
      const high = highByteProblem(value, rules);
      if (high !== null) return high;
      const essence = mimeEssence(value);
      if (essence === null) return 'its value is not a MIME type';
      if (!['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'].includes(essence)) {
        return `only text/plain, multipart/form-data and application/x-www-form-urlencoded are safelisted, not ${essence}`;
      }
      return null;
    }
    case 'range':
      return isSimpleRange(value, rules.range) ? null : `only a single range bytes=N- or bytes=N-M is safelisted (N <= M, no spaces${rules.range.unitAnyCase ? '' : ', the unit in lower case'}${rules.range.maxPosition === null ? '' : `; ${rules.browser} reads positions up to ${rules.range.maxPosition}`})`;
    default: {
      const extra = rules.extraSafelisted.get(lower);
      if (extra !== undefined) return extra(value) ? null : `its value is not one ${rules.browser} safelists`;
      return 'it is not a CORS-safelisted request header';
    }
  }
}

/** Firefox's extra rule (EngineRules.highBytesUnsafe): a byte 0x80-0xFF makes Accept and Content-Type unsafe. */
function highByteProblem(value: string, rules: EngineRules): string | null {
  return rules.highBytesUnsafe && /[\x80-\xff]/.test(value) ? `its value has a byte 0x80-0xFF, which ${rules.browser} treats as CORS-unsafe` : null;
}

export interface UnsafeHeaders {
  /** Lower-cased, unique, sorted (as Access-Control-Request-Headers sends them). */
  readonly names: readonly string[];
  /** Why each was unsafe, by name. */
  readonly why: ReadonlyMap<string, string>;
}

/**
 * Fetch §2.2.2 "CORS-unsafe request-header names" (https://fetch.spec.whatwg.org/#cors-unsafe-request-header-names):
 * the names that are not safelisted, plus every safelisted one when their values total over 1,024 bytes.
 */
export function unsafeHeaderNames(headers: readonly HeaderPair[], rules: EngineRules): UnsafeHeaders {
  const why = new Map<string, string>();
  const safe: string[] = [];
  let size = 0;
  let list: readonly HeaderPair[] = headers;
  if (rules.combinesRepeatedHeaders) {
    const combined = new Map<string, [string, string]>();
    for (const [n, v] of headers) {
      const seen = combined.get(n.toLowerCase());
      if (seen === undefined) combined.set(n.toLowerCase(), [n, v]);
      else seen[1] = `${seen[1]}, ${v}`;
    }
    list = [...combined.values()];
  }
  for (const [name, value] of list) {
    const reason = whyNotSafelisted(name, value, rules);
    if (reason === null) {
      safe.push(name.toLowerCase());
      size += value.length;
    } else if (!why.has(name.toLowerCase())) {
      why.set(name.toLowerCase(), reason);
    }
  }
  if (size > rules.safelistTotal) {
    for (const n of safe) if (!why.has(n)) why.set(n, `the safelisted headers' values total ${size} bytes, over 1,024`);
  }
  return { names: [...why.keys()].sort(), why };
}

/**
 * The script's headers as fetch() keeps them: values normalised (HTTP whitespace stripped), forbidden
 * ones dropped (returned in `dropped`), and those the engine drops besides (`droppedByEngine`,
 * EngineRules.droppedHeaders). A value with NUL, CR or LF is a CheckInputError (fetch() throws).
 */
export function scriptHeaders(headers: readonly HeaderPair[], rules: EngineRules = STANDARD_RULES): { kept: HeaderPair[]; dropped: string[]; droppedByEngine: string[] } {
  const kept: HeaderPair[] = [];
  const dropped: string[] = [];
  const droppedByEngine: string[] = [];
  for (const [name, raw] of headers) {
    if (!isToken(name)) throw new CheckInputError(`header name ${JSON.stringify(name)} is not a valid header name`);
    const value = normalizeValue(raw);
    if (/[\0\r\n]/.test(value)) throw new CheckInputError(`header ${name}: a value may not contain NUL, CR or LF`);
    for (let i = 0; i < value.length; i++) {
      if (value.charCodeAt(i) > 0xff) throw new CheckInputError(`header ${name}: a value must be bytes (Latin-1), fetch() throws on ${JSON.stringify(value[i])}`);
    }
    if (isForbiddenRequestHeader(name, value)) dropped.push(name);
    else if (rules.droppedHeaders.has(name.toLowerCase())) droppedByEngine.push(name);
    else kept.push([name, value]);
  }
  return { kept, dropped, droppedByEngine };
}
