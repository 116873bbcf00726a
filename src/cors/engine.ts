import { NO_MATCH } from './origin-matcher.js';
import { compilePolicy, readPolicyOnce, type CompiledPolicy, type CorsOptions, type DeniedInfo } from './options.js';
import { allowsMethod } from './methods.js';
import {
  buildActualBlocks,
  buildPreflightBlocks,
  type ActualBlocks,
  type PreflightBlock,
  type PreflightBlocks,
} from './response-headers.js';

/** How a request is classified (Fetch standard §3.2.2 "CORS protocol"; DESIGN.md). */
export enum RequestKind {
  /** No Origin header: a plain request. */
  Plain = 0,
  /** Origin present, not a preflight: an actual CORS request. */
  Actual = 1,
  /** OPTIONS with Origin and Access-Control-Request-Method. */
  Preflight = 2,
}

/**
 * Classifies a request from its method, `Origin` and `Access-Control-Request-Method` values
 * (undefined when absent). Any OPTIONS without both headers is an ordinary request.
 */
export function classify(method: string, origin: string | undefined, requestMethod: string | undefined): RequestKind {
  if (origin === undefined) return RequestKind.Plain;
  return method === 'OPTIONS' && requestMethod !== undefined ? RequestKind.Preflight : RequestKind.Actual;
}

/**
 * The policy's `onDenied`, made safe to call on the request path: a throw from it would otherwise
 * reach the caller's request listener (and end a plain node:http process), and an async one's
 * rejection, unobserved, ends the process too (Node's default for an unhandled rejection). Either
 * is reported once, with console.error (there is no node: module here), and the request is
 * answered as if it had not happened.
 */
function guarded(hook: ((info: DeniedInfo) => void | PromiseLike<void>) | undefined): ((info: DeniedInfo) => void) | null {
  if (hook === undefined) return null;
  let reported = false;
  const failed = (e: unknown): void => {
    if (reported) return;
    reported = true;
    try {
      console.error('xorigin: onDenied failed; refusals still answered (reported once):', e);
    } catch {
      // A value the console cannot print (a throwing inspect): the report is lost, the process kept.
    }
  };
  return (info) => {
    try {
      observeRejection(hook(info), failed);
    } catch (e) {
      failed(e);
    }
  };
}

/** Hands a rejection of `result`, when it is a promise (an async callback's), to `onRejected`. */
export function observeRejection(result: unknown, onRejected: (e: unknown) => void): void {
  const thenable = result as PromiseLike<unknown> | null | undefined;
  if (typeof thenable?.then === 'function') thenable.then(undefined, onRejected);
}

/** A preflight's answer, owned by the caller (safe to keep across `await`). */
export interface PreflightAnswer {
  /** True when the policy allows the request the preflight asks about. */
  readonly allowed: boolean;
  /** 204 (or 200 with `preflightStatus: 200`) when allowed; 403 when not. */
  readonly status: number;
  /** `[name, value, name, value, ...]`; when refused, only Vary and Content-Length (no Access-Control-*). */
  readonly headers: string[];
}

/**
 * A compiled CORS policy and its decisions, with no tie to any HTTP library: the node:http, Fetch
 * and Fastify faces are built on it. Everything is computed once in the constructor; the methods
 * only look things up. Throws a PolicyError listing every problem when the options are invalid.
 */
export class CorsEngine {
  /** The policy in force (replaced whole by reconfigure). */
  get policy(): CompiledPolicy {
    return this.compiled;
  }
  private compiled: CompiledPolicy;
  /** The prebuilt preflight header blocks (shared: copy before keeping). */
  protected preflights: PreflightBlocks;
  /** The prebuilt actual-response header blocks (shared: copy before keeping). */
  actualBlocks: ActualBlocks;
  /** The policy's `onDenied`, or null: then a refusal costs this one check. */
  protected onDenied: ((info: DeniedInfo) => void) | null;

  /** `prefix` names where the policy sits in a larger configuration (`cors.`), for error messages. */
  constructor(options: CorsOptions, private readonly prefix = '') {
    const given = readPolicyOnce(options);
    this.compiled = compilePolicy(given, prefix);
    this.preflights = buildPreflightBlocks(this.compiled);
    this.actualBlocks = buildActualBlocks(this.compiled);
    this.onDenied = guarded(given.onDenied);
  }

  /**
   * Puts a new policy in force without a restart (DESIGN.md "Reload"). `options` is compiled and
   * validated completely first: on any problem a PolicyError lists them all and the current policy
   * stays. The swap is four assignments in one synchronous call, and every decision reads the
   * policy synchronously, so each request is decided wholly by the old or wholly by the new one.
   */
  reconfigure(options: CorsOptions): void {
    const given = readPolicyOnce(options);
    const policy = compilePolicy(given, this.prefix);
    const preflights = buildPreflightBlocks(policy);
    const actual = buildActualBlocks(policy);
    const onDenied = guarded(given.onDenied);
    this.compiled = policy;
    this.preflights = preflights;
    this.actualBlocks = actual;
    this.onDenied = onDenied;
  }

  /**
   * Tells `onDenied` (if any) that an actual request from `origin` was refused: the one place that
   * builds that report, for the engine's faces and for the file server, which writes its own headers.
   */
  deniedActual(origin: string): void {
    if (this.onDenied !== null) this.onDenied({ kind: 'actual', origin });
  }

  /** True when an actual request from `origin` may read the response. Byte-exact (DESIGN.md "Origins"). */
  allows(origin: string): boolean {
    return this.policy.anyOrigin || this.policy.matcher.match(origin) !== NO_MATCH;
  }

  /**
   * Decides a preflight (Fetch §4.8 "CORS-preflight fetch", from the server's side). `requestHeaders`
   * is the Access-Control-Request-Headers value as received (Node joins repeated lines with `, `).
   * Allocates a fresh answer; the node:http path uses the shared blocks instead.
   */
  decidePreflight(origin: string, method: string, requestHeaders: string | undefined): PreflightAnswer {
    const block = this.preflightInPlace(origin, method, requestHeaders);
    if (block !== null) return { allowed: true, status: this.policy.preflightStatus, headers: block.slice() };
    const answer = { allowed: false, status: 403, headers: this.preflights.denied.slice() };
    // Told after: an onDenied that reconfigures must not change the answer half-way (review h56).
    if (this.onDenied !== null) this.onDenied({ kind: 'preflight', origin, method, requestHeaders });
    return answer;
  }

  /**
   * The CORS headers (and `Vary: Origin` unless the policy is `*`) an actual response to a request
   * with this `Origin` (undefined when absent) carries, as a fresh `[name, value, ...]` array. An
   * origin the policy does not allow gets no Access-Control-* header.
   */
  actualHeaders(origin: string | undefined): string[] {
    const b = this.actualBlocks;
    const allowed = origin !== undefined && this.allows(origin);
    const out = (allowed ? b.allowed : b.other).slice();
    if (allowed) for (const i of b.originSlots) out[i] = origin;
    if (b.vary !== null) out.push('Vary', b.vary);
    if (!allowed && origin !== undefined) this.deniedActual(origin);
    return out;
  }

  /**
   * The success block with its per-request slots filled in place, or null for a refusal. The array
   * is shared by every request: hand it to a synchronous writer at once (node:http copies it in
   * `writeHead`) and never keep it; this is what keeps the node:http path allocation-free.
   */
  protected preflightInPlace(origin: string, method: string, requestHeaders: string | undefined): string[] | null {
    const policy = this.policy;
    if (!this.allows(origin)) return null;
    if (!allowsMethod(policy, method)) return null;
    let block: PreflightBlock = this.preflights.ok;
    if (requestHeaders !== undefined && requestHeaders.length > 0) {
      if (!policy.allowedHeaders.allowsList(requestHeaders)) return null;
      if (policy.allowedHeaders.any && policy.credentials) block = this.preflights.okEchoHeaders;
    }
    const h = block.headers;
    if (block.originSlot !== -1) h[block.originSlot] = origin;
    if (block.methodSlot !== -1) h[block.methodSlot] = method;
    if (block.headersSlot !== -1) h[block.headersSlot] = requestHeaders as string;
    return h;
  }

}
