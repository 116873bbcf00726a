import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import { EventEmitter } from 'node:events';
import { currentHttpDate } from '../http/http-date.js';
import { UNCOUNTED_WRITE, type ParkedWrite, type SendBudget } from './send-budget.js';
import type { AbandonedStreams } from './access-log.js';

/**
 * One HTTP/2 stream seen as the request and response the static handler reads and writes, without
 * node:http2's compatibility layer. That layer builds a Readable and a Stream per request and copies
 * every header block through setHeader; measured with h2load it put a bare server at 0.63–0.69 of
 * `stream.respond`, and xorigin at 0.51–0.60. These two small objects carry only what the handler,
 * the CORS engine, the disk path and the access log use (see the StaticHandler and Cors code).
 */
export class Http2Request {
  readonly method: string;
  readonly url: string;
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;

  /**
   * `rawHeaders`: the header block as received, `[name, value, ...]` (node:http2's 'stream' event
   * gives it), where a field sent twice is seen twice (`headers` keeps one value of some fields).
   * Both are let go once the request has been answered (release()).
   */
  constructor(
    readonly stream: ServerHttp2Stream,
    public headers: IncomingHttpHeaders,
    public rawHeaders?: readonly string[],
  ) {
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
  }

  /**
   * Lets go of the header block once the answer is complete and the handler has returned: what is
   * read after that (the access log) is the method, the target, the Origin and what noteArrival
   * kept. The response lives until its stream closes (its 'close' listener), and node:http2's header
   * object is a dictionary: held by every answered stream not yet closed, it was a large part of what
   * young GCs copy. Preflights over HTTP/2 (h2load -c16 -m8, `--trace-gc-nvp`): 2.12 MB surviving
   * each scavenge before, 1.64 after, the ceiling 1.36 (medians, bench/gc.js); in the runs' quiet
   * phases, where nothing is promoted, 0.36 MB before and 0.28 after (1-byte GETs: 0.76 and 0.60).
   * The access log reads the Origin from what noteArrival kept: a request that arrived with no log
   * in force is not logged (access-log.ts logResponse).
   */
  release(): void {
    this.headers = RELEASED;
    this.rawHeaders = undefined;
  }

  /** The peer, read only when asked (the access log): the session's socket is a Proxy in node:http2. */
  get socket(): { readonly remoteAddress: string | undefined } {
    return { remoteAddress: this.stream.session?.socket?.remoteAddress };
  }
}

/** The headers of a request answered already (see Http2Request.release). */
const RELEASED: IncomingHttpHeaders = Object.freeze(Object.create(null) as IncomingHttpHeaders);

/** Told of a stream answered through an Http2Response (the connection's bookkeeping). */
export interface StreamTracker {
  /** A stream is to be answered; returns a number to give back to closed() (its slot). */
  opened(stream: ServerHttp2Stream): number;
  /**
   * The stream has closed (`slot`: what opened() returned for it); `complete`: the answer had
   * ended (its last byte handed to the stream); `unsent`: body bytes handed to node:http2 that it had
   * not reported written, at most what it still queued. Returns its connection when the client
   * abandoned it (the access log may count it there: AbandonedStreams), else null.
   */
  closed(stream: ServerHttp2Stream, slot: number, complete: boolean, unsent: number): AbandonedStreams | null;
  /** A write of the stream's body (a slice, see SLICE) has been sent: the reader took it. */
  progressed(stream: ServerHttp2Stream): void;
  /** The send budget of the stream's connection (send-budget.ts), null when its connection is unknown. */
  sendBudget(slot: number): SendBudget | null;
  /**
   * False once the stream's connection takes no more bytes (its socket ended by this server, or
   * destroyed), for good. node:http2 goes on taking and framing a stream's writes until it destroys
   * the session, and reports them written, without error: bytes the client never got.
   */
  reachesSocket(slot: number): boolean;
}

/** A listener of the response's 'close', called with the response as `this`, as node:http calls it. */
type CloseListener = (this: ServerResponse) => void;

/**
 * A prebuilt `[name, value, ...]` block as node:http2 takes it: an object with the names in lower
 * case (as node:http2 would lower them on every response), and the names whose values are the
 * request's origin. Built on the block's first HTTP/2 response and kept with it (see writeBlock).
 */
export interface Http2Block {
  readonly headers: OutgoingHttpHeaders;
  readonly originNames: readonly string[];
  /** The names of the block's per-response values (Block.values), lower case. */
  readonly valueNames: readonly string[];
}

/** `slots`: indexes in `h` of the values that are the request's origin; `values`: of those set per response. */
export function toHttp2Block(h: readonly string[], slots: readonly number[], values: readonly number[] = []): Http2Block {
  const headers: OutgoingHttpHeaders = { ':status': 200, date: '' };
  for (let i = 0; i < h.length; i += 2) headers[(h[i] as string).toLowerCase()] = h[i + 1] as string;
  const nameOf = (s: number): string => (h[s - 1] as string).toLowerCase();
  return { headers, originNames: slots.map(nameOf), valueNames: values.map(nameOf) };
}

/** What events node:http2 emits on a stream take: the event and at most three arguments. */
type StreamEmit = (event: string | symbol, a?: unknown, b?: unknown, c?: unknown) => boolean;
const emit = EventEmitter.prototype.emit;

/** What a body's writes end with once the connection takes no more bytes (Http2Response.written). */
const CONNECTION_ENDED = new Error('the connection takes no more bytes: its socket ended or was destroyed');

/**
 * The header object of each block given to writeHead, and the block's names in lower case (as
 * node:http2 would lower them on every response). Weak: a reload's new policy brings new blocks,
 * and the old ones go with their objects. Building the object per response, a dozen properties
 * added one by one, cost 5-7% of a preflight's server CPU over HTTP/2 (median of 10 paired runs,
 * h2load -c16 -m8, server pinned to one core).
 */
const headerObjects = new WeakMap<readonly string[], KeptHeaders>();

/**
 * A block's header object and what it holds now: `values[i]` is `names[i]`'s value, `status` and
 * `date` the last set. writeHead stores into the object only what differs from these, compared in
 * plain fields: a store into it by a name that varies is a megamorphic keyed store in V8 (~200
 * instructions each), and most values are the block's constants, the same string every time.
 */
interface KeptHeaders {
  headers: OutgoingHttpHeaders;
  names: readonly string[];
  values: (string | undefined)[];
  status: number;
  date: string;
}

function keepHeaderObject(block: readonly string[]): KeptHeaders {
  const names: string[] = [];
  const values: (string | undefined)[] = [];
  for (let i = 0; i < block.length; i += 2) {
    names.push((block[i] as string).toLowerCase());
    values.push(block[i + 1]);
  }
  const kept = { headers: toHttp2Block(block, []).headers, names, values, status: 0, date: '' };
  headerObjects.set(block, kept);
  return kept;
}

/**
 * Chunks passed to write() (a body read from disk) and bodies over SLICE passed to end() (one held
 * in memory) go to node:http2 SLICE bytes at a time. A stream's `bufferSize` (what the send timeout
 * watches, http2-sessions.ts) moves only when a whole write has been sent, and flow control paces
 * a stream to its reader: a 4 MB body in one write showed no progress until its last byte, so a
 * reader taking longer than the send timeout to read it (70 KB/s at the default 60 s) was reset
 * however steadily it read. Each slice sent is reported to the tracker (`progressed`): a reader
 * is cut only when slower than 64 KiB per send timeout (1.1 KB/s at 60 s). 16 KiB slices (one DATA
 * frame each) cost 20 ms of CPU per 12 MB download instead of 13–14; 64 KiB slices cost 14–16.
 */
const SLICE = 64 * 1024;

/**
 * RFC 9113 §7 INTERNAL_ERROR, as node:http2's `constants.NGHTTP2_INTERNAL_ERROR`: written out so that
 * this module (which representation.ts needs) loads node:http2 only where TLS is used.
 */
const NGHTTP2_INTERNAL_ERROR = 2;

/**
 * Streams this server reset of its own accord (a body cut short, a destroyed response; not the
 * send-timeout sweep, which cuts what a client stopped reading): told apart from a client's resets
 * by identity, not by code, since a client may reset with any code (a rapid-reset flood with
 * INTERNAL_ERROR escaped the "reset-early" log line when ours were told by it).
 */
const resetHere = new WeakSet<object>();

/** Marks `stream` as reset by this server, just before it resets it (see resetByServer). */
export function markResetByServer(stream: object): void {
  resetHere.add(stream);
}

/** What resetWithInternalError uses of a ServerHttp2Stream. */
export interface Resettable {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  write(chunk: Buffer): boolean;
  close(code: number): void;
}

const EMPTY = Buffer.alloc(0);
/** respond() options ending the stream with its HEADERS frame (node:http2 copies them). */
const END_IN_HEADERS = Object.freeze({ endStream: true });
/** respond() options asking for 'wantTrailers' once the last DATA frame is framed (see Http2Response.respond). */
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
/** The empty trailer section: node:http2 sends it as an empty DATA frame carrying END_STREAM. */
const NO_TRAILERS = Object.freeze({});

/**
 * Resets `stream` with INTERNAL_ERROR, remembered as the server's own reset (see resetByServer).
 * node:http2's close() ends the writable side first, and with no write pending that end goes out
 * as DATA with END_STREAM before the RST_STREAM (then sent as NO_ERROR): a client that does not
 * compare Content-Length took a body cut short for a complete one. An empty write still pending
 * holds the end back until after the reset. Not before the headers: a write would send a 200.
 */
export function resetWithInternalError(stream: Resettable): void {
  markResetByServer(stream);
  if (stream.headersSent && !stream.writableEnded) stream.write(EMPTY);
  stream.close(NGHTTP2_INTERNAL_ERROR);
}

/** True when this server reset `stream` (markResetByServer). */
export function resetByServer(stream: object): boolean {
  return resetHere.has(stream);
}

/**
 * The response side: headers go out in one `respond`, bodies through the stream's own write/end.
 * Not an EventEmitter: the only event anything here listens to is 'close' (resources held by the
 * response, the count of responses in flight), so that one is kept in two fields. An emitter per
 * stream, a `once` wrapper per listener and a second listener on the stream cost ~1.5 µs of a
 * 1-byte GET's ~25 µs.
 */
export class Http2Response implements ParkedWrite {
  statusCode = 200;
  headersSent = false;
  /** Only read by HTTP/1.1 code; an HTTP/2 connection is told to go away by GOAWAY instead. */
  shouldKeepAlive = true;
  /** True once the stream has closed (node:http's `ServerResponse.closed`). */
  closed = false;
  private sent: OutgoingHttpHeaders | null = null;
  /** A sliced body's last slices are still being written; the stream ends after them. */
  private ending = false;
  /** The answer has ended: its stream was ended here, or by node:http2 (HEAD, 204, 304). */
  private complete = false;
  private onClose: CloseListener | null = null;
  private onCloseMore: CloseListener[] | null = null;
  /** The tracker's number for this stream. */
  private readonly slot: number;
  /** Body bytes of the writes node:http2 reported sent before the stream closed (see written); read by the access log. */
  bodyBytesSent = 0;
  /** Body bytes of the slices handed to node:http2 (see streamClosed). */
  private bodyBytesHanded = 0;
  /**
   * node:http2 has framed the body's last byte ('wantTrailers', see respond): nothing of it is left
   * in the stream's queue, whatever the write callbacks have yet to report.
   */
  private framedWhole = false;
  /**
   * The whole answer reached the connection (access-log.ts), decided when the stream closes: ended
   * here, and its body framed whole, or every write reported done. Not
   * node:http2's writableFinished alone: closing a stream, node:http2 ends it, and the writes it had
   * taken report done, so a body cut after four slices of 64 showed finished (review h33 F2).
   */
  endedWhole = false;
  /** respond() asked for that word: the last write, end(chunk), is counted as handed too. */
  private telling = false;
  /** Set at close when the client abandoned the stream: its connection (StreamTracker.closed). */
  abandonedOn: AbandonedStreams | null = null;
  /** Its connection's send budget (send-budget.ts), and the body bytes counted against it and not yet given back. */
  private readonly budget: SendBudget | null;
  private counted = 0;
  /** The write waiting for room under the budget (one at a time: each waits for the last's callback). */
  private parkedWrite: (() => void) | null = null;

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly req: Http2Request,
    private readonly tracker: StreamTracker,
  ) {
    this.slot = tracker.opened(stream);
    this.budget = tracker.sendBudget(this.slot);
    // A reset or a protocol error ends the stream with 'error' then 'close'; 'close' is what every
    // holder of resources listens to. Without a listener, 'error' would end the process. Both are
    // taken from the stream's own emit rather than by two listeners: each listener went through
    // Readable.on and node:http2's 'newListener' into a dictionary of events, ~1,000 instructions of
    // a 1-byte GET's ~130,000.
    (stream as { emit: StreamEmit }).emit = (event, a, b, c) => this.streamEvent(event, a, b, c);
    // A request body is never read: once the answer is complete, node:http2 ends the stream with
    // RST_STREAM(NO_ERROR) (RFC 9113 §8.1), as test/http2.test.js shows. Reading it (resume) was
    // also costly: a stream whose request had ended then closed before its last write's callback,
    // for which node:http2 builds an error object (9% of the CPU of a 1-byte GET).
    // A request that came whole in its HEADERS (a GET) has no body to stop: paused, node:http2
    // leaves its stream to close on the answer's END_STREAM. Its RST_STREAM(NO_ERROR) was sent once
    // the last bytes were framed, before that END_STREAM when the client's window was used up
    // exactly (an empty DATA frame waits for window): the answer ended in a reset, not an end.
    // A stream left waiting for window to end is reset by the send timeout (Http2Sessions.sweep).
    // A request that goes on after its HEADERS keeps node's reset: read to its end instead, a GET
    // whose client left its side open held its stream, and the connection's disk turn, until then.
    if (stream.endAfterHeaders) stream.pause();
  }

  /**
   * The handler has returned: a request answered in full by then (a preflight, a body held in memory)
   * lets go of its header block (Http2Request.release). One still being answered (from disk) keeps
   * it: a retry after a rescan reads it again.
   */
  handled(): void {
    if (this.complete) this.req.release();
  }

  /** Only 'close' is emitted (once, when the stream has closed); asking for another event is a bug here. */
  on(event: 'close', listener: CloseListener): this {
    if (event !== 'close') throw new TypeError(`Http2Response emits only 'close', not '${String(event)}'`);
    if (this.closed) return this;
    if (this.onClose === null) this.onClose = listener;
    else (this.onCloseMore ??= []).push(listener);
    return this;
  }

  /** The same as on(): 'close' is emitted once. */
  once(event: 'close', listener: CloseListener): this {
    return this.on(event, listener);
  }

  off(event: 'close', listener: CloseListener): this {
    if (event !== 'close') return this;
    if (this.onClose === listener) this.onClose = null;
    else if (this.onCloseMore !== null) {
      const i = this.onCloseMore.indexOf(listener);
      if (i !== -1) this.onCloseMore.splice(i, 1);
    }
    return this;
  }

  /** Every event of the stream: 'close' is ours first, an 'error' nobody else listens to ends here. */
  private streamEvent(event: string | symbol, a: unknown, b: unknown, c: unknown): boolean {
    const stream = this.stream;
    if (event === 'close') this.streamClosed();
    else if (event === 'error' && stream.listenerCount('error') === 0) return false;
    return emit.call(stream, event, a, b, c);
  }

  private streamClosed(): void {
    this.closed = true;
    this.parkedWrite = null;
    // A body counted write by write (over one slice): its last write reported, or its body framed
    // whole (its END_STREAM may have waited for window until the send timeout cut it), all of it
    // handed while the socket took bytes. One sent in a single write, or none (HEAD, 204, 304): that
    // write done.
    if (this.bodyBytesHanded > 0) this.endedWhole = this.complete && this.bodyBytesSent === this.bodyBytesHanded;
    else this.endedWhole = this.complete && this.stream.writableFinished;
    // What is left counted was written, or never will be: a closed stream holds nothing in node:http2.
    if (this.counted > 0) {
      const bytes = this.counted;
      this.counted = 0;
      (this.budget as SendBudget).written(bytes);
    }
    // Nothing when framed whole or all written: 'wantTrailers' and the line above made sent what was handed.
    const unsent = this.bodyBytesHanded - this.bodyBytesSent;
    this.abandonedOn = this.tracker.closed(this.stream, this.slot, this.complete, unsent);
    const self = this as unknown as ServerResponse;
    const first = this.onClose;
    const more = this.onCloseMore;
    this.onClose = this.onCloseMore = null;
    if (first !== null) first.call(self);
    if (more !== null) for (const listener of more) listener.call(self);
  }

  /**
   * Non-null while the stream is open, undefined after (as node:http2's own response reports it):
   * callers only ask whether the response may still write. The stream stands in for the socket.
   */
  get socket(): object | undefined {
    const s = this.stream;
    return s.closed || s.destroyed ? undefined : s;
  }

  /**
   * True once the stream is closed or destroyed (node:http's `ServerResponse.destroyed`): steps
   * that run after an await (a retry after a rescan) read it to leave a reset stream unanswered.
   */
  get destroyed(): boolean {
    const s = this.stream;
    return s.closed || s.destroyed;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  /**
   * A flat `[name, value, ...]` block (as node:http takes it), sent as one HEADERS frame. The
   * callers (the CORS engine's preflight answers) pass blocks they keep and refill in place, so
   * the object node:http2 takes is built once per block (see headerObjects) and refilled here.
   */
  writeHead(status: number, block?: readonly string[]): this {
    if (!this.mayRespond()) return this;
    if (block === undefined) {
      this.respond(status, { ':status': status, date: currentHttpDate() });
      return this;
    }
    const kept = headerObjects.get(block) ?? keepHeaderObject(block);
    const headers = kept.headers;
    if (kept.status !== status) headers[':status'] = kept.status = status;
    const date = currentHttpDate();
    if (kept.date !== date) headers.date = kept.date = date;
    const names = kept.names;
    const values = kept.values;
    for (let i = 0; i < names.length; i++) {
      const value = block[2 * i + 1];
      if (values[i] !== value) headers[names[i] as string] = values[i] = value;
    }
    this.respond(status, headers);
    return this;
  }

  /**
   * A prebuilt block, sent from the object kept with it (built on first use): `:status` and the
   * origin are set in place. node:http2 copies the object in respond() and keeps no reference, so
   * one object serves every response of the block, as one array does over HTTP/1.1. A header object
   * made per response cost 2 µs of a 1-byte GET: made by adding a dozen properties one by one, it is
   * a dictionary, and respond() copies it property by property.
   */
  writeBlock(status: number, block: { h: readonly string[]; slots: readonly number[]; values: readonly number[]; h2: Http2Block | null }, origin: string | undefined): void {
    if (!this.mayRespond()) return;
    const h2 = block.h2 ?? (block.h2 = toHttp2Block(block.h, block.slots, block.values));
    let headers = h2.headers;
    const values = block.values;
    if (values.length > 0) {
      // A 206's range: a copy, as the access log reads this response's Content-Length at its close,
      // after other responses of the block may have refilled the shared object.
      headers = { ...headers };
      const names = h2.valueNames;
      for (let i = 0; i < values.length; i++) headers[names[i] as string] = block.h[values[i] as number];
    }
    headers[':status'] = status;
    headers.date = currentHttpDate();
    const names = h2.originNames;
    for (let i = 0; i < names.length; i++) headers[names[i] as string] = origin;
    this.respond(status, headers);
  }

  private mayRespond(): boolean {
    const s = this.stream;
    return !this.headersSent && !s.closed && !s.destroyed;
  }

  /**
   * Date is always set here: node:http2 adds it to its copy of the headers when it is missing,
   * and that addition cost 1.6 µs of a 1-byte GET's ~30 (measured with --cpu-prof); a value
   * already there is copied with the rest.
   */
  private respond(status: number, headers: OutgoingHttpHeaders): void {
    this.statusCode = status;
    this.headersSent = true;
    // Kept for getHeader (the access log's Content-Length); a block's object is shared, but only its
    // :status and origin values change between responses.
    this.sent = headers;
    // An empty body ends in the HEADERS frame: an empty DATA frame carrying END_STREAM waits, like
    // any DATA frame in nghttp2, for window, so a client whose window is 0 saw no end to a 0-byte file.
    const length = headers['content-length'];
    if (length === '0') this.stream.respond(headers, END_IN_HEADERS);
    else if (typeof length === 'string' && length.length >= 5 && Number(length) > SLICE && this.bodyFollows(status)) this.respondTelling(headers);
    else this.stream.respond(headers);
  }

  /** A body goes out after the HEADERS frame: not for HEAD, 204 or 304, which node:http2 ends in them. */
  private bodyFollows(status: number): boolean {
    return status !== 204 && status !== 304 && this.stream.endAfterHeaders && this.req.method !== 'HEAD';
  }

  /**
   * Responds so that node:http2 says when it has framed the body's last byte. A stream closed with a
   * write pending is charged to its connection as never sent (chargeUnsent): a client's
   * RST_STREAM(NO_ERROR) leaves one so, and the sweep lets such a stream go (Http2Sessions.sweep).
   * But a complete answer whose last DATA frame is framed and still on its way to the socket (under
   * load) looks the same: closed, code 0, its last callback to come. The sweep caught ~2% of the
   * streams of `h2load -c1 -m128` of a 300 kB file so: logged as cut (262144 bytes of 300000), and
   * charged, so that the connection was told to go away after a few thousand. 'wantTrailers' comes
   * once nothing of the body is left queued; the stream then ends with an empty DATA frame carrying
   * END_STREAM (node:http2's empty trailer section).
   * Only for bodies over one slice: a body held in memory that fits ends in one write, never
   * counted, and one from disk waits for each write's callback before the next (send-body.ts).
   * Only for a request complete in its HEADERS: trailers keep node:http2 from resetting the stream
   * of a request whose body goes on once the answer is complete (see the constructor).
   */
  private respondTelling(headers: OutgoingHttpHeaders): void {
    const stream = this.stream;
    this.telling = true;
    stream.respond(headers, WAIT_FOR_TRAILERS);
    stream.once('wantTrailers', () => {
      this.framedWhole = true;
      this.bodyBytesSent = this.bodyBytesHanded;
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(NO_TRAILERS);
    });
    stream.once('end', () => this.closedWithoutError());
  }

  /**
   * A stream closed before its body's last byte was framed was reset (by the client, or by us): let
   * it go now. node:http2 waits for the write it had queued, which never completes after a client's
   * RST_STREAM(NO_ERROR) (node:http2's own req.close() and Envoy's resets send that code). Until the
   * sweep let it go (up to 1 s), Node counted it among the connection's 128 streams: a client
   * cancelling 100 downloads a second had its next streams refused with ENHANCE_YOUR_CALM. 'end'
   * comes when the stream closes with NO_ERROR (node:http2 then reads the paused request's end);
   * any other code destroys it at once, and so does the destruction of its session.
   */
  private closedWithoutError(): void {
    const stream = this.stream;
    if (stream.closed && !this.framedWhole && !stream.destroyed) stream.destroy();
  }

  end(body?: string | Buffer, encoding?: BufferEncoding): this {
    if (!this.headersSent) this.writeHead(this.statusCode);
    const s = this.stream;
    if (s.closed || s.destroyed || this.ending) return this;
    if (s.writableEnded) {
      // HEAD, 204 and 304 ended the stream in respond(); any body is dropped, as node:http drops it.
      this.complete = true;
      return this;
    }
    if (body === undefined) s.end();
    else if (body.length > SLICE) {
      this.ending = true;
      this.writeSliced(typeof body === 'string' ? Buffer.from(body, encoding ?? 'utf8') : body, 0, true);
    }
    else if (this.budget === null || this.budget.room || body.length < UNCOUNTED_WRITE) this.endWith(body, encoding);
    else {
      this.ending = true;
      this.park(() => this.endWith(body, encoding));
    }
    if (!this.ending) this.complete = true;
    return this;
  }

  /** Ends the stream with a body of at most one slice. */
  private endWith(body: string | Buffer, encoding: BufferEncoding | undefined): void {
    // A string's length stands for its size: the budget is a bound, not a count of bytes sent.
    this.count(body.length);
    if (this.telling) {
      // As writeSliced: not handed to a socket that takes no more bytes. The answer never completes;
      // the stream closes with its session.
      if (!this.tracker.reachesSocket(this.slot)) {
        this.ending = true;
        return;
      }
      // The last write of a body over one slice is counted as its slices are (see written).
      this.bodyBytesHanded += typeof body === 'string' ? Buffer.byteLength(body, encoding) : body.length;
      this.stream.write(body, encoding ?? 'utf8', (err) => this.written(0, err));
      this.stream.end();
    } else if (encoding === undefined) this.stream.end(body);
    else this.stream.end(body, encoding);
    this.complete = true;
  }

  /** Counts `bytes` handed to node:http2 against the connection's budget, until written or the stream closes. */
  private count(bytes: number): void {
    if (this.budget === null || bytes < UNCOUNTED_WRITE) return;
    this.budget.handed(bytes);
    this.counted += bytes;
  }

  /** `bytes` counted were written (a slice's callback). */
  private uncount(bytes: number): void {
    if (this.closed || bytes < UNCOUNTED_WRITE) return;
    this.counted -= bytes;
    (this.budget as SendBudget).written(bytes);
  }

  /** `write` once the connection's budget has room (resumeParked). */
  private park(write: () => void): void {
    this.parkedWrite = write;
    (this.budget as SendBudget).park(this);
  }

  resumeParked(): void {
    const write = this.parkedWrite;
    this.parkedWrite = null;
    if (write !== null && !this.closed && !this.stream.closed && !this.stream.destroyed) write();
  }

  /** `callback` once the whole chunk has been sent (in slices: see SLICE). */
  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean {
    this.writeSliced(chunk, 0, false, callback);
    return false;
  }

  /** Writes `b` from `at` one slice after another; `last`: the final slice ends the stream. */
  private writeSliced(b: Buffer, at: number, last: boolean, done?: (err?: Error | null) => void): void {
    // Nothing more for a socket that takes no more bytes: node:http2 would report it written (see written).
    if (!this.tracker.reachesSocket(this.slot)) return done?.(CONNECTION_ENDED);
    if (this.budget !== null && !this.budget.room && b.length - at >= UNCOUNTED_WRITE) return this.park(() => this.writeSliced(b, at, last, done));
    const stream = this.stream;
    const next = Math.min(at + SLICE, b.length);
    const n = next - at;
    this.bodyBytesHanded += n;
    this.count(n);
    stream.write(b.subarray(at, next), (err) => {
      const failed = this.written(n, err);
      if (failed !== null || next === b.length) done?.(failed);
      else this.writeSliced(b, next, last, done);
    });
    if (next === b.length && last) {
      stream.end();
      this.complete = true;
    }
  }

  /**
   * node:http2 reported a write of the body done (a slice, or a told body's last write): `counted`
   * of its bytes go back to the budget. Its bytes count as sent if reported before the stream closed
   * (the access log has read the count then); writes are only handed to a socket that takes bytes
   * (writeSliced, endWith). Each write waits for the last's report, so once one is written all that
   * was handed is.
   * Returns the error that ends the body's writes, or null to go on: a socket that takes no more
   * bytes is one (node:http2 would frame the rest of the body for nobody, and report it written).
   */
  private written(counted: number, err: Error | null | undefined): Error | null {
    // Given back to the budget, unless the stream's close gave back all it held.
    if (this.budget !== null) this.uncount(counted);
    if (err != null) return err;
    if (this.closed) return null;
    this.bodyBytesSent = this.bodyBytesHanded;
    this.tracker.progressed(this.stream);
    return this.tracker.reachesSocket(this.slot) ? null : CONNECTION_ENDED;
  }

  destroy(): void {
    resetWithInternalError(this.stream);
  }

  /** A header already sent, by name in any case (the access log reads Content-Length). */
  getHeader(name: string): OutgoingHttpHeader | undefined {
    const sent = this.sent;
    if (sent === null) return undefined;
    const lower = name.toLowerCase();
    for (const key in sent) if (key.toLowerCase() === lower) return sent[key];
    return undefined;
  }

  /** Nothing sets headers before the handler here (no middleware), so nothing is set until sent. */
  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }
}

/** A node:http-style handler, as StaticHandler is. */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Answers one stream with `handler`, given the request and response as its parameters take them,
 * and lets go of the request's header block if the answer is complete when it returns (handled()).
 * Returns the response.
 */
export function answerStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined, tracker: StreamTracker, handler: Handler): Http2Response {
  const res = new Http2Response(stream, new Http2Request(stream, headers, rawHeaders), tracker);
  handler(res.req as unknown as IncomingMessage, res as unknown as ServerResponse);
  res.handled();
  return res;
}
