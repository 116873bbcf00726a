import type { IncomingMessage, ServerResponse } from 'node:http';
import { NO_MATCH } from './origin-matcher.js';
import { compilePolicy, isForbiddenMethod, type CompiledPolicy, type CorsOptions } from './options.js';
import { isToken, MAX_REQUEST_HEADERS_BYTES } from './request-headers.js';
import {
  appendVary,
  buildActualValues,
  buildPreflightBlocks,
  setHeaderBlock,
  type ActualValues,
  type PreflightBlock,
  type PreflightBlocks,
} from './response-headers.js';

export { PolicyError, type PolicyProblem } from './errors.js';
export type { CorsOptions, CompiledPolicy } from './options.js';
export { compilePolicy } from './options.js';

/** How a request was classified (DESIGN.md: the protocol decisions). */
export enum RequestKind {
  /** No Origin header: a plain request. */
  Plain = 0,
  /** Origin present, not a preflight: an actual CORS request. */
  Actual = 1,
  /** OPTIONS with Origin and Access-Control-Request-Method. */
  Preflight = 2,
}

/** Connect/Express-style `next`. */
export type NextFunction = (err?: unknown) => void;

const SAFELISTED = ['GET', 'HEAD', 'POST'];

/**
 * A compiled CORS policy and the handler that applies it. Create one at start-up with
 * `createCors(options)`; `handle` and `middleware` are bound, so they can be passed around.
 */
export class Cors {
  readonly policy: CompiledPolicy;
  private readonly preflights: PreflightBlocks;
  private readonly actual: ActualValues;

  /** `prefix` names where the policy sits in a larger configuration (`cors.`), for error messages. */
  constructor(options: CorsOptions, prefix = '') {
    this.policy = compilePolicy(options, prefix);
    this.preflights = buildPreflightBlocks(this.policy);
    this.actual = buildActualValues(this.policy);
  }

  /**
   * Applies the policy to one request. A preflight is answered completely (status, headers, empty
   * body) and `true` is returned: the caller must not respond again. Any other request gets its
   * CORS headers set on `res` and `false` is returned, so the caller's handler runs.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const headers = req.headers;
    const origin = headers.origin;
    if (origin !== undefined && req.method === 'OPTIONS') {
      const method = headers['access-control-request-method'];
      if (method !== undefined) {
        this.answerPreflight(res, origin, method, headers['access-control-request-headers']);
        return true;
      }
    }
    this.decorate(res, origin);
    return false;
  };

  /** Connect/Express middleware: `app.use(cors.middleware)`. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction): void => {
    if (!this.handle(req, res)) next();
  };

  /** Classifies a request without touching the response. */
  classify(req: IncomingMessage): RequestKind {
    const headers = req.headers;
    if (headers.origin === undefined) return RequestKind.Plain;
    return req.method === 'OPTIONS' && headers['access-control-request-method'] !== undefined
      ? RequestKind.Preflight
      : RequestKind.Actual;
  }

  /** True when an actual request from `origin` may read the response. */
  allows(origin: string): boolean {
    return this.policy.anyOrigin || this.policy.matcher.match(origin) !== NO_MATCH;
  }

  /**
   * Decides a preflight. Returns the block to send on success (with its per-request slots filled),
   * or null for a denial. The block is shared: pass it to writeHead at once (Node copies it
   * synchronously) and do not keep it.
   */
  decidePreflight(origin: string, method: string, requestHeaders: string | undefined): string[] | null {
    const policy = this.policy;
    if (!policy.anyOrigin && policy.matcher.match(origin) === NO_MATCH) return null;
    if (!this.methodAllowed(method)) return null;
    const echoHeaders = policy.allowedHeaders.any && policy.credentials;
    let block: PreflightBlock = this.preflights.ok;
    if (requestHeaders !== undefined && requestHeaders.length > 0) {
      if (!policy.allowedHeaders.allowsList(requestHeaders)) return null;
      if (echoHeaders) block = this.preflights.okEchoHeaders;
    }
    // Fill the per-request slots in place: no array is built per request.
    const h = block.headers;
    if (block.originSlot !== -1) h[block.originSlot] = origin;
    if (block.methodSlot !== -1) h[block.methodSlot] = method;
    if (block.headersSlot !== -1) h[block.headersSlot] = requestHeaders as string;
    return h;
  }

  private methodAllowed(method: string): boolean {
    // Methods are compared case-sensitively (Fetch normalises only DELETE, GET, HEAD, OPTIONS,
    // POST and PUT, and the policy stored those uppercased).
    for (let i = 0; i < SAFELISTED.length; i++) if (SAFELISTED[i] === method) return true;
    if (this.policy.anyMethod) {
      return method.length <= MAX_REQUEST_HEADERS_BYTES && isToken(method) && !isForbiddenMethod(method);
    }
    const methods = this.policy.methods;
    for (let i = 0; i < methods.length; i++) if (methods[i] === method) return true;
    return false;
  }

  private answerPreflight(res: ServerResponse, origin: string, method: string, requestHeaders: string | undefined): void {
    const block = this.decidePreflight(origin, method, requestHeaders);
    const status = block === null ? 403 : this.policy.preflightStatus;
    const headers = block ?? this.preflights.denied;
    if (res.hasHeader('vary')) {
      // The application set Vary before us (middleware stacks do): merge, never replace.
      setHeaderBlock(res, headers);
      res.writeHead(status);
    } else {
      res.writeHead(status, headers);
    }
    res.end();
  }

  /** Sets an actual response's CORS headers. With a non-`*` policy, Vary: Origin goes on every response. */
  private decorate(res: ServerResponse, origin: string | undefined): void {
    const actual = this.actual;
    if (this.policy.anyOrigin) {
      // Sent even without an Origin: a shared cache may store this response and serve it to a
      // cross-origin request later, and it carries no Vary: Origin to stop that.
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (actual.expose !== null) res.setHeader('Access-Control-Expose-Headers', actual.expose);
      if (actual.timing) res.setHeader('Timing-Allow-Origin', '*');
      return;
    }
    if (res.hasHeader('vary')) appendVary(res, 'Origin');
    else res.setHeader('Vary', 'Origin');
    if (origin === undefined || this.policy.matcher.match(origin) === NO_MATCH) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (actual.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (actual.expose !== null) res.setHeader('Access-Control-Expose-Headers', actual.expose);
    if (actual.timing) res.setHeader('Timing-Allow-Origin', origin);
  }
}

/**
 * Compiles a CORS policy. Throws a PolicyError listing every problem (option, value, reason, fix)
 * when the policy is invalid, so a bad policy stops the process at start-up, never at request time.
 */
export function createCors(options: CorsOptions): Cors {
  return new Cors(options);
}
