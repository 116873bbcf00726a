import { sep } from 'node:path';

/** A burst of events is rescanned once it has been quiet this long... */
const DEBOUNCE_MS = 30;
/** ...or this long after its first event, so a file written continuously cannot keep the rest stale. */
const DEBOUNCE_MAX_MS = 300;
/**
 * Up to this many paths named by the watcher are looked at alone (a stat each, a walk of a new
 * directory); past it, the deepest directory holding them all is walked (the whole tree when that is
 * the root). A path that turns out to be a symlink makes the tree reader walk the whole tree.
 */
const TARGETED_MAX = 1000;

/** What ScanSchedule needs of the asset table. */
export interface ScheduledTable {
  /** Runs the scans due (they take() what was noted). */
  readonly run: () => void;
  /** The files read while racily clean, looked at again by every recheck (absolute paths). */
  readonly racyFiles: () => Iterable<string>;
  /** An absolute file path relative to the root, or null when it is not under the root. */
  readonly relative: (filePath: string) => string | null;
}

/**
 * When the asset table scans, and what: the paths events and checks name are noted here (or "walk the
 * whole tree"), and one scan runs for a burst of them (debounced). Rechecks come back to files that
 * could not be settled, and to files whose backoff has passed (read-backoff.ts). Timers run on the
 * monotonic clock: on the wall clock, set back an hour, a file put off for 250 ms was not read again
 * for an hour.
 */
export class ScanSchedule {
  /** Paths (relative to the root) noted since the last scan began; null: the next scan walks the whole tree. */
  private changed: Set<string> | null = null;
  private pending: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private lastEvent = 0;
  private recheck: NodeJS.Timeout | null = null;
  private recheckAt = 0;
  private recheckWalk = false;
  /** Files waiting out their backoff: when each is to be looked at again (performance.now() ms). */
  private readonly due = new Map<string, number>();
  private dueTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly table: ScheduledTable) {}

  /** Records a path (relative to the root) to look at in the next scan; null: walk the whole tree. */
  note(rel: string | null): void {
    if (rel === null || this.changed === null) {
      this.changed = null;
      return;
    }
    // Under a directory already noted it is walked with it, and does not count towards the limit: a
    // chmod of a directory of 1,100 directories names each of them again after it.
    if (hasAncestorIn(rel, this.changed)) return;
    if (this.changed.size < TARGETED_MAX) {
      this.changed.add(rel);
      return;
    }
    // Past the limit, one directory holding them all is walked, not the tree: that chmod's names come
    // after the scan of the directory itself took its path, when they land in the next set (1 in 8 runs).
    const common = commonDirectory(this.changed, rel);
    this.changed = common === '' ? null : new Set([common]);
  }

  /** The paths noted since the last call (null: walk the whole tree); from now on nothing is noted. */
  take(): ReadonlySet<string> | null {
    const paths = this.changed;
    this.changed = new Set();
    return paths;
  }

  /** Walks the whole tree, soon. */
  walkSoon(): void {
    this.note(null);
    this.soon();
  }

  /**
   * Coalesces bursts of file-system events into one rescan once they have been quiet for
   * DEBOUNCE_MS, but no later than DEBOUNCE_MAX_MS after the burst began.
   */
  soon(): void {
    if (this.closed) return;
    const now = performance.now();
    this.lastEvent = now;
    // One timer per burst, not one per event (a rename storm brings 20,000 a second): it looks at
    // the last event's time when it fires.
    if (this.pending !== null) return;
    this.burstStart = now;
    this.armScan(DEBOUNCE_MS);
  }

  private armScan(ms: number): void {
    this.pending = setTimeout(() => {
      this.pending = null;
      const due = Math.min(this.lastEvent + DEBOUNCE_MS, this.burstStart + DEBOUNCE_MAX_MS) - performance.now();
      if (due >= 1 && !this.closed) this.armScan(due);
      else this.table.run();
    }, ms);
    this.pending.unref();
  }

  /** Rescans in `ms` (or sooner, if another recheck is already due earlier): the racy files, or the tree. */
  recheckIn(ms: number, walk: boolean): void {
    if (walk) this.recheckWalk = true;
    if (this.closed) return;
    const at = performance.now() + ms;
    if (this.recheck !== null) {
      if (this.recheckAt <= at) return;
      clearTimeout(this.recheck);
    }
    this.recheckAt = at;
    this.recheck = setTimeout(() => {
      this.recheck = null;
      if (this.recheckWalk) this.note(null);
      for (const filePath of this.table.racyFiles()) this.note(this.table.relative(filePath));
      this.recheckWalk = false;
      this.soon();
    }, ms);
    this.recheck.unref();
  }

  /** Looks at each file again once its wait has passed (ms, by absolute path; see read-backoff.ts). */
  later(waits: ReadonlyMap<string, number>): void {
    const now = performance.now();
    for (const [filePath, ms] of waits) {
      const due = this.due.get(filePath);
      if (due === undefined || now + ms < due) this.due.set(filePath, now + ms);
    }
    this.armDue();
  }

  /** Stops every timer: nothing is scheduled from now on. */
  close(): void {
    this.closed = true;
    for (const t of [this.pending, this.recheck, this.dueTimer]) if (t !== null) clearTimeout(t);
    this.pending = this.recheck = this.dueTimer = null;
  }

  private armDue(): void {
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    if (this.closed || this.due.size === 0) return;
    let next = Infinity;
    for (const at of this.due.values()) next = Math.min(next, at);
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      const now = performance.now();
      for (const [filePath, at] of this.due) {
        if (at > now) continue;
        this.due.delete(filePath);
        this.note(this.table.relative(filePath));
      }
      this.soon();
      this.armDue();
    }, Math.max(0, next - performance.now()));
    this.dueTimer.unref();
  }
}

/** The deepest path that is `rel` or a directory above it and above every path of `paths` ('' for the root). */
function commonDirectory(paths: ReadonlySet<string>, rel: string): string {
  let common = rel;
  for (const path of paths) {
    while (common !== '' && path !== common && !path.startsWith(`${common}${sep}`)) {
      const end = common.lastIndexOf(sep);
      common = end === -1 ? '' : common.slice(0, end);
    }
  }
  return common;
}

/** True when a directory above `rel` (not the root: it is walked only when it changed) is one of `paths`. */
export function hasAncestorIn(rel: string, paths: ReadonlySet<string>): boolean {
  for (let end = rel.lastIndexOf(sep); end > 0; end = rel.lastIndexOf(sep, end - 1)) {
    if (paths.has(rel.slice(0, end))) return true;
  }
  return false;
}
