/**
 * Reusable read buffers for files served from disk. A buffer handed to a socket is taken back only
 * when its response has closed, so its bytes are never overwritten while still queued.
 *
 * Why a pool: a fresh Buffer per chunk is freed only when the garbage collector gets to it, so
 * under load a server that allocates them holds far more memory than it is using; reused buffers
 * keep the resident size at what is really in flight.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;

  /**
   * @param size bytes per buffer
   * @param max buffers allowed to exist at once (all kept for reuse: dropping some after a burst
   *   was measured to cost more resident memory than keeping them, as glibc's heap fragments);
   *   past it `take()` returns null
   */
  constructor(
    readonly size: number,
    private readonly max: number,
  ) {}

  /** A buffer of `size` bytes, or null when `max` are in use. */
  take(): Buffer | null {
    const b = this.free.pop();
    if (b !== undefined) return b;
    if (this.allocated >= this.max) return null;
    this.allocated++;
    // allocUnsafeSlow: its own memory, not a slice of Node's shared pool. Filled now so that its pages
    // are touched here: a first read into untouched pages faults on each (~1 ms for 256 KiB in a VM),
    // which the timing of blocking reads would take for a slow device (blocking-reads.ts).
    return Buffer.allocUnsafeSlow(this.size).fill(0);
  }

  /** Gives a buffer from `take()` back; call only once nothing can still read from it. */
  give(b: Buffer): void {
    this.free.push(b);
  }

  /** Buffers taken and not given back (for tests). */
  get inUse(): number {
    return this.allocated - this.free.length;
  }
}
