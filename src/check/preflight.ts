// The preflight: what is sent, and the checks of its response.
import { corsCheck, type Failure } from './cors-check.js';
import { countHeader, extractList, getHeader, nonEmptyLines } from './headers.js';
import type { UnsafeHeaders } from './request.js';
import { isSafelistedMethod, NORMALIZED_METHODS } from './request.js';
import type { EngineRules } from './rules.js';
import { spec, type Credentials, type HeaderPair, type OutgoingRequest, type ServerResponse } from './types.js';

/**
 * Fetch §4.9 "CORS-preflight fetch" steps 1-5 (https://fetch.spec.whatwg.org/#cors-preflight-fetch):
 * OPTIONS with `Accept: *\/*`, Access-Control-Request-Method, and Access-Control-Request-Headers (the
 * unsafe names, lower case, sorted, comma-separated without spaces) when there are any.
 */
export function preflightRequest(url: string, origin: string, method: string, unsafe: UnsafeHeaders): OutgoingRequest {
  const headers: HeaderPair[] = [['Origin', origin], ['Accept', '*/*'], ['Access-Control-Request-Method', method]];
  if (unsafe.names.length > 0) headers.push(['Access-Control-Request-Headers', unsafe.names.join(',')]);
  return { kind: 'preflight', url, method: 'OPTIONS', headers };
}

/** An ok status: 200-299 (https://fetch.spec.whatwg.org/#ok-status). */
export const isOkStatus = (status: number): boolean => status >= 200 && status <= 299;

/**
 * Fetch §4.9 "CORS-preflight fetch" step 7 (https://fetch.spec.whatwg.org/#cors-preflight-fetch): the
 * CORS check and an ok status; ACAM and ACAH parsed as header lists (a malformed one fails); the
 * method listed byte for byte (case-sensitive), or `*` without credentials, unless it is safelisted;
 * `authorization` listed by name (never covered by `*`); every unsafe header name listed
 * (case-insensitively) or `*` without credentials. `opaquePage`: the page's own origin is "null" (not a
 * redirect's taint), for the fix. Returns null when the preflight passes.
 */
export function checkPreflight(
  rules: EngineRules,
  response: ServerResponse,
  origin: string,
  credentials: Credentials,
  method: string,
  scriptHeaderNames: readonly string[],
  unsafe: UnsafeHeaders,
  opaquePage = false,
): Failure | null {
  const first = statusAndCorsProblem(response, corsCheck(response, origin, credentials, 'preflight response', rules, opaquePage));
  if (first !== null) return first;
  const methods = extractList(response.headers, 'Access-Control-Allow-Methods');
  if (methods === 'failure') return notAList(response, 'Access-Control-Allow-Methods', 'methods', 'GET, PUT, PATCH');
  const headerNames = extractList(response.headers, 'Access-Control-Allow-Headers');
  if (headerNames === 'failure') return notAList(response, 'Access-Control-Allow-Headers', 'header names', 'Content-Type, Authorization');
  return methodProblem(methods, method, credentials) ?? headersProblem(rules, headerNames, credentials, scriptHeaderNames, unsafe);
}

/**
 * A 403 without a single Access-Control-* field: how a CORS policy refuses a preflight (xorigin, and
 * most middleware), with the reason kept off the wire; only the server's log can say which rule.
 */
const refusedByPolicy = (response: ServerResponse): boolean =>
  response.status === 403 && !response.headers.some(([n]) => n.toLowerCase().startsWith('access-control-'));

/** What the operator does about a refusal by the server's CORS policy (a bare 403 to the preflight). */
const POLICY_REFUSAL_FIX =
  "The server's CORS policy refused this preflight: a bare 403 with no CORS headers is how a policy says no, and the reason never goes on the wire. " +
  "The server's log can say why: with xorigin, run xorigin serve --debug (or give the policy an onDenied callback) and it logs which origin, method or request header the policy does not allow; " +
  'add that to the policy.';

/** The CORS check's failure (`cors`) and the ok-status rule, each said with the other when both fail. */
function statusAndCorsProblem(response: ServerResponse, cors: Failure | null): Failure | null {
  const redirected = response.status >= 300 && response.status <= 399;
  if (refusedByPolicy(response)) {
    return { check: 'status', reason: "the preflight was refused with a bare 403 (no CORS headers): the server's CORS policy does not allow this request", fix: POLICY_REFUSAL_FIX, spec: spec('ok-status') };
  }
  if (cors !== null) {
    if (isOkStatus(response.status)) return cors;
    return {
      ...cors,
      reason: `${cors.reason}; its status ${response.status} is not ok either`,
      fix: redirected
        ? `The preflight (OPTIONS) was answered with a ${response.status} redirect: a preflight is never followed. Answer OPTIONS at this exact URL with 204 and the CORS headers (look for a trailing-slash, HTTPS or login redirect in front of it).`
        : `Answer the preflight (OPTIONS) with a 2xx and the CORS headers; it got ${response.status} (often a router with no OPTIONS route, an auth check, or an error handler running before CORS). ${cors.fix}`,
    };
  }
  if (isOkStatus(response.status)) return null;
  return {
    check: 'status',
    reason: redirected ? `the preflight was redirected (${response.status}); a preflight is never followed` : `the preflight's status is ${response.status}, not an ok status (200-299)`,
    fix: redirected
      ? 'Answer OPTIONS at this exact URL with 204 and the CORS headers, without the redirect (trailing slash, HTTPS upgrade, login).'
      : `Answer the preflight (OPTIONS) with 200 or 204; it got ${response.status}, so the CORS headers on it do not count.`,
    spec: spec('ok-status'),
  };
}

/** Fetch §2.2 "extract header list values" failed on `name`. */
function notAList(response: ServerResponse, name: string, what: string, example: string): Failure {
  return {
    check: name,
    reason: `${name} "${getHeader(response.headers, name)}" is not a comma-separated list of ${what}`,
    fix: `Send ${name} as ${what} separated by commas: "${example}".`,
    spec: spec('extract-header-list-values'),
  };
}

/** The method listed byte for byte, or `*` without credentials, unless it is safelisted. */
function methodProblem(methods: string[] | null, method: string, credentials: Credentials): Failure | null {
  const ms = methods ?? [];
  if (ms.includes(method) || isSafelistedMethod(method) || (credentials !== 'include' && ms.includes('*'))) return null;
  const caseOnly = ms.some((m) => m.toLowerCase() === method.toLowerCase());
  const starCred = ms.includes('*') && credentials === 'include';
  return {
    check: 'Access-Control-Allow-Methods',
    reason: caseOnly
      ? `the method "${method}" is not in Access-Control-Allow-Methods "${ms.join(', ')}": methods compare case-sensitively, and fetch() sends "${method}" ${normalizedMethod(method) ? `(it upper-cases ${method} in whatever case the script wrote it)` : `as the script wrote it (it upper-cases only ${NORMALIZED_METHODS.join(', ')})`}`
      : starCred
        ? `Access-Control-Allow-Methods "*" is a literal name when the request has credentials, so "${method}" is not allowed`
        : `the method "${method}" is not in Access-Control-Allow-Methods${methods === null ? ' (absent)' : ` "${ms.join(', ')}"`}`,
    fix: caseOnly
      ? `List "${method}" exactly as the browser sends it (Access-Control-Allow-Methods: ${[...ms, method].join(', ')})${scriptMaySend(ms, method)}.`
      : `Add ${method} to Access-Control-Allow-Methods on the preflight response${starCred ? ' by name' : ''}.`,
    spec: spec('cors-preflight-fetch'),
  };
}

const normalizedMethod = (method: string): boolean => NORMALIZED_METHODS.includes(method);

/**
 * The other way to a match: the script writing the method as the server lists it, offered only when
 * the script can (a method fetch() does not upper-case) and the listed form is upper case (the one
 * other servers expect too).
 */
function scriptMaySend(listed: readonly string[], method: string): string {
  const upper = method.toUpperCase();
  return upper !== method && !normalizedMethod(upper) && listed.includes(upper) ? `, or have the script send "${upper}"` : '';
}

/** `authorization` listed by name (never covered by `*` in the standard); every unsafe name listed, or `*` without credentials. */
function headersProblem(
  rules: EngineRules,
  headerNames: string[] | null,
  credentials: Credentials,
  scriptHeaderNames: readonly string[],
  unsafe: UnsafeHeaders,
): Failure | null {
  const names = (headerNames ?? []).map((n) => n.toLowerCase());
  const star = names.includes('*');
  const authCovered = names.includes('authorization') || (rules.wildcardCoversAuthorization && star && credentials !== 'include');
  const covered = (name: string): boolean => names.includes(name) || (star && credentials !== 'include' && (name !== 'authorization' || authCovered));
  const missing = unsafe.names.filter((n) => !covered(n));
  const addAll = `Add ${missing.join(', ')} to Access-Control-Allow-Headers by name on the preflight response`;
  const listed = headerNames === null ? ' (absent)' : ` "${names.join(', ')}"`;
  if (scriptHeaderNames.some((n) => n.toLowerCase() === 'authorization') && !authCovered) {
    return {
      check: 'Access-Control-Allow-Headers (authorization)',
      reason: star
        ? `the request sends Authorization, which "Access-Control-Allow-Headers: *" never covers${credentials === 'include' ? ' (and with credentials "*" is only a literal name)' : ''}`
        : `the request sends Authorization, which Access-Control-Allow-Headers${listed} does not list`,
      fix: `${addAll}${star && credentials !== 'include' ? ' (beside the "*")' : ''}.`,
      spec: spec('cors-non-wildcard-request-header-name'),
    };
  }
  const name = missing[0];
  if (name === undefined) return null;
  return {
    check: 'Access-Control-Allow-Headers',
    reason: `the request header "${name}" (${unsafe.why.get(name) ?? 'not safelisted'}) is not in Access-Control-Allow-Headers${listed}${star ? '; "*" is a literal name with credentials' : ''}`,
    fix: `${addAll}${star ? ' (with credentials "*" does not count)' : ''}.`,
    spec: spec('cors-preflight-fetch'),
  };
}

/**
 * Fetch §4.9 step 7.8-7.9 and §4.9.1 "CORS-preflight cache" (https://fetch.spec.whatwg.org/#cors-preflight-cache):
 * Access-Control-Max-Age (one delta-seconds value, else the default of 5 s; an engine may read an
 * invalid one otherwise: EngineRules.invalidMaxAge), capped by the engine.
 */
export function preflightMaxAge(response: ServerResponse, rules: EngineRules): number {
  const name = 'Access-Control-Max-Age';
  const nonEmpty = rules.skipsEmptyFieldLines ? nonEmptyLines(response.headers, name) : [];
  const lines = nonEmpty.length > 0 ? nonEmpty : response.headers;
  const v = getHeader(lines, name);
  let seconds: number;
  if (v === null || v === '') seconds = rules.maxAgeDefault;
  else if (countHeader(lines, name) > 1 || !/^\d+$/.test(v)) seconds = rules.invalidMaxAge(v);
  else seconds = Number(v);
  return Math.min(seconds, rules.maxAgeCap);
}
