import type { AssetInfo } from './asset-info.js';

/**
 * The changes a targeted scan makes, kept beside the live table instead of in a copy of it: reads go
 * through the changes to the table, writes touch only the changes. Copying a 100,000-entry table for a
 * scan that looks at one path, then comparing the copy with the table, held every request some 250 ms.
 * The table is never written here: the scan's result is put in force by the table at publish time, in
 * one synchronous step (see AssetTable.apply).
 */
export class TableDelta {
  /** By URL path: the new entry, or null for one removed. */
  readonly changes = new Map<string, AssetInfo | null>();
  /** Every entry this scan set, including any it replaced again before publishing (see `created`). */
  private readonly made: AssetInfo[] = [];
  /** The directories (URL paths) of the entries set here, as `baseDirs` holds those of the table's. */
  private readonly dirs = new Set<string>();
  /** Directories this scan removed with everything under them (see `emptied`). */
  private readonly removedDirs: string[] = [];

  /** `baseDirs`: every directory some entry of `base` is under (it may hold more). */
  constructor(
    private readonly base: ReadonlyMap<string, AssetInfo>,
    private readonly baseDirs: ReadonlySet<string>,
  ) {}

  get(urlPath: string): AssetInfo | undefined {
    const change = this.changes.get(urlPath);
    return change === undefined ? this.base.get(urlPath) : (change ?? undefined);
  }

  has(urlPath: string): boolean {
    return this.get(urlPath) !== undefined;
  }

  set(urlPath: string, info: AssetInfo): void {
    this.changes.set(urlPath, info);
    this.made.push(info);
    addDirsOf(urlPath, this.dirs);
  }

  /** False when no entry is under the directory `urlDir` (so nothing need be looked for there). */
  private mayHoldUnder(urlDir: string): boolean {
    return this.baseDirs.has(urlDir) || this.dirs.has(urlDir);
  }

  /** Removes an entry and, if it was a directory, every entry under it (and its index). */
  deleteUnder(urlPath: string): void {
    this.delete(urlPath);
    if (!this.mayHoldUnder(urlPath)) return; // a new path, or a file's: nothing to look for
    const prefix = `${urlPath}/`;
    const under: string[] = [];
    for (const key of this.keys()) if (key.startsWith(prefix)) under.push(key);
    for (const key of under) this.delete(key);
    this.removedDirs.push(urlPath);
  }

  /** Points the `/dir/` entry of a directory at its index.html, or removes it when it has none. */
  relinkIndex(urlDir: string): void {
    const index = this.get(`${urlDir}/index.html`);
    if (index !== undefined) this.set(`${urlDir}/`, index);
    else this.delete(`${urlDir}/`);
  }

  /**
   * The directories removed by this scan that it set no entry under again: no entry is under them
   * once it is applied, so the table's `dirs` may let go of them (it would otherwise keep every
   * directory name ever created until a walk).
   */
  get emptied(): readonly string[] {
    return this.removedDirs.filter((dir) => !this.dirs.has(dir));
  }

  delete(urlPath: string): void {
    if (this.base.has(urlPath)) this.changes.set(urlPath, null);
    else this.changes.delete(urlPath);
  }

  /**
   * Every URL path in the table as changed. Walks the whole table: only for a directory that was one
   * (see mayHoldUnder) and is gone or replaced, whose entries underneath must go.
   */
  *keys(): Iterable<string> {
    for (const key of this.base.keys()) if (this.changes.get(key) !== null) yield key;
    for (const [key, info] of this.changes) if (info !== null && !this.base.has(key)) yield key;
  }

  /**
   * The entries this scan made, whether or not they are still in it: one read and replaced again within
   * the scan (named twice, read twice) may have had its bytes handed out (`readWhole`) all the same.
   */
  get created(): readonly AssetInfo[] {
    return this.made;
  }
}

/**
 * Adds to `dirs` each directory above `urlPath` (`/a/b` and `/a` for `/a/b/c.woff2`, `/a` for the index
 * entry `/a/`). Stops at the first one already there: a set filled only this way holds its ancestors too.
 */
export function addDirsOf(urlPath: string, dirs: Set<string>): void {
  for (let i = urlPath.lastIndexOf('/'); i > 0; i = urlPath.lastIndexOf('/', i - 1)) {
    const dir = urlPath.slice(0, i);
    if (dirs.has(dir)) return;
    dirs.add(dir);
  }
}
