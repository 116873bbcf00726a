/**
 * Body bytes one HTTP/2 connection may have handed to node:http2 and not yet written to its socket.
 * node:http2 frames every stream's queued data that flow control allows in one batch, and over TLS
 * that batch is encrypted at once and kept until the socket takes it. A client that opens wide
 * flow-control windows and never reads (128 streams of a 1 MB font each) so held a 64 KiB slice of
 * ciphertext per stream, ~10 MB per connection: 20 such connections took the server from 60 to
 * 268 MB (with the budget: 135-139 MB). Past this budget a body waits, holding nothing in
 * node:http2, until bytes handed earlier on its connection are written; a client that reads keeps
 * the kernel's socket buffer (megabytes) full, so the budget is not what paces it.
 */
export const SEND_BUDGET = 1024 * 1024;

/**
 * Writes under this size are not counted: 128 of them hold at most 512 KiB per connection, and a
 * 1-byte GET's answer pays nothing for the budget.
 */
export const UNCOUNTED_WRITE = 4 * 1024;

/** A response with bytes counted against its connection's budget, or waiting for room under it. */
export interface BudgetUser {
  readonly closed: boolean;
  /** Hands its waiting bytes over, if it still may (its stream may have closed meanwhile). */
  resumeParked(): void;
  /** Its counted bytes are no longer counted (see SendBudget.forgive); what they report later is ignored. */
  forgive(): void;
}

/** Twice the streams a connection may have open (http2-sessions.ts: 128): see park(). */
const PARKED_PRUNE_AT = 256;

/**
 * One connection's budget: the bytes counted against it, by whom, and the responses waiting for
 * room. Bytes handed to a stream whose flow-control window is shut are queued, not framed: they cost
 * nothing, and node:http2 reports them written only once the client opens the window. Counted, 16
 * such streams (a client pausing downloads it may resume) filled the budget and every other stream
 * of the connection waited for them, up to the send timeout. So when the budget is full and the
 * socket has nothing left to write, what is counted cannot be waiting for the socket: it is all
 * forgiven (`socketIdle`, looked at once per turn of the event loop while a body waits).
 */
export class SendBudget {
  private sending = 0;
  private readonly counting = new Set<BudgetUser>();
  private parked: BudgetUser[] = [];
  /** Index of the first waiting response in `parked`: taken from the front without shifting. */
  private head = 0;
  private checkScheduled = false;

  constructor(private readonly socketIdle: () => boolean) {}

  /** True when bytes may be handed now; a body then counts them (handed), else waits (park). */
  get room(): boolean {
    return this.sending < SEND_BUDGET;
  }

  handed(user: BudgetUser, bytes: number): void {
    this.sending += bytes;
    this.counting.add(user);
  }

  /** `bytes` of `user`'s were written, or its stream closed (`settled`: it has none counted now). */
  written(user: BudgetUser, bytes: number, settled: boolean): void {
    this.sending -= bytes;
    if (settled) this.counting.delete(user);
    this.resume();
  }

  park(user: BudgetUser): void {
    // A stream that closes while it waits leaves its entry until its turn: a client opening and
    // resetting streams on a connection it keeps stalled would grow the list (as disk-turns.ts's).
    if (this.parked.length - this.head >= PARKED_PRUNE_AT) {
      this.parked = this.parked.slice(this.head).filter((p) => !p.closed);
      this.head = 0;
    }
    this.parked.push(user);
    this.scheduleCheck();
  }

  /** Responses waiting go on, first come first, while there is room. */
  private resume(): void {
    while (this.sending < SEND_BUDGET && this.head < this.parked.length) {
      const next = this.parked[this.head++] as BudgetUser;
      if (this.head === this.parked.length) {
        this.parked = [];
        this.head = 0;
      }
      if (!next.closed) next.resumeParked();
    }
    if (this.head < this.parked.length) this.scheduleCheck();
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      this.lookAgain();
    });
  }

  /**
   * Forgives what is counted when bodies wait and the socket has nothing left to write. Also called
   * by each sweep (http2-sessions.ts): a socket that drained with nothing of ours reported written
   * (its last bytes were headers, or bodies too small to count) leaves no other moment to look.
   */
  lookAgain(): void {
    if (this.head < this.parked.length && !this.room && this.socketIdle()) this.forgive();
  }

  /** Counts nothing of what was handed so far (see the class): the waiting responses go on. */
  private forgive(): void {
    for (const user of this.counting) user.forgive();
    this.counting.clear();
    this.sending = 0;
    this.resume();
  }
}
