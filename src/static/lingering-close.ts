import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { kernelSendQueues } from './kernel-send-queue.js';

/**
 * How long a lingering connection waits for more input before it is closed (ms), counted from the
 * end of its output and from each later read: nginx's `lingering_timeout` is 5 s, Go's net/http
 * waits 500 ms (`rstAvoidanceDelay`) without reading. A client that read its answers has closed
 * by then; one that is still sending is not waiting for anything.
 */
export const LINGER_IDLE_MS = 2000;

/**
 * How long a lingering connection is kept in all once its output has ended (ms), however its
 * client keeps sending: nginx's `lingering_time` (30 s), shortened, as a byte every second holds
 * the socket that long.
 */
export const LINGER_MAX_MS = 10_000;

/** A socket's stream handle (node's TCPWrap or TLSWrap), as far as reading is concerned. */
interface ReadHandle {
  reading?: boolean;
  readStart?: () => number;
}

/** The sockets lingering now (each leaves at its 'close'), for their server's shutdown to drop. */
const lingering = new Set<Duplex>();

/** Servers past their shutdown deadline (stopLingering): their connections close as soon as their output is out. */
const shuttingDown = new WeakSet<object>();

/** The server a socket came to (node sets it on accepted and TLS sockets alike). */
const serverOf = (socket: Duplex): unknown => (socket as Duplex & { server?: unknown }).server;

/**
 * Restarts reading a handle node:http stopped: while its parser read the handle directly, its
 * 'pause' handler stopped the handle (answers were queuing), and once the parser lets go, the
 * stream believes a read is still under way and never asks again.
 */
export function restartReading(socket: Duplex): void {
  const handle = (socket as Duplex & { _handle?: ReadHandle | null })._handle;
  if (handle != null && handle.reading === false && typeof handle.readStart === 'function') {
    handle.reading = true;
    handle.readStart();
  }
}

/** Whether the socket is closing lingering (closeLingering): its end is bounded there. */
export function isLingering(socket: Duplex): boolean {
  return lingering.has(socket);
}

function drop(): void {}

/**
 * Has what the client sends next on an HTTP/1.x connection read and dropped (a 'data' listener of
 * ours takes node:http's place, as in closeLingering), while its last answer is still being written:
 * requests after it are neither parsed nor held. node:http's own pause does not hold there: it reads
 * on at each 'drain' while less output is queued than the socket's mark, and unprocessed requests
 * queue none (review h62 F2: ~2,000 requests parsed and held per drain of a slow download).
 */
export function dropInput(socket: Duplex): void {
  if (socket.destroyed || lingering.has(socket)) return;
  socket.removeAllListeners('data');
  socket.on('data', drop);
  // The client is still sending: closed at once, unread bytes would reset the answer (review h63).
  mustLinger.add(socket);
}

/**
 * Closes an HTTP/1.x connection without losing the answers already written (RFC 9112 §9.6, nginx's
 * lingering close): the output is ended (a FIN after the last answer), then what the client still
 * sends is read and dropped until it closes its side, sends nothing for LINGER_IDLE_MS, or
 * LINGER_MAX_MS have passed; then the socket is destroyed. Destroying it at once, with bytes of the
 * client's unread (a request pipelined after the last one answered, the rest of a request body, or
 * bytes still on their way), makes the kernel send a TCP reset, and a client that gets one may
 * drop the answers it had not read yet (31 to 34 of 50 answers came, when 4 bytes to 4 KB followed
 * a malformed request 20 ms later). Calling it again, or on a destroyed socket, does nothing. Once
 * the socket's server has passed its shutdown deadline (stopLingering), it is destroyed as soon as
 * its output is out.
 *
 * node:http's parser stops reading the connection: its 'data' and 'end' listeners are taken off,
 * and a 'data' listener of our own makes node:http stop feeding its parser from the handle (its
 * listener wrapper "unconsumes" it), so the bytes come to us as 'data' and are dropped.
 */
export function closeLingering(socket: Duplex): void {
  if (socket.destroyed || lingering.has(socket)) return;
  if (shuttingDown.has(serverOf(socket) as object)) {
    destroyAfterOutput(socket);
    return;
  }
  lingering.add(socket);
  socket.once('close', () => lingering.delete(socket));
  socket.removeAllListeners('data');
  socket.on('data', drop);
  // node:http's 'end' listener would have its parser finish and end the socket again (an Error is
  // built for that: a fifth of the server's time under Connection: close load); net's own is a
  // no-op on these half-open sockets, and nothing is written after this.
  socket.removeAllListeners('end');
  // The client closed its side: nothing more can come once the output is out (lingerAfterOutput).
  socket.once('end', () => socket.writableFinished && socket.destroy());
  // A failed connection (a reset, or bytes that are no TLS record: the TLS layer refuses all that
  // follows) has nothing more to wait for. node:http stops listening after a connection's first error,
  // so such a socket, its client not reading, was held to the send timeout (review h47 N1: 57 s).
  socket.once('error', () => socket.destroy());
  restartReading(socket);
  socket.resume();
  afterOutput(socket, lingerAfterOutput);
}

/** Ends the output if not yet ended, and calls `then` once it is out. */
function afterOutput(socket: Duplex, then: (socket: Duplex) => void): void {
  if (socket.writableFinished) then(socket);
  else {
    socket.once('finish', () => then(socket));
    if (!socket.writableEnded) socket.end();
  }
}

function destroyAfterOutput(socket: Duplex): void {
  afterOutput(socket, (s) => s.destroy());
}

/**
 * `server`'s shutdown deadline has passed: its lingering connections are dropped now, and those it
 * closes from now on are destroyed once their output is out, without lingering. A shutdown waits
 * for every connection to close, and node:http's closeAllConnections() does not reach every
 * lingering one (a CONNECT's socket, or a cleartext request's on the TLS port, is not an HTTP
 * connection of its): `shutdown(200)` took 2 s, or 10 s with a client trickling bytes.
 */
export function stopLingering(server: object): void {
  shuttingDown.add(server);
  for (const socket of lingering) if (serverOf(socket) === server) socket.destroy();
}

/** The idle and total limits, from the end of the output (before that, the send timeout holds). */
function lingerAfterOutput(socket: Duplex): void {
  if (socket.readableEnded) {
    socket.destroy();
    return;
  }
  const ended = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const close = (): void => {
    timer = null;
    destroyOnceAcknowledged(socket);
  };
  // One timer, pushed on by each read (refresh() reuses it) until less than the idle time is left
  // of the total; then one for what is left, which reads no longer move.
  timer = setTimeout(close, LINGER_IDLE_MS);
  let last = false;
  socket.on('data', () => {
    if (last || timer === null) return;
    const left = LINGER_MAX_MS - (performance.now() - ended);
    if (left >= LINGER_IDLE_MS) timer.refresh();
    else {
      last = true;
      clearTimeout(timer);
      timer = setTimeout(close, left);
    }
  });
  socket.once('close', () => timer !== null && clearTimeout(timer));
}

/** How often the connections past their lingering limits look again at what the kernel holds of their output (ms). */
const READ_CHECK_MS = 1000;

/** Each server's send timeout, in ms (lingerUnderSendTimeout). */
const sendTimeouts = new WeakMap<object, () => number>();

/**
 * A lingering connection of `server` past its limits is kept while its client reads what the kernel
 * still holds of its output, until the client has read none of it for `sendTimeout()` ms, as output
 * not yet handed to the kernel is (connection-timeouts.ts).
 */
export function lingerUnderSendTimeout(server: object, sendTimeout: () => number): void {
  sendTimeouts.set(server, sendTimeout);
}

/** A connection past its lingering limits: the kernel's count of its unacknowledged bytes, since when it has not moved, and for how long it may not. */
interface Draining {
  held: number;
  movedAt: number;
  readonly limitMs: number;
}

/**
 * The connections past their limits, all looked at by one timer: one reading of the kernel's tables
 * a second for all of them (a timer each read them up to ~30 times a second with 1,500 such
 * connections, 5-7% of a core: review h45 F3).
 */
const draining = new Map<Duplex, Draining>();
let drainCheck: NodeJS.Timeout | null = null;

/**
 * Destroys a lingering socket once its client has read all its output, has read none of it for the
 * send timeout, or where the kernel cannot tell (not Linux: at once): RFC 9112 §9.6 has a server
 * that closes wait until "its own TCP stack has received the client's acknowledgement of the
 * packet(s) containing the server's last response", after either limit. The limits count from the
 * output's hand-over to the kernel, which may still hold seconds of it for a client that reads
 * slowly; destroyed while that client is still sending (its bytes unread), the connection is reset
 * and the kernel drops what it held: at 50 KB/s with garbage sent behind a malformed request, 576 KB
 * of a 1 MiB answer came and not the 4xx (review h41 F2). Meanwhile the connection is read only once a
 * second (readOnce): read and dropped throughout for as long as the client read a little, a client
 * sending garbage at full speed kept a core busy for the whole of its slow read (review h45 F1: 47 s of
 * CPU where the limits gave 10); paused, its sends stop at TCP's flow control. The reset its unread
 * bytes cause at the destroy then drops nothing: the client's kernel has acknowledged all the output.
 */
function destroyOnceAcknowledged(socket: Duplex): void {
  const held = kernelSendQueues.bytes(socket as Socket);
  const limitMs = sendTimeouts.get(serverOf(socket) as object)?.() ?? 0;
  if (held === null || held === 0 || limitMs <= 0) {
    socket.destroy();
    return;
  }
  socket.pause();
  draining.set(socket, { held, movedAt: performance.now(), limitMs });
  socket.once('close', () => drained(socket));
  drainCheck ??= setInterval(checkDraining, READ_CHECK_MS);
}

function checkDraining(): void {
  const now = performance.now();
  for (const [socket, d] of draining) {
    const held = kernelSendQueues.bytes(socket as Socket);
    if (held === null || held === 0 || (held === d.held && now - d.movedAt >= d.limitMs)) socket.destroy();
    else {
      if (held !== d.held) ((d.held = held), (d.movedAt = now));
      readOnce(socket);
    }
  }
}

/**
 * Reads what has come in (one poll's worth) and pauses again: a FIN the client sent behind bytes
 * left unread stayed behind them, and a client that had half-closed was held to the send timeout
 * (review h46 G1: 57 s after its FIN); its 'end' now frees it (closeLingering). At most one poll's
 * reads a second: the cost stays bounded for a client sending at full speed.
 */
function readOnce(socket: Duplex): void {
  socket.resume();
  setImmediate(() => socket.pause());
}

/** Its socket has closed; the timer stops with the last, so that it holds no process open (a shutdown's exit). */
function drained(socket: Duplex): void {
  draining.delete(socket);
  if (draining.size === 0 && drainCheck !== null) {
    clearInterval(drainCheck);
    drainCheck = null;
  }
}

/**
 * Ends an HTTP/1.x response whose head is out but whose body cannot be finished (a file cut short
 * under it, an unexpected failure). The connection must close, so the client sees the body short
 * of its Content-Length (RFC 9112 §8); it is closed lingering, so what was written of it and the
 * answers before it reach a client pipelining behind it: destroyed, the socket sent a reset, which
 * can drop those answers before the client read them. What the response held is released at its
 * 'close', which comes with the socket's.
 */
export function cutHttp1Response(res: { readonly socket: Duplex | null; destroy(): unknown }): void {
  if (res.socket == null) res.destroy();
  else closeLingering(res.socket);
}

/** The answer node:http is writing on a connection (the first of those queued), null between answers. */
type Http1Connection = Socket & { _httpMessage?: { once(event: 'finish', listener: () => void): unknown } | null };

/**
 * Closes an HTTP/1.x connection lingering once the answers queued on it are out, for a shutdown:
 * node:http's own close() destroys a connection as soon as its last answer has ended, though its
 * bytes may still be queued for a client that reads slowly, and a client pipelining behind it then
 * got a reset and none of it (0 of a 2 MB answer). Each answer's 'finish' is awaited in turn:
 * node:http's own listener, added first, has by then handed the socket to the next answer queued,
 * or closed it (Connection: close), or left it idle, which is when it is closed here.
 */
export function closeWhenAnswered(socket: Http1Connection): void {
  if (socket.destroyed) return;
  const answer = socket._httpMessage;
  if (answer == null) closeLingering(socket);
  else answer.once('finish', () => closeWhenAnswered(socket));
}

/** Sockets that close lingering however node:http closes them (markLingering). */
const mustLinger = new WeakSet<Duplex>();

/**
 * Makes the socket close lingering when node:http closes it after an answer (its destroySoon), as
 * closeLingering does: for a connection its client may still be writing to, as a client error showed
 * it sending past what was answered, or as the server closes it without the client having asked
 * (a Transfer-Encoding it cannot frame).
 */
export function markLingering(socket: Duplex): void {
  mustLinger.add(socket);
}

/** What node:http's parser leaves on its sockets, as far as read here. */
type Http1Input = Socket & { parser?: { incoming?: { complete: boolean } | null } | null };

/**
 * True when the client may have sent bytes this server has not read because the body of the
 * request answered is not all in (a POST answered before its upload ended). Beside the sockets
 * marked (a client error, a pause: markLingering, markPaused), that is the one case, as with
 * nginx's default `lingering_close on`: a client that sent `Connection: close` or spoke HTTP/1.0
 * has nothing more to send, and one that sends more while its answer is written is caught by
 * node:http's parser (HPE_CLOSED_CONNECTION: a client error, so markLingering). Lingering on
 * every such close cost a quarter of the requests per second under Connection: close load (wrk,
 * 1-byte file: 7.3k against 9.6k), for clients that break RFC 9112 §9.6 by sending after a close.
 */
function mayHaveUnreadInput(socket: Http1Input): boolean {
  const incoming = socket.parser?.incoming;
  return incoming != null && !incoming.complete;
}

/**
 * node:http stops reading a connection while answers queue on it (a client pipelining behind a
 * large answer). What the client sends meanwhile, such as bytes after its own `Connection: close`
 * request, then waits unread, in the kernel where nothing here sees it, and its parser never
 * reports it: node reads again only once the answers are out, by which time it has closed the
 * connection after the last. Closed at once, the connection was reset, and a client reading
 * steadily lost the end of the answers (a 4 MB one cut in about half the runs).
 */
function markPaused(this: Socket): void {
  mustLinger.add(this);
}

/** net's own: end, then destroy once the output is written. */
const destroySoon = (Socket.prototype as unknown as { destroySoon: (this: Socket) => void }).destroySoon;

/**
 * node:http closes a connection after its last answer (a request with `Connection: close`, HTTP/1.0,
 * an answer this server marked last) by `socket.destroySoon()`: end, then destroy once the output is
 * written, with whatever the client sent after unread. On this socket it closes lingering instead
 * when the client may still be sending (markLingering, markPaused, mayHaveUnreadInput).
 */
export function lingerWhenClosedSoon(socket: Socket): void {
  (socket as Socket & { destroySoon: () => void }).destroySoon = destroySoonLingering;
  socket.on('pause', markPaused);
}

function destroySoonLingering(this: Http1Input): void {
  if (mustLinger.has(this) || mayHaveUnreadInput(this)) closeLingering(this);
  else destroySoon.call(this);
}
