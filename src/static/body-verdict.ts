import type { IncomingMessage } from 'node:http';

/**
 * node:http's parser hands a request over as soon as its head is parsed, and judges the body's framing
 * only as the body comes: it refuses some Transfer-Encodings right after the head (`chunked` followed by
 * a tab, which it drops from the value it hands over, so no check of the fields can see it) and some
 * chunked bodies part-way (a chunk extension with whitespace, which RFC 9112 §7.1.1 allows; a chunk
 * size that is no number). A request answered before that verdict got a keep-alive success and then a
 * dropped connection. This holds the verdict: the status its answer must have, or the body read whole.
 */

/** Requests whose body (or framing) the parser refused after handing over their head: the status. */
const faults = new WeakMap<IncomingMessage, number>();
/** Requests waiting for the verdict (afterBody): what to call once it is in. */
const waiting = new WeakMap<IncomingMessage, () => void>();

/**
 * Records that the parser refused `req`'s body (client-error.ts, on node's 'clientError'): its answer
 * is `status` (400; 413 for chunk extensions past node's limit; 408 for a body not whole in time),
 * given by the one waiting in afterBody, a tick later (the caller finishes its own work on the socket first).
 */
export function recordBodyFault(req: IncomingMessage, status: number): void {
  if (faults.has(req)) return;
  faults.set(req, status);
  const then = waiting.get(req);
  if (then !== undefined) process.nextTick(then);
}

/** The status recorded for `req` (recordBodyFault), or undefined. */
export function bodyFault(req: IncomingMessage): number | undefined {
  return faults.get(req);
}

/**
 * Calls `then` once, when the parser has read `req`'s whole body (dropped as it comes), refused it
 * (bodyFault says with what), or the request was closed; or after `waitMs` (a body still coming then
 * is no reason to hold its answer longer: the caller closes the connection after it instead, and
 * `then` gets `true`). Returns a function that ends the wait now, as the timer would (a shutdown).
 */
export function afterBody(req: IncomingMessage, waitMs: number, then: (late: boolean) => void): (late: boolean) => void {
  let done = false;
  const finish = (late: boolean): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    waiting.delete(req);
    req.off('end', onEnd);
    req.off('close', onEnd);
    then(late);
  };
  const onEnd = (): void => finish(false);
  const timer = setTimeout(() => finish(true), waitMs);
  waiting.set(req, onEnd);
  req.on('end', onEnd);
  req.on('close', onEnd);
  // Flowing with no 'data' listener: the body is read and dropped, so a large one neither stalls the
  // socket (node stops reading when a request's buffer is full) nor is held.
  req.resume();
  return finish;
}
