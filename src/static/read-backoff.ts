/**
 * How soon a file that keeps changing may be read (and hashed) again. Without it, a file appended to
 * for 6 s was re-read whole after every burst of events: 52 reads of a file growing to 150 MB, 7.9 GB.
 *
 * A file read for the first time, or not read for twice its last wait, is read at once: an ordinary
 * save is served as fast as without this. A file that changed again sooner waits: `base` ms after
 * its first read, twice as long after each further read, at most `cap`, and never less than
 * `readFactor` times as long as its last read took, so hashing one growing file takes at most
 * 1 / (1 + readFactor) of a hashing thread's time. Once writes stop, the final version is read
 * within the wait in force then: at most max(`cap`, `readFactor` × read time). A file with no version
 * to serve meanwhile (removed and put back) waits only for that floor, `readFactor` × its last read
 * time: the doubling waits would leave it a 404 while it exists, the floor keeps the bound on hashing.
 * So does one a response found changed (tree-reader.ts `urgent`), which waits for that read (up to
 * 1 s, handler.ts retryAfterRescan).
 */
export interface ReadBackoffOptions {
  /** ms; default 250. */
  readonly base?: number | undefined;
  /** ms; default 1000. */
  readonly cap?: number | undefined;
  /** Default 4. */
  readonly readFactor?: number | undefined;
}

interface LastRead {
  /** When the read started (ms, the caller's clock). */
  readonly at: number;
  /** How long after `at` the next read may start. */
  readonly wait: number;
  /** `readFactor` × how long the read took: the least wait, also for a file with nothing to serve meanwhile. */
  readonly floor: number;
}

export class ReadBackoff {
  private readonly reads = new Map<string, LastRead>();
  readonly base: number;
  readonly cap: number;
  readonly readFactor: number;

  constructor(options: ReadBackoffOptions = {}) {
    this.base = options.base ?? 250;
    this.cap = options.cap ?? 1000;
    this.readFactor = options.readFactor ?? 4;
  }

  /**
   * Milliseconds until `key` may be read again; 0: now. `served`: false when no version of it is
   * served meanwhile, which then waits only for the floor.
   */
  delay(key: string, now: number, served = true): number {
    const last = this.reads.get(key);
    if (last === undefined || this.isQuiet(last, now)) return 0;
    return Math.max(0, last.at + (served ? last.wait : last.floor) - now);
  }

  /** True when `key` was read recently enough that a change to it now would have to wait. */
  isHot(key: string, now: number): boolean {
    const last = this.reads.get(key);
    return last !== undefined && !this.isQuiet(last, now);
  }

  /**
   * Records a read of `key` that started at `at` and took `tookMs`. `failed`: it ended in an error
   * (the file gone) rather than with bytes read: it keeps the floor of the read before, as its few ms
   * would let the next full read of a file removed and put back start at once.
   */
  read(key: string, at: number, tookMs: number, failed = false): void {
    const last = this.reads.get(key);
    const fresh = last === undefined || this.isQuiet(last, at);
    const doubled = fresh ? this.base : Math.min(this.cap, last.wait * 2);
    const floor = Math.max(Math.ceil(tookMs * this.readFactor), failed && !fresh ? last.floor : 0);
    this.reads.set(key, { at, wait: Math.max(doubled, floor), floor });
  }

  /** Forgets the files that have been quiet long enough to be read at once again (bounds the memory held). */
  prune(now: number): void {
    for (const [key, last] of this.reads) if (this.isQuiet(last, now)) this.reads.delete(key);
  }

  get size(): number {
    return this.reads.size;
  }

  private isQuiet(last: LastRead, now: number): boolean {
    return now - last.at >= 2 * last.wait;
  }
}
