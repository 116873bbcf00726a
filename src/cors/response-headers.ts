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

/**
 * The constant parts of an actual (non-preflight) response's CORS headers, joined once.
 * The origin itself is the only per-request value.
 */
export interface ActualValues {
  /** Access-Control-Expose-Headers value, or null for none. */
  readonly expose: string | null;
  /** True when `Access-Control-Allow-Credentials: true` is sent to allowed origins. */
  readonly credentials: boolean;
  /** True when `Timing-Allow-Origin` is sent beside the allowed origin. */
  readonly timing: boolean;
}

export function buildActualValues(policy: CompiledPolicy): ActualValues {
  return {
    expose: policy.anyExposed ? '*' : policy.exposedHeaders.length > 0 ? policy.exposedHeaders.join(', ') : null,
    credentials: policy.credentials,
    timing: policy.timingAllowOrigin,
  };
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
  let merged = current;
  for (const token of value.split(',')) {
    const t = token.trim();
    if (!varyCovers(merged, t)) merged = merged === '' ? t : `${merged}, ${t}`;
  }
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
