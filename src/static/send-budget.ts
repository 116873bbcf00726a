/**
 * Body bytes one HTTP/2 connection may have handed to node:http2 and not yet written to its socket.
 * node:http2 frames every stream's queued data that flow control allows in one batch, and over TLS
 * that batch is encrypted at once and kept until the socket takes it. A client that opens wide
 * flow-control windows and never reads (128 streams of a 1 MB font each) so held a 64 KiB slice of
 * ciphertext per stream, ~10 MB per connection: 20 such connections took the server from 60 to
 * 268 MB (with the budget: 110 MB). Past this budget a body waits, holding nothing in
 * node:http2, until bytes handed earlier on its connection are written; a client that reads keeps
 * the kernel's socket buffer (megabytes) full, so the budget is not what paces it.
 */
export const SEND_BUDGET = 1024 * 1024;

/**
 * Writes under this size are not counted: 128 of them hold at most 512 KiB per connection, and a
 * 1-byte GET's answer pays nothing for the budget.
 */
export const UNCOUNTED_WRITE = 4 * 1024;

/**
 * Counted bytes that may be excused as waiting behind shut flow-control windows (see SendBudget): a
 * slice for each of the 128 streams a connection may have open, so a client that pauses any number of
 * downloads still gets its others (at 4 MiB, 120 paused downloads held 4 readers on the same
 * connection until the send timeout: review b28's pause.py). It bounds what a connection holds in
 * node:http2 at SEND_BUDGET + 8 MiB (+ a slice) whatever its client does. A client that shuts every
 * window, lets each stream queue a slice by being excused, then opens every window at once while
 * reading nothing still has them framed and encrypted together, as with no budget (review b28: 40
 * connections, 58 to 470 MB; at a 4 MiB limit, 330 MB).
 */
export const EXCUSED_LIMIT = 128 * 64 * 1024;

/** A response waiting for room under its connection's budget. */
export interface ParkedWrite {
  readonly closed: boolean;
  /** Hands its waiting bytes over, if it still may (its stream may have closed meanwhile). */
  resumeParked(): void;
}

/** Twice the streams a connection may have open (http2-sessions.ts: 128): see park(). */
const PARKED_PRUNE_AT = 256;

/**
 * The first and the longest wait between looks at a socket that still had bytes to write (ms). Bytes
 * stuck behind shut windows report nothing when the socket drains, so a look is what wakes the bodies
 * waiting: at 640 ms, readers after a client's pause waited 0.53-0.79 s where they had waited 0.25-0.37
 * (review b28b, its paced2.py); a stalled connection costs ~6 reads of libuv's queue a second at 160.
 */
const LOOK_FIRST_MS = 10;
const LOOK_LONGEST_MS = 160;

/**
 * One connection's budget: the bytes counted against it and the responses waiting for room. Bytes
 * handed to a stream whose flow-control window is shut are queued, not framed: they cost nothing, and
 * node:http2 reports them written only once the client opens the window. Counted, 16 such streams (a
 * client pausing downloads it may resume) filled the budget and every other stream of the connection
 * waited for them, up to the send timeout. So when the budget is full, a body waits, and the socket has
 * had nothing to write for 10 ms with nothing reported written meanwhile, what is counted cannot be
 * waiting for the socket: it is excused, up to EXCUSED_LIMIT. The socket is looked at on the next turn
 * of the event loop, then every 10 ms while quiet, and from 10 ms doubling to 160 ms while it has bytes
 * to write (it may drain with nothing of ours reported written), and at each 1 s sweep
 * (http2-sessions.ts).
 */
export class SendBudget {
  private sending = 0;
  /** Counted bytes excused as waiting for window (never more than are counted, nor EXCUSED_LIMIT). */
  private excused = 0;
  private parked: ParkedWrite[] = [];
  /** Index of the first waiting response in `parked`: taken from the front without shifting. */
  private head = 0;
  private look: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private lookDelay = 0;
  /**
   * When a look found the socket with nothing to write, nothing reported written since (performance.now()
   * ms; -1: not so).
   * One such look is not enough: the socket's last write may be complete while the callbacks that
   * report it have yet to run (a client that stopped reading had 8 MiB excused so, a slice at a time).
   */
  private quietSince = -1;

  constructor(private readonly socketIdle: () => boolean) {}

  /** True when bytes may be handed now; a body then counts them (handed), else waits (park). */
  get room(): boolean {
    return this.sending - this.excused < SEND_BUDGET;
  }

  handed(bytes: number): void {
    this.sending += bytes;
  }

  /** `bytes` handed earlier were written, or their stream closed: responses waiting go on. */
  written(bytes: number): void {
    this.quietSince = -1;
    this.sending -= bytes;
    if (this.excused > this.sending) this.excused = this.sending;
    this.resume();
  }

  park(res: ParkedWrite): void {
    // A stream that closes while it waits leaves its entry until its turn: a client opening and
    // resetting streams on a connection it keeps stalled would grow the list (as disk-turns.ts's).
    if (this.parked.length - this.head >= PARKED_PRUNE_AT) {
      this.parked = this.parked.slice(this.head).filter((p) => !p.closed);
      this.head = 0;
    }
    this.parked.push(res);
    this.scheduleLook();
  }

  /** Responses waiting go on, first come first, while there is room. */
  private resume(): void {
    while (this.room && this.head < this.parked.length) {
      const next = this.parked[this.head++] as ParkedWrite;
      if (this.head === this.parked.length) {
        this.parked = [];
        this.head = 0;
      }
      if (!next.closed) next.resumeParked();
    }
    if (this.head < this.parked.length) this.scheduleLook();
  }

  private scheduleLook(): void {
    if (this.look !== null) return;
    const again = (): void => {
      this.look = null;
      const seen = this.lookAgain();
      if (seen === 'done') return void (this.lookDelay = 0);
      // Quiet: looked at again once it has been so long enough; busy: less and less often.
      this.lookDelay = seen === 'quiet' ? LOOK_FIRST_MS : Math.min(LOOK_LONGEST_MS, this.lookDelay === 0 ? LOOK_FIRST_MS : this.lookDelay * 2);
      this.look = setTimeout(again, this.lookDelay);
      this.look.unref();
    };
    this.look = this.lookDelay === 0 ? setImmediate(again) : setTimeout(again, this.lookDelay);
  }

  /**
   * Excuses what is counted (up to EXCUSED_LIMIT) when bodies wait and the socket has had nothing left
   * to write for 10 ms; 'busy' when it has, 'quiet' while those 10 ms run. Also called by each sweep
   * (http2-sessions.ts).
   */
  lookAgain(): 'busy' | 'quiet' | 'done' {
    if (this.head === this.parked.length || this.room) return 'done';
    if (!this.socketIdle()) {
      this.quietSince = -1;
      return 'busy';
    }
    // Quiet for 10 ms at least, with nothing written meanwhile (see quietSince): two looks in one turn
    // of the event loop (a timer's and the sweep's) would see the same moment.
    const now = performance.now();
    if (this.quietSince === -1 || now - this.quietSince < LOOK_FIRST_MS) {
      if (this.quietSince === -1) this.quietSince = now;
      return 'quiet';
    }
    this.quietSince = -1;
    const excused = Math.min(EXCUSED_LIMIT, this.sending);
    if (excused > this.excused) {
      this.excused = excused;
      this.resume();
    }
    return 'done';
  }
}
