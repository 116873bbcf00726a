import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ActualBlocks } from '../cors/response-headers.js';
import { equalsLower } from '../http/tokens.js';
import { withoutOws } from '../http/whitespace.js';
import { clientErrorLine, type LogFormat } from './access-log.js';
import { closeLingering, isLingering, markLingering } from './lingering-close.js';
import { recordBodyFault } from './body-verdict.js';
import { rawErrorResponse } from './representation.js';
import { answering, retimeBehindAnswers, timeMessage, type Http1Socket } from './unread-request-timeout.js';

/** Node's own statuses for a request it could not parse (see its default clientError handler). */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

const URI_TOO_LONG: readonly [number, string] = [414, 'URI Too Long'];
const NOT_IMPLEMENTED: readonly [number, string] = [501, 'Not Implemented'];
const VERSION_NOT_SUPPORTED: readonly [number, string] = [505, 'HTTP Version Not Supported'];

/** request-line = method SP request-target SP HTTP-version (RFC 9112 §3), method a token (RFC 9110 §9.1). */
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+ HTTP\/(\d)\.(\d)$/;

/**
 * The status for a well-formed request line node:http's parser refused, or null (then 400).
 * - A method it does not know (`FOO`, `get`: methods are case-sensitive): RFC 9110 §9.1 says an
 *   unrecognized method SHOULD get 501, and the handler answers the same over HTTP/2.
 * - A version it does not parse (`HTTP/1.2`, `HTTP/3.0`): 505, with CORS. RFC 9110 §2.5 says a
 *   higher minor version SHOULD be processed as 1.1 (nginx does), but llhttp stops at the version
 *   before any callback, and node:http's only way round it (insecureHTTPParser) also accepts the
 *   malformed framing that request smuggling relies on; a 505 at least names the cause.
 * The line is the one holding the error (`bytesParsed`) in the chunk being parsed; it must be
 * whole there, and every part of it valid but the one refused.
 */
export function requestLineStatus(err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: unknown }): readonly [number, string] | null {
  const raw = err.rawPacket;
  const at = err.bytesParsed;
  const method = err.code === 'HPE_INVALID_METHOD';
  if ((!method && err.code !== 'HPE_INVALID_VERSION') || !Buffer.isBuffer(raw) || typeof at !== 'number') return null;
  const start = at > 0 ? raw.lastIndexOf(0x0a, at - 1) + 1 : 0;
  const end = raw.indexOf(0x0a, start);
  if (end === -1) return null;
  const line = raw.toString('latin1', start, raw[end - 1] === 0x0d ? end - 1 : end);
  const m = REQUEST_LINE.exec(line);
  if (m === null) return null;
  if (method) return NOT_IMPLEMENTED;
  return m[1] === '1' && (m[2] === '0' || m[2] === '1') ? null : VERSION_NOT_SUPPORTED;
}

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

/**
 * The value of the one `Origin` field line in the request head holding byte `at` of `raw` (the
 * bytes node:http was parsing when it failed), or undefined: no such line, two or more (no one
 * origin to answer), or one not whole in `raw`. Node parsed none of the head's fields, so this is
 * the only way an answer to a malformed request can name its origin. The head starts at the line
 * holding `at` when that is a request line (a bad method or version), else after the last blank
 * line before `at` (a request pipelined behind another), and ends at the next blank line. Only
 * these bytes are seen: a head split over two reads, or an earlier request's body that holds an
 * Origin line, can give another of the connection's own Origin lines; the policy still decides.
 * Linear in `raw`'s length: a 60 KB run of spaces in a value cost 1.6 s with a trimming regex.
 */
export function originInRawHead(raw: Buffer, at: number): string | undefined {
  const start = headStart(raw, at);
  const end = raw.indexOf('\r\n\r\n', start);
  const head = raw.toString('latin1', start, end === -1 ? raw.length : end + 2);
  let origin: string | undefined;
  let lines = 0;
  // After the request line, each line ended by CRLF; a last one cut off by the read is not read.
  for (let i = head.indexOf('\r\n'), next = head.indexOf('\r\n', i + 2); i !== -1 && next !== -1; i = next, next = head.indexOf('\r\n', i + 2)) {
    if (next - i < 9 || head.charCodeAt(i + 8) !== 58 /* : */ || !equalsLower(head.slice(i + 2, i + 8), 'origin')) continue;
    origin = withoutOws(head, i + 9, next);
    lines++;
  }
  return lines === 1 ? origin : undefined;
}

/** Where the head holding byte `at` starts: see originInRawHead. */
function headStart(raw: Buffer, at: number): number {
  const lineStart = at > 0 ? raw.lastIndexOf(0x0a, at - 1) + 1 : 0;
  const lineEnd = raw.indexOf(0x0a, lineStart);
  const line = raw.toString('latin1', lineStart, lineEnd === -1 ? raw.length : lineEnd).replace(/\r$/, '');
  if (REQUEST_LINE.test(line)) return lineStart;
  const blank = at >= 4 ? raw.lastIndexOf('\r\n\r\n', at - 4) : -1;
  return blank === -1 ? 0 : blank + 4;
}

/**
 * The origin an answer written outside the handler echoes in Access-Control-Allow-Origin: the
 * request's, read from its raw head, when the policy allows it (under `*` every answer says `*`).
 */
export function echoedOrigin(raw: unknown, at: unknown, context: ClientErrorContext): string | undefined {
  if (!Buffer.isBuffer(raw) || typeof at !== 'number') return undefined;
  const origin = originInRawHead(raw, at);
  return origin !== undefined && context.echoes(origin) ? origin : undefined;
}

/** What the answer needs at the moment of the error (a reload may have changed it since start-up). */
export interface ClientErrorContext {
  readonly cors: () => ActualBlocks;
  /** True when a response to `origin` carries it in Access-Control-Allow-Origin (StaticHandler.echoesOrigin). */
  readonly echoes: (origin: string) => boolean;
  readonly log: () => ((line: string) => void) | undefined;
  readonly logFormat: () => LogFormat;
}

/**
 * Answers an HTTP/1.x request Node could not parse (400, 414, 431, 413, 408, 501, 505) ourselves, with the CORS
 * headers the policy gives every response (the request's origin read from its raw head, when the
 * bytes Node was parsing hold it): Node's own answer has none, so a browser would report a CORS
 * error and hide the status. Then the connection is closed. A failed TLS handshake (Node
 * reports it here too, with no HTTP spoken yet) only closes the connection.
 */
export function answerClientError(context: ClientErrorContext): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  const handle = (err: NodeJS.ErrnoException, socket: Duplex, retimed = false): void => {
    // node:http still times the message it was parsing when the connection began to close (a malformed
    // head never completes): its timeout struck a lingering connection whose client was still reading
    // the answers, and destroyed it with them in the kernel (review h41 F2). The lingering close bounds it.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && isLingering(socket)) return;
    if (err.code === 'ECONNRESET' || !socket.writable || !isHttpError(err)) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && !retimed) {
      if (retimeBehindAnswers(socket, () => handle(err, socket, true))) return;
      // Not before node has read what is waiting: resumed from a pause (SIGSTOP, a frozen container, a
      // held event loop), node runs its timeout check before the poll that reads the requests sent
      // meanwhile, and a client whose request came whole and in time got 408. A head completed in
      // that poll is answered as any; a client that really dripped gets its 408 a turn later. Node has
      // taken the connection off its timed list by now, and puts it back only when a later message
      // begins: the rest of this one (its body) is timed here, or a client dripping it after a pause
      // held the connection for good.
      const before = (socket as Http1Socket).parser?.incoming;
      setImmediate(() => {
        if ((socket as Http1Socket).parser?.incoming === before && answering(socket) === null) handle(err, socket, true);
        else timeMessage(socket, () => handle(err, socket, true));
      });
      return;
    }
    // A fault in the body of a request the handler holds (its head was whole): that request's own answer says so.
    const incoming = (socket as Http1Socket).parser?.incoming;
    if (incoming != null && !incoming.complete) recordBodyFault(incoming, CLIENT_ERRORS[err.code ?? '']?.[0] ?? 400);
    if (closing.has(socket)) return;
    const [status, reason] = targetTooLong(err) ? URI_TOO_LONG : (requestLineStatus(err) ?? CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request']);
    const e = err as NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: unknown };
    const answer = rawErrorResponse(context.cors(), status, reason, echoedOrigin(e.rawPacket, e.bytesParsed, context));
    // Logged too, once written: probes with malformed requests must leave a trace. (The address is
    // read now: once the socket has closed it is gone.)
    const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    const sent = (): void => context.log()?.(clientErrorLine(remote, status, answer.bodyBytes, context.logFormat()));
    // Bytes after a request that said Connection: close are no request of their own: nothing to answer.
    const reply = err.code === 'HPE_CLOSED_CONNECTION' ? undefined : { text: answer.text, sent };
    if (closeAfterAnswer(socket as Http1Socket, reply)) return;
    socket.write(answer.text);
    closeLingering(socket);
    sent();
  };
  return handle;
}

/** The connections closeAfterAnswer has set to close. */
const closing = new WeakSet<Duplex>();

/** A bad request's own answer, written after the answers before it; `sent` is called once it is. */
export interface QueuedReply {
  readonly text: string;
  readonly sent: () => void;
}

/**
 * True when the connection is closed after the answers under way (the caller answers nothing now);
 * false when none is under way and no request is being read. The responses to the requests pipelined
 * before the bad one (the one being written, its body perhaps still read from disk, and those queued
 * behind it) are let finish: an answer to the bad request written now would take the first one's
 * place on the wire, and closing after the first one lost the others (3 valid requests before a
 * malformed one: 1 answer). A fault in the head of a request node:http had not handed over yet gets
 * `reply` after them (RFC 9112 §9.3.2: answers in the order of the requests; §5.1: a 400 for a
 * malformed head). A fault in the body of a request already handed to the handler (a bad chunk size,
 * a Transfer-Encoding node:http rejects only after the head) belongs to that request, whose answer
 * is given or under way: a second response to it would be read by a pipelining client as the answer
 * to its next request, so it gets nothing, and its own answer says Connection: close if its head is
 * not written yet. Once a connection is to close so, later errors on it change nothing: node:http
 * goes on parsing what the client sends, and a client sending garbage behind a long download raised
 * one error per write, each of which added a 'close' listener (49 in 50 writes;
 * MaxListenersExceededWarning). server.ts calls it too, without a reply, for a CONNECT pipelined
 * behind answers, which gets none of its own.
 */
export function closeAfterAnswer(socket: Http1Socket, reply?: QueuedReply): boolean {
  if (closing.has(socket)) return true;
  const current = answering(socket);
  const incoming = socket.parser?.incoming ?? null;
  if (current !== null) {
    closing.add(socket);
    // The client is sending past the answers: node:http's close after the last must linger.
    markLingering(socket);
    const own = reply !== undefined && (incoming === null || incoming.complete) ? reply : null;
    closeAfterLast(socket, current, incoming, own);
    return true;
  }
  if (incoming === null || incoming.complete) return false;
  closing.add(socket);
  closeLingering(socket);
  return true;
}

/**
 * Follows the answers from `answer` on, each taking the socket in turn as the one before finishes,
 * and closes the connection after the last, lingering (the client may still be sending). `last`: the
 * last request parsed before the error (null once node has let it go, its answer then done). Without
 * a `reply`, its answer says Connection: close, which makes node close the connection after it, so it
 * is not said on an earlier one. With one (the bad request's own answer, which says Connection:
 * close), that answer keeps its keep-alive and the reply follows it.
 *
 * The next answer is taken at this one's 'finish', after node:http's own listener (added first) has
 * handed it the socket, not at this one's 'close' (a tick later): over TLS, the write callbacks of
 * two answers can come in one turn, so the next answer had finished, and node had ended the
 * connection of a client that half-closed, before the first one's 'close' (review h44: the 4xx lost
 * in 20 of 20 tries behind a 1 MiB answer and a short one). The reply's log line waits for the
 * 'close' of the answer it follows, which comes after that answer's own line (the handler listened
 * first).
 */
function closeAfterLast(socket: Http1Socket, answer: ServerResponse, last: IncomingMessage | null, reply: QueuedReply | null): void {
  const isLast = last === null || answer.req === last;
  if (reply === null && isLast && !answer.headersSent) answer.shouldKeepAlive = false;
  let sent = false;
  let followed = false;
  const follow = (): void => {
    const next = answering(socket);
    if (followed || sent || next === null || next === answer) return;
    followed = true;
    closeAfterLast(socket, next, last, reply);
  };
  if (reply !== null && isLast) {
    // Written once the last answer is all handed to the socket, before node:http acts on its end: a
    // client that half-closed (`printf … | nc -N`) has had node make that answer the connection's
    // last, and node ends the connection after it. (A queued answer may have finished already.)
    if (answer.writableFinished) sent = sendReply(socket, answer, reply);
    else answer.prependOnceListener('finish', () => (sent = sendReply(socket, answer, reply)));
  }
  answer.once('finish', follow);
  answer.once('close', () => {
    // An answer that had finished before it was followed here gets no 'finish': the next is taken now.
    follow();
    if (followed) return;
    // Nothing left to answer before it (`last`'s answer may have gone by before this one closed).
    if (reply !== null && !sent) sent = sendReply(socket, answer, reply);
    if (sent) (reply as QueuedReply).sent();
    closeLingering(socket);
  });
}

/**
 * Writes the queued reply after `answer`, and says whether it did: not when that answer said close
 * (asked by its client, or decided by the server), nor on a socket gone.
 */
function sendReply(socket: Http1Socket, answer: ServerResponse, reply: QueuedReply): boolean {
  if (!answer.shouldKeepAlive || !socket.writable) return false;
  socket.write(reply.text);
  return true;
}

/** An error of Node's HTTP/1 parser or its request timeout, as opposed to one of TLS. */
function isHttpError(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
}
