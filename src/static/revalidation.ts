import type { BigIntStats } from 'node:fs';
import type { AssetInfo } from './asset-info.js';
import { sameIdentity } from './file-identity.js';

/**
 * How often files are stat'ed again for changes no event reports, and at most how many each time:
 * those with more than one name (a tree of 100,000 hard links, as `cp -al` snapshots make, is gone
 * through in 100 s), and every file in turn, slowly (a 1,000-file tree in 10 s).
 */
const REVALIDATE_MS = 1000;
const LINKED_PER_CHECK = 1000;
const ANY_PER_CHECK = 100;
/**
 * The lists gone through are made again at most this often after a targeted scan changed the table
 * (its new versions are added to them at once): for 100,000 files that is ~20 ms of the event loop,
 * which at every publish (a file appended to every 100 ms) cost 4-5 times the CPU of the changes
 * themselves. Meanwhile versions replaced are skipped. After a walk they are made again at once.
 */
const RELIST_MS = 10_000;

/** What Revalidation needs of the asset table. */
export interface RevalidatedTable {
  /** The table as it is now, by URL path (a directory's `/dir/` is its index.html's second path). */
  readonly infos: () => ReadonlyMap<string, AssetInfo>;
  readonly statFile: (path: string) => Promise<BigIntStats>;
  /** True when `info` is still the version served at its URL path. */
  readonly isCurrent: (info: AssetInfo) => boolean;
  /** Looks at `info`'s file again: its identity changed (or it cannot be stat'ed) and no event said so. */
  readonly changed: (info: AssetInfo) => Promise<void>;
}

/**
 * Stats files again for changes no event reports, and has the table read again one found changed: a
 * file with more than one name (a hard link) rewritten in place through a name in a directory no
 * watch covers, or linked so after it was read (a link count changes with no event either). Its body
 * held in memory, its ETag and its 304s would otherwise stay those of the old bytes for good (nginx,
 * which stats per request, serves the new ones). Files known to have other names are looked at
 * every REVALIDATE_MS (LINKED_PER_CHECK at a time), every file in turn ANY_PER_CHECK at a time.
 */
export class Revalidation {
  private timer: NodeJS.Timeout | null = null;
  /** The versions in the table, and those with more than one name (null: not listed yet). */
  private versions: { all: AssetInfo[]; linked: AssetInfo[] } | null = null;
  /** When `versions` was made (performance.now() ms), and whether the table changed since. */
  private versionsAt = 0;
  private stale = false;
  /** Where each list is gone on from (kept across publishes: a table that changes often is still gone through). */
  private allNext = 0;
  private linkedNext = 0;
  private running = false;
  private closed = false;

  constructor(private readonly table: RevalidatedTable) {}

  /** Starts looking, every REVALIDATE_MS until close(). */
  start(): void {
    if (this.closed) return;
    this.timer = setInterval(() => void this.check(), REVALIDATE_MS);
    this.timer.unref();
  }

  /**
   * The table changed. `changes`: a targeted scan's (by URL path, null for one removed), whose new
   * versions are looked at from now on rather than after the next listing; null after a walk.
   */
  published(changes: ReadonlyMap<string, AssetInfo | null> | null): void {
    this.stale = true;
    // After a walk the lists are made again at the next look, whatever RELIST_MS says: its new versions are
    // nowhere else, and a walk costs more than the listing (with a symlink in the root every scan walks, so a
    // hard link rewritten twice went unseen the second time until the 10 s relisting).
    if (changes === null) this.versions = null;
    if (changes === null || this.versions === null) return;
    for (const [urlPath, info] of changes) {
      if (info === null || urlPath !== info.urlPath) continue;
      this.versions.all.push(info);
      if (info.links > 1) this.versions.linked.push(info);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      const now = performance.now();
      if (this.versions === null || (this.stale && now - this.versionsAt >= RELIST_MS)) {
        this.versions = this.list();
        this.versionsAt = now;
        this.stale = false;
      }
      const v = this.versions;
      this.linkedNext = await this.restat(v.linked, this.linkedNext, LINKED_PER_CHECK);
      this.allNext = await this.restat(v.all, this.allNext, ANY_PER_CHECK);
    } finally {
      this.running = false;
    }
  }

  /** Stats up to `count` of `list` from `next` on (in a ring), reading again each found changed; returns where to go on. */
  private async restat(list: readonly AssetInfo[], next: number, count: number): Promise<number> {
    const n = Math.min(list.length, count);
    if (n === 0) return 0;
    next %= list.length;
    const table = this.table;
    for (let i = 0; i < n && !this.closed; i++, next = (next + 1) % list.length) {
      const info = list[next] as AssetInfo;
      const s = await table.statFile(info.filePath).catch(() => null);
      if (table.isCurrent(info) && (s === null || !sameIdentity(info.identity, s))) void table.changed(info).catch(() => {});
    }
    return next;
  }

  /** The versions in the table, once each (a directory's index is one at two URL paths), and those with other names. */
  private list(): { all: AssetInfo[]; linked: AssetInfo[] } {
    const all: AssetInfo[] = [];
    const linked: AssetInfo[] = [];
    // forEach: no [key, value] pair allocated per file; a directory's `/dir/` is its index's second path.
    this.table.infos().forEach((info, urlPath) => {
      if (urlPath !== info.urlPath) return;
      all.push(info);
      if (info.links > 1) linked.push(info);
    });
    return { all, linked };
  }
}
