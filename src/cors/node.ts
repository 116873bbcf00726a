import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { CorsEngine, RequestKind, classify } from './engine.js';
import type { CorsOptions } from './options.js';
import { joinRepeatedLines } from '../http/field-lines.js';
import { appendVary, ORIGIN_SLOT, PREFLIGHT_GRANT, removeOtherPolicy, setHeaderBlock } from './response-headers.js';
import { takesFlatHeaders, VaryGuard } from './vary-guard.js';

/** Connect/Express-style `next`. */
export type NextFunction = (err?: unknown) => void;

/** A request node:http gives a listener, or node:http2's compatibility API (`createSecureServer((req, res) => …)`). */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** The response that goes with a NodeRequest. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * The CORS engine for node:http, Connect and Express. Create one at start-up with
 * `createCors(options)`; `handle` and `middleware` are bound, so they can be passed around.
 * Neither allocates per request in xorigin's own code (bench/alloc.js).
 */
export class Cors extends CorsEngine {
  /**
   * Applies the policy to one request. A preflight is answered completely (status, headers, empty
   * body) and `true` is returned: the caller must not respond again. Any other request gets its
   * CORS headers set on `res` and `false` is returned, so the caller's handler runs. CORS headers
   * another layer set before (an app-wide CORS middleware) are removed first when they grant
   * anything: the answer carries this policy's alone. Called once the head was sent, it can do
   * nothing: it says so on the console (once) and returns `false`.
   */
  readonly handle = (req: NodeRequest, res: NodeResponse): boolean => {
    // Called once the head is out (a streaming route decorating late): setting a header would throw
    // ERR_HTTP_HEADERS_SENT into the caller's listener and end a plain node:http process.
    if (res.headersSent) return headLeftAlready();
    const headers = req.headers;
    const origin = headers.origin;
    if (origin !== undefined && req.method === 'OPTIONS') {
      // Two lines of it are no method: node:http joins them, node:http2 kept the first.
      if (req.httpVersionMajor === 2) joinRepeatedLines(headers, req.rawHeaders);
      const method = headers['access-control-request-method'];
      if (method !== undefined) {
        this.answerPreflight(res, origin, method, headers['access-control-request-headers']);
        return true;
      }
    }
    this.decorate(res as ServerResponse, origin);
    return false;
  };

  /** Connect/Express middleware: `app.use(cors.middleware)`. */
  readonly middleware = (req: NodeRequest, res: NodeResponse, next: NextFunction): void => {
    if (!this.handle(req, res)) next();
  };

  /** Classifies a request (node:http's, or node:http2's compatibility one) without touching the response. */
  classify(req: NodeRequest): RequestKind {
    const headers = req.headers;
    return classify(req.method ?? '', headers.origin, headers['access-control-request-method']);
  }

  /**
   * Answers a preflight (status, headers, empty body) from its fields, read already: what handle()
   * does once it has read them, for a caller that classified the request itself (the static
   * handler, which has also joined an HTTP/2 request's repeated lines). `res`: node:http's, or
   * node:http2's compatibility response, which has every member used with node:http's meaning.
   */
  answerPreflight(res: NodeResponse, origin: string, method: string, requestHeaders: string | undefined): void {
    const block = this.preflightInPlace(origin, method, requestHeaders);
    const status = block === null ? 403 : this.policy.preflightStatus;
    const headers = block ?? this.preflights.denied;
    removeOtherPolicy(res as ServerResponse, PREFLIGHT_GRANT);
    if (res.hasHeader('vary') || !takesFlatHeaders(res as ServerResponse)) {
      // The application set Vary before us (middleware stacks do): merge, never replace. Or a
      // layer's writeHead that may misread the flat list (takesFlatHeaders) is in the way.
      setHeaderBlock(res as ServerResponse, headers);
      (res as ServerResponse).writeHead(status);
    } else {
      (res as ServerResponse).writeHead(status, headers);
    }
    res.end();
    // Told after: an onDenied that reconfigures must not change the answer half-way (review h56).
    if (block === null && this.onDenied !== null) this.onDenied({ kind: 'preflight', origin, method, requestHeaders });
  }

  /** Keeps Vary: Origin on decorated responses whatever their handler does to Vary later. */
  private readonly varyGuard = new VaryGuard();

  /** Sets an actual response's CORS headers from the prebuilt blocks, filling the origin in. */
  private decorate(res: ServerResponse, origin: string | undefined): void {
    const b = this.actualBlocks;
    removeOtherPolicy(res);
    if (b.vary !== null) {
      if (res.hasHeader('vary')) appendVary(res, b.vary);
      else res.setHeader('Vary', b.vary);
      this.varyGuard.keep(res, b.vary);
    }
    const block = origin !== undefined && this.allows(origin) ? b.allowed : b.other;
    for (let i = 0; i < block.length; i += 2) {
      const value = block[i + 1] as string;
      res.setHeader(block[i] as string, value === ORIGIN_SLOT ? (origin as string) : value);
    }
    if (block === b.other && origin !== undefined) this.deniedActual(origin);
  }
}

let lateReported = false;

/** handle() on a response whose head was sent: reported once, the response left as it is. */
function headLeftAlready(): false {
  if (!lateReported) {
    lateReported = true;
    console.error('xorigin: cors.handle() after the head was sent set no CORS headers (reported once)');
  }
  return false;
}

/**
 * Compiles a CORS policy. Throws a PolicyError listing every problem (option, value, reason, fix)
 * when the policy is invalid, so a bad policy stops the process at start-up, never at request time.
 */
export function createCors(options: CorsOptions): Cors {
  return new Cors(options);
}
