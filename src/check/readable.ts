// Which response headers script can read from a CORS response.
import { extractList } from './headers.js';
import type { Credentials, ServerResponse } from './types.js';

/** Fetch §2.2.2 "CORS-safelisted response-header name" (https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name). */
export const SAFELISTED_RESPONSE = ['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma'];

/** Fetch §2.2.2 "forbidden response-header name": never readable. */
export const FORBIDDEN_RESPONSE = new Set(['set-cookie', 'set-cookie2']);

/** True for a forbidden response-header name (Fetch §2.2.2), given in lower case. */
export const isForbiddenResponseName = (lower: string): boolean => FORBIDDEN_RESPONSE.has(lower);

/**
 * Fetch §4.1 "main fetch" step 14 and §2.2.5 "CORS filtered response"
 * (https://fetch.spec.whatwg.org/#concept-filtered-response-cors): the safelisted names plus those in
 * Access-Control-Expose-Headers; `*` exposes every name, but only without credentials (with them it
 * is a literal name). A malformed ACEH exposes nothing extra. Returns the readable names present in
 * the response, lower case, sorted.
 */
export function readableHeaders(response: ServerResponse, credentials: Credentials): string[] {
  const present = [...new Set(response.headers.map(([n]) => n.toLowerCase()))];
  const listed = extractList(response.headers, 'Access-Control-Expose-Headers');
  const exposed = new Set(Array.isArray(listed) ? listed.map((n) => n.toLowerCase()) : []);
  const all = credentials !== 'include' && exposed.has('*');
  return present
    .filter((n) => !FORBIDDEN_RESPONSE.has(n) && (all || SAFELISTED_RESPONSE.includes(n) || exposed.has(n)))
    .sort();
}
