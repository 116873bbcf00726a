import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type RequestListener, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Http2SecureServer } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { ConnectionTimeouts } from './connection-timeouts.js';
import { clockMessages } from './message-clock.js';
import type { Http1Socket } from './unread-request-timeout.js';
import { handlerFor, type StaticHandler, type StaticStats } from './handler.js';
import { answerClientError, closeAfterAnswer, type ClientErrorContext } from './client-error.js';
import { closeLingering, closeWhenAnswered, dropInput, lingerUnderSendTimeout, lingerWhenClosedSoon, markLingering, stopLingering } from './lingering-close.js';
import type { Http2Sessions } from './http2-sessions.js';
import type { UnstartedConnections } from './plain-http-on-tls.js';
import type { SecureServer } from './secure-server.js';
import { secureContextOptions, type TlsMaterial } from './tls.js';
import { readOnce, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { validateServable } from './root-problem.js';
import { hasCloseOption, hasConnectionOption } from '../http/connection-options.js';
import { keepRestartOnly, planReload, validateReload, type ReloadReport } from './reload.js';

/**
 * A server serving a directory with xorigin's CORS, caching and range handling: a node:http
 * server, or with `tls` a node:http2 secure server that also speaks HTTP/1.1 (or, with
 * `http2: false`, a node:https server).
 */
export interface XoriginServer extends NetServer {
  /** The directory served, resolved. */
  readonly root: string;
  /** `http` or `https`, for the URL a client uses. */
  readonly scheme: 'http' | 'https';
  /**
   * Stops listening, lets in-flight responses finish (up to `graceMs`, default 10 s), then closes
   * what is left. `close(cb)` does the same with the default deadline. HTTP/1.1 responses carry
   * `Connection: close` meanwhile; HTTP/2 connections get GOAWAY.
   */
  shutdown(graceMs?: number): Promise<void>;
  /**
   * Puts new options in force without dropping a connection (DESIGN.md "Reload"). They are
   * validated completely first, certificate files included: on any problem a PolicyError lists
   * them all and nothing changes. Otherwise the swap is atomic (each request is answered wholly
   * under the old or wholly under the new options), a new certificate applies to new handshakes,
   * and the report names what changed and what only a restart can change (RESTART_ONLY in
   * reload.ts: root, smallFileLimit, memoryBudget, etagCache, watch, http2; and TLS on or off). Once shutdown() or close() was called, it throws an Error with code
   * ERR_SERVER_NOT_RUNNING and changes nothing, as the CLI refuses a SIGHUP then.
   */
  reload(options: ServerOptions): ReloadReport;
  /** What the server holds right now; every count returns to 0 when no response is in flight. */
  readonly stats: ServerStats;
}

/** `server.stats`: the handler's StaticStats. */
export type ServerStats = StaticStats;

type NodeServer = HttpServer | Http2SecureServer;

/**
 * Validates the options, scans the root and resolves to a server ready to `listen`
 * (`(await serve(options)).listen(8080)`). Rejects with a PolicyError listing every problem when
 * the options are invalid (an unreadable certificate, a key that does not match it, included).
 */
export async function serve(options: ServerOptions): Promise<XoriginServer> {
  let given = readOnce(options);
  let config = validateServable(given);
  const handler = await handlerFor(config, undefined, true);
  const clientErrors: ClientErrorContext = {
    cors: () => handler.corsBlocks,
    echoes: (origin) => handler.echoesOrigin(origin),
    log: () => config.log,
    logFormat: () => config.logFormat,
  };
  const keepAlive = { ms: config.keepAliveTimeout };
  const http1 = http1Listener(handler, keepAlive);
  const { node, sessions, unstarted } = await createNodeServer(config, handler, http1, clientErrors);
  applyHttp1Timeouts(node);
  const timeouts = watchConnections(node, config);
  closeHttp1Lingering(node, config);
  node.on('clientError', answerClientError(clientErrors));
  answerHttp1Oddities(node, http1);
  node.on('close', () => handler.close());
  const server = node as unknown as XoriginServer;
  Object.defineProperty(server, 'root', { value: handler.root });
  Object.defineProperty(server, 'scheme', { value: config.tls === null ? 'http' : 'https' });
  Object.defineProperty(server, 'stats', { get: () => handler.stats });
  const stopping = makeCloseGraceful(node, handler, sessions, unstarted);
  server.reload = (options: ServerOptions): ReloadReport => {
    if (stopping()) throw notRunning();
    const next = readOnce(options);
    const fresh = validateReload(config, next);
    const report = planReload(given, next, config, fresh);
    handler.reconfigure(fresh);
    timeouts.retime({ send: fresh.sendTimeout, keepAlive: fresh.keepAliveTimeout });
    keepAlive.ms = fresh.keepAliveTimeout;
    sessions?.retime({ keepAlive: fresh.keepAliveTimeout, send: fresh.sendTimeout });
    if (fresh.tls !== null && config.tls !== null) renewCertificate(node as unknown as TlsServer, fresh.tls);
    config = keepRestartOnly(config, fresh);
    given = next;
    return report;
  };
  return server;
}

/**
 * New handshakes get the new pair; connections already open carry on. The session ticket keys in
 * use are passed on (node:tls reuses only those given at creation, and setTicketKeys() may have changed
 * them since: node:cluster does), and the session ID context with them (node:tls would make it anew):
 * else every client holding a ticket would pay a full handshake (see ticket-keys.ts).
 */
function renewCertificate(server: TlsServer, tls: TlsMaterial): void {
  server.setSecureContext(secureContextOptions(tls, server.getTicketKeys()));
}

/**
 * Plain HTTP/1.1; with TLS, HTTP/2 and HTTP/1.1 by ALPN, or HTTPS/1.1 only (secure-server.ts,
 * loaded only then).
 */
async function createNodeServer(config: ResolvedServerOptions, handler: StaticHandler, http1: RequestListener, clientErrors: ClientErrorContext): Promise<SecureServer> {
  // Timeouts are enforced by a periodic sweep (default every 30 s, which made the 10 s headers
  // timeout up to 40 s): sweep every second.
  // requireHostHeader: the handler answers a missing Host itself, with the CORS headers (framingError: hostLinesValid, authorityValid).
  const common = { connectionsCheckingInterval: 1000, requireHostHeader: false };
  if (config.tls === null) return { node: createHttpServer(common, http1), sessions: null, unstarted: null };
  const { createSecureNodeServer } = await import('./secure-server.js');
  return createSecureNodeServer(config, config.tls, { handler, http1 }, common, clientErrors);
}

/**
 * Whether the connection may stay open after answering `req`, where node:http's parser says it may:
 * its reading of Connection differs from RFC 9112 §9.3 and §9.6 on a few spellings, each of which
 * closes here. A "close" option MUST end the connection after this response, but the parser misses
 * one followed by a tab (`close\t`, OWS), and on HTTP/1.0 one beside keep-alive (node then says
 * Connection: close itself). An HTTP/1.0 connection stays open only when Connection lists
 * keep-alive, but the parser also takes Proxy-Connection (no field of HTTP's) for it.
 */
function keepsAlive(req: IncomingMessage): boolean {
  const connection = req.headers.connection;
  if (req.httpVersionMinor === 0) return connection !== undefined && hasConnectionOption(connection, 'keep-alive') && !hasCloseOption(connection);
  return connection === undefined || !hasCloseOption(connection);
}

/**
 * A request asking to switch protocols (Upgrade, and `upgrade` among its Connection options) is
 * answered as any other, as RFC 9110 §7.8 lets a server that switches to nothing: but node:http's
 * parser stops reading at it (the bytes after it are the new protocol's), and node, with no
 * 'upgrade' listener, drops what it had read past the request: a GET pipelined behind one was never
 * answered, its connection held until the keep-alive timeout. So the connection closes after the
 * answer, which tells a pipelining client to send the rest again (RFC 9112 §9.3.2), and closes
 * lingering, as the client did not ask for it and may still be writing.
 */
function closeAfterUpgradeRequest(req: IncomingMessage, res: ServerResponse): void {
  // node:http's parser reads Proxy-Connection (no field of HTTP's) as Connection: an upgrade asked there stops it too.
  const h = req.headers;
  if (!hasConnectionOption(h.connection ?? '', 'upgrade') && !hasConnectionOption((h['proxy-connection'] as string | undefined) ?? '', 'upgrade')) return;
  res.shouldKeepAlive = false;
  markLingering(req.socket);
}

/**
 * What node:http calls for an HTTP/1.x request: the handler, once the response knows the keep-alive
 * timeout its `Keep-Alive: timeout=N` field states. node:http copies it from the server's
 * keepAliveTimeout, which is 0 here (see applyHttp1Timeouts); clients such as undici read the field
 * to stop reusing a connection before the server closes it. `keepAlive.ms` changes with a reload.
 * Connection is read again (keepsAlive) where node:http's parser reads it otherwise than RFC 9112.
 */
function http1Listener(handler: StaticHandler, keepAlive: { ms: number }): RequestListener {
  return (req, res) => {
    const socket = req.socket as Socket & { [LAST_ANSWERED]?: true };
    // RFC 9112 §9.6: no request after the one whose answer closes the connection is processed. Node's
    // parser stops at a close it reads itself; where the close is decided after parsing (keepsAlive, an
    // upgrade, a framing error, node's `_last` below), it reads on, and the requests pipelined behind
    // were answered into a queue never sent (and logged as 200s). Their input is dropped (dropInput).
    if (socket[LAST_ANSWERED] === true) return void dropInput(socket);
    (res as ServerResponse & { _keepAliveTimeout: number })._keepAliveTimeout = keepAlive.ms;
    if (res.shouldKeepAlive && !keepsAlive(req)) {
      res.shouldKeepAlive = false;
      // Unasked (an HTTP/1.0 keep-alive said in Proxy-Connection): the client may be pipelining.
      if (!hasCloseOption(req.headers.connection ?? '')) markLingering(socket);
    }
    if (req.headers.upgrade !== undefined && res.shouldKeepAlive) closeAfterUpgradeRequest(req, res);
    handler.answerFresh(req, res);
    // node decides a close itself as it writes a head: an HTTP/1.0 keep-alive answer without
    // Content-Length (a 304, a preflight's 204) is its last (`_last`). The client asked to keep the
    // connection and may be pipelining, so it closes lingering (it was reset, the answer lost).
    const last = (res as ServerResponse & { _last?: boolean })._last === true;
    if (last && res.shouldKeepAlive) markLingering(socket);
    if (last || !res.shouldKeepAlive) socket[LAST_ANSWERED] = true;
  };
}

/** Set on an HTTP/1.x socket once a response on it says Connection: close (http1Listener). */
const LAST_ANSWERED = Symbol('xorigin.lastAnswered');

/**
 * HTTP/1.x requests node:http would answer or drop without the handler, so without the CORS
 * headers every response carries, and unlike the same request over HTTP/2:
 * - `Expect` other than 100-continue: Node answers 417. RFC 9110 §10.1.1 only allows that (MAY);
 *   the request is served as if the field were absent, as nginx does and as HTTP/2 here does.
 * - `CONNECT host:port` (authority-form, RFC 9112 §3.2.3): with no 'connect' listener Node closes
 *   the connection without a byte. It gets the handler's 405 with Allow, then the connection closes
 *   (its bytes after the head would be tunnel data, not HTTP); behind answers still being written,
 *   no answer, and the connection closes after them.
 */
function answerHttp1Oddities(node: NodeServer, handler: RequestListener): void {
  node.on('checkExpectation', handler);
  // `Expect: 100-continue` is answered at once, with no interim 100 (RFC 9110 §10.1.1 lets a server
  // that sends a final status omit it): nothing here reads a request body, so node's default 100
  // only had a client upload a body that a 405 then discarded.
  node.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    // Node then closes the connection, as a client told no 100 may still send the body it announced.
    // Framing that announces none (no Transfer-Encoding, no or a zero Content-Length) leaves nothing
    // to come: the connection stays, and requests pipelined behind are answered (§10.1.1 lets a
    // server omit the 100 when "the framing indicates that there is no content").
    if (!announcesContent(req)) (res as ServerResponse & { _expect_continue: boolean })._expect_continue = false;
    handler(req, res);
  });
  node.on('connect', (req: IncomingMessage, socket: Duplex) => {
    // node:http has taken its own 'error' listener off the socket: without one, a reset would throw.
    socket.on('error', () => socket.destroy());
    // Pipelined behind answers still being written (`GET …` then `CONNECT …` in one write), it gets
    // none of its own (the handler writes it, on a socket that is theirs): they finish, then the
    // connection closes.
    // Taking the socket from them threw (ERR_HTTP_SOCKET_ASSIGNED) and ended the process.
    if (closeAfterAnswer(socket as Http1Socket)) return;
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    handler(req, res);
    // The handler answers a CONNECT at once (405, or 400 for a bad Host). The socket is then closed,
    // lingering, as the client may already be sending its tunnel's bytes (a TLS ClientHello): it
    // allows half-open, so an end() alone would keep it (and the response, unlogged) for as long as
    // the client kept its side open.
    closeLingering(socket);
  });
}

/** Whether an HTTP/1.x request's framing announces content (RFC 9112 §6.3): node's parser has checked both fields. */
function announcesContent(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** The HTTP/1.x limits and timeouts (the HTTP/2 secure server applies them to its HTTP/1.1 connections too). */
function applyHttp1Timeouts(server: NodeServer): void {
  const s = server as unknown as HttpServer & { httpAllowHalfOpen: boolean };
  // A client may half-close after sending its requests (`printf ... | nc -N`): answer them all,
  // then close. Node's default drops every response not written synchronously on the FIN. The
  // switch is Node's own (set in its http.Server constructor, not yet in its typings or docs);
  // test/protocol.test.js fails if it stops working.
  s.httpAllowHalfOpen = true;
  // Every field is kept: node keeps the first 2000 and drops the rest unseen, where a second Host,
  // a second Origin or a Transfer-Encoding would hide from the checks that refuse them. The header
  // section's size (maxHeaderSize) is what bounds the count.
  s.maxHeadersCount = 0;
  // Slow or stalled clients must not hold sockets forever.
  s.headersTimeout = 10_000;
  s.requestTimeout = 30_000;
  // The keep-alive and send timeouts are ConnectionTimeouts' (see watchConnections), not node:http's
  // socket inactivity timer, armed and cleared at every request; the Keep-Alive field that says the
  // timeout is the handler's to set (StaticHandler.keepAliveTimeout).
  s.keepAliveTimeout = 0;
  s.timeout = 0;
}

/**
 * Every connection under the send and keep-alive timeouts (connection-timeouts.ts). Over TLS the
 * connection watched is the TLS socket, where responses queue; an HTTP/2 connection's output never
 * queues there (node:http2 writes to the TLS layer itself), and its streams and idle time are
 * watched by Http2Sessions.
 */
function watchConnections(node: NodeServer, config: ResolvedServerOptions): ConnectionTimeouts {
  const timeouts = new ConnectionTimeouts({ send: config.sendTimeout, keepAlive: config.keepAliveTimeout });
  lingerUnderSendTimeout(node, () => timeouts.sendMs);
  node.on(config.tls === null ? 'connection' : 'secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    const http1 = socket.alpnProtocol !== 'h2';
    timeouts.add(socket, http1);
    // After node:http's own listener, which gave the socket its parser.
    if (http1) clockMessages(socket as unknown as Http1Socket);
  });
  return timeouts;
}

/**
 * HTTP/1.x connections node:http closes after an answer close lingering (lingering-close.ts), so a
 * client that sent more after its last request still reads every answer. HTTP/2 closes its own.
 */
function closeHttp1Lingering(node: NodeServer, config: ResolvedServerOptions): void {
  node.on(config.tls === null ? 'connection' : 'secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol !== 'h2') lingerWhenClosedSoon(socket);
  });
}

/** node:http's list of a server's HTTP/1.x connections (`server[kConnections]`, set on 'listening'). */
interface ConnectionsList {
  all(): { socket: Socket }[];
  idle(): { socket: Socket }[];
}

/**
 * The server's HTTP/1.x connections, all or only those with no request coming in (node:http's own
 * list: it knows a request whose head is half read, which nothing public shows). None before it listened.
 */
function http1Connections(node: NodeServer, which: 'all' | 'idle'): { socket: Socket }[] {
  const key = Object.getOwnPropertySymbols(node).find((k) => k.description === 'http.server.connections');
  const list = key === undefined ? undefined : (node as unknown as Record<symbol, ConnectionsList | undefined>)[key];
  return list === undefined ? [] : list[which]();
}

/**
 * Closes, once its answers are out, each HTTP/1.x connection with no request coming in and no
 * answer being produced. One whose answer is still being produced stays open meanwhile, as in node:
 * its client may reuse it and be told Connection: close, rather than lose the race with the close.
 * During a shutdown, so do the connections that have sent nothing yet (a browser's preconnect):
 * node counts them as in a request (its headers timeout runs from the accept), and one held a
 * shutdown for its whole grace (10 s); and those still before their TLS handshake (`unstarted`).
 */
function closeIdleHttp1(node: NodeServer, unstarted: UnstartedConnections | null, closing: boolean): void {
  for (const { socket } of http1Connections(node, 'idle')) {
    const answer = (socket as Http1Socket)._httpMessage;
    if (answer == null || answer.writableEnded) closeWhenAnswered(socket);
  }
  if (!closing) return;
  for (const { socket } of http1Connections(node, 'all')) {
    if ((socket as Http1Socket)._httpMessage == null && socket.bytesRead === 0) closeWhenAnswered(socket);
  }
  unstarted?.closeSilent();
}

/** Calls `done` once `work` has settled, or `ms` later if it has not by then. */
function settleWithin(work: Promise<unknown>, ms: number, done: () => void): void {
  const deadline = setTimeout(done, ms);
  void work.finally(() => {
    clearTimeout(deadline);
    done();
  });
}

/**
 * close() is made graceful too: Node's own close() destroys the connections it deems idle, among
 * them one whose last answer is still being written (see closeWhenAnswered). Stop accepting, let
 * in-flight responses finish and their bytes go out (or the deadline pass), then close what is left.
 * Returns whether that has begun.
 */
function makeCloseGraceful(node: NodeServer, handler: StaticHandler, sessions: Http2Sessions | null, unstarted: UnstartedConnections | null): () => boolean {
  const server = node as unknown as XoriginServer;
  let closing = false;
  const nativeClose = node.close.bind(node) as (callback?: (err?: Error) => void) => void;
  // Node's close() calls it, and the shutdown again once every response has ended. After the event
  // loop's next poll for I/O (a check phase, then the next one: the first may come before it), so
  // a connection whose first request had come when the shutdown began is answered (saying close).
  (node as { closeIdleConnections?: () => void }).closeIdleConnections = () => {
    setImmediate(() => setImmediate(() => closeIdleHttp1(node, unstarted, closing)));
  };
  const gracefulClose = (graceMs: number, callback?: (err?: Error) => void): void => {
    closing = true;
    handler.drain(graceMs);
    sessions?.drain();
    // Closes their clients did not ask for: they linger (RFC 9112 §9.6), as a request may be on its way.
    for (const c of http1Connections(node, 'all')) markLingering(c.socket);
    nativeClose(callback);
    // Every response has ended: the keep-alive connections left open close too. HTTP/2 sessions
    // were sent GOAWAY and close themselves once their last bytes are out; destroying them now could
    // cut a response's final frames still queued for the socket.
    handler.whenIdle(() => (node as HttpServer).closeIdleConnections());
    const deadline = (): void => {
      stopLingering(node);
      HttpServer.prototype.closeAllConnections.call(node);
      sessions?.destroyAll();
      unstarted?.dropAll();
    };
    setTimeout(deadline, graceMs).unref();
  };
  if (unstarted !== null) closeLateHandshakes(node, () => closing);
  // Resolves once the server has closed, every response has given back what it held, and the ETag
  // cache is written (the table's close(), on 'close', started a write pending after a rescan), or
  // the grace period has passed: a cache on a hung file system must not keep the process from ending.
  server.shutdown = (graceMs = 10_000) =>
    new Promise<void>((done) => gracefulClose(graceMs, () => handler.whenReleased(() => settleWithin(handler.flush(), graceMs, done))));
  server.close = (callback?: (err?: Error) => void) => {
    gracefulClose(10_000, callback);
    return server;
  };
  return () => closing;
}

/**
 * A TLS handshake that ends once the shutdown has begun (UnstartedConnections.closeSilent lets it
 * go on): its HTTP/1.x connection closes as the idle ones did, once the request sent with the
 * handshake's end, if one was, is answered (saying close: the handler is draining). HTTP/2
 * sessions: Http2Sessions.add.
 */
function closeLateHandshakes(node: NodeServer, closing: () => boolean): void {
  node.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (!closing() || socket.alpnProtocol === 'h2') return;
    markLingering(socket);
    (node as HttpServer).closeIdleConnections();
  });
}

/** reload() after shutdown() began: node's code for acting on a server that is not running. */
function notRunning(): Error {
  const e = new Error('reload() not applied: the server is stopping (shutdown() or close() was called); start a new server with the new options instead') as NodeJS.ErrnoException;
  e.code = 'ERR_SERVER_NOT_RUNNING';
  return e;
}
