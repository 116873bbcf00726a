import type { AssetInfo } from './asset-table.js';

/** What a scan reads and writes the table through: the live Map itself for a walk, a TableDelta for a targeted scan. */
export interface TableView {
  get(urlPath: string): AssetInfo | undefined;
  has(urlPath: string): boolean;
  set(urlPath: string, info: AssetInfo): unknown;
  delete(urlPath: string): unknown;
  keys(): Iterable<string>;
}

/**
 * The changes a targeted scan makes, kept beside the live table instead of in a copy of it: reads go
 * through the changes to the table, writes touch only the changes. Copying a 100,000-entry table for a
 * scan that looks at one path, then comparing the copy with the table, held every request some 250 ms.
 * The table is never written here: the scan's result is put in force by the table at publish time, in
 * one synchronous step (see AssetTable.apply).
 */
export class TableDelta implements TableView {
  /** By URL path: the new entry, or null for one removed. */
  readonly changes = new Map<string, AssetInfo | null>();
  /** Every entry this scan set, including any it replaced again before publishing (see `created`). */
  private readonly made: AssetInfo[] = [];

  constructor(private readonly base: ReadonlyMap<string, AssetInfo>) {}

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
  }

  delete(urlPath: string): void {
    if (this.base.has(urlPath)) this.changes.set(urlPath, null);
    else this.changes.delete(urlPath);
  }

  /** Every URL path in the table as changed (walks the whole table: only for removing a directory). */
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
