// `xorigin/fastify`: the CORS engine as a Fastify 4 and 5 plugin. Only types come from 'fastify' (erased
// at build), so xorigin keeps zero runtime dependencies.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginCallback, FastifySchema, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RegisterOptions } from 'fastify';
import { CorsEngine, RequestKind, classify } from './engine.js';
import type { CompiledPolicy, CorsOptions } from './options.js';
import { GRANT, isCorsHeader, mergeVary, PREFLIGHT_GRANT } from './response-headers.js';
import { joinRepeatedLines } from '../http/field-lines.js';
import { VaryGuard } from './vary-guard.js';

/** The policy of the plugin registered in an instance: `app.xoriginCors`. */
export interface XoriginCorsControl {
  /**
   * Puts a new policy in force (DESIGN.md "Reload"): `options` (CorsOptions; Fastify's register
   * options beside them are ignored, as at registration) is validated and compiled whole first (a
   * PolicyError listing every problem, and the current policy stays), then swapped in one step. Each
   * request's headers are set in one synchronous hook, so every response carries one policy's.
   */
  reconfigure(options: CorsOptions & RegisterOptions): void;
  /** The policy in force, as compiled (replaced whole by `reconfigure`). */
  readonly policy: CompiledPolicy;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The xorigin-cors policy of this instance: set where the plugin is registered, and seen by the
     * instances that instance creates afterwards (undefined elsewhere).
     */
    xoriginCors: XoriginCorsControl;
  }
}

/**
 * Fastify plugin: `app.register(xoriginCors, { origins: [...] })`; the register options are the
 * CorsOptions, validated at registration (a bad policy makes `register`/`ready` reject with
 * PolicyError). The instance it is registered in gets `xoriginCors` (XoriginCorsControl), whose
 * `reconfigure(options)` changes the policy at run time.
 *
 * - An `onRequest` hook, which runs before routing decides anything, answers every CORS-preflight
 *   request (Fetch §3.2.2) itself: 204/200 with the Access-Control-* headers or 403 with none
 *   (Fetch §4.8), whether or not a route exists for the URL.
 * - Every other request gets its actual-response CORS headers (Fetch §3.2.3) in the same hook, so
 *   they are on the reply whatever sends it: a route, Fastify's 404 or its error handler.
 * - `Vary: Origin` is kept on every reply whatever a handler or a later hook (a route's own
 *   `onSend`, a child plugin's) does to Vary: the raw response's writeHead puts the token back
 *   (VaryGuard, as the node:http face does); tokens are merged, never duplicated.
 *
 * The plugin skips Fastify's encapsulation (as fastify-plugin does): registered at the root, before
 * the routes, its hooks reach every route and the 404 handler. Registered inside a child plugin it
 * covers that child's routes, and preflights to its prefix if it has one (routePreflightsToChild).
 *
 * Not covered: replies Fastify writes before any hook runs, for a malformed URL (400
 * FST_ERR_BAD_URL), a failing asynchronous route constraint (500), an over-long parameter (414)
 * and a request arriving while the app closes (503, `return503OnClosing`); give the first two the
 * headers with Fastify's own `frameworkErrors` option (see the README); and raw or hijacked
 * replies, which bypass reply headers: a hijacked route passes `reply.getHeaders()` to
 * `reply.raw.writeHead` (setting them on the raw response here instead would change how node:http
 * reads a header list a route gives writeHead: pairs throw, repeated names collapse).
 */
const xoriginCors: FastifyPluginCallback<CorsOptions> = (app, options, done) => {
  let engine: CorsEngine;
  try {
    engine = new CorsEngine(policyOf(options));
  } catch (error) {
    done(error as Error);
    return;
  }
  const outer = registeredAround(app);
  if (outer !== null) {
    done(registeredTwice(app, outer, (options as { prefix?: unknown }).prefix !== undefined));
    return;
  }
  registered.add(app);
  app.decorate('xoriginCors', control(engine));
  app.addHook('onRequest', onRequest(engine, new VaryGuard()));
  // The root instance is the one object no other instance is the prototype of (Fastify 4 and 5).
  done(Object.getPrototypeOf(app) === Object.prototype ? undefined : (routePreflightsToChild(app) ?? undefined));
};

function control(engine: CorsEngine): XoriginCorsControl {
  return Object.defineProperties({} as XoriginCorsControl, {
    reconfigure: { value: (options: CorsOptions & RegisterOptions) => engine.reconfigure(policyOf(options)), enumerable: true },
    policy: { get: () => engine.policy, enumerable: true },
  });
}

function registeredTwice(app: FastifyInstance, outer: FastifyInstance, prefixGiven: boolean): Error {
  const where = (instance: FastifyInstance, plugin: string): string => (instance.prefix === '' ? 'at the root' : `in ${plugin} with the prefix ${instance.prefix}`);
  const both = outer === app ? `twice ${where(app, 'the plugin')}` : `${where(app, 'the plugin')} and ${where(outer, 'its parent')}`;
  // `app.register(xoriginCors, { prefix })` reads as scoping the policy; it does not (the plugin is not encapsulated).
  const prefixNote = prefixGiven ? ' (a `prefix` in its register options does not scope it: register it inside a child plugin that has the prefix)' : '';
  return new Error(`xorigin-cors is registered ${both}: the first registration's hook answers every preflight there, with its policy, while the second decides the actual responses. Register it once on the way to each route: in the parent only, or only in children with distinct prefixes${prefixNote}`);
}

/** The instances the plugin is registered in (not encapsulated: the instance itself, see below). */
const registered = new WeakSet<object>();

/**
 * The instance the plugin is registered in already that `app` inherits hooks from (itself, or a
 * parent: Fastify makes a child plugin's instance with its parent as prototype), or null. Its hook
 * runs first, so its policy, not this one's, would answer preflights to `app`'s routes (review h50).
 */
function registeredAround(app: FastifyInstance): FastifyInstance | null {
  for (let at: object | null = app; at !== null && at !== Object.prototype; at = Object.getPrototypeOf(at) as object | null) {
    if (registered.has(at)) return at as FastifyInstance;
  }
  return null;
}

/**
 * Registered inside a child plugin, the hook runs only for requests routed to the child: a
 * preflight to one of its URLs without an OPTIONS route went to Fastify's 404 handler, which runs
 * the root's hooks, and was answered 404 without a CORS header (review l32 F1; fastify-cors#281).
 * An OPTIONS route for the child's prefix and every URL under it brings preflights to the hook
 * (which answers them before the handler); an OPTIONS that is no preflight gets Fastify's 404, as
 * without the route. Routes are the whole app's, only hooks are the child's, so only a prefix that
 * is a fixed path gets them: without one, or with `/` or a parameter or wildcard in it, `prefix/*`
 * would reach routes outside the child and grant preflights there. A URL the app routed for OPTIONS
 * already keeps its route (Fastify refuses the second at once; `hasRoute` cannot say so beforehand:
 * Fastify 4's matches URLs); one this plugin routed for another child with the same prefix is a
 * start-up error, as that child's policy would answer this one's preflights. Returns that error.
 */
function routePreflightsToChild(app: FastifyInstance): Error | null {
  const prefix = app.prefix;
  // Keyed as the router matches paths: `/api` and `/api/` (and `/API` without case sensitivity, `//api`
  // where repeated slashes are ignored) get the same routes, and the second child's duplicated-route
  // error below was taken for an app's own route (reviews h50, h52).
  const key = routedPath(app, prefix);
  if (!FIXED_PATH.test(key)) {
    // Repeated slashes make no fixed path here, but another child's `/api/*` route matches `/api//x`: that
    // child's policy answered this one's preflights (review h53). Such a prefix is refused, not routed.
    const plain = prefix.replace(/\/{2,}/g, '/').replace(/\/$/, '');
    if (FIXED_PATH.test(plain)) return new Error(`xorigin-cors is registered in a plugin with the prefix ${prefix}, whose repeated slashes keep it from being routed as ${plain}: a route under a shorter prefix (another child's) would answer its preflights. Give the plugin the prefix ${plain}`);
    return null;
  }
  let routed = preflightRoutes.get(app.server);
  if (routed === undefined) preflightRoutes.set(app.server, (routed = new Set()));
  if (routed.has(key)) {
    return new Error(`xorigin-cors is registered in two child plugins with the prefix ${prefix} (or one the router matches alike: a trailing slash, another case, repeated slashes): the first one's policy would answer the other's preflights. Register it once for that prefix (in a parent plugin with the prefix), or give the children different prefixes`);
  }
  routed.add(key);
  for (const url of ['/', '/*']) {
    try {
      // `hide` keeps it out of @fastify/swagger's documents (as @fastify/cors's own OPTIONS route); Fastify's types do not name it.
      app.route({ method: 'OPTIONS', url, schema: { hide: true } as FastifySchema, handler: (_request, reply) => reply.callNotFound() });
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'FST_ERR_DUPLICATED_ROUTE') throw e;
    }
  }
  return null;
}

/** A prefix made of fixed segments only (no parameter, wildcard or empty segment). */
const FIXED_PATH = /^(\/[^/:*]+)+$/;

/**
 * `prefix` as the router matches it: repeated slashes as one when it ignores them (`ignoreDuplicateSlashes`:
 * `//api` and `/api//` are `/api`, review h52), without its trailing slash, and in lower case unless routes
 * are case-sensitive. Fastify 4 and 5 take these options at the top level, Fastify 5 in `routerOptions` too.
 */
function routedPath(app: FastifyInstance, prefix: string): string {
  type RouterFlags = { caseSensitive?: boolean; ignoreDuplicateSlashes?: boolean };
  const config = app.initialConfig as RouterFlags & { routerOptions?: RouterFlags };
  const set = (flag: keyof RouterFlags, value: boolean): boolean => config[flag] === value || config.routerOptions?.[flag] === value;
  let path = set('ignoreDuplicateSlashes', true) ? prefix.replace(/\/{2,}/g, '/') : prefix;
  if (path.endsWith('/')) path = path.slice(0, -1);
  return set('caseSensitive', false) ? path.toLowerCase() : path;
}

/** The prefixes this plugin has routed preflights for, per app (its server, which all its instances share). */
const preflightRoutes = new WeakMap<object, Set<string>>();

/**
 * The register options without those Fastify reads from any plugin's (prefix, logLevel,
 * logSerializers), which it leaves in the object the plugin gets and its types accept beside the
 * plugin's own: they are not unknown policy options.
 */
function policyOf(options: CorsOptions & { prefix?: unknown; logLevel?: unknown; logSerializers?: unknown }): CorsOptions {
  // Anything but an object goes on as it is, for the engine's PolicyError (review h56: `in` threw a TypeError).
  if (options === null || typeof options !== 'object') return options;
  if (!('prefix' in options || 'logLevel' in options || 'logSerializers' in options)) return options;
  const { prefix, logLevel, logSerializers, ...policy } = options;
  return policy;
}

function onRequest(engine: CorsEngine, varyGuard: VaryGuard) {
  return (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void => {
    const raw = request.raw;
    // onSend hooks run in registration order, a route's own last: only the head itself comes after them all.
    const vary = engine.actualBlocks.vary;
    if (vary !== null) varyGuard.keep(reply.raw as ServerResponse, vary);
    // Two Access-Control-Request-Method lines are no method: node:http joins them, node:http2 kept the first.
    if (raw.httpVersionMajor === 2 && request.method === 'OPTIONS') joinRepeatedLines(raw.headers, raw.rawHeaders);
    const headers = request.headers;
    const origin = headers.origin;
    const acrm = headers['access-control-request-method'];
    if (classify(request.method, origin, typeof acrm === 'string' ? acrm : undefined) === RequestKind.Preflight) {
      removeOtherPolicy(reply, PREFLIGHT_GRANT);
      const answer = engine.decidePreflight(origin as string, acrm as string, headers['access-control-request-headers']);
      setBlock(reply, answer.headers);
      // Hijacked once its head is written: `next()` ends the lifecycle here (no routing, no handler,
      // no onSend). A head node refuses goes to Fastify's error handling, as a reply's send would.
      next(answerRaw(reply, answer.status) ?? undefined);
      return;
    }
    removeOtherPolicy(reply, GRANT);
    setBlock(reply, engine.actualHeaders(origin));
    next();
  };
}

/**
 * A CORS plugin's headers set before ours (@fastify/cors registered first) go when they grant
 * anything. From reply.raw too: Connect middleware (@fastify/middie, @fastify/express) sets its
 * headers there, and Fastify 4's removeHeader leaves the raw response's (its hasHeader sees them).
 */
function removeOtherPolicy(reply: FastifyReply, grants: readonly string[]): void {
  for (let i = 0; i < grants.length; i++) {
    if (!reply.hasHeader(grants[i] as string)) continue;
    for (const name of Object.keys(reply.getHeaders())) {
      if (!isCorsHeader(name)) continue;
      reply.removeHeader(name);
      reply.raw.removeHeader(name);
    }
    return;
  }
}

/**
 * Sends a preflight's answer from the reply's headers (the policy's block, and the other layers'
 * non-CORS headers set so far) on the raw response, past Fastify's onSend hooks: one registered
 * after this plugin's could add its own Access-Control-Allow-Headers: * to the answer the browser
 * caches for the Max-Age (attack b25 F3). onResponse hooks and Fastify's log still see it. Returns
 * the error when node refused the head (nothing was sent; see above).
 */
function answerRaw(reply: FastifyReply, status: number): Error | null {
  try {
    // Before hijack(): a value another layer set that node refuses (a newline from a query string)
    // throws here, and a hijacked reply could then send nothing, holding the connection, unlogged.
    reply.raw.writeHead(status, reply.getHeaders() as OutgoingHttpHeaders);
  } catch (e) {
    return e as Error;
  }
  reply.hijack();
  reply.raw.end();
  return null;
}

/** Applies a flat `[name, value, ...]` block to the reply, merging Vary with one set before us. */
function setBlock(reply: FastifyReply, block: readonly string[]): void {
  for (let i = 0; i < block.length; i += 2) {
    const name = block[i] as string;
    const value = block[i + 1] as string;
    if (name === 'Vary') reply.header('Vary', mergeVary(varyOf(reply), value));
    else reply.header(name, value);
  }
}

function varyOf(reply: FastifyReply): string | null {
  const value = reply.getHeader('vary');
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

// What fastify-plugin sets, without depending on it: no encapsulation (the hooks reach every route
// and the 404 handler) and a readable name in Fastify's plugin tree and errors.
Object.defineProperty(xoriginCors, Symbol.for('skip-override'), { value: true });
Object.defineProperty(xoriginCors, Symbol.for('fastify.display-name'), { value: 'xorigin-cors' });

export default xoriginCors;
export { xoriginCors };
export type * from './public-types.js';
