import type { Socket } from 'node:net';
import { closeAfterPoll, headUnderWay, messageBegun } from './keep-alive-expiry.js';
import { kernelSendQueues } from './kernel-send-queue.js';
import { SlotTable } from './slot-table.js';
import { SweepClock } from './sweep-clock.js';
import { answering, type Http1Socket } from './unread-request-timeout.js';

/** What a sweep last saw of a connection. */
interface Progress {
  queued: number;
  written: number;
  unsent: number;
  /**
   * Since when its queued output has not moved: SweepClock ms, -1 for nothing queued. Monotonic, as
   * the sweep's timer: on the wall clock, a step forward of an hour cut every connection a client
   * paused for one sweep, and a step back kept a stalled one open for the hour. And without the
   * server's own pauses (see sweep-clock.ts).
   */
  since: number;
  /** The kernel's unacknowledged bytes, noted from half a send timeout into a stall (-1: not, or unknown). */
  kernel: number;
  /** The generation of the reading `kernel` came from (see kernel-send-queue.ts). */
  kernelReading: number;
  /** False for an HTTP/2 connection: node:http2 times its idle sessions (Http2Sessions), not this. */
  readonly keptAlive: boolean;
  /** Its bytesRead at the last sweep. */
  read: number;
  /** Its bytesWritten at the last sweep it was idle at (a request answered between two sweeps). */
  wrote: number;
  /** Since when it has been idle between requests (SweepClock ms), -1 when not. */
  idleSince: number;
}

/** The timeouts a sweep enforces, in ms. */
export interface Http1Timeouts {
  /** Queued output that has not moved for this long closes the connection (nginx's `send_timeout`). */
  readonly send: number;
  /** A connection idle for this long after a response closes (node:http's `keepAliveTimeout`). */
  readonly keepAlive: number;
}

/** A socket's handle; over TLS, a TLSWrap, whose `_parent` is the TCP handle under it. */
interface Handle {
  readonly writeQueueSize?: number;
  /** libuv's uv_tcp_getpeername: 0, or a negative errno (UV_ENOTCONN once the connection is gone). */
  readonly getpeername?: (out: object) => number;
  readonly _parent?: Handle;
}

/**
 * The bytes libuv still holds for the connection's TCP handle: they shrink with every partial write
 * the kernel takes, while writableLength and bytesWritten move only when a whole chunk is out (a
 * body held in memory, up to smallFileLimit, is one chunk). Node's own socket timeout reads the same count.
 */
export function unsentBytes(socket: Socket): number {
  const h = (socket as unknown as { _handle?: Handle | null })._handle;
  if (h == null) return 0;
  return (h._parent ?? h).writeQueueSize ?? 0;
}

/** getpeername's out-parameter: filled and never read (only the return code is). */
const PEER_OUT = {};

/**
 * True when the kernel says the connection is gone (getpeername fails: ENOTCONN after the client's
 * RST). node:http2 writes to its socket natively and swallows the write error that reports it: the
 * session, its streams, their fds and waiting bodies stayed until a timeout noticed (the PING probe,
 * ~7 s with the default keep-alive), and bodies waiting for room in the send budget were resumed into
 * the dead session, reading from disk for it. A client that only half-closed (FIN) is still connected.
 */
export function peerGone(socket: Socket): boolean {
  const h = (socket as unknown as { _handle?: Handle | null })._handle;
  if (h == null) return socket.destroyed;
  const tcp = h._parent ?? h;
  return typeof tcp.getpeername === 'function' && tcp.getpeername(PEER_OUT) !== 0;
}

/**
 * What node:http adds to keepAliveTimeout before it closes an idle connection
 * (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER in _http_server.js): the field advertises the timeout, and
 * a client that reuses a connection just before it runs out must find it open, not a reset.
 */
const KEEP_ALIVE_GRACE_MS = 1000;

/** How long an idle connection is kept, in ms. */
const idleLimit = (t: Http1Timeouts): number => t.keepAlive + KEEP_ALIVE_GRACE_MS;

/**
 * The sweep's period: a quarter of the shorter limit, within [25 ms, 1 s]. Each sweep walks every
 * connection: a 100 ms keep-alive timeout made it 25 ms, 10-13% of a core for 10,000 silent ones.
 */
const periodFor = (t: Http1Timeouts): number => Math.min(1000, Math.max(25, Math.floor(Math.min(t.send, idleLimit(t)) / 4)));

/**
 * The timeouts of HTTP/1.x connections, checked by a periodic sweep over them instead of node:http's
 * socket inactivity timer, which re-arms a timer on every read and write, and for its keep-alive
 * timeout makes a new one (a Timeout and a bound function) at the end of every response and clears
 * it at the next request: ~2,000 of a 1-byte GET's ~73,000 instructions (bench/instructions.js).
 * - The send timeout, as nginx's `send_timeout`: a connection whose queued output has not moved (the
 *   client took no byte of it, not even part of a chunk) for the timeout is closed, which closes its
 *   responses and releases what they held.
 * - The keep-alive timeout: a connection that has had a response, has none under way and has begun
 *   no next request for the timeout plus 1 s (as node:http: KEEP_ALIVE_GRACE_MS) is closed (after
 *   node has read what waits on it: keep-alive-expiry.ts). A request's head and body stay node's
 *   to time (headersTimeout, requestTimeout).
 * Either closes a connection between its limit and the limit plus two periods of the sweep (a
 * period: a quarter of the shorter limit, at most 1 s) after it stopped; never before. Where the
 * kernel's send queue can be read (Linux), the client must not have read from it either over the
 * second half of the send timeout.
 */
export class ConnectionTimeouts {
  /** Not a Map: a connection per request (`Connection: close`) is churn too (see slot-table.ts). */
  private readonly watched = new SlotTable<Socket, Progress>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly clock: SweepClock;

  constructor(private ms: Http1Timeouts) {
    this.clock = new SweepClock(periodFor(ms));
  }

  /** The send timeout in force, in ms. */
  get sendMs(): number {
    return this.ms.send;
  }

  /** Changes the timeouts (a reload); connections already open get them from the next sweep. */
  retime(ms: Http1Timeouts): void {
    this.ms = ms;
    if (this.sweeper === null) return;
    clearInterval(this.sweeper);
    this.sweeper = null;
    this.clock.stopped();
    this.start();
  }

  /** Watches a connection until it closes; `keptAlive` false for one speaking HTTP/2. */
  add(socket: Socket, keptAlive = true): void {
    const slot = this.watched.add(socket, { queued: 0, written: 0, unsent: 0, since: -1, kernel: -1, kernelReading: 0, keptAlive, read: 0, wrote: 0, idleSince: -1 });
    socket.once('close', () => this.watched.remove(slot, socket));
    this.start();
  }

  private start(): void {
    if (this.sweeper !== null) return;
    this.clock.periodMs = periodFor(this.ms);
    this.sweeper = setInterval(() => this.sweep(), this.clock.periodMs);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = this.clock.tick();
    this.watched.forEach((socket, p) => {
      if (socket.writableLength === 0) {
        p.since = -1;
        if (p.keptAlive) this.checkIdle(socket, p, now);
      } else {
        p.idleSince = -1;
        this.checkSend(socket, p, now);
      }
    });
    if (this.watched.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      this.clock.stopped();
    }
  }

  private checkSend(socket: Socket, p: Progress, now: number): void {
    const queued = socket.writableLength;
    const written = socket.bytesWritten;
    const unsent = unsentBytes(socket);
    if (p.since === -1 || queued !== p.queued || written !== p.written || unsent !== p.unsent) {
      p.queued = queued;
      p.written = written;
      p.unsent = unsent;
      p.since = now;
      p.kernel = -1;
    } else if (now - p.since >= this.ms.send / 2 && !this.clientReadFromKernel(socket, p, now)) {
      socket.destroy();
    }
  }

  /**
   * Once half the send timeout has passed with nothing written, notes the kernel's count of bytes the
   * client has not acknowledged (kernel-send-queue.ts); at the timeout, a count that moved since means
   * the client is reading, though nothing more could be written: it has the timeout again. Only a
   * move counts: a client whose window opens in steps further apart than half the timeout (Linux's
   * receiver advertises more only once its window would double) still looks stalled. False (cut) at
   * the timeout where the count is unknown (not Linux, an address form not understood, a connection
   * not in the tables: see kernel-send-queue.ts) or did not move.
   */
  private clientReadFromKernel(socket: Socket, p: Progress, now: number): boolean {
    if (p.kernel === -1) {
      p.kernel = kernelSendQueues.bytes(socket) ?? -1;
      p.kernelReading = kernelSendQueues.generation;
    }
    if (now - p.since < this.ms.send) return true;
    if (p.kernel === -1) return false;
    const bytes = kernelSendQueues.bytes(socket);
    // No reading since the note (the tables are read at most once per 10 times the last read took):
    // the count cannot have moved in it. Wait for the next, which comes within that bound: a large
    // host table once cut a client reading at 400 KB/s, its count unread at the timeout.
    if (kernelSendQueues.generation === p.kernelReading) return true;
    if (bytes === null || bytes === p.kernel) return false;
    p.since = now;
    p.kernel = -1;
    return true;
  }

  /**
   * Idle: answered before (node's keep-alive timer starts at the end of a response; a connection
   * that never had one is under the head timeout), no response under way or queued, not closing
   * (an ended one is lingering-close.ts's), no next request head begun (node times it and answers
   * 408: a partial head sent after an answer was closed silently at the keep-alive timeout, review
   * h41 O1), and no activity since the last sweep: an answer written, or bytes read of a next
   * request, its body's too (node's timer restarted at each read too).
   * Counted from the first sweep that saw it so, which is after the connection's last activity.
   */
  private checkIdle(socket: Socket, p: Progress, now: number): void {
    const read = socket.bytesRead;
    const wrote = socket.bytesWritten;
    if (wrote === 0 || socket.writableEnded || answering(socket as unknown as Http1Socket) !== null || headUnderWay(socket)) {
      p.idleSince = -1;
    } else if (p.idleSince === -1 || wrote !== p.wrote || (read !== p.read && messageBegun(socket))) {
      p.idleSince = now;
    } else if (now - p.idleSince >= idleLimit(this.ms)) {
      closeAfterPoll(socket);
    }
    p.read = read;
    p.wrote = wrote;
  }
}
