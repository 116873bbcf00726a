import type { ServerResponse } from 'node:http';

/**
 * Bodies read from disk that one HTTP/2 connection may have in progress at once. HTTP/1.1 reads one
 * per connection (a pipelined response waits for the socket); HTTP/2 multiplexes up to 128 streams,
 * and a client that never opens its flow-control window kept a file descriptor and a read buffer
 * per stream for the whole send timeout: 60 connections held 7,680 fds and ~700 MB. Past this
 * count a stream waits, holding nothing, until one of its connection's disk bodies has ended.
 */
export const DISK_BODIES_PER_CONNECTION = 8;

/** The disk bodies of one connection: how many are running, and the starts waiting their turn. */
interface Turns {
  running: number;
  /** `since`: when it began waiting (performance.now() ms). */
  waiting: { readonly res: ServerResponse; readonly start: () => void; readonly since: number }[];
}

/** What the disk turns read of an HTTP/2 response's stream; `session` is unset once it has closed. */
interface StreamState {
  readonly closed: boolean;
  readonly destroyed: boolean;
  readonly session?: object;
}

/** The HTTP/2 stream behind a response, or undefined for HTTP/1.x. */
function streamOf(res: ServerResponse): StreamState | undefined {
  return (res as ServerResponse & { stream?: StreamState }).stream;
}

function ended(res: ServerResponse): boolean {
  const stream = streamOf(res);
  return stream === undefined || stream.closed || stream.destroyed;
}

const bySession = new WeakMap<object, Turns>();
/**
 * Responses holding a turn (until their 'close'). A response that found its file changed answers
 * again after a rescan and comes back here: it keeps the turn it holds. Taking a second one leaked
 * it until 'close', and with 5 such streams on a connection every one waited for a turn that only
 * they could give back: no answer, ever, while the connection lived.
 */
const holding = new WeakSet<ServerResponse>();

/**
 * Calls `start` when this response may begin reading from disk: over HTTP/1.x once it is at the
 * head of its socket (a response queued behind another on a pipelining connection gets no 'close'
 * if the socket closes first, so it must hold nothing until then); over HTTP/2 once its connection
 * has fewer than DISK_BODIES_PER_CONNECTION running, or at once when it reads no body (`bodyless`: a
 * HEAD, or a GET of an empty file; one stat, no fd or buffer held). A response that ends while waiting never starts.
 */
export function whenDiskTurn(res: ServerResponse, start: () => void, bodyless = false): void {
  // HTTP/2 is told by its stream, not its session: a stream closed while this response waited (a
  // rescan) names no session, and Http2Response has no 'socket' event to wait for.
  const stream = streamOf(res);
  if (stream === undefined) {
    if (res.socket != null) start();
    else res.once('socket', start);
    return;
  }
  if (ended(res)) return;
  if (bodyless) return start();
  const session = stream.session as object;
  if (holding.has(res)) return start();
  let turns = bySession.get(session);
  if (turns === undefined) {
    turns = { running: 0, waiting: [] };
    bySession.set(session, turns);
  }
  if (turns.running < DISK_BODIES_PER_CONNECTION) return run(turns, res, start);
  // A stream that closes while it waits leaves its entry (its response, request and closure) until a
  // turn comes: a client holding its 8 turns with bodies that keep moving, and opening and resetting
  // streams meanwhile, grew the list by 82,000 entries and RSS by 300 MB in 25 s (review d27). A
  // connection has at most 128 streams open: past twice that, the closed ones go, amortised.
  if (turns.waiting.length >= WAITING_PRUNE_AT) turns.waiting = turns.waiting.filter((w) => !ended(w.res));
  turns.waiting.push({ res, start, since: performance.now() });
}

/** Twice the streams a connection may have open (http2-sessions.ts: 128): see whenDiskTurn. */
const WAITING_PRUNE_AT = 256;

function run(turns: Turns, res: ServerResponse, start: () => void): void {
  turns.running++;
  holding.add(res);
  res.once('close', () => {
    turns.running--;
    next(turns);
  });
  start();
}

/**
 * Takes the responses that began waiting for a disk turn on `session` before `since`
 * (performance.now() ms) out of the queue, and returns them: they will never start. For the send
 * timeout's sweep (http2-sessions.ts), when no body of the connection moved for the timeout.
 */
export function takeWaiting(session: object, since: number): ServerResponse[] {
  const turns = bySession.get(session);
  if (turns === undefined || turns.waiting.length === 0) return [];
  const taken = turns.waiting.filter((w) => w.since < since);
  if (taken.length > 0) turns.waiting = turns.waiting.filter((w) => w.since >= since);
  return taken.map((w) => w.res);
}

/** The next waiting response still open takes the turn given back. */
function next(turns: Turns): void {
  while (turns.running < DISK_BODIES_PER_CONNECTION && turns.waiting.length > 0) {
    const w = turns.waiting.shift() as { res: ServerResponse; start: () => void };
    if (!ended(w.res)) run(turns, w.res, w.start);
  }
}
