import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ActualBlocks } from '../cors/response-headers.js';
import { clientErrorLine, type LogFormat } from './access-log.js';
import { rawErrorResponse } from './representation.js';

/** Node's own statuses for a request it could not parse (see its default clientError handler). */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

const URI_TOO_LONG: readonly [number, string] = [414, 'URI Too Long'];

/**
 * True when Node's header-size overflow struck inside a request line: RFC 9112 §3 says a target
 * longer than the server will parse MUST get 414, while node:http counts the line toward the
 * header limit and reports both as HPE_HEADER_OVERFLOW (431). The chunk Node was parsing
 * (`rawPacket`, the error at `bytesParsed`) tells: either the overflow ends at the target's end (the
 * parser checks the size when a span ends, and " HTTP/" follows a target), or the chunk starts with
 * an uppercase method and a space and has no line break before the error (a target longer than
 * the read). A target that goes on past the end of a read that did not start it (over TLS, whose
 * records hold 16 KiB, one past 32 KiB) keeps the 431, as does one pipelined behind another
 * request in the same read.
 */
export function targetTooLong(err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: unknown }): boolean {
  const raw = err.rawPacket;
  const at = err.bytesParsed;
  if (err.code !== 'HPE_HEADER_OVERFLOW' || !Buffer.isBuffer(raw) || typeof at !== 'number') return false;
  if (raw.toString('latin1', at, at + 6) === ' HTTP/') return true;
  const space = raw.indexOf(0x20);
  if (space <= 0 || space >= at) return false;
  // node:http's parser knows only uppercase methods (an unknown one fails before any overflow).
  for (let i = 0; i < space; i++) if ((raw[i] as number) < 65 || (raw[i] as number) > 90) return false;
  const lineEnd = raw.indexOf('\r\n', space);
  return lineEnd === -1 || lineEnd >= at;
}

/** What the answer needs at the moment of the error (a reload may have changed it since start-up). */
export interface ClientErrorContext {
  readonly cors: () => ActualBlocks;
  readonly log: () => ((line: string) => void) | undefined;
  readonly logFormat: () => LogFormat;
}

/**
 * Answers an HTTP/1.x request Node could not parse (400, 414, 431, 413, 408) ourselves, with the CORS
 * headers the policy gives every response: Node's own answer has none, so a browser would report
 * a CORS error and hide the status. Then the connection is closed. A failed TLS handshake (Node
 * reports it here too, with no HTTP spoken yet) only closes the connection.
 */
export function answerClientError(context: ClientErrorContext): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable || !isHttpError(err)) {
      socket.destroy();
      return;
    }
    if (closeAfterAnswer(socket)) return;
    const [status, reason] = targetTooLong(err) ? URI_TOO_LONG : (CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request']);
    const answer = rawErrorResponse(context.cors(), status, reason);
    socket.end(answer.text, () => socket.destroy());
    // Logged too: probes with malformed requests must leave a trace.
    const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    context.log()?.(clientErrorLine(remote, status, answer.bodyBytes, context.logFormat()));
  };
}

/**
 * True when the error needs no answer of its own, the connection being closed after the one under
 * way. A response still being written on this socket (a pipelined request before the bad one, its
 * body still being read from disk) is let finish, with Connection: close: an answer to the bad
 * request would take that response's place on the wire. And a fault in the body of a request
 * node:http has already handed to the handler (a bad chunk size, a Transfer-Encoding it rejects
 * only after the head) belongs to that request, whose answer is given or under way: a second
 * response to it would be read by a pipelining client as the answer to its next request.
 */
function closeAfterAnswer(socket: Duplex): boolean {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current != null && !current.writableFinished) {
    if (!current.headersSent) current.shouldKeepAlive = false;
    current.once('close', () => socket.destroy());
    return true;
  }
  const incoming = (socket as Duplex & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
  if (incoming == null || incoming.complete) return false;
  socket.end(() => socket.destroy());
  return true;
}

/** An error of Node's HTTP/1 parser or its request timeout, as opposed to one of TLS. */
function isHttpError(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
}
