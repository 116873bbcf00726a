import type { RequestListener, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ClientErrorContext } from './client-error.js';
import { restartReading } from './lingering-close.js';
import type { StaticHandler } from './handler.js';
import { answerStream } from './http2-exchange.js';
import { HTTP2_LIMITS, Http2Sessions, type SessionTimeouts } from './http2-sessions.js';
import type { ResolvedServerOptions } from './options.js';
import { answerPlainHttp, type UnstartedConnections } from './plain-http-on-tls.js';
import { secureContextOptions, type TlsMaterial } from './tls.js';
import { ticketKeysForProcess } from './ticket-keys.js';

/**
 * The server over TLS: node:http2's secure server, which also speaks HTTP/1.1 (ALPN `h2`, then
 * `http/1.1`), or with `http2: false` a node:https server. Loaded only when TLS is configured:
 * node:https, node:http2 and node:tls cost 2.3 MB of resident memory (measured with
 * process.memoryUsage() after importing them), which a cleartext server does not need.
 */
export interface SecureServer {
  readonly node: HttpServer | Http2SecureServer;
  /** The HTTP/2 connections' bookkeeping; null without HTTP/2. */
  readonly sessions: Http2Sessions | null;
  /** The connections still in the plain-HTTP peek or the TLS handshake; null without TLS. */
  readonly unstarted: UnstartedConnections | null;
}

/** A TLS handshake that does not finish holds a socket too: the same 10 s as the headers (ms). */
export const HANDSHAKE_TIMEOUT = 10_000;

/**
 * `common`: the node:http options every server gets; `clientErrors`: what the answer to a plain
 * HTTP request on this port needs (plain-http-on-tls.ts).
 */
export function createSecureNodeServer(config: ResolvedServerOptions, material: TlsMaterial, { handler, http1 }: { handler: StaticHandler; http1: RequestListener }, common: { connectionsCheckingInterval: number; requireHostHeader: boolean }, clientErrors: ClientErrorContext): SecureServer {
  const tls = { ...secureContextOptions(material, ticketKeysForProcess()), handshakeTimeout: HANDSHAKE_TIMEOUT };
  if (!config.http2) {
    const server = createHttpsServer({ ...common, ...tls }, http1);
    prepareTlsConnections(server);
    const unstarted = answerPlainHttp(server, HANDSHAKE_TIMEOUT, clientErrors);
    return { node: server as unknown as HttpServer, sessions: null, unstarted };
  }
  const server = createSecureServer({ ...tls, allowHTTP1: true, settings: HTTP2_LIMITS.settings, maxHeaderListPairs: HTTP2_LIMITS.maxHeaderListPairs, maxSessionMemory: HTTP2_LIMITS.maxSessionMemory }, http1 as never);
  prepareTlsConnections(server);
  const unstarted = answerPlainHttp(server, HANDSHAKE_TIMEOUT, clientErrors);
  // The HTTP/1.1 side of this server reads these as node:http does; they are not constructor options here.
  // Node 24 sets requireHostHeader on it (true, node:http's default): a missing Host got node's 400, without CORS.
  Object.assign(server as unknown as typeof common, common);
  return { node: server, unstarted, sessions: answerStreams(server, handler, { keepAlive: config.keepAliveTimeout, send: config.sendTimeout }, clientErrors) };
}

/**
 * Two things Node gets wrong on a TLS connection (Node 20.20; a bare node:https server the same),
 * set right on each as it starts; the first concerns HTTP/1.1 only (node:http2 reads its own).
 * - Its parser reads the TLS layer directly (it "consumes" the handle), and while answers queue it
 *   pauses and stops the handle reading. The TLS layer still hands over the rest of what it had
 *   decrypted, one TLS record at a time: the paused parser refuses each (HPE_PAUSED), its bytes are
 *   lost and node reports a client error. A pipelining client that wrote each request on its own
 *   while downloads were under way got 2 answers of 15, then the close. So at its first pause the
 *   connection is switched to being read as a stream (readAsStream), which a pause holds back.
 *   Not from the start: read as a stream, a connection costs ~10% of HTTPS/1.1 requests per second
 *   (wrk, 1-byte GETs, 20.2k against 22.5k), and most never pause.
 * - A TLSSocket is not half-open: the client's close_notify and FIN after its last request ended
 *   the server's writing too, and the answers still queued were lost (1 of 3). node:http answers
 *   them and then closes (httpAllowHalfOpen, set in server.ts), as over cleartext. Over HTTP/2 too
 *   (Http2Sessions ends a connection whose client has ended its side once no stream is open): Node
 *   ended the socket at the client's FIN and node:http2 went on framing answers for nobody, reporting
 *   them written (review h34b: bodies logged complete that never left).
 */
function prepareTlsConnections(server: TlsServer): void {
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    socket.allowHalfOpen = true;
    if (socket.alpnProtocol === 'h2') return;
    // Registered before node:http's own pause handler, which stops the handle reading.
    socket.once('pause', () => readAsStream(socket));
  });
}

/**
 * node:http's own switch: a 'data' listener makes it stop consuming the handle (its parser is fed
 * from 'data' events instead). Its 'resume' handler, which restarted the handle it had stopped,
 * goes with the switch, and the stream does not restart it (it believes a read is still under way),
 * so the first resume does.
 */
function readAsStream(socket: TLSSocket): void {
  socket.on('data', ignoreData);
  socket.once('resume', () => restartReading(socket));
}

function ignoreData(): void {}

/**
 * HTTP/1.1 connections come as 'request' (node:http's objects); HTTP/2 streams are answered without
 * node:http2's compatibility layer (see http2-exchange.ts), which the 'request' listener attached
 * to 'stream'. Returns the connections' bookkeeping, told of each stream by its response (opened
 * and closed).
 */
function answerStreams(server: Http2SecureServer, handler: StaticHandler, timeouts: SessionTimeouts, log: ClientErrorContext): Http2Sessions {
  const sessions = new Http2Sessions(server, timeouts, log);
  server.removeAllListeners('stream');
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    if (stream.session?.pendingSettingsAck === true && !sessions.withinAnnouncedLimits(stream, rawHeaders)) return;
    answerStream(stream, headers, rawHeaders, sessions, handler.answerFresh);
  });
  return sessions;
}
