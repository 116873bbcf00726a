import { constants, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { sessionEventLine, type AbandonedStreams, type LogFormat, type LogSink } from './access-log.js';
import type { ClientErrorContext } from './client-error.js';
import { resetByServer, type StreamTracker } from './http2-exchange.js';
import { takeWaiting } from './disk-turns.js';
import { SendBudget } from './send-budget.js';
import { SlotTable } from './slot-table.js';
import { SweepClock } from './sweep-clock.js';
import { peerGone, unsentBytes } from './connection-timeouts.js';
import { kernelSendQueues } from './kernel-send-queue.js';

/**
 * The HTTP/2 limits the server announces (SETTINGS) or enforces, chosen rather than inherited:
 * Node's own default allows 2^32-1 concurrent streams per connection.
 *
 * - 128 concurrent streams per connection, as nginx (`http2_max_concurrent_streams`): a page's
 *   fonts, styles and scripts fit; one client cannot make thousands of responses in flight.
 * - A 16 KiB header list, as the HTTP/1 side (Node's `maxHeaderSize`): beyond it the stream is
 *   refused (431-equivalent) and the connection lives on.
 * - Up to 512 header fields, so that the list size is what binds: HPACK counts each field as at
 *   least 32 bytes, so 16 KiB holds no more. Node's default of 128 refused a request well under the
 *   size limit whose cookies came as one field each, as RFC 9113 §8.2.3 lets a client send them.
 * - 16 MB of buffered session memory (Node's default is 10), past which new streams are refused
 *   until the client reads: 128 streams each with a 64 KiB slice queued hold 8 MiB, and streams the
 *   client reset may leave up to 4 MiB more that Node never gives back (see chargeUnsent); with 10,
 *   a page's 128 downloads on a connection that had cancelled 40 were refused ENHANCE_YOUR_CALM.
 * Abuse of the protocol itself (a rapid-reset flood, CVE-2023-44487; floods of SETTINGS, PING or
 * empty frames) is cut by Node's nghttp2 with GOAWAY; test/http2.test.js shows it.
 */
export const HTTP2_LIMITS = {
  settings: { maxConcurrentStreams: 128, maxHeaderListSize: 16 * 1024 },
  maxHeaderListPairs: (16 * 1024) / 32,
  maxSessionMemory: 16,
} as const;

/**
 * True when a header list is larger than the one announced in SETTINGS (RFC 9113 §6.5.2: names,
 * values and 32 bytes per field, as HPACK counts them, RFC 7541 §4.1).
 */
function tooLarge(rawHeaders: readonly string[]): boolean {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) size += (rawHeaders[i] as string).length + (rawHeaders[i + 1] as string).length + 32;
  return size > HTTP2_LIMITS.settings.maxHeaderListSize;
}

/** How often streams are checked for progress (the send timeout's resolution). */
const SWEEP_MS = 1000;
/** After our GOAWAY on a connection with no stream left, how long its socket may stay open (see closeLingering). */
const GOAWAY_GRACE_MS = 1000;

/**
 * What a stream had queued when last seen, and since when; `moved`: a slice was sent since;
 * `movedAt`: when a sweep last saw it move (-1: never, since it was first seen with bytes queued).
 */
interface Progress {
  queued: number;
  since: number;
  moved: boolean;
  movedAt: number;
}

export interface SessionTimeouts {
  /** An open connection with no stream for this long gets GOAWAY (ms). */
  keepAlive: number;
  /** A stream nothing could be written to for this long is reset (ms). */
  send: number;
}

/**
 * A connection's first streams abandoned by the client before their answer was complete are logged
 * as their requests, one line each (a browser cancels a few when the user navigates away); later
 * ones are only counted, on the connection's reset-early line. A rapid-reset flood (CVE-2023-44487)
 * resets hundreds before Node ends the connection: logged one line per stream, 9 flood
 * connections wrote ~4,500 lines in 5 s.
 */
const ABANDONED_LOGGED_ALONE = 10;

/**
 * How many bytes left queued by closed streams a connection may account for (see chargeUnsent): an
 * upper bound (the slice a stream was given when it closed, part of which nghttp2 may have taken), so
 * 64 streams cancelled mid-slice; with 128 open streams' 8 MiB it stays under the 16 MB session memory.
 */
const UNSENT_LIMIT = 4 * 1024 * 1024;

/** The smallest HEADERS frame that opens a stream: a 9-byte frame header and one byte of header block (RFC 9113 §4.1). */
const HEADERS_MIN = 10;

/**
 * One connection: its open streams, the timer that sends GOAWAY once it has had none for the
 * keep-alive timeout, and the streams that got no answer of ours, logged once when the connection
 * ends (summarise()).
 *
 * The idle timer is lazy: it is armed once and, when it fires, looks at when the connection last
 * became idle (`idleSince`) and either sends GOAWAY or waits for the rest. A timer set each time
 * the last stream closes and cleared when the next one opens cost ~0.9 µs of a 1-byte GET over
 * HTTP/2 (`setTimeout`, libuv's clock, the timer list), as often as once per request.
 */
class SessionState implements AbandonedStreams {
  private open = 0;
  /**
   * When the connection last had no open stream (performance.now() ms: a monotonic clock, as timers
   * are; on the wall clock, set back an hour, an idle connection stayed open an hour): read only by
   * the idle timer.
   */
  private idleSince = performance.now();
  private idle: NodeJS.Timeout | null = null;
  /** The client has ended its side of the connection (its FIN). */
  private peerEnded = false;
  /** After our GOAWAY: destroys the socket if it outlives the session (see closeLingering). */
  private linger: NodeJS.Timeout | null = null;
  /** Streams handed to the server ('stream'). */
  private answered = 0;
  /** The ID of the first of them (0 before it): see summarise(). */
  private firstAnswered = 0;
  /** Streams the client abandoned that were logged alone, and those counted instead, per log (see counts()). */
  private abandonedAlone = 0;
  private abandonedCounted: Map<LogSink, { format: LogFormat; streams: number }> | null = null;
  /** summarise() has run: a stream closing after it (none has been seen to) is logged alone. */
  private summarised = false;
  /**
   * Destroyed at the shutdown's deadline, the server's choice: its streams were not abandoned. One
   * cut as stuck (a client that stopped reading, or ignores GOAWAY) is the client's doing.
   */
  private destroyedHere = false;
  /** nghttp2's lastProcStreamID, read while the session can still tell it (see noteLast). */
  private lastProc = 0;
  /** The bytes the connection had received by then. */
  private bytesRead = 0;
  /** Read on arrival: once the socket has closed, Node no longer tells it. */
  private readonly remote: string | undefined;
  /** See chargeUnsent. */
  private unsent = 0;
  /**
   * Body bytes handed to node:http2 and not yet written (send-budget.ts). A socket whose client is gone
   * is never idle to it: its parked bodies stay parked until the sweep ends the connection.
   */
  readonly budget = new SendBudget(() => unsentBytes(this.socket) === 0 && !peerGone(this.socket));

  /** The connection's own socket: session.socket is a proxy that refuses destroy(). */
  private readonly socket: Socket;
  /**
   * The socket's bytes read and written (only written while bytes wait in libuv) and the bytes waiting,
   * when a sweep last saw them change, and when (see quiet()).
   */
  private traffic = -1;
  private unsentSeen = 0;
  private trafficSince = 0;
  /** When a silent connection was sent a PING (see probe), -1 when none is pending. */
  private probedAt = -1;
  /** The kernel's unacknowledged bytes for the socket when a sweep last read them while it was stuck; -1: not stuck. */
  private kernelSeen = -1;
  /**
   * When a sweep last saw that count change (sweep ms; -1 never): the client took bytes then, though
   * nothing more could be written. Read by quiet() and by the streams' send timeout (kernelExcuse).
   */
  kernelMovedAt = -1;

  /** False once the socket takes no more bytes: ended by this server, or destroyed (the client's FIN leaves it half-open). */
  get socketWritable(): boolean {
    return this.socket.writable;
  }

  /**
   * Since when the socket has shown no progress (sweep ms): nothing written, and nothing read either
   * while no bytes wait on it (see quiet()).
   */
  get quietSince(): number {
    return this.trafficSince;
  }

  constructor(
    private readonly session: ServerHttp2Session,
    private readonly timeouts: SessionTimeouts,
    private readonly log: ClientErrorContext,
  ) {
    this.remote = session.socket?.remoteAddress;
    // Node destroys the session from its own 'close' listener of the socket: this one runs first.
    // The proxy binds the socket's methods to the socket, so prependListener returns the socket
    // itself (EventEmitter's `return this`).
    this.socket = session.socket.prependListener('close', () => this.noteLast()) as unknown as Socket;
    // The client ended its side (FIN; the socket is half-open, secure-server.ts): no stream can come,
    // so the connection ends once those under way are answered.
    this.socket.once('end', () => {
      this.peerEnded = true;
      if (this.open === 0) this.end(false);
    });
  }

  streamOpened(id: number): void {
    if (this.answered === 0) this.firstAnswered = id;
    this.answered++;
    this.open++;
  }

  streamClosed(): void {
    if (--this.open !== 0) return;
    this.idleSince = performance.now();
    if (this.peerEnded) return this.end(false);
    // The last stream after our GOAWAY: the socket gets the short grace now (closeLingering).
    if (this.linger !== null) {
      clearTimeout(this.linger);
      this.closeLingering();
    }
  }

  /**
   * Bytes node:http2 still queued for streams that closed (reset by the client, or by the send
   * timeout): it never takes them off the connection's session memory (Node 20), so a browser
   * cancelling pages of font downloads on one connection had its later streams refused with
   * ENHANCE_YOUR_CALM, which browsers do not retry. Past UNSENT_LIMIT the connection is told to go
   * away (GOAWAY: its streams finish, new ones go to a new connection) before that can happen.
   */
  chargeUnsent(bytes: number): void {
    this.unsent += bytes;
    if (this.unsent > UNSENT_LIMIT && !this.session.closed && !this.session.destroyed) this.end(false);
  }

  /** (Re)starts the idle timer: it fires after `delay` ms (the keep-alive timeout by default). */
  arm(delay: number = this.timeouts.keepAlive): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.checkIdle(), delay);
    this.idle.unref();
  }

  /** GOAWAY once idle for the keep-alive timeout; otherwise looks again when it could be. */
  private checkIdle(): void {
    this.idle = null;
    const session = this.session;
    if (session.closed || session.destroyed) return;
    const keepAlive = this.timeouts.keepAlive;
    if (this.open > 0) return this.arm(keepAlive);
    const left = this.idleSince + keepAlive - performance.now();
    if (left > 0) return this.arm(left);
    // Not before the poll has read what is waiting: resumed from a pause (SIGSTOP, a frozen
    // container), node runs this timer before the poll that reads a stream opened meanwhile, and
    // that stream, sent in time, got GOAWAY (its client may retry it, but need not have to).
    const since = this.idleSince;
    setImmediate(() => {
      if (session.closed || session.destroyed) return;
      if (this.open === 0 && this.idleSince === since) this.end(false);
      else this.arm();
    });
  }

  /**
   * Whether a stream of this connection that did not move since the last sweep never will: its
   * client has ended its side (no WINDOW_UPDATE can come) and nothing waits on the socket, so what
   * holds the stream is its flow-control window. Held to the send timeout, 100 such connections of
   * 128 streams each kept 229 MB and 124 fds for it (review h35 F1).
   */
  stuckForGood(): boolean {
    return this.peerEnded && this.socketDrained();
  }

  /** Nothing waits on the connection's socket (in libuv's queue for the TCP handle). */
  socketDrained(): boolean {
    return unsentBytes(this.socket) === 0;
  }

  /** A body of this connection moved since the last sweep (set by Http2Sessions.sweep). */
  bodyMoved = false;
  /** When a sweep last saw a body of this connection move, or first saw the connection (sweep ms); -1 before. */
  private bodyQuietSince = -1;

  /** Called by each sweep after it has looked at every stream. */
  noteBodies(now: number): void {
    if (this.bodyMoved || this.bodyQuietSince === -1) this.bodyQuietSince = now;
    this.bodyMoved = false;
  }

  /**
   * Called when a sweep has reset stalled streams of this connection: the streams that have waited
   * for a disk turn (disk-turns.ts) longer than the send timeout are reset too, when no body of the
   * connection moved for that long. They used to be timed only once they had a turn: 128 streams a
   * client never reads, 8 turns at a time, held a connection 16 send timeouts (a hostile-client
   * hunt). A client that takes any body keeps them waiting (a slow link); one opened lately waits on.
   */
  resetWaiting(now: number): void {
    const send = this.timeouts.send;
    if (now - this.bodyQuietSince < send) return;
    for (const res of takeWaiting(this.session, performance.now() - send)) (res as unknown as { stream: ServerHttp2Stream }).stream.close(constants.NGHTTP2_CANCEL);
  }

  /**
   * Called by each sweep before it looks at the streams: while bytes have waited on the socket since
   * the last sweep with none going out, reads the kernel's count of bytes the client has not
   * acknowledged (kernel-send-queue.ts), and notes when it moves. Once the kernel's send buffer is
   * full, Linux wakes node:http2's write only when about a third of it has drained, so a client
   * reading a large file at 400 KB/s moved nothing the server can see for seconds: with
   * `--send-timeout 2000`, its stream was reset and its connection cut at ~3 s while it read. The
   * move excuses the connection, and those of its streams the socket blocks (kernelExcuse).
   */
  watchKernel(now: number): void {
    const socket = this.socket;
    const unsent = unsentBytes(socket);
    if (this.open === 0 || unsent === 0 || unsent !== this.unsentSeen || socket.bytesWritten !== this.traffic) {
      this.kernelSeen = -1;
      return;
    }
    const bytes = kernelSendQueues.bytes(socket);
    // Unknown: the last count is kept. (A reading kept from an earlier sweep gives the same count: no move.)
    if (bytes === null) return;
    if (this.kernelSeen !== -1 && bytes !== this.kernelSeen) this.kernelMovedAt = now;
    this.kernelSeen = bytes;
  }

  /**
   * Called by each sweep (`now`: performance.now() ms): a connection with a stream being answered and
   * no byte received or sent for the send timeout is stuck, and is cut. An idle one is left to the
   * keep-alive timeout (checkIdle), which may be the longer: cut here, `--keep-alive-timeout 65000`
   * behind a 60 s balancer had its idle HTTP/2 connections closed at the 60 s send timeout, the 502s
   * it is set to avoid.
   *
   * Not node:http2's `session.setTimeout`: that timer is refreshed at every HEADERS frame received
   * and every write of every stream, ~1,200 instructions of a preflight's ~120,000
   * (bench/instructions.js --h2); here the socket's byte counts are read once a second, so the cut
   * comes up to a sweep late.
   *
   * Any byte counts, a PING or WINDOW_UPDATE too (the old timer ignored those), yet a client cannot
   * hold a stuck connection with them: one that stops reading blocks node:http2's write to the
   * socket, and node:http2 reads nothing while a write is pending (so neither count moves); one that
   * reads, but leaves a stream's window shut, has that stream reset by the sweep (its bytes queued
   * do not move) and its connection left to the keep-alive timeout (test/http2.test.js).
   */
  quiet(now: number): void {
    if (this.open === 0) {
      this.traffic = -1;
      return;
    }
    const socket = this.socket;
    // While bytes wait on the socket only their going out is progress: Node 24's node:http2 reads while a
    // write is pending, so a client that stopped reading but sent PINGs counted as traffic, never cut.
    const unsent = unsentBytes(socket);
    const traffic = unsent > 0 ? socket.bytesWritten : socket.bytesRead + socket.bytesWritten;
    if (traffic !== this.traffic || unsent !== this.unsentSeen) {
      this.traffic = traffic;
      this.unsentSeen = unsent;
      this.trafficSince = now;
      this.probedAt = -1;
    } else if (now - Math.max(this.trafficSince, this.kernelMovedAt) >= this.timeouts.send) this.end(true);
    // Nothing moved since the last sweep, nothing waits in libuv: a client gone (RST) is seen now.
    else if (unsent === 0 && peerGone(socket)) this.end(true);
    // After our GOAWAY (a shutdown, a reload's drain) node:http2 takes a PING and writes nothing: a
    // probe would read a live client, its download paused through a shutdown, as dead, and cut it
    // seconds into the grace it is owed. The send timeout and the linger timer bound those.
    else if (this.session.closed) this.probedAt = -1;
    else if (this.probedAt !== -1) this.end(true); // the PING was not even written: nghttp2 has stopped
    else if (now - this.trafficSince >= this.timeouts.keepAlive && unsent === 0) this.probe(now);
  }

  /**
   * A connection silent for the keep-alive timeout with a stream open and nothing waiting on its
   * socket gets a PING; if by the next sweep not even that was written, nghttp2 will write nothing
   * more: after a connection error (DATA on a finished request) it sends GOAWAY and stops reading
   * and writing, and node:http2 says nothing, so the socket was held (the client's FIN unseen) a
   * whole send timeout: 60 s each, and ~340 such connections a second used up 20,000 fds. A live
   * client whose stream is paused (a video, its window shut) has the PING written (and answers
   * it); one that stopped reading leaves bytes unsent, so it is not probed, and keeps the send timeout.
   */
  private probe(now: number): void {
    try {
      this.session.ping(() => {});
      this.probedAt = now;
    } catch {
      // Closed or destroyed already: nothing to probe.
    }
  }

  /**
   * GOAWAY (`hard`: destroyed, and the socket with it), noting first what only the live session can
   * tell. node:http2 then ends the socket and waits for the client to end its side: a client that
   * ignores the GOAWAY and never closes held the server's fd for good, and held shutdown() past
   * its deadline (test/http2.test.js).
   */
  end(hard: boolean): void {
    this.noteLast();
    if (hard) {
      this.session.destroy();
      this.socket.destroy();
      return;
    }
    this.session.close();
    if (this.linger === null) this.closeLingering();
  }

  /** The shutdown's deadline: destroyed, its streams cut by the server, not abandoned. */
  destroyAtDeadline(): void {
    this.destroyedHere = true;
    this.end(true);
  }

  get destroyedAtDeadline(): boolean {
    return this.destroyedHere;
  }

  /**
   * After our GOAWAY, every send timeout while streams of ours are open, then once 1 s after the last:
   * once node:http2 is done with the session (its streams have finished; one stuck is reset by the
   * sweep), a socket still open is the client not closing its side, and is destroyed. So is a session node:http2 keeps open with no stream of ours left: its
   * graceful close waits until nghttp2 wants neither to read nor to write, which a client can put
   * off for ever by leaving a header block unfinished (HEADERS without END_HEADERS: nghttp2 counts
   * that stream as active, and no 'stream' event ever comes). That held the connection with no limit
   * (still open 20 s in, with a 2 s keep-alive timeout and a 4 s send timeout): no sweep looks at a
   * connection without a stream, and this timer waited for a destroy that never came.
   */
  private closeLingering(): void {
    // With no stream of ours left, nothing is owed the client but the GOAWAY's delivery: 1 s, as Go's
    // server waits (goAwayTimeout). Waiting a send timeout held, 60 s each, the sockets of clients
    // already gone: after a connection error (DATA on a finished request) nghttp2 reads no more, so
    // their FIN went unseen, and ~340 such connections a second kept 20,000 fds (h2 flood attack).
    const delay = this.open === 0 ? Math.min(GOAWAY_GRACE_MS, this.timeouts.send) : this.timeouts.send;
    this.linger = setTimeout(() => {
      if (this.socket.destroyed) return;
      if (this.session.destroyed || this.open === 0) this.end(true);
      else this.closeLingering();
    }, delay);
    this.linger.unref();
  }

  /**
   * Reads nghttp2's lastProcStreamID, which the session reports only until it is destroyed: called
   * at each point after which the client opens no new stream (its GOAWAY, the socket closing, ours).
   */
  noteLast(): void {
    if (this.session.destroyed) return;
    this.lastProc = Math.max(this.lastProc, this.session.state.lastProcStreamID ?? 0);
    this.bytesRead = Math.max(this.bytesRead, this.session.socket?.bytesRead ?? 0);
  }

  /**
   * Logs, once the session has closed, the streams node:http2 refused without telling anyone (it
   * resets them in C++ before 'stream'): the client's streams have odd IDs, so those up to
   * nghttp2's lastProcStreamID that were not handed to the server were refused. That ID counts a
   * stream refused for its header list, but not one refused for the concurrency limit: streams
   * over the limit are counted only once a later stream is processed. Then the streams its client
   * abandoned past the first ABANDONED_LOGGED_ALONE (counts()). One line per kind and log, so a
   * flood writes at most two.
   */
  summarise(): void {
    this.summarised = true;
    // Each to the log in force when its streams arrived (one, unless a reload changed it meanwhile).
    this.abandonedCounted?.forEach(({ format, streams }, sink) => sink(sessionEventLine(this.remote, 'reset-early', streams, format)));
    // Refused streams never reached the server: the log in force now.
    const log = this.log.log();
    if (log === undefined) return;
    // A client may skip stream IDs (RFC 9113 §5.1.1: HEADERS on 1 then on 2^31 - 15): the count of
    // IDs is then no count of streams. Each refused stream came in a HEADERS frame of at least
    // HEADERS_MIN bytes, so what the connection received bounds it. IDs below the first stream
    // answered are counted only when none was: RFC 7540's priority tree (nghttp's default, Firefox's
    // streams 3 to 11) names streams in PRIORITY frames that are never opened, and reads as
    // "refused 6 streams" on every such connection otherwise.
    const first = this.answered === 0 ? 1 : this.firstAnswered;
    const ids = this.lastProc < first ? 0 : (this.lastProc - first) / 2 + 1 - this.answered;
    const refused = Math.min(ids, Math.floor(this.bytesRead / HEADERS_MIN));
    if (refused > 0) log(sessionEventLine(this.remote, 'refused', refused, this.log.logFormat()));
  }

  /**
   * AbandonedStreams: the connection's first ABANDONED_LOGGED_ALONE abandoned streams get lines of
   * their own; later ones are counted here, for the log `sink` their request arrived under.
   */
  counts(sink: LogSink, format: LogFormat): boolean {
    if (this.summarised || this.abandonedAlone < ABANDONED_LOGGED_ALONE) {
      this.abandonedAlone++;
      return false;
    }
    const counted = (this.abandonedCounted ??= new Map());
    const entry = counted.get(sink);
    if (entry === undefined) counted.set(sink, { format, streams: 1 });
    else entry.streams++;
    return true;
  }

  disarm(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    if (this.linger !== null) clearTimeout(this.linger);
    this.idle = this.linger = null;
  }
}

/**
 * When the client last took bytes from the kernel (SessionState.watchKernel) for a stream the socket
 * blocks, or -1: a move on the connection's socket excuses a stream's stall only when the stream itself
 * moved as late as the socket did (within a sweep), so that it stalled with the socket, and not
 * earlier, for its own window. node:http2 frames nothing while a write to the socket is pending, so
 * every stream waits then; but a stream whose window the client keeps shut would wait anyway: excused
 * with the rest, 127 such streams beside one read at 1.4 KB/s held their buffers and 8 fds for as long as
 * the client kept reading (review r31), where the send timeout used to reset them. A stream never seen to
 * move is not excused at all (window 0 from the start).
 */
function kernelExcuse(p: Progress, state: SessionState | null): number {
  if (state === null || p.movedAt === -1 || p.movedAt + SWEEP_MS < state.quietSince) return -1;
  return state.kernelMovedAt;
}

/**
 * A session whose handshake ended once a shutdown had begun: the streams its client opened with the
 * handshake's end (a browser's first flight, read with its SETTINGS) are answered, then GOAWAY, as
 * for the sessions open at the shutdown; closed at once, the GOAWAY named no stream, and those
 * requests failed. A client whose SETTINGS have not come two turns of the event loop in is sent
 * GOAWAY then, as an idle one, rather than hold the shutdown for the keep-alive timeout.
 */
function endOnceFirstFlightIsRead(session: ServerHttp2Session, state: SessionState): void {
  let settings = false;
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    state.end(false);
  };
  session.once('remoteSettings', () => {
    settings = true;
    setImmediate(end);
  });
  setImmediate(() => setImmediate(() => settings || end()));
}

/**
 * The HTTP/2 connections of a server: the same timeouts as HTTP/1 (a connection idle for the
 * keep-alive timeout is closed; a stream that makes no progress for the send timeout is reset,
 * which releases what its response held; see sweep()), GOAWAY to every connection when the server
 * drains (streams in flight finish; clients open new ones elsewhere), and a hard stop at the deadline.
 *
 * Streams are reported by whoever answers them (`opened`, and `closed` from the one 'close'
 * listener the response puts on its stream), not by listeners of this module's own: a 1-byte GET
 * costs ~25 µs, of which a listener and its `once` wrapper per stream were a measurable part.
 */
export class Http2Sessions implements StreamTracker {
  private readonly sessions = new Map<ServerHttp2Session, SessionState>();
  /**
   * The open streams and their connection, null when unknown (a closed stream no longer names its
   * session). Not a Map: see slot-table.ts.
   */
  private readonly streams = new SlotTable<ServerHttp2Stream, SessionState | null>();
  /** Streams a sweep found with bytes queued, and since when those bytes have not moved. */
  private readonly progress = new Map<ServerHttp2Stream, Progress>();
  /** When a sweep first saw a stream closed but not destroyed (sweep ms). */
  private readonly closedSeen = new WeakMap<ServerHttp2Stream, number>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly clock = new SweepClock(SWEEP_MS);
  private draining = false;

  constructor(
    server: Http2SecureServer,
    readonly timeouts: SessionTimeouts,
    private readonly log: ClientErrorContext,
  ) {
    server.on('session', (session: ServerHttp2Session) => this.add(session));
  }

  get count(): number {
    return this.sessions.size;
  }

  private add(session: ServerHttp2Session): void {
    // A connection with a stream and no traffic at all for the send timeout is cut by the sweep
    // (SessionState.quiet), not by node:http2's `timeout` (0 here; the HTTP/1.x side has its own,
    // ConnectionTimeouts).
    const state = new SessionState(session, this.timeouts, this.log);
    this.sessions.set(session, state);
    // Node closes the session on a GOAWAY it receives: this runs first.
    session.on('goaway', () => state.noteLast());
    session.once('close', () => {
      state.summarise();
      state.disarm();
      this.sessions.delete(session);
    });
    state.arm();
    if (this.draining) endOnceFirstFlightIsRead(session, state);
  }

  /** A stream is being answered; returns the slot closed() is to be given. */
  opened(stream: ServerHttp2Stream): number {
    const state = this.sessions.get(stream.session as ServerHttp2Session) ?? null;
    state?.streamOpened(stream.id as number);
    const slot = this.streams.add(stream, state);
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
    return slot;
  }

  sendBudget(slot: number): SendBudget | null {
    return this.streams.get(slot)?.budget ?? null;
  }

  reachesSocket(slot: number): boolean {
    const state = this.streams.get(slot);
    return state == null || state.socketWritable;
  }

  /** A slice of the stream's body was sent (http2-exchange.ts SLICE). */
  progressed(stream: ServerHttp2Stream): void {
    const p = this.progress.get(stream);
    if (p !== undefined) p.moved = true;
    // Not yet seen by a sweep: noted as moving, so that the first sweep counts it as moving then. A
    // stream whose socket stalls before the first sweep stalled with it (kernelExcuse), though no
    // sweep saw it move: 4 MB can go out to a slow reader's kernel buffers within that second. Not
    // once closed: a cancelled stream's last callback comes after closed(), and its entry would stay
    // for good, the stream with it (review r31b: 2,000 cancels, 2,000 entries, +8.8 MB of heap).
    else if (!stream.closed && !stream.destroyed) this.progress.set(stream, { queued: 0, since: -1, moved: true, movedAt: -1 });
  }

  /**
   * A stream reported by opened() has closed. Returns its connection when the client abandoned it:
   * its answer not complete, and neither the stream reset nor the session destroyed by this server
   * of its own accord (a body cut short, the shutdown's deadline). Whatever the code (a client may
   * reset with NO_ERROR, the code a destroyed session gives its streams), with no reset at all (the
   * connection closed), or reset by the send timeout (the client stopped reading).
   */
  closed(stream: ServerHttp2Stream, slot: number, complete: boolean, unsent: number): AbandonedStreams | null {
    const state = this.streams.remove(slot, stream);
    if (state === undefined) return null;
    if (this.progress.size !== 0) this.progress.delete(stream);
    if (state === null) return null;
    state.streamClosed();
    if (unsent > 0) state.chargeUnsent(unsent);
    return complete || resetByServer(stream) || state.destroyedAtDeadline ? null : state;
  }

  /**
   * The send timeout per stream. Node's own stream timeout cannot serve: it counts any bytes the
   * connection sends as progress of every stream with a write pending, so a client answering PINGs
   * (or reading one stream) holds its other streams, and their buffers and fds, forever. Here a
   * stream none of whose slices was sent, and whose queued bytes have not changed, for the send
   * timeout is reset. The queued count alone cannot tell: slices of one size sent one after
   * another leave it the same at every sweep.
   *
   * Streams waiting for a disk turn (disk-turns.ts) have nothing queued: see SessionState.resetWaiting.
   */
  private sweep(): void {
    const now = this.clock.tick(); // monotonic, and without the server's own pauses (sweep-clock.ts)
    const stalled = new Set<SessionState>();
    for (const state of this.sessions.values()) state.watchKernel(now);
    this.streams.forEach((stream, state) => {
      if (stream.closed && !stream.destroyed) {
        // Reset by the client with NO_ERROR while a write was queued: node:http2 closes the stream
        // but waits for that write, which never completes, so the stream (its fd, buffer and disk
        // turn) would be held until the send timeout, after its connection too. Let it go now. Not
        // while bytes wait on the socket: a stream closed whole (its END_STREAM framed) has its last
        // writes reported once they are out, and destroyed before, 16 of 100 streams a slow reader
        // got whole were logged with 0 bytes, not completed (review h36 F4). Held no longer than the
        // send timeout, though: another stream may keep the socket busy for ever (review h37).
        let since = this.closedSeen.get(stream);
        if (since === undefined) this.closedSeen.set(stream, (since = now));
        if (state === null || state.socketDrained() || now - since >= this.timeouts.send) stream.destroy();
        return;
      }
      // A response whose bytes are all framed, still waiting for window to send its END_STREAM
      // (http2-exchange.ts), stalls as a write does: counted as queued (-1), never as moving. Not
      // once END_STREAM is out (localClose): what is left open then is the client's side.
      const queued = stream.bufferSize === 0 && stream.writableFinished && stream.state.localClose === 0 ? -1 : stream.bufferSize;
      const p = this.progress.get(stream);
      if (p === undefined) {
        if (queued !== 0) this.progress.set(stream, { queued, since: now, moved: false, movedAt: -1 });
      } else if (queued === 0 || queued !== p.queued || p.moved) {
        p.queued = queued;
        p.since = now;
        p.moved = false;
        p.movedAt = now;
        if (state !== null) state.bodyMoved = true;
      } else if (now - Math.max(p.since, kernelExcuse(p, state)) >= this.timeouts.send || state?.stuckForGood() === true) {
        if (state !== null) stalled.add(state);
        // Not marked as our own reset: a client that stopped reading abandoned the stream.
        stream.close(constants.NGHTTP2_CANCEL);
      }
    });
    for (const state of this.sessions.values()) {
      state.noteBodies(now);
      state.quiet(now);
      state.budget.lookAgain();
    }
    for (const state of stalled) state.resetWaiting(now);
    if (this.streams.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      this.clock.stopped();
    }
  }

  /**
   * New timeouts (a reload): the sweep reads them from `timeouts`, for every connection, open or new;
   * connections already idle get the new keep-alive timeout now, as HTTP/1.x ones get theirs from the
   * next sweep.
   */
  retime(next: SessionTimeouts): void {
    const keepAliveChanged = next.keepAlive !== this.timeouts.keepAlive;
    Object.assign(this.timeouts, next);
    // The idle timers look again now, against the new timeout (a shorter one may have passed).
    if (keepAliveChanged) for (const state of this.sessions.values()) state.arm(0);
  }

  /**
   * For a stream that came before its client acknowledged our SETTINGS: false, and the stream
   * refused and its connection told to go away, when its header list (now, or its trailers later)
   * is over the size announced. nghttp2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only from the
   * acknowledgement on (before it, Node refuses only past 512 fields), and HPACK lets a few bytes
   * reference a 4 KB field again and again: a client that never acknowledged had each request
   * decoded to megabytes of strings (8 such connections: 6.9 s of CPU in 6 s, other clients' GETs
   * 1-2 s late). RFC 9113 §10.5.1 lets a server treat a larger list as an error: the first one costs
   * the connection (GOAWAY ENHANCE_YOUR_CALM; its other streams finish), and the next costs the
   * client a new TLS handshake. The stream counts as refused in the access log's summary.
   */
  withinAnnouncedLimits(stream: ServerHttp2Stream, rawHeaders: readonly string[]): boolean {
    if (tooLarge(rawHeaders)) {
      this.refuseOversized(stream);
      return false;
    }
    // Trailers are a header block too, decoded as the headers were.
    stream.once('trailers', (_headers: unknown, _flags: unknown, raw: readonly string[] | undefined) => {
      if (raw !== undefined && tooLarge(raw)) this.refuseOversized(stream);
    });
    return true;
  }

  private refuseOversized(stream: ServerHttp2Stream): void {
    const session = stream.session;
    // Closed with an error code, a stream emits 'error': without a listener it would end the process.
    stream.on('error', () => {});
    stream.close(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    if (session === undefined || session.closed) return;
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // Then as any GOAWAY of ours: the streams in flight finish, a client that ignores it is cut.
    this.sessions.get(session as ServerHttp2Session)?.end(false);
  }

  /** GOAWAY to every connection: their streams in flight finish, no new one is accepted. */
  drain(): void {
    this.draining = true;
    for (const state of this.sessions.values()) state.end(false);
  }

  /** The deadline: every connection is closed, whatever it was doing. */
  destroyAll(): void {
    for (const state of this.sessions.values()) state.destroyAtDeadline();
  }
}
