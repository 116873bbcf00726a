import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { headParsed, knowsMessages, messageBegan, type Http1Parser } from './message-clock.js';

/** What node:http puts on the sockets it serves (its connectionListener), as far as used here. */
export type Http1Socket = Duplex & {
  server?: { headersTimeout?: number; requestTimeout?: number };
  parser?: Http1Parser | null;
  _httpMessage?: ServerResponse | null;
  [RETIMER]?: Retimer | undefined;
};

const RETIMER = Symbol('xorigin.retimer');

/**
 * The response that has the socket, if one has: node:http writes them one at a time, in order, the
 * next taking the socket when one finishes. One whose bytes are all written but whose 'finish' has
 * not yet come still holds it, with the rest queued behind.
 */
export function answering(socket: Http1Socket): ServerResponse | null {
  return socket._httpMessage ?? null;
}

/**
 * node:http's head or request timeout struck a message node itself stopped reading: while the
 * responses to the requests before it are written, node pauses the socket (a pipelining client's
 * next request is left in it, its first bytes read, the rest not), so the client is not slow. Node
 * has taken the connection off its timed list in reporting it, and puts it back only when a later
 * message begins; so this times that message again, from the end of the last response before it:
 * its head must be whole headersTimeout after that, the whole message requestTimeout after that.
 * Whole in time, `expired` is never called (a later message is node's to time); else it is, once
 * (to answer as node would have: a head 408 and close, a body close). False, and nothing done, when
 * no response holds the socket: the client had the time node gave it.
 * One retimer per socket: a later strike on the same connection (the message before is whole) moves it on.
 */
export function retimeBehindAnswers(socket: Http1Socket, expired: () => void): boolean {
  return answering(socket) !== null && timeMessage(socket, expired);
}

/**
 * Times the message node's parser is on, as retimeBehindAnswers does, whether or not a response
 * holds the socket: for a message node took off its timed list, its head then completed in the
 * same loop turn (answerClientError), whose body node would otherwise never time. False, and
 * nothing done, when there is no parser to watch or no timeout to keep.
 */
export function timeMessage(socket: Http1Socket, expired: () => void): boolean {
  const parser = socket.parser;
  if (parser == null || !knowsMessages(parser)) return false;
  const headersMs = socket.server?.headersTimeout ?? 0;
  const requestMs = socket.server?.requestTimeout ?? 0;
  if (headersMs <= 0 && requestMs <= 0) return false;
  let retimer = socket[RETIMER];
  if (retimer === undefined) {
    retimer = new Retimer(socket, parser);
    socket[RETIMER] = retimer;
  }
  retimer.time(headersMs, requestMs, expired);
  return true;
}

class Retimer {
  /** When the message timed began, on performance.now()'s clock. */
  private began = 0;
  /** When the answers before it had been written (NaN while they are). */
  private from = Number.NaN;
  private headersMs = 0;
  private requestMs = 0;
  private expired: () => void = () => {};
  private timer: NodeJS.Timeout | null = null;
  /** An expiry waiting one loop turn (expireAfterPoll); replaced or dropped when the retimer moves on. */
  private deferred: object | null = null;
  /** The response whose 'close' is awaited: one listener at a time, however often the timeout strikes. */
  private awaited: ServerResponse | null = null;
  private readonly stop = (): void => {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.deferred = null;
    this.socket.removeListener('close', this.stop);
    // Not `delete`: that would turn the socket, read on every request, into a slower dictionary object.
    this.socket[RETIMER] = undefined;
  };
  private readonly answered = (): void => {
    this.awaited = null;
    if (this.socket[RETIMER] === this) this.follow();
  };

  constructor(
    private readonly socket: Http1Socket,
    private readonly parser: Http1Parser,
  ) {
    socket.once('close', this.stop);
  }

  time(headersMs: number, requestMs: number, expired: () => void): void {
    this.began = messageBegan(this.parser);
    this.headersMs = headersMs > 0 ? headersMs : Infinity;
    this.requestMs = requestMs > 0 ? requestMs : Infinity;
    this.expired = expired;
    this.from = Number.NaN;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.deferred = null;
    this.follow();
  }

  /** Waits for the responses before the message, one by one, then starts its clock. */
  private follow(): void {
    if (this.whole()) return this.stop();
    const current = answering(this.socket);
    if (current !== null) {
      if (this.awaited !== current) {
        this.awaited = current;
        current.once('close', this.answered);
      }
      return;
    }
    if (Number.isNaN(this.from)) this.from = performance.now();
    this.check();
  }

  private check(): void {
    this.timer = null;
    if (this.whole()) return this.stop();
    const now = performance.now();
    const headDone = headParsed(this.parser);
    const head = headDone ? Infinity : this.from + this.headersMs - now;
    const left = Math.min(head, this.from + this.requestMs - now);
    if (left <= 0) return this.expireAfterPoll(headDone);
    this.timer = setTimeout(() => this.check(), Math.min(left, 2 ** 31 - 1));
    // Cleared when the socket closes; never what keeps a stopping process up.
    this.timer.unref();
  }

  /**
   * Not before node has read what is waiting (as answerClientError's own 408): resumed from a pause,
   * this timer runs before the poll that reads what the client sent meanwhile, and a head sent
   * whole and in time got 408. One whole in that poll is done; one whose head came then has its body
   * timed from then; anything else expires.
   */
  private expireAfterPoll(headDone: boolean): void {
    const token = {};
    this.deferred = token;
    setImmediate(() => {
      if (this.deferred !== token) return; // stopped, or timing a later strike, meanwhile
      this.deferred = null;
      if (this.whole()) return this.stop();
      if (!headDone && headParsed(this.parser)) {
        this.from = performance.now();
        return this.check();
      }
      this.stop();
      this.expired();
    });
  }

  /**
   * True once the message timed is whole (its head and body are in) or gone: the connection, or a
   * later message has begun (told by its start: node reported this one a timeout after its start, and
   * a later one begins after that; Node 20's reading of a start moves by microseconds).
   */
  private whole(): boolean {
    const { socket, parser } = this;
    if (socket.destroyed || socket.parser !== parser) return true;
    const began = messageBegan(parser);
    return Number.isNaN(began) || Math.abs(began - this.began) > Math.min(this.headersMs, this.requestMs) / 2;
  }
}
