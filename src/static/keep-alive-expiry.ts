import { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';

/**
 * Closes an idle HTTP/1.x keep-alive connection at its timeout, but not before node has read what
 * is waiting on it. node:http's keep-alive timeout is the socket's inactivity timer, which ends in
 * the server's 'timeout' event; with no listener node destroys the socket there and then. Resumed
 * from a pause (SIGSTOP, a frozen container, a VM migrated, a held event loop), node runs its timers
 * before the poll that reads the requests sent meanwhile, so a request sent in time on an idle
 * connection was lost: an RST over HTTP, a close over TLS. Here the socket is destroyed a loop turn
 * later, unless bytes came in that turn: a request being read is node's to time (its head and
 * request timeouts), and the read has refreshed the inactivity timer for a client that sent only
 * part of one. Anything else that times out there (an HTTP/2 session: node:http2 emits the same
 * event) is destroyed at once, as node would.
 */
export function closeIdleAfterPoll(server: EventEmitter): void {
  server.on('timeout', (timedOut: { destroy(): void }) => {
    if (!(timedOut instanceof Socket)) {
      timedOut.destroy();
      return;
    }
    const read = timedOut.bytesRead;
    setImmediate(() => {
      if (timedOut.bytesRead === read) timedOut.destroy();
    });
  });
}
