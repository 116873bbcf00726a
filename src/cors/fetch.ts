// `xorigin/fetch`: the CORS engine for Fetch API handlers (Hono's app.fetch, Bun.serve, Deno.serve,
// Cloudflare Workers). No node: import here: this module must load where only the Fetch API exists.
import { CorsEngine, RequestKind, classify, observeRejection } from './engine.js';
import type { CompiledPolicy, CorsOptions } from './options.js';
import { GRANT, isCorsHeader, mergeVary } from './response-headers.js';

/**
 * Any Fetch handler: `(request, env?, ctx?) => Response | Promise<Response>`. `R` includes
 * `undefined` for Bun.serve's `fetch`, which returns nothing once `server.upgrade(request)` has taken
 * the connection over (a WebSocket).
 */
export type FetchHandler<Rest extends unknown[] = [], R extends Response | undefined | void = Response> = (request: Request, ...rest: Rest) => R | Promise<R>;

/** What withCors's handler resolves to: a Response, or also `undefined` when the wrapped handler may return nothing (R). */
export type WithCorsResult<R extends Response | undefined | void> = [R] extends [Response] ? Response : Response | undefined;

/**
 * What withCors returns: the wrapped handler, with the CORS policy, which `reconfigure` replaces
 * without a restart.
 */
export type CorsFetchHandler<Rest extends unknown[] = [], R extends Response | undefined | void = Response> = ((request: Request, ...rest: Rest) => Promise<WithCorsResult<R>>) & {
  /**
   * Puts a new policy in force (DESIGN.md "Reload"): `options` is validated and compiled whole first
   * (a PolicyError listing every problem, and the current policy stays), then swapped in one step. A
   * preflight is decided, and an actual response decorated, in one synchronous step each, so every
   * response carries the CORS headers of one policy; a request whose handler is still running when the
   * policy changes gets the new policy's headers on its response.
   */
  reconfigure(options: CorsOptions): void;
  /** The policy in force, as compiled (replaced whole by `reconfigure`). */
  readonly policy: CompiledPolicy;
};

/** Where withCors reports an error thrown by the wrapped handler (the client only sees a 500). */
export interface WithCorsHooks {
  /** Called with the error and the request; defaults to `console.error`. May be async; its own throw or rejection is ignored. */
  readonly onError?: ((error: unknown, request: Request) => void | PromiseLike<void>) | undefined;
}

/**
 * Wraps a Fetch handler with a CORS policy, compiled once here: a bad policy throws PolicyError now,
 * not on the first request.
 *
 * - A CORS-preflight request (Fetch §3.2.2: OPTIONS with `Origin` and `Access-Control-Request-Method`)
 *   is answered without calling the handler: 204/200 with the Access-Control-* headers, or 403 with
 *   none (Fetch §4.8 from the server's side), empty body.
 * - Every other request goes to the handler, and its response gets the CORS headers of an actual
 *   response (Fetch §3.2.3), `Vary: Origin` merged into any Vary it already has. A response whose
 *   headers are immutable (`Response.redirect`, a `fetch()`ed response) is copied first. CORS
 *   headers the handler set (a framework's own CORS middleware) are removed first when they grant
 *   anything (Access-Control-Allow-Origin, -Credentials, Timing-Allow-Origin): the answer carries
 *   this policy's alone. Otherwise a header the handler set that grants nothing
 *   (Access-Control-Expose-Headers) is kept.
 * - A handler that throws or rejects becomes a 500 with the CORS headers and no error text, so the
 *   browser shows the real status instead of a CORS error; so does one that returns a Response whose
 *   body was already read (which the host could not send), or no Response,
 *   except for a WebSocket handshake (a GET with `Upgrade: websocket`; Bun.serve's `server.upgrade`:
 *   the runtime has taken the connection over, so `undefined` is passed on, and CORS does not apply to
 *   WebSockets).
 *
 * Every per-request array is fresh (`decidePreflight`, `actualHeaders`), so concurrent requests that
 * interleave at `await` never see each other's origin. The returned handler's `reconfigure(options)`
 * changes the policy at run time.
 */
export function withCors<Rest extends unknown[], R extends Response | undefined | void = Response>(
  options: CorsOptions,
  handler: FetchHandler<Rest, R>,
  hooks: WithCorsHooks = {},
): CorsFetchHandler<Rest, R> {
  const engine = new CorsEngine(options);
  const onError = hooks.onError ?? defaultOnError;
  const wrapped = async (request: Request, ...rest: Rest): Promise<WithCorsResult<R>> => {
    const headers = request.headers;
    const origin = headers.get('origin') ?? undefined;
    const acrm = headers.get('access-control-request-method') ?? undefined;
    if (classify(request.method, origin, acrm) === RequestKind.Preflight) {
      return preflightResponse(engine, origin as string, acrm as string, headers.get('access-control-request-headers'));
    }
    let response: Response;
    try {
      const returned = (await handler(request, ...rest)) as Response | undefined;
      // Upgraded to a WebSocket (Bun.serve): there is no response to decorate. The type says when this can happen (R).
      if (returned === undefined && isWebSocketHandshake(request)) return undefined as WithCorsResult<R>;
      // Outside the type, but JavaScript handlers do it: answer as for a throw, with the headers.
      if (!isResponse(returned)) throw new TypeError(`the handler returned ${returned === null ? 'null' : typeof returned}, not a Response`);
      // The host cannot send that body and answers its own 500, without the CORS headers (@hono/node-server).
      if (returned.bodyUsed === true || returned.body?.locked === true) throw new TypeError('the handler returned a Response whose body it had already read or locked; return a new Response (or response.clone() before reading it)');
      response = returned;
    } catch (error) {
      report(onError, error, request);
      response = serverError();
    }
    const block = engine.actualHeaders(origin);
    try {
      return withHeaders(response, block);
    } catch (error) {
      // Immutable headers and a body already read (a fetched Response the handler consumed): it
      // cannot be copied, and the host would answer its own 500 without CORS headers.
      report(onError, error, request);
      return withHeaders(serverError(), block);
    }
  };
  return Object.defineProperties(wrapped, {
    reconfigure: { value: (next: CorsOptions) => engine.reconfigure(next) },
    policy: { get: () => engine.policy },
  }) as CorsFetchHandler<Rest, R>;
}

function serverError(): Response {
  return new Response('Internal Server Error', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** A GET whose Upgrade lists `websocket` (RFC 6455 §4.1): what Bun's `server.upgrade` takes over. */
function isWebSocketHandshake(request: Request): boolean {
  if (request.method !== 'GET') return false;
  for (const token of (request.headers.get('upgrade') ?? '').split(',')) if (token.trim().toLowerCase() === 'websocket') return true;
  return false;
}

/** Duck-typed, so a Response from another realm or a polyfill counts too. */
function isResponse(value: unknown): value is Response {
  const r = value as Response | null;
  return typeof r === 'object' && r !== null && typeof r.status === 'number' && typeof r.headers?.get === 'function';
}

function defaultOnError(error: unknown): void {
  console.error('xorigin/fetch: the handler threw; answered 500', error);
}

function report(onError: (error: unknown, request: Request) => void | PromiseLike<void>, error: unknown, request: Request): void {
  try {
    // An async logger's rejection, unobserved, would end a Node process (unhandled rejection).
    observeRejection(onError(error, request), ignore);
  } catch {
    // A failing logger must not turn a 500 into an unhandled rejection without CORS headers.
  }
}

function ignore(): void {}

function preflightResponse(engine: CorsEngine, origin: string, method: string, requestHeaders: string | null): Response {
  // Headers.get joins repeated lines with ", " as Node does, which the header-list scan accepts.
  const answer = engine.decidePreflight(origin, method, requestHeaders ?? undefined);
  const out = new Headers();
  appendBlock(out, answer.headers);
  return new Response(null, { status: answer.status, headers: out });
}

/** `response` with the flat `[name, value, ...]` block applied, copied first if its headers are immutable. */
function withHeaders(response: Response, block: readonly string[]): Response {
  // Response.error() (status 0) cannot be copied and is a network error to the client anyway; nor can
  // a 101 (Deno.upgradeWebSocket's, immutable), and browsers apply no CORS to a WebSocket handshake.
  if (response.type === 'error' || response.status === 101) return response;
  const h = response.headers;
  const other = grantedIn(h);
  if (block.length === 0 && !other) return response;
  try {
    applyPolicy(h, block, other);
    return response;
  } catch {
    // Immutable guard (Fetch §5.2 "headers guard"): the very first write throws, so nothing was
    // applied; copy status, statusText, headers and the unread body into a response we own.
    const copy = new Response(response.body, response);
    applyPolicy(copy.headers, block, other);
    return copy;
  }
}

/** Whether another layer's policy granted anything in `headers` (GRANT). */
function grantedIn(headers: Headers): boolean {
  for (let i = 0; i < GRANT.length; i++) if (headers.has(GRANT[i] as string)) return true;
  return false;
}

/** Sets `block`, after removing the CORS headers another policy set when `other` says it granted anything. */
function applyPolicy(headers: Headers, block: readonly string[], other: boolean): void {
  if (other) for (const name of [...headers.keys()]) if (isCorsHeader(name)) headers.delete(name);
  setBlock(headers, block);
}

/**
 * Vary is merged. Any other header the handler set itself is kept: what is left after the removal
 * above grants nothing (Access-Control-Expose-Headers), and is the handler's
 * explicit choice, as a header set after `handle()` is under node:http, Express and Fastify.
 */
function setBlock(headers: Headers, block: readonly string[]): void {
  for (let i = 0; i < block.length; i += 2) {
    const name = block[i] as string;
    const value = block[i + 1] as string;
    if (name === 'Vary') {
      const existing = headers.get('vary');
      const merged = mergeVary(existing, value);
      if (merged !== existing) headers.set('Vary', merged);
    } else if (!headers.has(name)) {
      headers.set(name, value);
    }
  }
}

function appendBlock(headers: Headers, block: readonly string[]): void {
  for (let i = 0; i < block.length; i += 2) headers.append(block[i] as string, block[i + 1] as string);
}
export type * from './public-types.js';
