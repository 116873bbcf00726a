import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { CompiledPolicy } from './options.js';

/** What a preflight response depends on, beyond the URL. */
export const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
/** With origins ["*"], a preflight's answer does not depend on the Origin. */
export const PREFLIGHT_VARY_ANY_ORIGIN = 'Access-Control-Request-Method, Access-Control-Request-Headers';

/**
 * A flat [name, value, name, value, ...] array for `res.writeHead(status, block)`, built once.
 * Slots hold the index of a value filled per request (the echoed origin, and with credentials the
 * echoed method or header list), or -1 when the value is constant.
 */
export interface PreflightBlock {
  readonly headers: string[];
  readonly originSlot: number;
  readonly methodSlot: number;
  readonly headersSlot: number;
}

export interface PreflightBlocks {
  /** Success without a requested-headers echo (also every success when nothing is echoed). */
  readonly ok: PreflightBlock;
  /** Success echoing the request's header list (credentials with allowedHeaders ["*"]). */
  readonly okEchoHeaders: PreflightBlock;
  /** Failure: 403 with no Access-Control-* header at all. */
  readonly denied: string[];
}

function preflightBlock(policy: CompiledPolicy, echoHeaders: boolean): PreflightBlock {
  const h: string[] = [];
  let originSlot = -1;
  let methodSlot = -1;
  let headersSlot = -1;

  h.push('Access-Control-Allow-Origin', '*');
  if (!policy.anyOrigin) originSlot = h.length - 1;
  if (policy.credentials) h.push('Access-Control-Allow-Credentials', 'true');

  // The full lists, not just what was asked: the browser caches every allowed method and header
  // from one preflight, so later requests need no preflight of their own.
  if (policy.anyMethod) {
    h.push('Access-Control-Allow-Methods', '*');
    // A literal "*" is not a wildcard for credentialed requests: echo the requested method.
    if (policy.credentials) methodSlot = h.length - 1;
  } else if (policy.methods.length > 0) {
    h.push('Access-Control-Allow-Methods', policy.methods.join(', '));
  }

  const set = policy.allowedHeaders;
  if (set.any && policy.credentials) {
    if (echoHeaders) {
      h.push('Access-Control-Allow-Headers', '');
      headersSlot = h.length - 1;
    }
  } else if (set.any) {
    // "*" never covers authorization; it must be named beside it.
    h.push('Access-Control-Allow-Headers', set.names.includes('authorization') ? '*, authorization' : '*');
  } else if (set.names.length > 0) {
    h.push('Access-Control-Allow-Headers', set.names.join(', '));
  }

  if (policy.maxAge !== null) h.push('Access-Control-Max-Age', String(policy.maxAge));
  h.push('Vary', policy.anyOrigin ? PREFLIGHT_VARY_ANY_ORIGIN : PREFLIGHT_VARY);
  // A 204 must not carry Content-Length (RFC 9110 §8.6); a 200 needs it, or Node, whose framing
  // is fixed when writeHead runs, would fall back to chunked encoding for an empty body.
  if (policy.preflightStatus === 200) h.push('Content-Length', '0');
  return { headers: h, originSlot, methodSlot, headersSlot };
}

export function buildPreflightBlocks(policy: CompiledPolicy): PreflightBlocks {
  return {
    ok: preflightBlock(policy, false),
    okEchoHeaders: preflightBlock(policy, true),
    denied: ['Vary', policy.anyOrigin ? PREFLIGHT_VARY_ANY_ORIGIN : PREFLIGHT_VARY, 'Content-Length', '0'],
  };
}

/** Stands in an actual-response block for the request's origin; filled per request. */
export const ORIGIN_SLOT = '\u0000origin';

/**
 * The CORS headers of an actual (non-preflight) response, as flat `[name, value, ...]` blocks built
 * once. This is the one place that decides them; the node:http handler, the Fetch and Fastify
 * adapters and the file server all copy or fill these blocks.
 */
export interface ActualBlocks {
  /**
   * For a request whose Origin the policy allows: Access-Control-Allow-Origin, -Allow-Credentials,
   * -Expose-Headers, Timing-Allow-Origin, Cross-Origin-Resource-Policy, as the policy says. Values
   * equal to ORIGIN_SLOT stand for the request's origin.
   */
  readonly allowed: readonly string[];
  /** Indexes in `allowed` of the ORIGIN_SLOT values. */
  readonly originSlots: readonly number[];
  /**
   * For every other response: no Origin, or one the policy does not allow. Under `*` this is every
   * response (`Access-Control-Allow-Origin: *` even without Origin: a shared cache may hand the stored
   * copy to any reader, and it carries no Vary: Origin to stop it).
   */
  readonly other: readonly string[];
  /** The Vary token every response of the resource needs for CORS: `Origin`, or null under `*`. */
  readonly vary: string | null;
}

export interface ActualBlockOptions {
  /** Add `Cross-Origin-Resource-Policy: cross-origin` to every response (a file server's choice). */
  readonly crossOriginResourcePolicy?: boolean | undefined;
}

/** Access-Control-Expose-Headers for the policy, or null for none. */
function exposeValue(policy: CompiledPolicy): string | null {
  if (policy.anyExposed) return '*';
  return policy.exposedHeaders.length > 0 ? policy.exposedHeaders.join(', ') : null;
}

export function buildActualBlocks(policy: CompiledPolicy, options: ActualBlockOptions = {}): ActualBlocks {
  const expose = exposeValue(policy);
  const corp = options.crossOriginResourcePolicy === true ? ['Cross-Origin-Resource-Policy', 'cross-origin'] : [];
  if (policy.anyOrigin) {
    const h = ['Access-Control-Allow-Origin', '*'];
    if (expose !== null) h.push('Access-Control-Expose-Headers', expose);
    if (policy.timingAllowOrigin) h.push('Timing-Allow-Origin', '*');
    h.push(...corp);
    return { allowed: h, originSlots: [], other: h, vary: null };
  }
  const allowed = ['Access-Control-Allow-Origin', ORIGIN_SLOT];
  if (policy.credentials) allowed.push('Access-Control-Allow-Credentials', 'true');
  if (expose !== null) allowed.push('Access-Control-Expose-Headers', expose);
  if (policy.timingAllowOrigin) allowed.push('Timing-Allow-Origin', ORIGIN_SLOT);
  allowed.push(...corp);
  const originSlots: number[] = [];
  allowed.forEach((v, i) => {
    if (v === ORIGIN_SLOT) originSlots.push(i);
  });
  return { allowed, originSlots, other: corp, vary: 'Origin' };
}

/** True when a Vary value (string or list) already names `token` or is `*`. Case-insensitive. */
function varyCovers(existing: string, token: string): boolean {
  const want = token.toLowerCase();
  for (const part of existing.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '*' || t === want) return true;
  }
  return false;
}

/**
 * `existing` (a Vary value, or null when absent) with the tokens of `value` appended, each only if
 * not already named (case-insensitive) and none at all if `existing` is `*`. Returns `existing`
 * itself when nothing is added, so callers can skip the write. Used by every adapter.
 */
export function mergeVary(existing: string | null, value: string): string {
  if (existing === null || existing.trim() === '') return value;
  let merged = existing;
  for (const token of value.split(',')) {
    const t = token.trim();
    if (!varyCovers(merged, t)) merged = `${merged}, ${t}`;
  }
  return merged;
}

/**
 * Adds the tokens of `value` to the response's Vary header without replacing what the application
 * already set and without repeating a token. The common case (no Vary yet) is one setHeader.
 */
export function appendVary(res: ServerResponse, value: string): void {
  const existing = res.getHeader('vary');
  if (existing === undefined) {
    res.setHeader('Vary', value);
    return;
  }
  const current = Array.isArray(existing) ? existing.join(', ') : String(existing);
  const merged = mergeVary(current, value);
  if (merged !== current) res.setHeader('Vary', merged);
}

/** Applies a flat [name, value, ...] block through setHeader, merging Vary instead of replacing it. */
export function setHeaderBlock(res: ServerResponse, block: readonly string[]): void {
  for (let i = 0; i < block.length; i += 2) {
    const name = block[i] as string;
    const value = block[i + 1] as string;
    if (name === 'Vary') appendVary(res, value);
    else res.setHeader(name, value);
  }
}

export type { OutgoingHttpHeaders };

/**
 * Removes the CORS headers (Access-Control-*, Timing-Allow-Origin) another layer set on `res`, for
 * a handler with a policy of its own mounted behind one (an app's CORS middleware): its answers
 * carry its own policy's headers alone. Mixed, two layers' headers can allow what neither policy
 * does (`Access-Control-Allow-Origin: *` beside `Access-Control-Allow-Credentials: true`), or keep
 * the other policy's origin where this one refuses it.
 */
export function removeCorsHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) {
    if (isCorsHeader(name)) res.removeHeader(name);
  }
}

/** A lower-case header name one CORS policy decides: Access-Control-*, Timing-Allow-Origin. */
export function isCorsHeader(name: string): boolean {
  return name.startsWith('access-control-') || name === 'timing-allow-origin';
}

/**
 * The headers by which a layer grants a cross-origin reader something (Fetch §3.2.3; Resource
 * Timing's Timing-Allow-Origin): another layer's policy that set one goes whole, in every face.
 */
export const GRANT: readonly string[] = ['access-control-allow-origin', 'access-control-allow-credentials', 'timing-allow-origin'];

/**
 * GRANT on a preflight's answer: also the headers whose methods and names the browser caches and
 * then sends with no preflight (Fetch §4.9 step 7).
 */
export const PREFLIGHT_GRANT: readonly string[] = [
  ...GRANT,
  ...['allow-methods', 'allow-headers', 'max-age', 'expose-headers', 'allow-private-network'].map((name) => `access-control-${name}`),
];

/**
 * removeCorsHeaders, when another layer (an app-wide CORS middleware before this one) granted
 * anything (`grants`; PREFLIGHT_GRANT on a preflight). A lookup per name when none did.
 */
export function removeOtherPolicy(res: ServerResponse, grants: readonly string[] = GRANT): void {
  for (let i = 0; i < grants.length; i++) {
    if (res.hasHeader(grants[i] as string)) {
      removeCorsHeaders(res);
      return;
    }
  }
}
