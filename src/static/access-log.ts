import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The access log's formats: Common Log Format (the default) and one JSON object per line. */
export const LOG_FORMATS = ['clf', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where access-log lines go, one per call, without a newline. */
export type LogSink = (line: string) => void;

/** What is known of a request when it arrives, kept until its response is logged. */
interface Arrival {
  /** The peer's address, read now: once the socket has closed, Node can no longer tell it. */
  readonly remote: string | undefined;
  /** The request target as received: mounted under a prefix, Connect and Express rewrite req.url. */
  readonly target: string | undefined;
  /** The request's Origin, read now: an HTTP/2 request lets go of its headers once answered. */
  readonly origin: string | undefined;
  /** Date.now() and performance.now() at arrival: the logged time and the start of the duration. */
  readonly wall: number;
  readonly start: number;
  /** Where the line goes, and in which format: the log in force at arrival (a reload may change it before the end). */
  readonly sink: LogSink;
  readonly format: LogFormat;
  /** socket.bytesWritten when the response got its socket (a pipelined one gets it later), or -1. */
  startBytes: number;
  /** The socket came after arrival (pipelined): what node had buffered for the response, a 100 Continue, is written after startBytes. */
  late: boolean;
  /** socket.bytesWritten once the whole response was handed to the socket ('prefinish'), or -1. */
  endBytes: number;
  socket: Socket | null;
}

const arrivals = new WeakMap<IncomingMessage, Arrival>();

/**
 * Records the request's peer address and arrival time. Called by the server as the request arrives,
 * only when a log is configured. A response queued behind another on a pipelining connection gets
 * its socket later; its byte count starts then.
 */
export function noteArrival(req: IncomingMessage, res: ServerResponse, sink: LogSink, format: LogFormat): void {
  const target = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url;
  const a: Arrival = { remote: req.socket.remoteAddress, target, origin: req.headers.origin, wall: Date.now(), start: performance.now(), sink, format, startBytes: -1, late: false, endBytes: -1, socket: null };
  arrivals.set(req, a);
  // An HTTP/2 response shares its connection with other streams: its bytes are counted otherwise.
  if (streamOf(res) !== undefined) return;
  if (res.socket !== null) takeSocket(a, res.socket);
  else res.once('socket', onSocket);
  res.once('prefinish', onPrefinish);
}

function takeSocket(a: Arrival, socket: Socket): void {
  a.socket = socket;
  a.startBytes = socket.bytesWritten;
}

// Shared listeners (they read the response from `this`) instead of closures per request.
function onSocket(this: ServerResponse, socket: Socket): void {
  const a = arrivals.get(this.req);
  if (a === undefined) return;
  takeSocket(a, socket);
  a.late = true;
}

/**
 * The end of the count, taken when the last byte has been handed to the socket: by 'close' the
 * next pipelined response may already have written to the same socket.
 */
function onPrefinish(this: ServerResponse): void {
  const a = arrivals.get(this.req);
  if (a !== undefined && a.socket !== null) a.endBytes = a.socket.bytesWritten;
}

/** What an HTTP/2 response (node:http2's compatibility API, or ours) tells of its stream. */
interface StreamState {
  /** The RST_STREAM code it closed with: 0 (NO_ERROR) when it ended normally, and when its session was destroyed. */
  readonly rstCode?: number;
  /** True once all of the body was handed to the session (false for one cut with its session). */
  readonly writableFinished?: boolean;
}

/**
 * An HTTP/2 connection that counts the streams its client abandoned (reset, or the connection
 * closed, before their answer was complete): past its first few, on one line per log at the
 * connection's end instead of a line each (http2-sessions.ts).
 */
export interface AbandonedStreams {
  /** True when this stream, to be logged to `sink`, is counted there instead of getting its own line. */
  counts(sink: LogSink, format: LogFormat): boolean;
}

/** What our HTTP/2 response (http2-exchange.ts Http2Response) adds. */
interface CountedResponse {
  readonly bodyBytesSent?: number;
  /** Set when its stream closes: the whole answer reached the connection (Http2Response.endedWhole). */
  readonly endedWhole?: boolean;
  /** Set when its client abandoned the stream: the connection that may count it. */
  readonly abandonedOn?: AbandonedStreams | null;
}

function streamOf(res: ServerResponse): StreamState | undefined {
  return (res as ServerResponse & { stream?: StreamState }).stream;
}

/**
 * True when the whole response reached the connection: every byte written to the socket, as
 * writableFinished says over HTTP/1.x and of an HTTP/2 stream. Over HTTP/2 whether its END_STREAM
 * followed does not decide it (nor the stream's code): a client may reset the stream or close the
 * connection once it has Content-Length bytes (curl closes before an empty END_STREAM frame comes),
 * and a stream whose END_STREAM waited for window when the send timeout or the shutdown's deadline
 * ended it had its bytes out; a stream its session's destruction cut mid-body has writes unfinished.
 * Our HTTP/2 response says it (endedWhole): every write it handed reported done before its stream
 * closed, or its body framed whole though its last write has yet to report (under load).
 */
function completed(res: ServerResponse): boolean {
  const stream = streamOf(res);
  if (stream === undefined) return res.writableFinished;
  const ours = (res as ServerResponse & CountedResponse).endedWhole;
  if (ours !== undefined) return ours;
  // The compatibility API: node:http2 ends a stream it closes, and the writes it had taken then
  // report done, so a stream cut mid-body can show finished; an answer the handler never ended cannot.
  return res.headersSent && res.writableEnded && stream.writableFinished === true;
}

/**
 * An HTTP/2 response's body bytes: what it declared when it ended normally. Cut short: the bytes
 * of the 64 KiB slices node:http2 reported written (ours), within a slice of what the client got
 * either way (node:http2 may report a slice that flow control still holds: a fault run's raw client
 * that opened no window was counted 65,536); unknown (null) under the compatibility API, whose
 * stream's share of the connection's bytes Node does not count.
 */
function http2BodyBytes(req: IncomingMessage, res: ServerResponse): number | null {
  if (!completed(res)) return (res as ServerResponse & CountedResponse).bodyBytesSent ?? null;
  if (req.method === 'HEAD') return 0;
  const length = Number(res.getHeader('content-length') ?? 0);
  return Number.isFinite(length) ? length : null;
}

/** What node:http writes for `writeContinue()` (ASCII: its length is its size in bytes). */
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Body bytes handed to the connection for this response, or null when no head was sent. Node writes
 * one response at a time per connection (a pipelined one waits for its socket), so between taking
 * the socket and 'prefinish' (or, for a response that never finished, its close) the socket's count
 * grew by this response's head and body alone. The head is Node's own header string (`_header`,
 * latin1, so its length is its size in bytes); it is unset until the head is written.
 */
function bodyBytes(req: IncomingMessage, res: ServerResponse, a: Arrival | undefined): number | null {
  if (streamOf(res) !== undefined) return http2BodyBytes(req, res);
  const head = (res as ServerResponse & { _header?: string | null })._header;
  if (!res.headersSent || typeof head !== 'string') return null;
  if (a === undefined || a.socket === null || a.startBytes < 0) return null;
  const end = a.endBytes >= 0 ? a.endBytes : (a.socket.bytesWritten ?? a.startBytes);
  // A pipelined request's 100 Continue waits in node with its response, and goes out after the count began.
  const interim = a.late && (res as ServerResponse & { _sent100?: boolean })._sent100 === true ? CONTINUE.length : 0;
  const sent = end - a.startBytes - interim - head.length;
  return sent > 0 ? sent : 0;
}

/** Escapes by character code, up to U+009F: `\xHH` (CLF) and `\u00HH` (JSON). */
const CLF_ESCAPES: readonly string[] = Array.from({ length: 0xa0 }, (_, c) => `\\x${c.toString(16).padStart(2, '0')}`);
const JSON_ESCAPES: readonly string[] = Array.from({ length: 0xa0 }, (_, c) => `\\u${c.toString(16).padStart(4, '0')}`);

/** The first character to escape: the regexp finds it in native code, so a long plain field is not walked in JavaScript. */
const CLF_QUOTED = /[\x00-\x1f\x7f-\x9f"\\]/;
const CLF_PLAIN = /[\x00-\x1f\x7f-\x9f]/;
const JSON_EXTRA = /[\x7f-\x9f\u2028\u2029]/;

function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/**
 * `\xHH` for C0 and C1 control characters and DEL, and in quoted fields for `"` and `\` too. From
 * the first one on, one scan with escapes from a table: a replace() callback per character made a
 * 15 KB target of `"` cost 2.3 ms per logged request, this 0.2 ms.
 */
function escapeField(s: string, quoted: boolean): string {
  const first = s.search(quoted ? CLF_QUOTED : CLF_PLAIN);
  if (first === -1) return s;
  let out = '';
  let from = 0;
  for (let i = first; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isControl(c) || (quoted && (c === 0x22 || c === 0x5c))) {
      out += s.slice(from, i) + (CLF_ESCAPES[c] as string);
      from = i + 1;
    }
  }
  return out + s.slice(from);
}

/** What JSON.stringify leaves as it is and a log line should not hold: C1 controls, DEL, U+2028/9. */
function escapeJsonExtras(json: string): string {
  const first = json.search(JSON_EXTRA);
  if (first === -1) return json;
  let out = '';
  let from = 0;
  for (let i = first; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if ((c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) {
      out += json.slice(from, i) + (c <= 0x9f ? (JSON_ESCAPES[c] as string) : c === 0x2028 ? '\\u2028' : '\\u2029');
      from = i + 1;
    }
  }
  return out + json.slice(from);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** CLF's `[10/Oct/2000:13:55:36 +0000]`, in UTC. */
function clfDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] as string}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
}

/**
 * Common Log Format: `host ident authuser [date] "request" status bytes`. ident and authuser are
 * always `-`; date is the arrival time; bytes are the body bytes sent, `-` for none. A response that
 * did not complete shows what was sent: its status (`-` if no head went out) and the body bytes that
 * reached the connection, fewer than its Content-Length (over HTTP/2, where Node counts bytes per
 * connection only, `-`). The protocol is `HTTP/1.1` or `HTTP/2.0`.
 */
function clfLine(req: IncomingMessage, res: ServerResponse, a: Arrival | undefined): string {
  const remote = a?.remote ?? '-';
  const bytes = bodyBytes(req, res, a);
  const request = `${req.method ?? '-'} ${a?.target ?? req.url ?? '-'} HTTP/${req.httpVersion}`;
  return `${escapeField(remote, false)} - - ${clfDate(a?.wall ?? Date.now())} "${escapeField(request, true)}" ${res.headersSent ? String(res.statusCode) : '-'} ${bytes === null || bytes === 0 ? '-' : String(bytes)}`;
}

/**
 * One JSON object: time (arrival, ISO 8601), remote, method, target, protocol, status (null if no
 * head was sent), bytes (body bytes sent), origin (null without one), durationMs (arrival to the
 * response's end) and completed (false when the response ended before all of it was sent).
 * JSON.stringify escapes C0 controls, `"` and `\`; C1 controls and U+2028/9 are escaped here too.
 */
function jsonLine(req: IncomingMessage, res: ServerResponse, a: Arrival | undefined): string {
  const entry = {
    time: new Date(a?.wall ?? Date.now()).toISOString(),
    remote: a?.remote ?? null,
    method: req.method ?? null,
    target: a?.target ?? req.url ?? null,
    protocol: `HTTP/${req.httpVersion}`,
    status: res.headersSent ? res.statusCode : null,
    bytes: bodyBytes(req, res, a) ?? 0,
    origin: (a === undefined ? req.headers.origin : a.origin) ?? null,
    durationMs: a === undefined ? null : Math.round((performance.now() - a.start) * 1000) / 1000,
    completed: completed(res),
  };
  return escapeJsonExtras(JSON.stringify(entry));
}

/** One access-log line for a response that has ended, one way or another. */
export function accessLine(req: IncomingMessage, res: ServerResponse, format: LogFormat): string {
  return lineOf(req, res, arrivals.get(req), format);
}

function lineOf(req: IncomingMessage, res: ServerResponse, a: Arrival | undefined, format: LogFormat): string {
  return format === 'json' ? jsonLine(req, res, a) : clfLine(req, res, a);
}

/**
 * Writes the line of a response that has ended to the log in force when its request arrived
 * (noteArrival), in that log's format; none when there was no log then. A reload decides the
 * whole of a request, its log line included: turning the log off does not lose the lines of
 * responses under way, and turning it on does not log them half known.
 */
export function logResponse(req: IncomingMessage, res: ServerResponse): void {
  const a = arrivals.get(req);
  if (a === undefined) return;
  // A rapid-reset flood's streams: their connection's reset-early line counts them (sessionEventLine).
  const abandoned = (res as ServerResponse & CountedResponse).abandonedOn;
  if (abandoned != null && abandoned.counts(a.sink, a.format)) return;
  a.sink(lineOf(req, res, a, a.format));
}

/**
 * The line for a request Node could not parse (answered 400, 408, 413 or 431 by the server, with
 * no request to speak of): the request is `-` in CLF and null in JSON; `bytes` is the body sent.
 */
export function clientErrorLine(remote: string | undefined, status: number, bytes: number, format: LogFormat): string {
  const now = Date.now();
  if (format === 'json') {
    const entry = { time: new Date(now).toISOString(), remote: remote ?? null, method: null, target: null, protocol: null, status, bytes, origin: null, durationMs: null, completed: true };
    return JSON.stringify(entry);
  }
  return `${escapeField(remote ?? '-', false)} - - ${clfDate(now)} "-" ${status} ${bytes}`;
}

/** What an HTTP/2 connection did that no response shows (http2-sessions.ts): `streams` of one kind. */
export type SessionEventKind = 'refused' | 'reset-early';

/**
 * One line summing up, for one HTTP/2 connection, streams that got no response of ours: `refused`
 * (node:http2 refused them: over the concurrent-stream limit, a header list over its limit, session
 * memory) or `reset-early` (the client abandoned them before their answer was complete, as a
 * rapid-reset flood does: those past the connection's first 10, which have lines of their own).
 * CLF: the request field says it (`"HTTP/2 refused 3 streams"`), status and bytes are `-`. JSON:
 * the client-error shape with protocol `HTTP/2.0`, status null, and `event` and `streams`.
 */
export function sessionEventLine(remote: string | undefined, kind: SessionEventKind, streams: number, format: LogFormat): string {
  const now = Date.now();
  if (format === 'json') {
    const entry = { time: new Date(now).toISOString(), remote: remote ?? null, method: null, target: null, protocol: 'HTTP/2.0', status: null, bytes: 0, origin: null, durationMs: null, completed: false, event: kind, streams };
    return JSON.stringify(entry);
  }
  return `${escapeField(remote ?? '-', false)} - - ${clfDate(now)} "HTTP/2 ${kind} ${streams} ${streams === 1 ? 'stream' : 'streams'}" - -`;
}
