import type { AssetInfo } from './asset-info.js';
import type { EtagCache, Served } from './etag-cache.js';

/** How long after a rescan the ETag cache is written (see soon). */
const SAVE_DELAY_MS = 10_000;

/** What is written: the table's versions, those not to be trusted yet (racy), and what removed paths served. */
export interface CacheContents {
  readonly infos: ReadonlyMap<string, AssetInfo>;
  readonly racy: ReadonlySet<AssetInfo>;
  readonly departed: ReadonlyMap<string, Served>;
}

/**
 * Writes an asset table's ETag cache (etag-cache.ts): one write at a time, the last one wins, and a
 * write that fails is said once and turns the cache off (the next start reads the files again).
 */
export class EtagCacheWriter {
  private saving: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private cache: EtagCache | null = null;

  /** `contents` is read when a write starts, so each write has the table as it is then. */
  constructor(
    private readonly contents: () => CacheContents,
    private readonly warn: (line: string) => void,
  ) {}

  /** The cache to write from now on (none until the table has found one configured and outside its root). */
  writeTo(cache: EtagCache | null): void {
    this.cache = cache;
  }

  /** Writes the cache now (after the start-up scan). */
  now(): void {
    const cache = this.cache;
    if (cache === null) return;
    if (this.saving !== null) {
      this.again = true;
      return;
    }
    const { infos, racy, departed } = this.contents();
    this.saving = cache.save(infos, racy, departed).catch((e: Error) => {
      this.warn(`xorigin: cannot write the ETag cache: ${e.message}; the next start reads again every file the cache already there (if any) does not know`);
      this.cache = null;
    }).finally(() => {
      this.saving = null;
      if (this.again) {
        this.again = false;
        this.now();
      }
    });
  }

  /**
   * After a rescan, the cache is written SAVE_DELAY_MS later, once for every change in that time: a
   * write serialises every entry on the main thread, which for each edited file of a 100,000-file
   * tree held every request ~100 ms (a fifth of the CPU of an edit, with --cpu-prof).
   */
  soon(): void {
    // A scan that ends after close() (it was running then) writes now, as close() does with one pending:
    // a timer armed now would write 10 s after the table is gone, or never if the process exits first.
    if (this.closed) return this.now();
    if (this.timer !== null || this.cache === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.now();
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }

  /** Resolves once the cache file has been written (at once if no write is pending). */
  async flush(): Promise<void> {
    this.startPending();
    while (this.saving !== null) await this.saving;
  }

  /** The table is closing: a write soon() scheduled starts now, and any later soon() writes at once. */
  close(): void {
    this.closed = true;
    this.startPending();
  }

  private startPending(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.now();
  }
}
