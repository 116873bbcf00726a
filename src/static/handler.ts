import { IncomingMessage, METHODS, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { RequestKind } from '../cors/engine.js';
import type { Cors, NodeRequest, NodeResponse } from '../cors/node.js';
import { buildActualBlocks, mergeVary, removeCorsHeaders, removeOtherPolicy, type ActualBlocks } from '../cors/response-headers.js';
import { evaluatePreconditions, Precondition, withoutDateLists } from '../http/conditional.js';
import { ifRangeAllows, parseRange } from '../http/range.js';
import { negotiateEncoding } from '../http/encoding.js';
import { authorityValid, decodedPath, hostLinesValid, mergeSlashes, targetPath, uriReference } from '../http/request-target.js';
import { transferEncodingStatus } from '../http/framing.js';
import { fieldLines, joinRepeatedLines } from '../http/field-lines.js';
import type { AssetInfo } from './asset-info.js';
import { sameIdentity } from './file-identity.js';
import { AssetTable, type ScanReport } from './asset-table.js';
import { logResponse, noteArrival } from './access-log.js';
import { explainDenied } from '../cors/explain.js';
import { takesFlatHeaders } from '../cors/vary-guard.js';
import { BodyCache, TEXT_BODY_LIMIT } from './body-cache.js';
import { BufferPool } from './buffer-pool.js';
import { ContentChecks } from './content-checks.js';
import { markLingering } from './lingering-close.js';
import { afterBody, bodyFault } from './body-verdict.js';
import { noteDescriptorShortage, watchDescriptorLimit } from './descriptor-shortage.js';
import { FdCache } from './fd-cache.js';
import { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL, readOnce, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { Http2Response } from './http2-exchange.js';
import { CONTENT_LENGTH_VALUE, CONTENT_RANGE_VALUE, extend, newBlock, ResponseBlocks, withNoTransform, withWeakValidator, writeBlock, writeBlockByName, type Block, type Entry, type ErrorAnswer, type Representation, type Variant } from './representation.js';
import { cutResponse, DiskBody, endHeld, type DiskCounters } from './send-body.js';
import { whenDiskTurn } from './disk-turns.js';
import { BlockingReads } from './blocking-reads.js';
import { keepRestartOnly, planReload, validateReload, type ReloadReport } from './reload.js';
import { validateServable } from './root-problem.js';

/**
 * Files read from disk go out in chunks of this size, each one positioned read into a pooled buffer
 * and one socket write. Measured on a 1 MB font (32 connections): 2x the requests/s of
 * fs.createReadStream with the same chunk size (a stream adds a pause, a drain and a fresh buffer
 * per chunk), and resident memory at 72 MB instead of 140 MB. 1 MiB chunks were another 15% faster
 * but held 95 MB.
 */
const DISK_CHUNK = 256 * 1024;
/** Pooled chunk buffers (so at most 16 MiB held); past it, responses read with buffers of their own. */
const DISK_BUFFERS = 64;
/**
 * File descriptors of files served from disk kept open between responses (nginx's open_file_cache
 * `max`): far below the usual 1024 soft limit, and enough for the large files a font host has in
 * use at once.
 */
const FD_CACHE_SIZE = 128;
/** The methods node:http's parser accepts (llhttp's list): the ones this server recognizes. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
/** framingError's verdict for a chunked request: answered once node's parser has judged its body (routeAfterBody). */
const AFTER_PARSER = 1;
/** How long a chunked request's answer waits for its body when the server states no head timeout (ms). */
const BODY_WAIT = 10_000;
/** The same once a shutdown has begun (ms), and never later than DEADLINE_MARGIN before its deadline. */
const DRAINING_BODY_WAIT = 1000;
const DEADLINE_MARGIN = 250;
/** Rescans a response may wait for when its file keeps changing under it. */
const RETRIES = 3;
/**
 * ms a response that found its file changed may wait for the read its backoff's floor puts off
 * (AssetTable.refreshDelay): past it, 503 with Retry-After: 1 comes sooner than the new version would.
 */
const REFRESH_WAIT_MAX = 1000;

/** Connect/Express-style `next`: called for what the handler does not serve, when mounted in an app. */
export type Next = (err?: unknown) => void;

/** What the handler holds now; inFlight, openFiles and buffersInUse return to zero whenever nothing is being served. */
export interface StaticStats {
  /** Responses begun and not yet ended (finished, aborted, or dropped with their connection). */
  readonly inFlight: number;
  /** File descriptors open for bodies read from disk. */
  readonly openFiles: number;
  /** Pooled read buffers lent to responses. */
  readonly buffersInUse: number;
  /** Bytes of file bodies held in memory (never above `memoryBudget`). */
  readonly bytesInMemory: number;
  /** Files whose body is held in memory. */
  readonly filesInMemory: number;
  /** File descriptors open in the fd cache: held by responses or kept for later ones (at most 128 kept). */
  readonly cachedFds: number;
  /** What the last scan of the root did: files, paths stat'ed, files read and hashed, tags from the ETag cache, ms. */
  readonly lastScan: ScanReport | null;
}

/**
 * A request handler serving a directory with xorigin's CORS, caching and range handling:
 * `(req, res, next?) => void`, usable as a node:http listener or mounted in Connect/Express
 * (`app.use('/fonts', handler)`: the mount prefix is already stripped from `req.url`).
 *
 * Standalone (no `next`), it answers everything: preflights, 404, 405. Mounted (with `next`), it
 * answers GET/HEAD for its files, their preflights and directory redirects, and passes anything
 * else to `next()`.
 */
export interface StaticHandler {
  (req: NodeRequest, res: NodeResponse, next?: Next): void;
  /** The directory served, resolved. */
  readonly root: string;
  /** What the handler holds now (a new object on each read). */
  readonly stats: StaticStats;
  /** @internal The CORS blocks every response carries (for the server's answers written outside the handler). */
  readonly corsBlocks: ActualBlocks;
  /**
   * @internal True when a response to a request from `origin` echoes it in Access-Control-Allow-Origin
   * (the policy lists or matches it; under `*` every response says `*` instead): for the server's
   * answers written outside the handler, with `corsBlocks.allowed`.
   */
  echoesOrigin(origin: string): boolean;
  /**
   * From now on, responses carry `Connection: close` (HTTP/1.1 keep-alive clients reconnect). `graceMs`:
   * the time the shutdown allows; a chunked request waiting for its body is answered within it.
   */
  drain(graceMs?: number): void;
  /** Calls `callback` once no response is in flight (at once if none is). */
  whenIdle(callback: () => void): void;
  /** Calls `callback` once no response is in flight and every fd and buffer is back (at once if so). */
  whenReleased(callback: () => void): void;
  /**
   * Resolves once the ETag cache holds what the table knows (a write pending after a rescan is
   * started now); at once without a cache. Await it after close() before the process exits, or
   * the last changes' tags (and the dates they were served with) are read again at the next start.
   */
  flush(): Promise<void>;
  /**
   * Puts new options in force (see XoriginServer.reload): validated completely first (a
   * PolicyError and no change on any problem), then swapped atomically. The options only a restart
   * changes (RESTART_ONLY in reload.ts) stay; the report's `needsRestart` names those that were changed.
   */
  reload(options: ServerOptions): ReloadReport;
  /** @internal As reload, from options validated already (the server validates once for everything it changes). */
  reconfigure(config: ResolvedServerOptions): void;
  /** Stops watching the root. */
  close(): void;
  /**
   * @internal For xorigin's own server: as `handler(req, res)`, for a response nothing was set on before, so
   * without the look for another CORS layer's headers (three lookups on every request).
   */
  answerFresh(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Validates the options, scans the root, and resolves to a handler. Rejects with a PolicyError
 * listing every problem when the options are invalid or the root is no directory this process may
 * list (rootProblem).
 */
export async function createStaticHandler(options: ServerOptions): Promise<StaticHandler> {
  const given = readOnce(options);
  return handlerFor(validateServable(given), given);
}

/**
 * As createStaticHandler, from options already validated, root included (validateServable: the
 * server validates once for both); `ownServer` for serve()'s own server (see StaticFiles).
 */
export async function handlerFor(config: ResolvedServerOptions, given?: ServerOptions, ownServer = false): Promise<StaticHandler> {
  const files = new StaticFiles(config, ownServer);
  await files.table.open();
  // node:http2's compatibility objects have every member the handler uses, with node:http's meaning.
  const handler = ((req: NodeRequest, res: NodeResponse, next?: Next) => files.handle(req as IncomingMessage, res as ServerResponse, next)) as StaticHandler;
  let current = { given, config };
  const reload = (given: ServerOptions): ReloadReport => {
    const options = readOnce(given);
    const fresh = validateReload(current.config, options);
    const before = current.given ?? options;
    const report = planReload(before, options, current.config, fresh);
    files.reconfigure(fresh);
    current = { given: options, config: keepRestartOnly(current.config, fresh) };
    return report;
  };
  Object.defineProperties(handler, {
    root: { value: files.table.root },
    stats: { get: () => files.stats() },
    corsBlocks: { get: () => files.blocks.cors },
    echoesOrigin: { value: (origin: string) => files.echoesOrigin(origin) },
    reload: { value: reload },
    reconfigure: { value: (fresh: ResolvedServerOptions) => files.reconfigure(fresh) },
    drain: { value: (graceMs?: number) => files.drain(graceMs) },
    whenIdle: { value: (callback: () => void) => files.whenIdle(callback) },
    whenReleased: { value: (callback: () => void) => files.whenReleased(callback) },
    flush: { value: () => files.table.flush() },
    close: { value: () => files.close() },
    answerFresh: { value: (req: IncomingMessage, res: ServerResponse) => files.handle(req, res, undefined, true) },
  });
  return handler;
}

/** The state and request path behind a StaticHandler. */
class StaticFiles {
  // The configuration's part (configure() sets these together; see reconfigure()).
  blocks!: ResponseBlocks;
  private cors!: Cors;
  private anyOrigin!: boolean;
  private log!: ((line: string) => void) | undefined;
  /** Explain mode's callback, or undefined: then a refusal costs nothing more. */
  private debug!: ((line: string) => void) | undefined;
  private logFormat!: ResolvedServerOptions['logFormat'];
  /** ms; limits a disk body's stall under node:http2's compatibility API only (DiskSend.stallLimit). */
  private sendTimeout!: number;
  /** A log has been on since start-up: responses may hold an arrival to log (a lookup per response only then). */
  private logged = false;
  readonly table: AssetTable<Entry>;
  draining = false;
  /** Chunked requests waiting for their body (routeAfterBody): each ended within a shutdown's grace (drain). */
  private readonly awaitingBody = new Set<(late: boolean) => void>();
  /** Shutting down: when a chunked request's wait for its body must be over (ms since the epoch). */
  private drainingUntil = 0;
  /** Ever called with `next`: mounted in an app, whose middleware may have set headers before us. */
  private mounted = false;
  private readonly pool = new BufferPool(DISK_CHUNK, DISK_BUFFERS);
  /** The hashes a download runs when its file's ctime moved alone, one per file state (content-checks.ts). */
  readonly contentChecks = new ContentChecks();
  private readonly bodies: BodyCache;
  private readonly fds = new FdCache(FD_CACHE_SIZE, undefined, noteDescriptorShortage);
  /** `watch: false` (a restart-only option): no watcher tells the table of a change. */
  private readonly unwatched: boolean;
  /** Whether bodies from disk are read on the main thread (while reads are fast) or the thread pool. */
  private readonly blockingReads = new BlockingReads();
  private readonly counters: DiskCounters = { openFiles: 0, released: () => this.checkReleased() };
  private inFlight = 0;
  private idleCallbacks: (() => void)[] = [];
  private releasedCallbacks: (() => void)[] = [];
  /** One shared listener (it reads the response from `this`) instead of a closure per request. */
  private readonly onResponseClose: (this: ServerResponse) => void;

  /**
   * `ownServer`: the handler of serve()'s own server, whose responses nothing else touches. Any other
   * caller (an app's listener, mounted or not) may have wrapped writeHead or set Vary before us.
   */
  constructor(config: ResolvedServerOptions, private readonly ownServer: boolean) {
    watchDescriptorLimit();
    const stale = (info: AssetInfo): void => void this.table.refresh(info).catch(() => {});
    this.bodies = new BodyCache({ budget: config.memoryBudget, fileLimit: config.smallFileLimit, stale });
    this.configure(config);
    const published = (dropped: readonly AssetInfo[] | null, isCurrent: (info: AssetInfo) => boolean): void => {
      // After a targeted scan only the versions it dropped are looked up, not every one held.
      if (dropped === null) {
        this.bodies.retain(isCurrent);
        this.fds.retain(isCurrent);
      } else {
        this.bodies.drop(dropped);
        this.fds.drop(dropped);
      }
    };
    this.unwatched = config.watch === false;
    this.table = new AssetTable<Entry>(resolve(config.root), { watch: config.watch, published, etagCache: config.etagCache, readWhole: (info, bytes) => this.bodies.offer(info, bytes), exhausted: noteDescriptorShortage }, this.blocks.entry);
    const files = this;
    this.onResponseClose = function (this: ServerResponse) {
      files.responseDone(this);
    };
  }

  /**
   * Puts a new configuration (already validated) in force: the policy, the header blocks of every
   * file, the log. All synchronous, so a request is answered wholly under the old or wholly under
   * the new configuration (a body already being read from disk keeps the headers it was given).
   * The root, smallFileLimit, memoryBudget, etagCache and watch are the table's and stay (see reload.ts).
   */
  reconfigure(config: ResolvedServerOptions): void {
    this.configure(config);
    this.table.rebuild(this.blocks.entry);
  }

  private configure(config: ResolvedServerOptions): void {
    this.cors = config.cors;
    this.anyOrigin = config.cors.policy.anyOrigin;
    this.log = config.log;
    if (config.log !== undefined) this.logged = true;
    this.debug = config.debug;
    this.logFormat = config.logFormat;
    this.sendTimeout = config.sendTimeout;
    const cors = buildActualBlocks(config.cors.policy, { crossOriginResourcePolicy: config.crossOriginResourcePolicy });
    // A cached redirect outlives a directory's removal, so it never gets a year-long immutable lifetime.
    const redirectCache = config.cacheControl === IMMUTABLE_CACHE_CONTROL ? DEFAULT_CACHE_CONTROL : config.cacheControl;
    this.blocks = new ResponseBlocks(cors, config.cacheControl, redirectCache, (info) => this.bodies.slotFor(info));
  }

  /** Stops watching; cached fds are closed now, or by the last response holding one. */
  close(): void {
    this.table.close();
    this.fds.clear();
  }

  stats(): StaticStats {
    const { inFlight, counters, pool, bodies, fds } = this;
    const lastScan = this.table.lastScan;
    return { inFlight, openFiles: counters.openFiles, buffersInUse: pool.inUse, bytesInMemory: bodies.bytes, filesInMemory: bodies.files, cachedFds: fds.size, lastScan };
  }

  whenIdle(callback: () => void): void {
    if (this.inFlight === 0) callback();
    else this.idleCallbacks.push(callback);
  }

  whenReleased(callback: () => void): void {
    this.releasedCallbacks.push(callback);
    this.checkReleased();
  }

  private checkReleased(): void {
    if (this.releasedCallbacks.length === 0 || this.inFlight !== 0 || this.counters.openFiles !== 0 || this.pool.inUse !== 0) return;
    const callbacks = this.releasedCallbacks;
    this.releasedCallbacks = [];
    for (const callback of callbacks) callback();
  }

  handle(req: IncomingMessage, res: ServerResponse, next: Next | undefined, fresh = false): void {
    if (next !== undefined) {
      this.mounted = true;
      if (!this.serves(req)) {
        // Unwatched: a path a request dropped, perhaps back (AssetTable.lookAgain); else the app's.
        // (Checked first: every request of the app that is not a file passes here.)
        const lookup = this.table.hasDropped && (req.method === 'GET' || req.method === 'HEAD') ? this.lookAgainAt(req.url) : null;
        if (lookup === null) next();
        else lookup.then(() => this.handle(req, res, next), next);
        return;
      }
      removeCorsHeaders(res);
    } else if (!fresh) {
      // Called as (req, res) after the app's own CORS layer (`cors.handle(req, res)` first), whose
      // grant would otherwise stay beside this policy's headers: `*` for an origin this policy refuses.
      // The rule cors.handle applies.
      removeOtherPolicy(res);
    }
    // node:http2 reads some fields sent on several lines from the first only; node:http joins them.
    // (Only for a request answered here: one passed to next() reaches the app as node:http2 gave it.)
    if (req.httpVersionMajor === 2) joinRepeatedLines(req.headers, req.rawHeaders);
    this.arrived(req, res);
    try {
      this.route(req, res);
    } catch {
      // A bug must cost one response, not the process.
      this.fail(res, req.headers.origin);
    }
    // Answered in full and handed to the socket already (a preflight, a 304, a body held in memory):
    // done now. A 'close' listener per response cost ~1,100 of a preflight's ~63,000 instructions.
    // With a log the line waits for 'close', which knows how the response ended.
    if (res.writableFinished === true && !this.logged) this.responseDone(res);
    else this.watchClose(req, res);
  }

  /** See AssetTable.lookAgain: null when there is nothing to look for at `url`'s path. */
  private lookAgainAt(url: string | undefined): Promise<void> | null {
    const path = decodedPath(url ?? '');
    return typeof path === 'string' ? this.table.lookAgain(path) : null;
  }

  /** Mounted: GET, HEAD and preflights for a path this handler has (or redirects); the rest is the app's. */
  private serves(req: IncomingMessage): boolean {
    const method = req.method;
    // A preflight is this handler's only when it asks about a method it serves: one asking for PUT
    // on the same path is about the app's route, whose own CORS policy must answer it.
    const asked = method === 'OPTIONS' ? req.headers['access-control-request-method'] : undefined;
    // Sent on two lines it is no method (node:http joins them, "GET, GET"); node:http2 kept the first
    // line, so over HTTP/2 the lines are counted: the app gets the request on both transports.
    const preflight = (asked === 'GET' || asked === 'HEAD') && (req.httpVersionMajor !== 2 || fieldLines(req.rawHeaders, 'access-control-request-method') < 2);
    if (method !== 'GET' && method !== 'HEAD' && !preflight) return false;
    const path = decodedPath(req.url ?? '');
    if (typeof path !== 'string') return false;
    return this.table.get(path) !== undefined || (!path.endsWith('/') && this.table.get(`${path}/`) !== undefined);
  }

  /** Counts the response in flight (until responseDone: exactly once, however it ends). */
  private arrived(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight++;
    // The peer address is read now: once the socket has closed it is gone.
    if (this.log !== undefined) noteArrival(req, res, this.log, this.logFormat);
    // Shutting down (preflights are written by the engine, synchronously): see head().
    if (this.draining) res.shouldKeepAlive = false;
  }

  /** A response still being written (or logged): done when it closes, however it ends. */
  private watchClose(req: IncomingMessage, res: ServerResponse): void {
    res.on('close', this.onResponseClose);
    const stream = (res as ServerResponse & { stream?: AbortableStream }).stream;
    // node:http2's compatibility response, in an app's own server: a stream its client resets with
    // NO_ERROR mid-body is left open by Node 20 until the request is read (never, here), so no 'close'
    // came, and the body's fd, buffer and count were held until the send timeout. 'aborted' says it.
    if (stream !== undefined && !(res instanceof Http2Response)) stream.once('aborted', () => stream.destroy());
    if (res.socket === null) {
      // Queued behind another response on a pipelining connection: if the socket closes first,
      // Node emits no 'close' for this response, only for its request.
      req.once('close', () => {
        if (!res.closed) {
          res.off('close', this.onResponseClose);
          this.responseDone(res);
        }
      });
    }
  }

  private responseDone(res: ServerResponse): void {
    if (--this.inFlight === 0 && this.idleCallbacks.length > 0) {
      const callbacks = this.idleCallbacks;
      this.idleCallbacks = [];
      for (const callback of callbacks) callback();
    }
    if (this.logged) logResponse(res.req, res);
    this.checkReleased();
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const refused = this.framingError(req, res);
    if (refused === AFTER_PARSER) this.routeAfterBody(req, res);
    else if (refused !== 0) this.sendError(res, refused, req.headers.origin);
    else this.routeValid(req, res);
  }

  /**
   * A chunked request is answered once node:http's parser has judged its body (body-verdict.ts): read
   * whole, refused, or still coming after the head timeout. A tick was not enough: over TLS each record
   * the client writes is parsed on its own turn, so a body written after its head was judged after the
   * answer (review h66). Not when node closes the connection after the answer anyway (`Expect:
   * 100-continue` with content, answered with no interim 100: the client may be waiting for one); once
   * shutting down, only briefly.
   */
  private routeAfterBody(req: IncomingMessage, res: ServerResponse): void {
    // A tick still: a fault in the head's own read is known by then (review h67 F2).
    if ((res as ServerResponse & { _expect_continue?: boolean })._expect_continue === true) return void process.nextTick(() => this.routeFramed(req, res, false));
    // Shutting down, a body on its way is still judged, briefly (review h68): the answer says close anyway.
    const server = (req.socket as typeof req.socket & { server?: { headersTimeout?: number } }).server;
    const waitMs = this.draining ? this.bodyWaitWhileDraining() : server?.headersTimeout || BODY_WAIT;
    const finish = afterBody(req, waitMs, (late) => {
      this.awaitingBody.delete(finish);
      this.routeFramed(req, res, late);
    });
    this.awaitingBody.add(finish);
  }

  /**
   * Shutting down: answers from now on say Connection: close (head). A chunked request waiting for its
   * body gets a short wait more (its body may be on its way: review h69), then its answer, before the
   * shutdown's deadline: cut there, it got nothing (review h67).
   */
  drain(graceMs = DRAINING_BODY_WAIT + DEADLINE_MARGIN): void {
    // A second shutdown or close() with a longer grace leaves the first deadline standing (review h70).
    const until = Date.now() + graceMs - DEADLINE_MARGIN;
    this.drainingUntil = this.draining ? Math.min(this.drainingUntil, until) : until;
    this.draining = true;
    const waits = [...this.awaitingBody];
    // Unref'd: each wait has its own timer; this one must not keep a process whose waits all ended alive.
    if (waits.length > 0) setTimeout(() => waits.forEach((finish) => finish(true)), this.bodyWaitWhileDraining()).unref();
  }

  /** How long a chunked request may still wait for its body, shutting down: briefly, and never past the deadline. */
  private bodyWaitWhileDraining(): number {
    return Math.max(0, Math.min(DRAINING_BODY_WAIT, this.drainingUntil - Date.now()));
  }

  /**
   * A chunked request once its body is judged: a fault the parser found gets its 400 (413, 408) and the
   * connection closes (client-error.ts); a body still coming (`late`) gets its answer, and the connection
   * closes after it, lingering.
   */
  private routeFramed(req: IncomingMessage, res: ServerResponse, late: boolean): void {
    if (req.socket.destroyed || res.writableEnded) return;
    const fault = bodyFault(req);
    try {
      if (fault === undefined) {
        if (late) {
          res.shouldKeepAlive = false;
          markLingering(req.socket);
        }
        this.routeValid(req, res);
      } else {
        // The connection closes after it (client-error.ts), which it must say: queued behind an answer
        // still being written (over TLS, or behind another chunked request), it was left saying keep-alive (review h65).
        res.shouldKeepAlive = false;
        this.sendError(res, this.blocks.errors.has(fault) ? fault : 400, req.headers.origin);
      }
    } catch {
      this.fail(res, req.headers.origin);
    }
  }

  private routeValid(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    const method = req.method;
    // OPTIONS is answered for any path, the table unread, but not for a target GET would refuse as
    // malformed (a bad percent-encoding, `..` above the root, userinfo, no host): a preflight for
    // `/%zz` was granted. `*` (asterisk-form, RFC 9112 §3.2.4) asks about the server.
    if (method === 'OPTIONS' && req.url !== '*' && decodedPath(req.url ?? '') === 400) return this.sendError(res, 400, origin);
    if (method === 'OPTIONS' && this.cors.classify(req) === RequestKind.Preflight) {
      // Classified a preflight, its lines joined (handle): answered from the fields, not read again.
      const h = req.headers;
      this.cors.answerPreflight(res, origin as string, h['access-control-request-method'] as string, h['access-control-request-headers']);
      if (this.debug !== undefined && res.statusCode === 403) this.explain(req, 'preflight');
      return;
    }
    const variant = this.variantOf(origin);
    const refusedOrigin = variant === 0 && origin !== undefined && !this.anyOrigin;
    this.answerResource(req, res, origin, variant);
    // Told once the answer is decided (written, or its file's read begun with its blocks in hand): an
    // onDenied that reloads the server must not change the policy half-way through it (review h56).
    if (refusedOrigin) this.refused(req, origin as string);
  }

  /** A request for a resource (not a preflight): OPTIONS, GET and HEAD answered, other methods refused. */
  private answerResource(req: IncomingMessage, res: ServerResponse, origin: string | undefined, variant: Variant): void {
    const method = req.method;
    if (method === 'OPTIONS') {
      // Not a preflight: the methods this resource allows. Its If-* fields are ignored: OPTIONS
      // selects no representation (RFC 9110 §13.2.1, last paragraph).
      this.head(res, 204, this.blocks.options[variant], origin);
      res.end();
      return;
    }
    // A method node:http knows gets 405 with Allow; one it does not (only HTTP/2 brings those this
    // far, node:http refuses them: client-error.ts) 501, RFC 9110 §9.1, the same on every transport.
    if (method !== 'GET' && method !== 'HEAD') return this.sendError(res, KNOWN_METHODS.has(method as string) ? 405 : 501, origin);
    const url = req.url ?? '';
    const path = decodedPath(url);
    if (typeof path === 'number') return this.sendError(res, path, origin);
    // Mounted at /fonts, a request for `/fonts` reaches here as `/`: its links need `/fonts/` too.
    if (path === '/' && mountedWithoutSlash(req) && this.table.get('/') !== undefined) return this.redirect(req, res, origin);
    const entry = this.table.get(path);
    if (entry !== undefined) return this.serveFile(req, res, path, entry, origin, variant, 0);
    // A directory named without its slash, as nginx, serve-static and Caddy do: 308 to `dir/`
    // (relative links in its index resolve against the slash).
    if (!path.endsWith('/') && this.table.get(`${path}/`) !== undefined) return this.redirect(req, res, origin);
    const lookup = this.table.lookAgain(path);
    if (lookup === null) return this.sendError(res, 404, origin);
    // Unwatched: a file a request found gone or unreadable, perhaps restored since (AssetTable.lookAgain).
    const answer = (): void => {
      if (res.destroyed || res.headersSent) return;
      const again = this.table.get(path);
      if (again !== undefined) this.serveFile(req, res, path, again, origin, this.variantOf(origin), 0);
      else if (!path.endsWith('/') && this.table.get(`${path}/`) !== undefined) this.redirect(req, res, origin);
      else this.sendError(res, 404, origin);
    };
    const failed = (): void => this.fail(res, origin);
    lookup.then(answer, failed).catch(failed);
  }

  /**
   * What the request line and Host say, on HTTP/1.x: 0 (serve it), 400 or 505. RFC 9112 §3.2: no
   * Host in 1.1, two Host lines or an invalid one get 400. The server sets node:http's own check
   * (requireHostHeader) aside so that this 400 carries the CORS headers, and so that HTTPS/1.1 on
   * the HTTP/2 port (where node:http2 never checks Host) answers the same. RFC 9112 §2.3: node:http
   * parses "HTTP/2.0" in a request line (it is how the HTTP/2 preface starts), but HTTP/1.x framing
   * with that version is no HTTP/2 (and would skip the Host check): 505, as nginx answers; so is
   * "HTTP/0.9" written out (an HTTP/0.9 request has no version, and no headers to frame). Only
   * node:http's parser makes an IncomingMessage; real HTTP/2 requests are our exchange's or, the
   * handler given to node:http2's server as its listener, the compatibility API's (a class check, so
   * no property a polluted prototype could lend decides it). Mounted in an app, the app's server
   * decides. HTTP/2 names the authority in `:authority`, checked as Host is (a `host` field beside it
   * must name the same one: authorityValid). A Transfer-Encoding node:http frames
   * wrongly or rejects only after the handler has answered gets 400 or 501, and the connection
   * closes after it (RFC 9112 §6.1, §6.3; see framing.ts). A chunked one that passes is answered
   * once node's parser has judged its body (AFTER_PARSER, routeAfterBody).
   */
  private framingError(req: IncomingMessage, res: ServerResponse): 0 | typeof AFTER_PARSER | 400 | 501 | 505 {
    if (this.mounted) return 0;
    // The version as numbers: node:http makes `httpVersion` a new string per request, and comparing
    // one is a call to V8's string comparison each time (bench/instructions.js --functions).
    const major = req.httpVersionMajor;
    const minor = req.httpVersionMinor;
    const h = req.headers;
    if (major !== 1 || minor > 1) {
      if (major !== 2 || minor !== 0 || req instanceof IncomingMessage) return 505;
      return authorityValid(h[':authority'] as string | undefined, h.host, h[':scheme'] as string | undefined) ? 0 : 400;
    }
    const te = h['transfer-encoding'];
    if (te !== undefined) {
      const status = transferEncodingStatus(te, minor === 0);
      if (status !== 0) {
        res.shouldKeepAlive = false;
        // The client did not ask for the close and may be pipelining: its later bytes must not reset the answers.
        markLingering(req.socket);
        return status;
      }
    }
    if (!hostLinesValid(req.rawHeaders, minor === 1)) return 400;
    // Only on serve()'s own server, whose clientError listener records the fault; in an app's server
    // the answer stays synchronous, as its listener may look at the response once the handler returns,
    // and the body is the app's to read.
    return te === undefined || !this.ownServer ? 0 : AFTER_PARSER;
  }

  /**
   * 308 to the same target with a slash after the path (the query kept). Mounted under a prefix,
   * Connect and Express strip it from `req.url` and keep the whole target in `originalUrl`.
   */
  private redirect(req: IncomingMessage, res: ServerResponse, origin: string | undefined): void {
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
    // Mounted, the app's part of the target (`/:lang` matching `\evil.com`) was never checked here.
    const path = targetPath(url);
    if (path === null) return this.sendError(res, 400, origin);
    const q = url.indexOf('?');
    const location = uriReference(`${mergeSlashes(path)}/${q === -1 ? '' : url.slice(q)}`);
    this.head(res, 308, extend(this.blocks.redirect[this.variantOf(origin)], 'Location', location), origin);
    res.end();
  }

  /**
   * Every status line and header block goes out here. Shutting down: tell keep-alive clients to
   * reconnect (elsewhere) instead of being cut later; checked when the headers are written, which
   * for a file read from disk (or a pipelined response) can be after shutdown began.
   */
  private head(res: ServerResponse, status: number, b: Block, origin: string | undefined): void {
    if (this.draining) res.shouldKeepAlive = false;
    // serve()'s own server: nothing else touches the response, and the checks below are skipped.
    // In an app's listener, mounted or not, a layer before this one may have wrapped writeHead in a
    // way that misreads a flat list (takesFlatHeaders), or set Vary, which writeHead would replace:
    // merge (DESIGN.md: Vary is appended, never replaced).
    if (this.ownServer) writeBlock(res, status, b, origin);
    else if (!takesFlatHeaders(res)) writeBlockByName(res, status, b, origin);
    else if (res.hasHeader('vary')) writeBlock(res, status, withMergedVary(b, res.getHeader('vary')), origin);
    else writeBlock(res, status, b, origin);
  }

  /**
   * An actual request from an origin the policy refuses: this handler writes its own header blocks,
   * so it reports the refusal itself, to the policy's `onDenied` (through the engine, which builds the
   * info) and to explain mode. Each costs one null check when absent.
   */
  private refused(req: IncomingMessage, origin: string): void {
    this.cors.deniedActual(origin);
    if (this.debug !== undefined) this.explain(req, 'actual');
  }

  /** Explain mode: why the policy refused this request, one sanitised line to `debug`. */
  private explain(req: IncomingMessage, kind: 'preflight' | 'actual'): void {
    const h = req.headers;
    const preflight = kind === 'preflight';
    const { line } = explainDenied(this.cors.policy, {
      kind,
      origin: h.origin as string,
      method: preflight ? h['access-control-request-method'] : req.method,
      requestHeaders: preflight ? h['access-control-request-headers'] : undefined,
      target: req.url,
    });
    (this.debug as (line: string) => void)(line);
  }

  echoesOrigin(origin: string): boolean {
    return this.variantOf(origin) === 1;
  }

  /** 1 when the request's origin is allowed (its slots must be filled), else 0. */
  private variantOf(origin: string | undefined): Variant {
    return this.anyOrigin || origin === undefined || !this.cors.allows(origin) ? 0 : 1;
  }

  private sendError(res: ServerResponse, status: number, origin: string | undefined): void {
    const e = this.blocks.errors.get(status) as ErrorAnswer;
    this.head(res, status, e.blocks[this.variantOf(origin)], origin);
    res.end(e.body, 'latin1');
  }

  /** An unexpected failure: a 500 if nothing has been sent yet, else the response is cut. */
  private fail(res: ServerResponse, origin: string | undefined): void {
    try {
      if (!res.headersSent) return this.sendError(res, 500, origin);
    } catch {
      // Even the 500 could not be written: cut the response below.
    }
    cutResponse(res);
  }

  /**
   * Everything up to the body is synchronous: a file kept in memory is answered without a promise
   * or a timer; only a large file goes on to the asynchronous disk path.
   */
  private serveFile(req: IncomingMessage, res: ServerResponse, path: string, entry: Entry, origin: string | undefined, variant: Variant, retries: number): void {
    const headers = req.headers;
    const rep = (entry.available === 0 ? entry.reps[0] : entry.reps[negotiateEncoding(headers['accept-encoding'], entry.available)]) as Representation;
    const info = rep.info;
    const pre = evaluatePreconditions(withoutDateLists(headers, req.rawHeaders), info);
    if (pre === Precondition.NotModified) {
      // Unwatched, a body from disk is checked against the file before a 304 vouches for it, as its
      // read would be: a 304 reads nothing, and was sent for bytes changed since (review r26b).
      if (this.unwatched && rep.memory.body === null) return this.notModifiedIfUnchanged(req, res, { path, rep, origin, variant, retries, status: 304, start: 0, end: rep.info.size - 1 });
      this.head(res, 304, this.validatorsFor(res, rep, rep.notModified[variant]), origin);
      res.end();
      return;
    }
    if (pre === Precondition.Failed) return this.sendError(res, 412, origin);
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const range = headers.range;
    // Ranges are defined for GET only (RFC 9110 §14.2): HEAD with Range answers 200.
    if (range !== undefined && req.method === 'GET' && ifRangeAllows(headers['if-range'] as string | undefined, info.etag)) {
      const r = parseRange(range, info.size);
      if (r === 'unsatisfiable') {
        this.head(res, 416, rep.unsatisfiable[variant], origin);
        res.end();
        return;
      }
      if (r !== 'ignore') {
        start = r.start;
        end = r.end;
        status = 206;
      }
    }
    const held = rep.memory.body;
    if (held === null) {
      this.bodies.miss(rep.memory);
      return this.serveFromDisk(req, res, { path, rep, origin, variant, retries, status, start, end });
    }
    this.bodies.hit(rep.memory);
    this.writeFileHead(res, rep, variant, origin, status, start, end);
    // A string is latin1, byte for byte, and joined to the headers in one chunk (see body-cache.ts).
    if (typeof held === 'string') res.end(status === 200 ? held : held.slice(start, end + 1), 'latin1');
    else if (status === 200) endHeld(req, res, held);
    // A small range of a large body goes out as small bodies do: copied to a string, in one chunk with the head.
    else if (end - start < TEXT_BODY_LIMIT) res.end(held.toString('latin1', start, end + 1), 'latin1');
    else endHeld(req, res, held.subarray(start, end + 1));
  }

  /** Status line and headers of a 200 or 206 (Content-Range and Content-Length built for the range). */
  private writeFileHead(res: ServerResponse, rep: Representation, variant: Variant, origin: string | undefined, status: number, start: number, end: number): void {
    if (status === 200) this.head(res, 200, this.validatorsFor(res, rep, rep.ok[variant]), origin);
    else {
      const b = rep.partial[variant];
      if (start !== b.rangeStart || end !== b.rangeEnd) {
        b.h[CONTENT_RANGE_VALUE] = `bytes ${start}-${end}/${rep.info.size}`;
        b.h[CONTENT_LENGTH_VALUE] = String(end - start + 1);
        b.rangeStart = start;
        b.rangeEnd = end;
      }
      // Mounted behind a layer that made write its own (compression()), which may encode the bytes.
      this.head(res, 206, this.ownServer || !Object.hasOwn(res, 'write') ? b : withNoTransform(b), origin);
    }
  }

  /**
   * The block as it is, or, mounted behind a layer that made write its own (compression()), which may
   * encode an identity representation's bytes, with its ETag weak (withWeakValidator).
   */
  private validatorsFor(res: ServerResponse, rep: Representation, b: Block): Block {
    return this.ownServer || rep.contentCoded || !Object.hasOwn(res, 'write') ? b : withWeakValidator(b);
  }

  /**
   * A 304 for a file served from disk without a watcher: sent once a stat finds the version the
   * validators describe; a changed or vanished file is looked at again and the request answered anew
   * (a 200 with the new bytes, a 404, or after RETRIES changes a 503), a retry checked as the first was:
   * a file changing again while it was read leaves the table with the old version (review r26c).
   */
  private notModifiedIfUnchanged(req: IncomingMessage, res: ServerResponse, d: DiskAnswer): void {
    const { rep, origin, variant } = d;
    const changed = (): void => this.retryAfterRescan(req, res, d);
    stat(rep.info.filePath, { bigint: true }).then((s) => {
      if (res.destroyed || res.headersSent) return;
      if (!sameIdentity(rep.info.identity, s)) return changed();
      this.head(res, 304, this.validatorsFor(res, rep, rep.notModified[variant]), origin);
      res.end();
    }, changed).catch(() => this.fail(res, origin));
  }

  /**
   * A large file, read from disk by a DiskBody, started when it is this response's turn: at the head
   * of its socket (HTTP/1.x pipelining), or within its connection's share (HTTP/2; see disk-turns.ts).
   */
  private serveFromDisk(req: IncomingMessage, res: ServerResponse, d: DiskAnswer): void {
    const { rep, origin, variant, status, start, end } = d;
    const info = rep.info;
    const headOnly = req.method === 'HEAD' || end < start;
    const body = new DiskBody(res, {
      filePath: info.filePath,
      openFile: (done) => this.fds.acquire(info, done),
      closeFile: (fd) => this.fds.release(fd),
      identity: info.identity,
      contentMatches: (fd, s, done) => this.contentChecks.matches(fd, s, info.size, info.etag, done),
      ctimeMoved: () => void this.table.changedUnseen(info).catch(() => {}),
      start,
      end,
      headOnly,
      writeHead: () => this.writeFileHead(res, rep, variant, origin, status, start, end),
      // node:http2's compatibility response (an app's own server): see DiskSend.stallLimit.
      stallLimit: req.httpVersionMajor === 2 && !(res instanceof Http2Response) ? this.sendTimeout : 0,
      stale: () => {
        this.fds.forget(info);
        this.retryAfterRescan(req, res, d);
      },
    }, this.pool, this.counters, this.blockingReads);
    whenDiskTurn(res, () => body.start(), headOnly);
  }

  /**
   * The file changed or vanished since the scan: look at it again, then answer from the new table. A file
   * replaced again and again (a deploy loop writing it every few ms) may change between each scan
   * and the read after it: after RETRIES tries it is answered 503 with Retry-After, not 404, since
   * it exists. A file read moments ago is read again only after its backoff's floor: the response
   * waits for it (up to REFRESH_WAIT_MAX), where it used to spin through its tries at once and get a
   * 503 while the new version was a few ms from being read (attack b24: 44 of 96 requests for a 2 MB
   * file being written).
   */
  private retryAfterRescan(req: IncomingMessage, res: ServerResponse, d: DiskAnswer): void {
    const answer = (): void => {
      if (res.destroyed || res.headersSent) return;
      const again = this.table.get(d.path);
      if (again === undefined) this.sendError(res, 404, d.origin);
      else if (d.retries >= RETRIES) this.sendError(res, 503, d.origin);
      // A new answer, under the configuration in force now (a reload may have changed the policy).
      else this.serveFile(req, res, d.path, again, d.origin, this.variantOf(d.origin), d.retries + 1);
    };
    const failed = (): void => this.fail(res, d.origin);
    const refresh = (): void => void this.table.refresh(d.rep.info).then(answer, failed).catch(failed);
    const wait = this.table.refreshDelay(d.rep.info);
    if (wait > 0 && wait <= REFRESH_WAIT_MAX) setTimeout(refresh, wait);
    else refresh();
  }

}

/** True when Connect/Express mounted this handler and the request named the mount path without a slash. */
function mountedWithoutSlash(req: IncomingMessage): boolean {
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
  if (original === undefined) return false;
  const path = targetPath(original);
  return path !== null && !path.endsWith('/');
}

/** A copy of `b` whose Vary (if it has one) also keeps the tokens the response already had. */
function withMergedVary(b: Block, existing: ReturnType<ServerResponse['getHeader']>): Block {
  const i = b.h.indexOf('Vary');
  if (i === -1) return b;
  const h = b.h.slice();
  h[i + 1] = mergeVary(Array.isArray(existing) ? existing.join(', ') : String(existing), h[i + 1] as string);
  return newBlock(h, b.slots, b.values);
}

/** What the disk path needs to answer (and to answer again after a rescan). */
interface DiskAnswer {
  readonly path: string;
  readonly rep: Representation;
  readonly origin: string | undefined;
  readonly variant: Variant;
  /** How many times the file was found changed and the table rescanned for this response. */
  readonly retries: number;
  readonly status: number;
  readonly start: number;
  readonly end: number;
}

/** node:http2's stream under a compatibility response: what watchClose uses of it. */
interface AbortableStream {
  once(event: 'aborted', listener: () => void): unknown;
  destroy(): void;
}
