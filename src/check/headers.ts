// Header-list primitives of the Fetch standard, on name/value pairs as received.
import { isToken } from '../http/tokens.js';
import { isHttpWhitespace, trimmed, withoutOws } from '../http/whitespace.js';
import { CheckInputError, type HeaderPair } from './types.js';

// An HTTP token (RFC 9110 §5.6.2), a method or a header name: the one tchar table of src/http.
export { isToken };

/** Fetch §2.2 "HTTP whitespace" stripped from both ends (https://fetch.spec.whatwg.org/#concept-header-value-normalize). */
export const normalizeValue = (v: string): string => trimmed(v, isHttpWhitespace);

/**
 * Fetch §2.2.2 "get" a header from a header list (https://fetch.spec.whatwg.org/#concept-header-list-get):
 * null when absent, else every value of that name joined with ", " — so two ACAO fields read as one
 * value "a, b".
 */
export function getHeader(headers: readonly HeaderPair[], name: string): string | null {
  const values = fieldLines(headers, name);
  return values.length === 0 ? null : values.join(', ');
}

/** The values of every field line named `name`, each normalized, in order (none: an empty list). */
export function fieldLines(headers: readonly HeaderPair[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => normalizeValue(v));
}

/**
 * As getHeader, with empty field lines left out, unless every line is empty (how Firefox combines
 * some fields: EngineRules.skipsEmptyFieldLines).
 */
export function getHeaderSkippingEmpty(headers: readonly HeaderPair[], name: string): string | null {
  return getHeader(nonEmptyLines(headers, name), name) ?? getHeader(headers, name);
}

/** The field lines named `name` whose value is not empty. */
export const nonEmptyLines = (headers: readonly HeaderPair[], name: string): HeaderPair[] =>
  headers.filter(([n, v]) => n.toLowerCase() === name.toLowerCase() && normalizeValue(v) !== '');

/** How many fields of that name the response has. */
export const countHeader = (headers: readonly HeaderPair[], name: string): number =>
  headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).length;

/**
 * Fetch §2.2.2 "extract header list values" (https://fetch.spec.whatwg.org/#extract-header-list-values)
 * for a `#token` list (ACAM `#method`, ACAH/ACEH `#field-name`): null when absent, `failure` when an
 * element is not a token, else the elements (empty elements skipped, as the # rule allows).
 */
export function extractList(headers: readonly HeaderPair[], name: string): string[] | null | 'failure' {
  const value = getHeader(headers, name);
  if (value === null) return null;
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const item = withoutOws(raw);
    if (item === '') continue;
    if (!isToken(item)) return 'failure';
    out.push(item);
  }
  return out;
}

/** `Name: value`, or `Name: (absent)`, for the steps printed. */
export function shown(headers: readonly HeaderPair[], name: string): string {
  const v = getHeader(headers, name);
  return `${name}: ${v === null ? '(absent)' : v}`;
}

/** Parses `Name: value` as written on the command line; a malformed header is a CheckInputError. */
export function parseHeaderLine(line: string): HeaderPair {
  const i = line.indexOf(':');
  if (i <= 0) throw new CheckInputError(`--header ${JSON.stringify(line)}: expected 'Name: value'`);
  const name = line.slice(0, i).trim();
  if (!isToken(name)) throw new CheckInputError(`--header ${JSON.stringify(line)}: ${JSON.stringify(name)} is not a valid header name`);
  return [name, line.slice(i + 1)];
}
