import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { CorsEngine, RequestKind, classify } from './engine.js';
import type { CorsOptions } from './options.js';
import { equalsLower } from '../http/tokens.js';
import { joinRepeatedLines } from '../http/field-lines.js';
import { appendVary, mergeVary, ORIGIN_SLOT, setHeaderBlock } from './response-headers.js';

/** Connect/Express-style `next`. */
export type NextFunction = (err?: unknown) => void;

/** What writeHead takes after the status: a reason phrase and headers, or headers alone. */
type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;
type WriteHead = (this: ServerResponse, statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument) => ServerResponse;

/**
 * The CORS engine for node:http, Connect and Express. Create one at start-up with
 * `createCors(options)`; `handle` and `middleware` are bound, so they can be passed around.
 * Neither allocates per request in xorigin's own code (bench/alloc.js).
 */
export class Cors extends CorsEngine {
  /**
   * Applies the policy to one request. A preflight is answered completely (status, headers, empty
   * body) and `true` is returned: the caller must not respond again. Any other request gets its
   * CORS headers set on `res` and `false` is returned, so the caller's handler runs.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): boolean => {
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
    return classify(req.method ?? '', headers.origin, headers['access-control-request-method']);
  }

  /**
   * Answers a preflight (status, headers, empty body) from its fields, read already: what handle()
   * does once it has read them, for a caller that classified the request itself (the static
   * handler, which has also joined an HTTP/2 request's repeated lines).
   */
  answerPreflight(res: ServerResponse, origin: string, method: string, requestHeaders: string | undefined): void {
    const block = this.preflightInPlace(origin, method, requestHeaders);
    if (block === null && this.onDenied !== null) this.onDenied({ kind: 'preflight', origin, method, requestHeaders });
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

  /** The writeHead each decorated response gets as its own (keepVary): one function per engine. */
  private readonly writeHeadKeepingVary: WriteHead = varyGuard(this);

  /** Sets an actual response's CORS headers from the prebuilt blocks, filling the origin in. */
  private decorate(res: ServerResponse, origin: string | undefined): void {
    const b = this.actualBlocks;
    if (b.vary !== null) {
      if (res.hasHeader('vary')) appendVary(res, b.vary);
      else res.setHeader('Vary', b.vary);
      this.keepVary(res);
    }
    const block = origin !== undefined && this.allows(origin) ? b.allowed : b.other;
    if (block === b.other && origin !== undefined) this.deniedActual(origin);
    for (let i = 0; i < block.length; i += 2) {
      const value = block[i + 1] as string;
      res.setHeader(block[i] as string, value === ORIGIN_SLOT ? (origin as string) : value);
    }
  }

  /**
   * Keeps `Vary: Origin` on the response whatever its handler does to Vary after handle() returned
   * (setHeader('Vary', …), writeHead(status, { Vary }), removeHeader): without it a shared cache
   * could hand one origin's answer to another (Fetch standard, "CORS protocol and HTTP caches").
   * Done in the response's writeHead, which node:http also calls for an implicit head (write, end,
   * flushHeaders), so no head escapes it. Where another middleware wrapped writeHead before us
   * (on-headers does), its wrapper is wrapped in turn (a closure, only then).
   */
  private keepVary(res: ServerResponse): void {
    if (!Object.hasOwn(res, 'writeHead')) {
      (res as { writeHead: unknown }).writeHead = this.writeHeadKeepingVary;
      return;
    }
    const wrapped = res.writeHead as WriteHead;
    // handle() run twice on one response (mounted twice): its writeHead keeps Vary already.
    if (wrapped === this.writeHeadKeepingVary || varyKeepers.has(wrapped)) return;
    const engine = this;
    const keeper: WriteHead = function (this: ServerResponse, statusCode, reason, headers) {
      return sendHeadKeepingVary(this, wrapped, engine.actualBlocks.vary, statusCode, reason, headers);
    };
    varyKeepers.add(keeper);
    (res as { writeHead: WriteHead }).writeHead = keeper;
  }
}

/** The wrappers keepVary made of another middleware's writeHead. */
const varyKeepers = new WeakSet<WriteHead>();

/**
 * A writeHead for the responses of `engine`: sends the head through the writeHead it shadows (the
 * prototype's: node's, or Express's response's), with Vary kept. It stays on the response: deleting
 * it again cost ~4,000 instructions per request (2.5% of a 1-byte GET through handle + sirv), as
 * the response then fell into dictionary mode (bench/instructions.js --contenders xorigin-handle).
 */
function varyGuard(engine: CorsEngine): WriteHead {
  return function (this: ServerResponse, statusCode, reason, headers) {
    const shadowed = (Object.getPrototypeOf(this) as { writeHead: WriteHead }).writeHead;
    return sendHeadKeepingVary(this, shadowed, engine.actualBlocks.vary, statusCode, reason, headers);
  };
}

/** Calls `writeHead` with the tokens of `vary` (null: none, a `*` policy) put back in Vary if missing. */
function sendHeadKeepingVary(res: ServerResponse, writeHead: WriteHead, vary: string | null, statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument): ServerResponse {
  if (vary === null || res.headersSent) return writeHead.call(res, statusCode, reason, headers);
  if (typeof reason === 'string') return writeHead.call(res, statusCode, reason, varyKept(res, vary, headers));
  // As node's writeHead reads its arguments: with no reason phrase, the headers are the third
  // argument if given, else the second.
  return writeHead.call(res, statusCode, varyKept(res, vary, headers ?? reason));
}

type HeaderPair = readonly [OutgoingHttpHeader, OutgoingHttpHeader];

/**
 * `headers` as writeHead will apply them, naming `vary` in Vary: a copy when they carry a Vary
 * (writeHead would replace the response's with it); else the response's own Vary is completed.
 * Headers writeHead itself refuses (an odd-length list, a Vary of null) are passed on unchanged.
 */
function varyKept(res: ServerResponse, vary: string, headers: HeadersArgument): HeadersArgument {
  if (!carriesVary(headers)) {
    // The common case: Vary is still what decorate() set.
    if (res.getHeader('vary') !== vary) appendVary(res, vary);
    return headers;
  }
  let given: [OutgoingHttpHeader, OutgoingHttpHeader][] = [];
  if (Array.isArray(headers)) {
    // A flat [name, value, …] list, or (node:http2's compatibility API) a list of pairs.
    if (Array.isArray(headers[0])) given = headers as unknown as [OutgoingHttpHeader, OutgoingHttpHeader][];
    else if (headers.length % 2 !== 0) return headers;
    else for (let i = 0; i < headers.length; i += 2) given.push([headers[i] as OutgoingHttpHeader, headers[i + 1] as OutgoingHttpHeader]);
  } else if (headers !== undefined && headers !== null) {
    given = Object.entries(headers) as [OutgoingHttpHeader, OutgoingHttpHeader][];
  }
  const lines = given.filter(isVary);
  if (lines.some(([, v]) => v === undefined || v === null)) return headers;
  let merged: string | null = null;
  for (const [, value] of lines) merged = mergeVary(merged, Array.isArray(value) ? value.join(', ') : String(value));
  const out = given.filter((pair) => !isVary(pair));
  out.push(['Vary', mergeVary(merged, vary)]);
  if (!Array.isArray(headers)) return Object.fromEntries(out) as OutgoingHttpHeaders;
  return Array.isArray(headers[0]) ? (out as unknown as OutgoingHttpHeader[]) : out.flat();
}

/** Whether writeHead's headers argument names Vary, looked for without allocating (every head passes here). */
function carriesVary(headers: HeadersArgument): boolean {
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return (headers as unknown as HeaderPair[]).some(isVary);
    for (let i = 0; i < headers.length; i += 2) if (isVaryName(headers[i])) return true;
  } else if (headers !== undefined && headers !== null) {
    for (const name in headers) if (isVaryName(name)) return true;
  }
  return false;
}

function isVary([name]: HeaderPair): boolean {
  return isVaryName(name);
}

function isVaryName(name: unknown): boolean {
  return typeof name === 'string' && name.length === 4 && equalsLower(name, 'vary');
}

/**
 * Compiles a CORS policy. Throws a PolicyError listing every problem (option, value, reason, fix)
 * when the policy is invalid, so a bad policy stops the process at start-up, never at request time.
 */
export function createCors(options: CorsOptions): Cors {
  return new Cors(options);
}
