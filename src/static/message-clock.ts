import type { IncomingMessage } from 'node:http';

/**
 * node:http's HTTP/1.x parser, as far as used here: the last request whose head it parsed (until
 * node lets go of it), and its callback slots, indexed by HTTPParser.kOnMessageBegin and the like,
 * which its C++ side calls as it parses.
 */
export interface Http1Parser {
  incoming?: IncomingMessage | null;
  /** Node 20 only: ms since the message being parsed began (0 between messages), and whether its head is parsed. */
  duration?: () => number;
  headersCompleted?: () => boolean;
  [slot: number]: unknown;
  [CLOCK]?: MessageState;
}

// HTTPParser's kOnMessageBegin, kOnHeadersComplete and kOnMessageComplete: the same on Node 20 to 24.
const ON_MESSAGE_BEGIN = 0;
const ON_HEADERS_COMPLETE = 2;
const ON_MESSAGE_COMPLETE = 4;
const CLOCK = Symbol('xorigin.messageClock');

/** Where the parser is in the message it is on, or was last on. */
interface MessageState {
  /** performance.now() at the message's first byte (the blank lines before a request line begin none); NaN before any. */
  began: number;
  head: boolean;
  whole: boolean;
}

/** A parser callback of node's, called through with whatever arguments it was given. */
type Callback = { apply(thisArg: Http1Parser, args: IArguments): unknown };
/** Node's own head and message-complete callbacks, the same functions on every parser: set once, on the first parser clocked. */
let nodeHeadersComplete: Callback | null = null;
let nodeMessageComplete: Callback | null = null;

// Functions, not arrows: node's parser calls them with `this` set to itself.
function onMessageBegin(this: Http1Parser): void {
  const state = this[CLOCK] as MessageState;
  state.began = performance.now();
  state.head = false;
  state.whole = false;
}

function onHeadersComplete(this: Http1Parser): unknown {
  const state = this[CLOCK];
  if (state !== undefined) state.head = true;
  // `arguments` passed straight to apply is not materialized (V8): no array per request.
  return (nodeHeadersComplete as Callback).apply(this, arguments);
}

function onMessageComplete(this: Http1Parser): unknown {
  const state = this[CLOCK];
  if (state !== undefined) state.whole = true;
  return (nodeMessageComplete as Callback).apply(this, arguments);
}

/**
 * Has node:http's parser of an HTTP/1.x connection tell where it is in the message it reads, which
 * nothing public tells: the keep-alive and request timeouts (keep-alive-expiry.ts,
 * unread-request-timeout.ts) need it. Node 20's parser tells it itself (`duration()`,
 * `headersCompleted()`), at no cost; Node 22 dropped both, keeping the state in C++, and there the
 * parser is clocked (startClock). Call it as the connection starts, after node:http's own listener.
 */
export function clockMessages(socket: { parser?: Http1Parser | null }): void {
  const parser = socket.parser;
  if (parser != null && !nativeClock(parser)) startClock(parser);
}

/**
 * Notes when each message begins, and when its head and the whole of it are parsed. The
 * message-begin callback, which node leaves empty, is still called when one is set; the two others
 * are node's, called through. Again for each connection: node empties the begin slot when it frees
 * a parser for reuse. A parser whose slots are not what Node 20 to 24 put there is left alone (false),
 * and reads as unclocked. Costs a call from C++ into JS per request: ~1,700 instructions, 2 to 3% of
 * a 1-byte GET's (bench/instructions.js), which is why Node 20 is not clocked.
 */
export function startClock(parser: Http1Parser): boolean {
  if (parser[ON_MESSAGE_BEGIN] != null || !wrapNodeCallbacks(parser)) return false;
  const state = parser[CLOCK];
  if (state === undefined) parser[CLOCK] = { began: Number.NaN, head: false, whole: true };
  else ((state.began = Number.NaN), (state.head = false), (state.whole = true));
  parser[ON_MESSAGE_BEGIN] = onMessageBegin;
  return true;
}

function nativeClock(parser: Http1Parser): parser is Required<Pick<Http1Parser, 'duration' | 'headersCompleted'>> & Http1Parser {
  return typeof parser.duration === 'function' && typeof parser.headersCompleted === 'function';
}

/** Puts this module's head and message-complete callbacks in node's place (once per parser: they stay on reuse). */
function wrapNodeCallbacks(parser: Http1Parser): boolean {
  const head = parser[ON_HEADERS_COMPLETE];
  const whole = parser[ON_MESSAGE_COMPLETE];
  if (head === onHeadersComplete && whole === onMessageComplete) return true;
  if (typeof head !== 'function' || typeof whole !== 'function') return false;
  nodeHeadersComplete ??= head as Callback;
  nodeMessageComplete ??= whole as Callback;
  if (head !== nodeHeadersComplete || whole !== nodeMessageComplete) return false;
  parser[ON_HEADERS_COMPLETE] = onHeadersComplete;
  parser[ON_MESSAGE_COMPLETE] = onMessageComplete;
  return true;
}

/** Whether the readings below know anything of the parser's messages (else: NaN, false). */
export function knowsMessages(parser: Http1Parser): boolean {
  return parser[ON_MESSAGE_BEGIN] === onMessageBegin || nativeClock(parser);
}

/** The head of the message the parser is on is parsed (false between messages: none is begun). */
export function headParsed(parser: Http1Parser): boolean {
  if (parser[ON_MESSAGE_BEGIN] === onMessageBegin) {
    const state = parser[CLOCK] as MessageState;
    return state.head && !state.whole;
  }
  return nativeClock(parser) && parser.duration() > 0 && parser.headersCompleted();
}

/**
 * When the message the parser is on began (performance.now(), ms), or NaN between messages: the
 * last one whole (its head and body parsed), or none begun yet. Node 20's own reading counts from
 * the connection's start before the first message, and is derived from the time elapsed: read twice,
 * it may differ by a few microseconds.
 */
export function messageBegan(parser: Http1Parser): number {
  if (parser[ON_MESSAGE_BEGIN] === onMessageBegin) {
    const state = parser[CLOCK] as MessageState;
    return state.whole ? Number.NaN : state.began;
  }
  if (!nativeClock(parser)) return Number.NaN;
  const duration = parser.duration();
  return duration === 0 ? Number.NaN : performance.now() - duration;
}
