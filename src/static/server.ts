import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ActualBlocks } from '../cors/response-headers.js';
import { handlerFor, type StaticHandler, type StaticStats } from './handler.js';
import { clientErrorLine } from './access-log.js';
import { validate, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { rawErrorResponse } from './representation.js';

/** A node:http server serving a directory with xorigin's CORS, caching and range handling. */
export interface XoriginServer extends Server {
  /** The directory served, resolved. */
  readonly root: string;
  /**
   * Stops listening, lets in-flight responses finish (up to `graceMs`, default 10 s), then closes
   * what is left. `close(cb)` does the same with the default deadline.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** What the server holds right now; every count returns to 0 when no response is in flight. */
  readonly stats: ServerStats;
}

export type ServerStats = StaticStats;

/**
 * Validates the options, scans the root and resolves to a node:http server ready to `listen`
 * (`(await serve(options)).listen(8080)`). Rejects with a PolicyError listing every problem when
 * the options are invalid.
 */
export async function serve(options: ServerOptions): Promise<XoriginServer> {
  const config = validate(options);
  const handler = await handlerFor(config);
  // Timeouts are enforced by a periodic sweep (default every 30 s, which made the 10 s headers
  // timeout up to 40 s): sweep every second.
  const server = createHttpServer({ connectionsCheckingInterval: 1000 }, handler) as XoriginServer;
  // A client may half-close after sending its requests (`printf ... | nc -N`): answer them all,
  // then close. Node's default drops every response not written synchronously on the FIN. The
  // switch is Node's own (set in its http.Server constructor, not yet in its typings or docs);
  // test/protocol.test.js fails if it stops working.
  (server as XoriginServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Slow or stalled clients must not hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = config.keepAliveTimeout;
  // The send timeout: Node measures socket inactivity (no read, no completed write) and, with no
  // 'timeout' listener, destroys the socket, which closes the response and releases what it held.
  server.timeout = config.sendTimeout;
  server.on('clientError', answerClientError(handler.corsBlocks, config));
  server.on('close', () => handler.close());
  Object.defineProperty(server, 'root', { value: handler.root });
  Object.defineProperty(server, 'stats', { get: () => handler.stats });
  makeCloseGraceful(server, handler);
  return server;
}

/**
 * close() is made graceful too: Node 20's own close() drops connections it deems idle, which has
 * been seen to cut a response still flushing a large buffer. Stop accepting, let in-flight
 * responses finish (or the deadline pass), then close what is left.
 */
function makeCloseGraceful(server: XoriginServer, handler: StaticHandler): void {
  const nativeClose = server.close.bind(server);
  const gracefulClose = (graceMs: number, callback?: (err?: Error) => void): void => {
    handler.drain();
    nativeClose(callback);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      server.closeAllConnections();
    };
    handler.whenIdle(finish);
    setTimeout(finish, graceMs).unref();
  };
  // Resolves once the server has closed and every response has given back what it held.
  server.shutdown = (graceMs = 10_000) =>
    new Promise<void>((done) => gracefulClose(graceMs, () => handler.whenReleased(done)));
  server.close = (callback?: (err?: Error) => void) => {
    gracefulClose(10_000, callback);
    return server;
  };
}

/** Node's own statuses for a request it could not parse (see its default clientError handler). */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * Answers a request Node could not parse (400, 431, 413, 408) ourselves, with the CORS headers the
 * policy gives every response: Node's own answer has none, so a browser would report a CORS error
 * and hide the status. Then the connection is closed.
 */
function answerClientError(cors: ActualBlocks, config: ResolvedServerOptions): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // A response still under way on this socket (a pipelined request before the bad one, its body
    // still being read from disk) is let finish, with Connection: close; the bad request gets no
    // answer of its own, since writing one would take that response's place on the wire.
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (current != null && !current.writableFinished) {
      if (!current.headersSent) current.shouldKeepAlive = false;
      current.once('close', () => socket.destroy());
      return;
    }
    const [status, reason] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request'];
    const answer = rawErrorResponse(cors, status, reason);
    socket.end(answer.text, () => socket.destroy());
    // Logged too: probes with malformed requests must leave a trace.
    const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    config.log?.(clientErrorLine(remote, status, answer.bodyBytes, config.logFormat));
  };
}
