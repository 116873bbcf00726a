import type { Socket } from 'node:net';

/**
 * Closes an idle HTTP/1.x keep-alive connection at its timeout, but not before node has read what
 * is waiting on it. The timeout is found by a timer (the sweep of connection-timeouts.ts); resumed
 * from a pause (SIGSTOP, a frozen container, a VM migrated, a held event loop), node runs its timers
 * before the poll that reads the requests sent meanwhile, so closing there lost a request sent in
 * time on an idle connection: an RST over HTTP, a close over TLS. Here the socket is destroyed a loop
 * turn later, unless bytes came in that turn: a request being read is node's to time (its head and
 * request timeouts), and the next sweep counts the connection's idle time afresh.
 */
export function closeAfterPoll(socket: Socket): void {
  const read = socket.bytesRead;
  setImmediate(() => {
    if (socket.bytesRead === read) socket.destroy();
  });
}
