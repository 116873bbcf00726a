import type { ServerResponse } from 'node:http';

/**
 * Bodies read from disk that one HTTP/2 connection may have in progress at once. HTTP/1.1 reads one
 * per connection (a pipelined response waits for the socket); HTTP/2 multiplexes up to 128 streams,
 * and a client that never opens its flow-control window kept a file descriptor and a read buffer
 * per stream for the whole send timeout: 60 connections held 7,680 fds and ~700 MB. Past this
 * count a stream waits, holding nothing, until one of its connection's disk bodies has ended.
 */
export const DISK_BODIES_PER_CONNECTION = 8;

/**
 * Bodies read from disk that all HTTP/2 connections together may have in progress: each may hold a
 * 64 KiB read buffer for the send timeout. Per connection the bound is 8, but only the descriptor
 * limit bounds the connections: one client's 1,252 connections of never-read streams held 906 MB
 * (review h27 #2). Past this count a stream waits, holding nothing, as past its connection's 8; the
 * turns given back go to the waiting connections in rotation, one each, so a client's own
 * connections do not keep them. 64 MiB of buffers at most; a body held in memory takes no turn.
 */
export const DISK_BODIES_IN_ALL = 1024;

/** The disk bodies of one connection: how many are running, and the starts waiting their turn. */
interface Turns {
  running: number;
  /** `since`: when it began waiting (performance.now() ms). */
  waiting: { readonly res: ServerResponse; readonly start: () => void; readonly since: number }[];
  /** In `rotation`: it has a stream that would run but for DISK_BODIES_IN_ALL. */
  queued: boolean;
}

let runningInAll = 0;
/** The connections waiting for a turn of DISK_BODIES_IN_ALL, each once, in the order they are to get one. */
const rotation: Turns[] = [];

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
    turns = { running: 0, waiting: [], queued: false };
    bySession.set(session, turns);
  }
  if (turns.running < DISK_BODIES_PER_CONNECTION && runningInAll < DISK_BODIES_IN_ALL) return run(turns, res, start);
  turns.waiting.push({ res, start, since: performance.now() });
  if (turns.running < DISK_BODIES_PER_CONNECTION) enqueue(turns);
}

function run(turns: Turns, res: ServerResponse, start: () => void): void {
  turns.running++;
  runningInAll++;
  holding.add(res);
  res.once('close', () => {
    turns.running--;
    runningInAll--;
    if (turns.waiting.length > 0) enqueue(turns);
    nextSoon();
  });
  start();
}

/** Puts `turns` in the rotation, at its end, unless it is there already. */
function enqueue(turns: Turns): void {
  if (turns.queued) return;
  turns.queued = true;
  rotation.push(turns);
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

let nextScheduled = false;

/**
 * next(), once the event loop has handled the rest of what is ready: a client leaving with hundreds
 * of connections closes them one after another in one turn of the loop, and a turn given back at
 * once went to a stream of a connection about to close, whose read (a 64 KiB buffer, a read on
 * the thread pool) was wasted: 1,500 such connections leaving took RSS from 309 MB to 551.
 */
function nextSoon(): void {
  if (nextScheduled) return;
  nextScheduled = true;
  setImmediate(() => {
    nextScheduled = false;
    next();
  });
}

/**
 * Gives the turns free to the connections in the rotation, one each in turn: the first waiting
 * response still open of each starts, and a connection with more waiting (and below its own 8)
 * goes back to the end of the rotation.
 */
function next(): void {
  while (runningInAll < DISK_BODIES_IN_ALL && rotation.length > 0) {
    const turns = rotation.shift() as Turns;
    turns.queued = false;
    while (turns.running < DISK_BODIES_PER_CONNECTION && turns.waiting.length > 0) {
      const w = turns.waiting.shift() as { res: ServerResponse; start: () => void };
      if (ended(w.res)) continue;
      run(turns, w.res, w.start);
      break;
    }
    if (turns.running < DISK_BODIES_PER_CONNECTION && turns.waiting.length > 0) enqueue(turns);
  }
}
