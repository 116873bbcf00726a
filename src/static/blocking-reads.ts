/**
 * Whether a body read from disk may be read on the main thread (`readSync`) instead of on libuv's
 * thread pool.
 *
 * Why block at all: a file served from disk is almost always in the page cache, where a 256 KiB
 * read is a copy of ~20 µs; through the thread pool the same read costs a hand-off each way and,
 * on a 2-core machine, ~35% more CPU per megabyte sent. A 1 MB GET from disk went from ~0.5 to
 * ~1.0 of the bare ceiling that sends them from memory (bench/run.js, --memory-budget 0). nginx
 * reads files the same way unless told to use threads (`aio threads`).
 *
 * Why not always: a read that misses the page cache waits for the device, and while it waits no
 * other connection is served. So every blocking read is timed, and two in a row slower than
 * SLOW_READ_MS send every read to the thread pool for a cool-down: 1 s, doubled each time reads are
 * still slow right after one (a device that stays slow), at most 60 s; a fast read sets it back to
 * 1 s. A slow device then costs two blocking reads per cool-down, per handler. The threshold sits
 * between a copy and a device: a page-cache read of 256 KiB takes ~0.02-0.1 ms here, but up to
 * ~1 ms now and then in a test run on a busy machine; a spinning disk's seek 5-10 ms, a network
 * file system anything. Two in a row, not one: with the server pinned to one core, a page-cache
 * read now and then takes 1-5 ms when the thread is descheduled (10 of ~80,000 in a 12 s benchmark),
 * and each alone sent a second of reads to the thread pool. In a row is not enough on its own: a
 * fast read between two slow ones reset it, so a client alternating Range requests to cold parts of
 * a large file with requests for cached bytes had every cold read made on the main thread, without
 * end. So the time slow reads took is also summed, leaking SLOW_MS_PER_SECOND each second: past it,
 * the guard trips too, and reads stay off the main thread (past the cool-down if need be) until
 * the sum has leaked back under it. That bounds the main thread's time in slow reads to about that
 * share (2.5%), however long each read takes, and page-cache reads slowed by descheduling (a few
 * ms, ~1 a second) stay under it.
 */
/** A blocking read slower than this (ms) waited for a device, not a copy from the page cache. */
export const SLOW_READ_MS = 4;
/** Slow reads in a row that send reads to the thread pool. */
export const SLOW_READS_TO_TRIP = 2;
/** Time (ms) slow blocking reads may take per second, however interleaved with fast ones. */
export const SLOW_MS_PER_SECOND = 25;
const MIN_COOL_DOWN = 1000;
const MAX_COOL_DOWN = 60_000;

/** The guard of one handler's blocking reads: `allowed()` before each read, `took()` after it. */
export class BlockingReads {
  /** Reads go to the thread pool until this time (ms, `now`'s clock); 0: no trip since the last fast read. */
  private until = 0;
  private coolDown = MIN_COOL_DOWN;
  /** Blocking reads slower than SLOW_READ_MS since the last fast one. */
  private slowInARow = 0;
  /** Time (ms) slow reads took, less SLOW_MS_PER_SECOND for each second since; as of `slowAt`. */
  private slowMs = 0;
  private slowAt = 0;

  /** `now`: a monotonic clock in ms (tests pass their own); a read is timed on it. */
  constructor(readonly now: () => number = () => performance.now()) {}

  /** True when the next read may block the main thread. */
  allowed(): boolean {
    return this.until === 0 || this.now() >= this.until;
  }

  /** Records a blocking read that started at `startedAt` (ms, from `now`) and has just returned. */
  took(startedAt: number): void {
    const end = this.now();
    const took = end - startedAt;
    if (took <= SLOW_READ_MS) {
      this.slowInARow = 0;
      this.until = 0;
      this.coolDown = MIN_COOL_DOWN;
      return;
    }
    this.slowMs = Math.max(0, this.slowMs - ((end - this.slowAt) * SLOW_MS_PER_SECOND) / 1000) + took;
    this.slowAt = end;
    if (++this.slowInARow < SLOW_READS_TO_TRIP && this.slowMs <= SLOW_MS_PER_SECOND) return;
    // slowMs is kept: it leaks during the cool-down, so a burst past the budget is paid back.
    this.slowInARow = 0;
    // Slow again right after a cool-down (no fast read since): the device is still slow, wait longer.
    if (this.until !== 0) this.coolDown = Math.min(this.coolDown * 2, MAX_COOL_DOWN);
    this.until = Math.max(end + this.coolDown, this.drainedAt(end));
  }

  /**
   * When slowMs will have leaked back down to the budget. Until then no read blocks: a fast read
   * after each cool-down set it back to 1 s, so without this wait one read per second was let
   * through however long it took (reads of 1 s among fast ones held the main thread half the time).
   */
  private drainedAt(end: number): number {
    const over = this.slowMs - SLOW_MS_PER_SECOND;
    return over <= 0 ? 0 : end + (over * 1000) / SLOW_MS_PER_SECOND;
  }
}
