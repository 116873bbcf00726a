import { close, open } from 'node:fs';
import type { AssetInfo } from './asset-info.js';
import { errorCode, OUT_OF_DESCRIPTORS } from './path-errors.js';
import { READ_BY_PATH } from './read-flags.js';

/** One open file, shared by the responses reading it (positioned reads do not move a shared offset). */
interface OpenFile {
  readonly info: AssetInfo;
  readonly fd: number;
  /** Responses holding it now. */
  refs: number;
  /** Still in the cache; once out of it, it is closed as soon as no response holds it. */
  cached: boolean;
  /** Acquired since the last idle sweep (see IDLE_SWEEP_MS). */
  used: boolean;
}

/**
 * How often cached fds no response used since the last look are closed (so after 30-60 s idle, as
 * nginx's `open_file_cache inactive=`): unwatched (`--no-watch`) no scan closes the fd of a file
 * deleted or replaced since, whose disk space it would hold until a request for its URL.
 */
const IDLE_SWEEP_MS = 30_000;

type Opened = (err: Error | null, fd: number) => void;

/**
 * Open file descriptors of files served from disk, kept between responses so that a Range or a
 * large GET does not pay open + close each time (nginx's `open_file_cache`). At most `max` are
 * kept, least recently used first out; a file's fd is closed only when it is out of the cache AND no
 * response holds it, so a response never reads from a closed (or reused) descriptor.
 *
 * Freshness is not the cache's business: it hands out an fd per file version (AssetInfo), and each
 * response still checks the fd's identity with fstat after its first read, as for a fresh open. A
 * file written in place, replaced by a rename or deleted changes the cached inode's ctime (or nlink),
 * so that check fails, the response calls `forget` and answers from a rescan. After each scan
 * `drop` (or `retain`) closes the fds of versions no longer in the table (a deleted file's space is then freed).
 * Out of descriptors (EMFILE, ENFILE), an open first closes the idle cached ones and tries again:
 * the cache must not be why a response fails.
 */
export class FdCache {
  /** Cached files by version, least recently used first (Map order). */
  private readonly cached = new Map<AssetInfo, OpenFile>();
  /** Every fd opened here and not yet closed, cached or only held by responses. */
  private readonly byFd = new Map<number, OpenFile>();
  /** Opens under way, with the responses waiting for them. */
  private readonly opening = new Map<AssetInfo, Opened[]>();
  /** Counts scans (`retain` and `drop` calls): an open begun before a scan may be of a version that scan dropped. */
  private generation = 0;
  private idleSweep: NodeJS.Timeout | null = null;

  /**
   * `max`: file descriptors kept open while no response uses them; 0 disables the cache. `idleSweepMs`:
   * see IDLE_SWEEP_MS. `exhausted`: told of an open that failed for want of descriptors (EMFILE, ENFILE).
   */
  constructor(
    private readonly max: number,
    private readonly idleSweepMs = IDLE_SWEEP_MS,
    private readonly exhausted?: (code: string) => void,
  ) {}

  /** File descriptors open here now (held by responses or kept for later ones). */
  get size(): number {
    return this.byFd.size;
  }

  /**
   * An fd for reading `info`'s file, to be given back once with `release(fd)`. The callback may run
   * synchronously (a cached fd). An error means the file cannot be opened (gone since the scan).
   */
  acquire(info: AssetInfo, done: Opened): void {
    const file = this.cached.get(info);
    if (file !== undefined) {
      file.refs++;
      file.used = true;
      this.cached.delete(info); // to the most recently used end
      this.cached.set(info, file);
      return done(null, file.fd);
    }
    const waiting = this.opening.get(info);
    if (waiting !== undefined) return void waiting.push(done);
    this.opening.set(info, [done]);
    this.open(info, this.generation, true);
  }

  /** `generation`: when the first try began (a scan since may have dropped the version: see opened). */
  private open(info: AssetInfo, generation: number, mayRetry: boolean): void {
    open(info.filePath, READ_BY_PATH, (err, fd) => this.opened(info, err, fd, generation, mayRetry));
  }

  /** Gives back an fd from `acquire`; call exactly once per acquire. */
  release(fd: number): void {
    const file = this.byFd.get(fd);
    if (file === undefined) return;
    file.refs--;
    this.closeIfUnused(file);
  }

  /** This version's cached fd no longer describes it (found changed): later responses open afresh. */
  forget(info: AssetInfo): void {
    const file = this.cached.get(info);
    if (file !== undefined) this.evict(file);
  }

  /** Closes the cached fds of every version `isCurrent` rejects (called after a walk of the tree). */
  retain(isCurrent: (info: AssetInfo) => boolean): void {
    this.generation++;
    for (const file of [...this.cached.values()]) if (!isCurrent(file.info)) this.evict(file);
  }

  /** Closes the cached fds of these versions, no longer in the table (called after a targeted scan). */
  drop(infos: readonly AssetInfo[]): void {
    this.generation++;
    for (const info of infos) this.forget(info);
  }

  /** Closes every cached fd not held by a response; those held close when released. */
  clear(): void {
    for (const file of [...this.cached.values()]) this.evict(file);
  }

  /** Closes the cached fds no response holds; returns how many. */
  private evictIdle(): number {
    let closed = 0;
    for (const file of [...this.cached.values()]) {
      if (file.refs > 0) continue;
      this.evict(file);
      closed++;
    }
    return closed;
  }

  /** Cached only if no scan has run since the open began (`generation`): the version is then still current. */
  private opened(info: AssetInfo, err: NodeJS.ErrnoException | null, fd: number, generation: number, mayRetry: boolean): void {
    const outOfDescriptors = err !== null && OUT_OF_DESCRIPTORS.has(errorCode(err));
    if (outOfDescriptors && mayRetry && this.evictIdle() > 0) return this.open(info, generation, false);
    const keep = generation === this.generation;
    const waiting = this.opening.get(info) as Opened[];
    this.opening.delete(info);
    if (err !== null) {
      if (outOfDescriptors) this.exhausted?.(errorCode(err));
      for (const done of waiting) done(err, -1);
      return;
    }
    const file: OpenFile = { info, fd, refs: waiting.length, cached: keep && this.max > 0, used: true };
    this.byFd.set(fd, file);
    if (file.cached) {
      this.cached.set(info, file);
      if (this.cached.size > this.max) this.evict(this.cached.values().next().value as OpenFile);
      this.idleSweep ??= setInterval(() => this.sweepIdle(), this.idleSweepMs).unref();
    }
    for (const done of waiting) done(null, fd);
  }

  /** Closes the cached fds no response used since the last sweep; stops once none is cached. */
  private sweepIdle(): void {
    for (const file of [...this.cached.values()]) {
      if (file.refs === 0 && !file.used) this.evict(file);
      else file.used = false;
    }
    if (this.cached.size === 0 && this.idleSweep !== null) {
      clearInterval(this.idleSweep);
      this.idleSweep = null;
    }
  }

  private evict(file: OpenFile): void {
    this.cached.delete(file.info);
    file.cached = false;
    this.closeIfUnused(file);
  }

  private closeIfUnused(file: OpenFile): void {
    if (file.cached || file.refs > 0) return;
    this.byFd.delete(file.fd);
    close(file.fd, () => {});
  }
}
