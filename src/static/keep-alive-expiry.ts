import type { Socket } from 'node:net';
import { headParsed, knowsMessages, messageBegan } from './message-clock.js';
import { answering, type Http1Socket } from './unread-request-timeout.js';

/**
 * Closes an idle HTTP/1.x keep-alive connection at its timeout, but not before node has read what
 * is waiting on it. The timeout is found by a timer (the sweep of connection-timeouts.ts); resumed
 * from a pause (SIGSTOP, a frozen container, a VM migrated, a held event loop), node runs its timers
 * before the poll that reads the requests sent meanwhile, so closing there lost a request sent in
 * time on an idle connection: an RST over HTTP, a close over TLS. Here the socket is destroyed a loop
 * turn later, unless bytes of a request came in that turn (a message begun, or one already being
 * answered; blank lines between requests are not): a request being read is node's to time (its head
 * and request timeouts), and the next sweep counts the connection's idle time afresh.
 */
export function closeAfterPoll(socket: Socket): void {
  const read = socket.bytesRead;
  const wrote = socket.bytesWritten;
  setImmediate(() => {
    if (!requestCameIn(socket, read, wrote)) socket.destroy();
  });
}

/** Whether what the socket read since it had read `read` (and written `wrote`) is part of a request. */
function requestCameIn(socket: Socket, read: number, wrote: number): boolean {
  if (socket.bytesRead === read) return false;
  // A request read whole is being answered, or was already (a body held in memory goes out at once).
  return socket.bytesWritten !== wrote || answering(socket as unknown as Http1Socket) !== null || messageBegun(socket);
}

/**
 * Whether node's parser has begun a message since the last one ended: true for bytes of a next
 * request, false for the blank lines llhttp skips before a request line (RFC 9112 section 2.2),
 * which begin none, so a client sending CRLF once a second, or without pause, would keep the
 * connection for good. True when the parser is gone or unknown, as node's timer counted every read.
 */
export function messageBegun(socket: Socket): boolean {
  const parser = (socket as unknown as Http1Socket).parser;
  return parser == null || !knowsMessages(parser) || !Number.isNaN(messageBegan(parser));
}

/**
 * Whether node's parser is known to be reading a next request's head (begun, not yet whole): node
 * times it (headersTimeout) and answers 408, not the keep-alive timeout. Not a body: its request is
 * answered, or being answered, and a body dripped after the answer closes at the keep-alive timeout
 * as before, not at node's 30 s request timeout (review h45 F2). False when the parser cannot tell.
 */
export function headUnderWay(socket: Socket): boolean {
  const parser = (socket as unknown as Http1Socket).parser;
  return parser != null && knowsMessages(parser) && !Number.isNaN(messageBegan(parser)) && !headParsed(parser);
}
