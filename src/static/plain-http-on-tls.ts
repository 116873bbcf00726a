import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { clientErrorLine } from './access-log.js';
import { echoedOrigin, type ClientErrorContext } from './client-error.js';
import { closeLingering } from './lingering-close.js';
import { rawErrorResponse } from './representation.js';

/** The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, ContentType 22). */
const TLS_HANDSHAKE = 0x16;

/**
 * Bytes looked at for a method and its space before the connection counts as neither TLS nor
 * HTTP: the longest method in the IANA registry (`UPDATEREDIRECTREF`) is 17 characters.
 */
const LOOK_LIMIT = 24;

/** What the answer to a cleartext request says, as nginx and Go's net/http say it. */
const PLAIN_HTTP_BODY = 'This port speaks HTTPS: the request was sent as plain HTTP. Use an https:// URL.\n';

/** What the first bytes of a connection are; `more` when they cannot tell yet. */
export type FirstBytes = 'tls' | 'http' | 'other' | 'more';

/** RFC 9110 §5.6.2 `tchar`: the characters of a method name. */
function isTchar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return c > 0x20 && c < 0x7f && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/**
 * Tells a TLS ClientHello from an HTTP/1.x request line by the first bytes, as Go's net/http does
 * with the record header a failed handshake returns: TLS starts with 0x16; HTTP with a method
 * (a token), a space and the start of a request target (`/`, `*`, or a scheme's letter).
 */
export function firstBytesOf(b: Buffer): FirstBytes {
  if (b.length === 0) return 'more';
  if (b[0] === TLS_HANDSHAKE) return 'tls';
  const n = Math.min(b.length, LOOK_LIMIT);
  for (let i = 0; i < n; i++) {
    const c = b[i] as number;
    if (c !== 0x20) {
      if (!isTchar(c)) return 'other';
      continue;
    }
    if (i === 0) return 'other';
    if (i + 1 === b.length) return 'more';
    const t = (b[i + 1] as number) | 0x20;
    return t === 0x2f || t === 0x2a || (t >= 0x61 && t <= 0x7a) ? 'http' : 'other';
  }
  return b.length >= LOOK_LIMIT ? 'other' : 'more';
}

function ignore(): void {}

/** How long a TLS handshake under way when a shutdown begins may still take (ms): one takes a round trip or two. */
const HANDSHAKE_AT_SHUTDOWN_MS = 2000;

/**
 * The connections that have asked nothing yet: still in the peek, or in the TLS handshake. Each is
 * closed `limitMs` after it was accepted unless its handshake has finished (or its HTTP request was
 * answered) by then: a deadline from the accept, not from the last byte. socket.setTimeout, which
 * node:tls's own handshakeTimeout is, restarts on every byte, so a client sending one every 9 s
 * held a socket for minutes in the peek and for as long as it liked in the handshake (review h27
 * #5). A shutdown closes those that have sent nothing at once, as node:http closes idle keep-alive
 * connections, and gives a handshake under way 2 s more (`closeSilent`); its deadline drops the rest (`dropAll`).
 */
export class UnstartedConnections {
  readonly #deadlines = new Map<Socket, NodeJS.Timeout>();
  #stopping = false;

  constructor(private readonly limitMs: number) {}

  add(socket: Socket): void {
    const deadline = setTimeout(() => socket.destroy(), this.limitMs);
    deadline.unref();
    this.#deadlines.set(socket, deadline);
    socket.once('close', () => this.started(socket));
  }

  started(socket: Socket): void {
    const deadline = this.#deadlines.get(socket);
    if (deadline === undefined) return;
    clearTimeout(deadline);
    this.#deadlines.delete(socket);
  }

  /**
   * A shutdown began (called again as it goes on). A handshake under way goes on, for at most
   * HANDSHAKE_AT_SHUTDOWN_MS more: the client may have sent its first request with the handshake's
   * end (its 'secureConnect' comes before the server reads its Finished), and that request is
   * answered, saying close, as over cleartext; destroyed, the socket with those bytes unread sent a
   * reset. Under its own deadline only, a client that sent one byte of a ClientHello held the
   * shutdown 10 s (review h36).
   */
  closeSilent(): void {
    const first = !this.#stopping;
    this.#stopping = true;
    for (const [socket, deadline] of this.#deadlines) {
      if (socket.bytesRead === 0) {
        clearTimeout(deadline);
        this.#deadlines.delete(socket);
        socket.destroy();
      } else if (first) {
        clearTimeout(deadline);
        const sooner = setTimeout(() => socket.destroy(), HANDSHAKE_AT_SHUTDOWN_MS);
        sooner.unref();
        this.#deadlines.set(socket, sooner);
      }
    }
  }

  dropAll(): void {
    for (const [socket, deadline] of this.#deadlines) {
      clearTimeout(deadline);
      socket.destroy();
    }
    this.#deadlines.clear();
  }
}

/**
 * Answers a cleartext HTTP/1.x request sent to the TLS port with `400 Bad Request` saying to use
 * https:// (nginx's 497 answer, Go's "Client sent an HTTP request to an HTTPS server"), logged as
 * a client error, then closes; anything else that is not TLS is closed without a word. Node's TLS
 * layer would only fail the handshake and close, and a user typing http:// would see nothing.
 *
 * node:tls's own 'connection' listener (which wraps the socket in a TLSSocket) is taken off the
 * server and called once the first byte is 0x16, with that byte put back (`unshift`: the TLSSocket
 * feeds what its socket has buffered to OpenSSL first). The peek and the handshake together must end
 * within `handshakeTimeout` ms of the accept (UnstartedConnections).
 */
export function answerPlainHttp(server: TlsServer, handshakeTimeout: number, context: ClientErrorContext): UnstartedConnections {
  const unstarted = new UnstartedConnections(handshakeTimeout);
  // The TLSSocket's _parent is the socket node:tls wrapped (Node's own field, not in its typings).
  server.on('secureConnection', (tls: { _parent?: Socket }) => tls._parent && unstarted.started(tls._parent));
  const listeners = server.listeners('connection');
  if (listeners.length !== 1) throw new Error(`answerPlainHttp: expected node:tls's one 'connection' listener, found ${listeners.length}`);
  const startTls = listeners[0] as (this: TlsServer, socket: Socket) => void;
  server.removeListener('connection', startTls);
  server.on('connection', (socket: Socket) => {
    unstarted.add(socket);
    socket.on('error', ignore);
    let seen: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const kind = firstBytesOf(seen);
      if (kind === 'more') return;
      socket.removeListener('data', onData);
      if (kind === 'tls') {
        socket.removeListener('error', ignore);
        socket.pause();
        socket.unshift(seen);
        startTls.call(server, socket);
      } else if (kind === 'http') {
        unstarted.started(socket);
        answer(socket, seen, context);
      } else socket.destroy();
    };
    socket.on('data', onData);
  });
  return unstarted;
}

/**
 * The 400, with the CORS headers every response carries (the origin read from `seen`, the bytes
 * received so far, which hold a whole head when the client wrote it at once), then a lingering close (lingering-close.ts):
 * the rest of the request is read and dropped, as closing with unread bytes would send a TCP reset,
 * which can make the client lose the answer.
 */
function answer(socket: Socket, seen: Buffer, context: ClientErrorContext): void {
  const response = rawErrorResponse(context.cors(), 400, 'Bad Request', echoedOrigin(seen, 0, context), PLAIN_HTTP_BODY);
  socket.write(response.text);
  closeLingering(socket);
  context.log()?.(clientErrorLine(socket.remoteAddress, 400, response.bodyBytes, context.logFormat()));
}
