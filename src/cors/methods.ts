/**
 * Request methods as the Fetch standard treats them. The one home of these lists for the server
 * side: the policy compiler and the engine both import them. `xorigin check` (src/check), the
 * browser's side, keeps its own spelling of them, which its corpus runs against Chromium and
 * Firefox; test/fetch-lists.test.js holds the two sides to the same lists.
 */
import { equalsLower, isToken } from '../http/tokens.js';
import { MAX_REQUEST_HEADERS_BYTES } from './request-headers.js';

/** CORS-safelisted methods (Fetch §2.2.1): a preflight asking for one passes without a listing. */
export const SAFELISTED_METHODS: readonly string[] = ['GET', 'HEAD', 'POST'];

/** Fetch's forbidden methods, lowercase: browsers never send them, and allowing them only helps attacks. */
export const FORBIDDEN_METHODS: readonly string[] = ['connect', 'trace', 'track'];

/** Fetch normalises these (byte-uppercase, Fetch §2.2.1 "normalize"); every other method is sent as written. */
export const NORMALISED_METHODS: readonly string[] = ['delete', 'get', 'head', 'options', 'post', 'put'];

/** True for CONNECT, TRACE and TRACK in any case, without allocating. */
export function isForbiddenMethod(method: string): boolean {
  return equalsLower(method, 'connect') || equalsLower(method, 'trace') || equalsLower(method, 'track');
}

/**
 * Methods in the IANA HTTP Method Registry (RFC 9110 §18.2 and the documents it lists: WebDAV
 * RFC 4918, DeltaV RFC 3253, RFC 5323 SEARCH, RFC 5789 PATCH, the QUERY method, ...), minus the
 * forbidden ones. Their names are uppercase; a lowercase spelling in `methods` is almost always a
 * mistake, because browsers send every method outside NORMALISED_METHODS exactly as the script
 * wrote it, and scripts write `PATCH`.
 */
export const REGISTERED_METHODS: readonly string[] = [
  'ACL',
  'BASELINE-CONTROL',
  'BIND',
  'CHECKIN',
  'CHECKOUT',
  'COPY',
  'LABEL',
  'LINK',
  'LOCK',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MKREDIRECTREF',
  'MKWORKSPACE',
  'MOVE',
  'ORDERPATCH',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'UNBIND',
  'UNCHECKOUT',
  'UNLINK',
  'UNLOCK',
  'UPDATE',
  'UPDATEREDIRECTREF',
  'VERSION-CONTROL',
];

/** The registered (uppercase) name `method` is a differently-cased spelling of, or null. */
export function miscasedRegisteredMethod(method: string): string | null {
  const upper = method.toUpperCase();
  return upper !== method && REGISTERED_METHODS.includes(upper) ? upper : null;
}

/**
 * Whether a preflight may ask for `method` under a policy (its `anyMethod` and `methods`): the one
 * statement of the rule, for the engine and for explain mode. Compared case-sensitively: Fetch
 * normalises only DELETE, GET, HEAD, OPTIONS, POST and PUT, and the policy stored those uppercased.
 * GET, HEAD and POST always pass; `*` allows any token within the header bound but a forbidden one.
 */
export function allowsMethod(policy: { readonly anyMethod: boolean; readonly methods: readonly string[] }, method: string): boolean {
  for (let i = 0; i < SAFELISTED_METHODS.length; i++) if (SAFELISTED_METHODS[i] === method) return true;
  if (policy.anyMethod) return method.length <= MAX_REQUEST_HEADERS_BYTES && isToken(method) && !isForbiddenMethod(method);
  const methods = policy.methods;
  for (let i = 0; i < methods.length; i++) if (methods[i] === method) return true;
  return false;
}
