// The CORS check of a response (preflight, redirect or final): one Access-Control-Allow-Origin value,
// byte-equal to the request's origin or `*` without credentials, and Access-Control-Allow-Credentials
// exactly `true` with credentials.
import { withoutTrailing } from '../http/whitespace.js';
import { countHeader, getHeader, getHeaderSkippingEmpty } from './headers.js';
import { STANDARD_RULES, type EngineRules } from './rules.js';
import { spec, type Credentials, type ServerResponse } from './types.js';

/** Why a step failed, phrased for the server's operator. */
export interface Failure {
  /** The check that failed: `CORS check: Access-Control-Allow-Origin`. */
  readonly check: string;
  readonly reason: string;
  readonly fix: string;
  readonly spec: string;
}

const errorHint = (status: number): string =>
  status >= 400 ? ` The response is a ${status}: error responses need the CORS headers too (set them before the error handler or proxy answers).` : '';

/**
 * No Access-Control-Allow-Origin but `Vary: Origin`: the server decides per origin, so a CORS policy
 * is there and refused this one (xorigin answers a refused origin exactly so).
 */
const refusedOriginHint = (response: ServerResponse, origin: string): string =>
  /(^|,)\s*origin\s*(,|$)/i.test(getHeader(response.headers, 'Vary') ?? '')
    ? ` The response varies on Origin, so the server has a CORS policy and it does not allow ${origin}: add the origin to it (with xorigin, serve --debug or the policy's onDenied logs each refusal and why).`
    : '';

/**
 * Fetch §4.10 "CORS check" (https://fetch.spec.whatwg.org/#cors-check). `origin` is the serialised
 * request origin (`null` once a redirect tainted it, or the page's own when `opaquePage`: a sandboxed
 * or data: page, whose fix differs); `rules`, the engine's (the standard's by default). Returns null
 * on success.
 */
export function corsCheck(response: ServerResponse, origin: string, credentials: Credentials, what: string, rules: EngineRules = STANDARD_RULES, opaquePage = false): Failure | null {
  const acao = getHeader(response.headers, 'Access-Control-Allow-Origin');
  const at = spec('cors-check');
  if (acao === null) {
    return {
      check: 'CORS check: Access-Control-Allow-Origin',
      reason: `the ${what} (status ${response.status}) has no Access-Control-Allow-Origin header`,
      fix: `Send "Access-Control-Allow-Origin: ${credentials === 'include' ? origin : `${origin}" (or "*")`}${credentials === 'include' ? '"' : ''} on the ${what}.${errorHint(response.status)}${refusedOriginHint(response, origin)}`,
      spec: at,
    };
  }
  const fields = countHeader(response.headers, 'Access-Control-Allow-Origin');
  if (fields > 1 || acao.includes(',')) {
    return {
      check: 'CORS check: Access-Control-Allow-Origin',
      reason: `the ${what} has ${fields > 1 ? `${fields} Access-Control-Allow-Origin fields` : 'a list in Access-Control-Allow-Origin'}, read as the one value "${acao}"`,
      fix: 'Send exactly one Access-Control-Allow-Origin with one origin; when two layers (app, proxy, CDN) each add it, remove it from one of them.',
      spec: at,
    };
  }
  if (acao === '*') {
    if (credentials !== 'include') return null;
    return {
      check: 'CORS check: Access-Control-Allow-Origin',
      reason: `the ${what} answers "Access-Control-Allow-Origin: *" to a request with credentials`,
      fix: `With credentials "*" is not allowed: echo the request's origin ("Access-Control-Allow-Origin: ${origin}"), add "Access-Control-Allow-Credentials: true" and "Vary: Origin".`,
      spec: spec('cors-protocol-and-credentials'),
    };
  }
  if (acao !== origin) {
    let hint = '';
    if (withoutTrailing(acao, (c) => c === 0x2f /* / */) === origin) hint = ' (a trailing slash: an origin has no path)';
    else if (acao.toLowerCase() === origin.toLowerCase()) hint = ' (the comparison is byte for byte, case included)';
    else if (origin === 'null') hint = opaquePage ? ' (the page\'s own origin is opaque: a sandboxed iframe, a data: URL or a file: page sends "Origin: null")' : ' (a cross-origin redirect made the request origin "null")';
    return {
      check: 'CORS check: Access-Control-Allow-Origin',
      reason: `the ${what}'s Access-Control-Allow-Origin "${acao}" is not the request's origin "${origin}"${hint}`,
      fix: origin !== 'null'
        ? `Answer "Access-Control-Allow-Origin: ${origin}" exactly (scheme, host and port, no path) for this origin.`
        : opaquePage
          ? 'A page with an opaque origin sends "Origin: null": answer "Access-Control-Allow-Origin: null" (or "*" without credentials); every sandboxed page and data: URL sends the same "null", so that allows them all. Better: load the page from a real origin and allow that one.'
          : 'After a cross-origin redirect the browser sends "Origin: null": the redirect target must answer "Access-Control-Allow-Origin: *" (without credentials) or "null" (which every sandboxed page sends too), or link the API directly instead of redirecting.',
      spec: at,
    };
  }
  if (credentials !== 'include') return null;
  const acac = rules.skipsEmptyFieldLines
    ? getHeaderSkippingEmpty(response.headers, 'Access-Control-Allow-Credentials')
    : getHeader(response.headers, 'Access-Control-Allow-Credentials');
  if (acac === 'true') return null;
  return {
    check: 'CORS check: Access-Control-Allow-Credentials',
    reason: acac === null
      ? `the request has credentials but the ${what} has no Access-Control-Allow-Credentials`
      : `Access-Control-Allow-Credentials is "${acac}"; only the exact, lower-case "true" counts`,
    fix: `Send "Access-Control-Allow-Credentials: true" (lower case, exactly) on the ${what}, or make the request without credentials.`,
    spec: spec('http-access-control-allow-credentials'),
  };
}
