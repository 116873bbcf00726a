import { constants, type BigIntStats, type Dirent } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { untilDatable, type AssetInfo } from './asset-info.js';
import { isRacy } from './file-identity.js';
import { EtagCacheWriter } from './etag-cache-writer.js';
import { EtagCache, etagCacheFile, realDir, type Served } from './etag-cache.js';
import { addSiblingBase, NO_VARIANTS, sameVariants, siblingBases, touchedBy, variantsOf, type Variants } from './precompressed-siblings.js';
import type { ReadBackoffOptions } from './read-backoff.js';
import { Revalidation } from './revalidation.js';
import { mayList, RootLocation } from './root-location.js';
import { reportScan, type ProgressOut } from './scan-progress.js';
import { ScanSchedule } from './scan-schedule.js';
import { SkippedPaths } from './skipped-paths.js';
import { sayOnStderr } from './stderr-line.js';
import { addDirsOf, TableDelta } from './table-delta.js';
import { terminalSafe } from '../http/terminal-safe.js';
import { isServableName, TreeReader, UNSETTLED_RECHECK_MS, type Scan } from './tree-reader.js';
import { TreeWatcher } from './tree-watcher.js';

const NOTHING: ReadonlySet<string> = new Set();

/** A running watch of the tree: only its failure and its end matter to the table. */
export interface TreeWatch {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
  /** Resolves once every directory found so far is watched (when watches are opened asynchronously). */
  ready?(): Promise<void>;
  /** Watches one more directory (relative to the root) now, before the table's walk lists it. */
  add?(dir: string): void;
}

/**
 * Starts watching a directory tree, calling `onChange` on any change below it with the changed path
 * relative to `dir` when the platform says which (null or undefined: something changed, somewhere).
 * `dirs`: the directories (relative to `dir`, `''` for itself) to watch now; the table passes none and
 * adds each directory as its walk reaches it (TreeWatch.add), so the watcher need not walk the tree.
 */
export type WatchTree = (dir: string, onChange: (event?: string, filename?: string | null) => void, dirs?: readonly string[]) => TreeWatch;

export interface AssetTableOptions {
  /** Watch the tree and rescan on change (default true). */
  readonly watch?: boolean | undefined;
  /** Rescan period once the tree cannot be watched (default 2000 ms). */
  readonly pollIntervalMs?: number | undefined;
  /** Receives the one line saying watching failed (default: written to stderr). */
  readonly warn?: ((line: string) => void) | undefined;
  /** Told when a scan found the process out of file descriptors (EMFILE, ENFILE): see descriptor-shortage.ts. */
  readonly exhausted?: ((code: string) => void) | undefined;
  /** How the tree is watched (default: a TreeWatcher, see tree-watcher.ts); tests inject one to make it fail. */
  readonly watchTree?: WatchTree | undefined;
  /**
   * How paths are stat'ed (default: `fs.promises.stat` with bigint times). Tests inject one to produce
   * what a real file system gives only by chance: two writes within one timestamp tick, or a writer
   * that lands exactly between a read and the stat after it.
   */
  readonly statFile?: ((path: string) => Promise<BigIntStats>) | undefined;
  /**
   * Called after each scan has replaced the table, so what is kept per file version elsewhere (bodies
   * in memory, open fds) can let go of versions no longer served. `dropped`: the versions a targeted
   * scan took out (replaced or removed, and any it read but did not keep), each no longer current;
   * null after a walk of the whole tree, when any version may be gone: ask `isCurrent` (O(1)) of each
   * one held.
   */
  readonly published?: ((dropped: readonly AssetInfo[] | null, isCurrent: (info: AssetInfo) => boolean) => void) | undefined;
  /**
   * Directory of the ETag cache (see etag-cache.ts), or undefined for none: an unchanged file is then
   * not read again at start-up. A directory inside the root is not used (said once).
   */
  readonly etagCache?: string | undefined;
  /**
   * Given the bytes of a small file the scan read whole to hash them (identity unchanged across the
   * read, so they are exactly the version `info` describes), to keep if there is room. Not those a
   * hashing thread read for a large tree's walk (file-probe.ts): they stay there.
   */
  readonly readWhole?: ((info: AssetInfo, bytes: Buffer) => void) | undefined;
  /** Where a start-up scan longer than a second reports its progress (default stderr). */
  readonly progress?: ProgressOut | undefined;
  /** How directories are listed (default: `fs.promises.readdir` with file types); tests inject failures. */
  readonly readDir?: ((path: string) => Promise<Dirent[]>) | undefined;
  /** How long a file that keeps changing waits between reads (default: read-backoff.ts's); tests lengthen it. */
  readonly readBackoff?: ReadBackoffOptions | undefined;
}

const POLL_DEFAULT_MS = 2000;
/** A walk made only because the tree has symlinks, or is polled, waits this many times the last walk's length after it (see paceWalk). */
const WALK_SPACING = 3;
/**
 * The longest such a wait gets: a walk that hashed a large new file (30 s for 3 GiB) is no measure of
 * the next one, and every change after it waited three times that. Walks longer than a second then
 * take more than a quarter of a core.
 */
const WALK_WAIT_MAX_MS = 3000;
/** How often a watched root is checked for having moved (a switched symlink, a replaced directory). */
const ROOT_CHECK_MS = 2000;
/** How long after a scan that found racy files the next one runs: once the window has surely passed. */
const RACY_RECHECK_MS = 2100;
/**
 * Walks at start-up after one that ran out of descriptors (see walkWhileExhausted), at most: each finds
 * less than the one before, and under `ulimit -n` 44-48, where no hashing thread could start, walks that
 * each added a few files held the start for 16-46 s at full CPU, out of descriptors still (review h52).
 */
const EXHAUSTED_WALKS = 3;
/** The longest wait before a walk retries paths the disk would not read (see noteFailures). */
const FAILED_RECHECK_MAX_MS = 10_000;
/** Paths that could not be read are said at most this often. */
const FAILURE_QUIET_MS = 60_000;

const defaultWatchTree: WatchTree = (dir, onChange, dirs) =>
  new TreeWatcher(dir, onChange, { dirs, ignore: (name, parentRel) => !isServableName(name, parentRel === '') });
const defaultStat = (path: string): Promise<BigIntStats> => stat(path, { bigint: true });
const defaultReadDir = (path: string): Promise<Dirent[]> => readdir(path, { withFileTypes: true });

/** The end of a pass of the scan loop, and how to settle it (Node 20 has no Promise.withResolvers). */
interface PassEnd {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

function passEnd(): PassEnd {
  let resolve = (): void => {};
  let reject = (_e: unknown): void => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a caller that does not wait (the scan schedule's) must not leave it unhandled
  return { promise, resolve, reject };
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The work of the last scan, for tests and the start-up report. */
export interface ScanReport {
  /** Files looked at: every file for a walk of the tree, the ones named by the watcher otherwise. */
  readonly files: number;
  /** Paths stat'ed (files and directories). */
  readonly stated: number;
  /** Of those, files stat'ed (and the small ones read) in batches on the hashing threads (file-probe.ts). */
  readonly probed: number;
  /** Of the files read, those read ahead by a probe (see probed). */
  readonly readAhead: number;
  /** Files read and hashed. */
  readonly hashed: number;
  /** Files whose tag came from the ETag cache instead. */
  readonly cached: number;
  /** Wall time of the scan, ms. */
  readonly ms: number;
}

/**
 * The table of servable files under a root, built by walking the root once. A request is a Map
 * lookup of its URL path: no file-system path is ever built from a URL, so `..`, encoded slashes,
 * NUL bytes and the like cannot reach outside the root, whatever their encoding.
 *
 * `build` turns each file into the data the server keeps per asset (its prebuilt header blocks).
 *
 * The table holds what is served and puts each scan's result in force in one step (publish); the
 * scans are read by tree-reader.ts, run when scan-schedule.ts says, and told of changes by the
 * watcher (tree-watcher.ts), the root checks (root-location.ts) and revalidation.ts.
 */
export class AssetTable<T> {
  private entries = new Map<string, T>();
  private infos = new Map<string, AssetInfo>();
  private variants = new Map<string, Variants>();
  private racy = new Set<AssetInfo>();
  /**
   * What URL paths no longer in the table served last (the newest DEPARTED_LIMIT): a file deleted,
   * then put back with an older mtime (rm, then cp -p) is dated after it, as one replaced in place is.
   */
  private departed = new Map<string, Served>();
  /**
   * Unwatched: the URL paths served at start-up that a later scan dropped (a request found them gone
   * or unreadable), and when a request last had each looked for again (-Infinity: not yet). See lookAgain.
   */
  private dropped = new Map<string, number>();
  /** lookAgain's budget: the second it counts in, and the looks it allowed in it. */
  private looksSince = 0;
  private looks = 0;
  /** The start-up scan is done (see `dropped`). */
  private serving = false;
  /** Every directory (URL path) some entry is under, and maybe some no longer: see TableDelta.deleteUnder. */
  private dirs = new Set<string>();
  /** Where the root really is, and whether it moved (see root-location.ts). */
  private readonly rootAt: RootLocation;
  private rootCheck: NodeJS.Timeout | null = null;
  /** Stats files again for changes no event reports (see revalidation.ts). */
  private readonly revalidation: Revalidation;
  /** When the next scan runs, and which paths it looks at (see scan-schedule.ts). */
  private readonly scans: ScanSchedule;
  private watcher: TreeWatch | null = null;
  /** The next walk starts the watcher with the directories it found (at start, and when the root moved). */
  private watcherWanted = false;
  /** Reads the tree into each scan (see tree-reader.ts). */
  private readonly reader: TreeReader;
  private poll: NodeJS.Timeout | null = null;
  private closed = false;
  /** noteDatedAhead has spoken (once per run). */
  private saidAhead = false;
  private scanning: Promise<void> | null = null;
  private dirty = false;
  /** What callers of runScans since the last pass began wait for: the end of the next pass. */
  private nextPass: PassEnd | null = null;
  /** The last walk reached some entry through a symlink (so events cannot be trusted to name it). */
  private linked = false;
  /** When the last walk ended and how long it took (performance.now ms): walks for a linked tree are spaced by them. */
  private walkEndedAt = -Infinity;
  private walkMs = 0;
  /** Names left out for not being UTF-8 (Node opens them as U+FFFD: nothing), said on stderr. */
  private readonly undecodableNotice = new SkippedPaths(
    (n, shown) => `xorigin: ${String(n)} name(s) under ${this.root} are not valid UTF-8 and are not served (${shown}; U+FFFD marks the bytes); rename them to UTF-8 (e.g. convmv -f latin1 -t utf8)`,
    (line) => this.warn(line),
  );
  /** Paths left out because this process may not read them, said on stderr (nginx logs each 403). */
  private readonly deniedNotice = new SkippedPaths(
    (n, shown) => `xorigin: ${String(n)} path(s) under ${this.root} may not be read by this process and are not served (404): ${shown}; give the user xorigin runs as read permission (and execute on directories)`,
    (line) => this.warn(line),
  );
  /** What the last scan did (null before the first). */
  lastScan: ScanReport | null = null;
  /** Tags from the ETag cache, during the first scan only. */
  private known: EtagCache | null = null;
  /** Writes the ETag cache (see etag-cache-writer.ts). */
  private readonly cacheWrites = new EtagCacheWriter(
    () => ({ infos: this.infos, racy: this.racy, departed: this.departed }),
    (line) => this.warn(line),
  );
  /** Entries in the table after the last scan (a scan that only removed files also rewrites the cache). */
  private published = -1;
  /** The last scan put in force left paths as they were for want of descriptors or memory (see walkWhileExhausted). */
  private exhausted = false;
  /** How long until a walk tries again paths that could not be read, and when that was last said (see noteFailures). */
  private failedDelay = UNSETTLED_RECHECK_MS;
  private failureSaidAt = -Infinity;

  constructor(
    readonly root: string,
    private readonly options: AssetTableOptions,
    private build: (info: AssetInfo, variants: Variants) => T,
  ) {
    this.rootAt = new RootLocation(root, (line) => this.warn(line));
    this.scans = new ScanSchedule({
      run: () => void this.runScans().catch(() => {}),
      racyFiles: () => Array.from(this.racy, (info) => info.filePath),
      relative: (filePath) => this.relativeToRoot(filePath),
    });
    const statFile = options.statFile ?? defaultStat;
    this.revalidation = new Revalidation({ infos: () => this.infos, statFile, isCurrent: this.isCurrent, changed: (info) => this.changedUnseen(info) });
    this.reader = new TreeReader(this.rootAt, {
      infos: () => this.infos,
      racy: () => this.racy,
      departed: () => this.departed,
      known: () => this.known,
      started: () => this.published !== -1,
    }, { statFile, probe: options.statFile === undefined, readDir: options.readDir ?? defaultReadDir, readWhole: options.readWhole, warn: (line) => this.warn(line), exhausted: options.exhausted, backoff: options.readBackoff });
  }

  get size(): number {
    return this.infos.size;
  }

  /** Directories (URL paths) the table keeps as maybe holding entries (for tests: it must not only grow). */
  get knownDirs(): number {
    return this.dirs.size;
  }

  /**
   * The entry of a URL path. Entries are built on first use, not by the scan: the header blocks of a
   * file cost some 3.6 KB, which a tree of 100,000 files would pay for every file it never serves.
   */
  get(urlPath: string): T | undefined {
    const entry = this.entries.get(urlPath);
    if (entry !== undefined) return entry;
    const info = this.infos.get(urlPath);
    if (info === undefined) return undefined;
    const built = this.build(info, this.variants.get(urlPath) ?? NO_VARIANTS);
    this.entries.set(urlPath, built);
    return built;
  }

  /**
   * Puts `build` (a new configuration's header blocks) in force for every entry: the built entries
   * are dropped in one assignment and rebuilt on first use, so a request sees an entry built the
   * old way or the new way, and every entry built after this call is built the new way.
   */
  rebuild(build: (info: AssetInfo, variants: Variants) => T): void {
    // Entries are built on first use (see get()): dropping them all puts `build` in force at once.
    this.build = build;
    this.entries = new Map();
  }

  info(urlPath: string): AssetInfo | undefined {
    return this.infos.get(urlPath);
  }

  /** Scans the root and starts watching it. Throws if the root is not a readable directory. */
  async open(): Promise<void> {
    const s = await stat(this.root);
    if (!s.isDirectory()) throw new Error(`root ${this.root} is not a directory`);
    // One this process may not list would be served as empty: 404 to everything, nothing said.
    const refused = await mayList(this.root);
    if (refused !== null) throw new Error(`root ${this.root} may not be listed by this process (${refused.code ?? 'error'}): give the user it runs as read and execute permission on it`);
    await this.locateRoot();
    this.known = await this.openTags();
    this.cacheWrites.writeTo(this.known);
    this.watcherWanted = this.options.watch !== false;
    // Bytes hashed by the walks before the last (see walkWhileExhausted), for the summary line.
    const earlier = { bytesToHash: 0, bytesHashed: 0 };
    const stop = reportScan(() => ({ ...this.reader.counts, bytesToHash: earlier.bytesToHash + this.reader.counts.bytesToHash, bytesHashed: earlier.bytesHashed + this.reader.counts.bytesHashed }), this.options.progress ?? process.stderr);
    try {
      await this.rescan();
      await this.walkWhileExhausted(earlier);
    } finally {
      stop();
    }
    this.known?.release();
    this.known = null;
    this.serving = true;
    if (this.options.watch === false || this.closed) return;
    // Ready means watched: a change made once open() resolved is seen.
    await this.watcher?.ready?.();
    // A deploy that switches a symlinked root, or replaces the root directory, raises no event in the
    // directory watched: look for that on a timer too (two syscalls).
    await this.rootAt.watchMounts();
    this.rootCheck = setInterval(() => void this.rootChanged().then((changed) => changed && this.scans.walkSoon()), ROOT_CHECK_MS);
    this.rootCheck.unref();
    this.revalidation.start();
  }

  /**
   * At start-up, walks again while the last walk ran out of descriptors (or memory) and found more than
   * the one before: each keeps what the last found, so a table with holes fills up before the server
   * answers. Published with them, it answered 404 for files that exist (review h51: at `ulimit -n` 48
   * to 64 the scan's own descriptors ran out, and up to 58% of the tree was 404 for 5 to 40 s). A walk
   * that finds nothing more means the limit is too low for the scan: the server starts with what it
   * has, said on stderr (noteDescriptorShortage), and walks again soon, as it would have. So does one
   * after EXHAUSTED_WALKS walks. Each walk again holds half as many files and directories open at once
   * (TreeReader.narrow), for the rest of the process: the limit that starved it stays.
   */
  private async walkWhileExhausted(earlier: { bytesToHash: number; bytesHashed: number }): Promise<void> {
    let found = -1;
    for (let walks = 0; walks < EXHAUSTED_WALKS && this.exhausted && this.infos.size > found && !this.closed; walks++) {
      found = this.infos.size;
      earlier.bytesToHash += this.reader.counts.bytesToHash;
      earlier.bytesHashed += this.reader.counts.bytesHashed;
      this.reader.narrow();
      await this.rescan();
    }
  }

  /** Reads of a file's content (each attempt counts), since the table was made. */
  get reads(): number {
    return this.reader.reads;
  }

  /** Bytes of file content read to hash them, since the table was made. */
  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  /** The ETag cache of this root, if one is configured and outside the root. */
  private async openTags(): Promise<EtagCache | null> {
    const dir = this.options.etagCache;
    if (dir === undefined || this.rootAt.real === '') return null;
    // Where the file would really be: a cache directory (or an ancestor of it) may be a symlink into the root.
    const file = etagCacheFile(await realDir(dir), resolve(this.root));
    if (file.startsWith(this.rootAt.real + sep)) {
      this.warn(`xorigin: the ETag cache ${dir} is inside the root ${this.root}, where it would be served; not using it`);
      return null;
    }
    return EtagCache.open(dir, resolve(this.root), (line) => this.warn(line));
  }

  /** Resolves once the ETag cache file has been written (at once if no write is pending). */
  flush(): Promise<void> {
    return this.cacheWrites.flush();
  }

  /**
   * Starts watching the root, before the walk `scan` lists it, and has the walk add each directory's
   * watch before it lists that one. Watches opened after the walk (as they were) missed whatever was
   * made in a directory between its listing and its watch: a file written while the start-up scan
   * ran stayed 404 until a restart. Events during the walk are noted, and looked at once it is done.
   */
  private startWatcher(scan: Scan): void {
    this.watcherWanted = false;
    if (this.closed || this.poll !== null) return;
    try {
      const real = this.rootAt.real;
      const watcher = (this.options.watchTree ?? defaultWatchTree)(real, (_event, filename) => {
        this.scans.note(typeof filename === 'string' ? filename : null);
        this.scans.soon();
      }, []);
      this.watcher = watcher;
      watcher.on('error', (e) => this.pollInstead(e.message));
      if (watcher.add !== undefined) scan.watchDir = (dir) => this.watcher === watcher && watcher.add?.(relative(real, dir));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A root this process may not read may not be watched either: once the root check finds it
      // listable again, the walk that follows starts the watcher.
      if (code === 'EACCES' || code === 'EPERM') this.watcherWanted = true;
      // No recursive watch on this platform, or no inotify watches left.
      else this.pollInstead((e as Error).message);
    }
  }

  /** True when the root moved (see RootLocation), or may be listed again after a walk that could not. */
  private async rootChanged(): Promise<boolean> {
    if (await this.rootAt.moved()) return true;
    if (await this.rootAt.mountedUnder()) {
      // The watches of directories a mount now covers (or uncovered) see nothing of what is there now.
      this.stopWatcher();
      this.watcherWanted = true;
      return true;
    }
    return this.rootAt.denied && this.rootAt.listable();
  }

  /** Resolves the root again; when it moved (true), the watcher follows it. */
  private async locateRoot(): Promise<boolean> {
    if (!(await this.rootAt.locate())) return false;
    if (this.watcher !== null) {
      // The walk that follows (the root moved, so the tree is walked) starts it again where the root is now.
      this.stopWatcher();
      this.watcherWanted = true;
    }
    return true;
  }

  /**
   * Says one line (the `warn` option, else stderr), made terminal-safe whole: paths from the tree,
   * the cache directory and the errors of the file system (which quote paths) may hold control characters.
   */
  private warn(line: string): void {
    (this.options.warn ?? sayOnStderr)(terminalSafe(line));
  }

  /** Stops watching and every timer; a scan already running completes but schedules nothing. */
  close(): void {
    this.closed = true;
    this.rootAt.close();
    this.stopWatcher();
    this.reader.close();
    this.scans.close();
    if (this.poll !== null) clearInterval(this.poll);
    if (this.rootCheck !== null) clearInterval(this.rootCheck);
    this.revalidation.close();
    this.poll = this.rootCheck = null;
    this.cacheWrites.close();
  }

  private stopWatcher(): void {
    try {
      this.watcher?.close();
    } catch {
      // Already dead after its error: nothing left to release.
    }
    this.watcher = null;
  }

  /** A watcher that failed sees nothing more, so rescans run on a timer from now on; said once. */
  private pollInstead(reason: string): void {
    if (this.closed || this.poll !== null) return;
    this.stopWatcher();
    const every = this.options.pollIntervalMs ?? POLL_DEFAULT_MS;
    this.warn(`xorigin: watching ${this.root} failed (${reason}); rescanning every ${formatInterval(every)} instead`);
    this.poll = setInterval(() => this.scans.walkSoon(), every);
    this.poll.unref();
    this.scans.walkSoon(); // changes made while the watcher was failing went unreported
  }

  /**
   * Walks the root again; files whose identity is unchanged keep their entry, others are re-read
   * and re-hashed. The new table replaces the old one in one assignment, so a request sees either
   * the old or the new state, never a mix.
   */
  rescan(): Promise<void> {
    this.scans.note(null);
    // Asked for explicitly: every changed file is read now, whatever its backoff says.
    this.reader.readNow = true;
    return this.runScans();
  }

  /**
   * Unwatched (`watch: false`), a path a request found gone or unreadable has left the table, and no
   * event brings it back once it is restored (the file put back, a chmod undone): a request for such
   * a path (`dropped`) looks for it again, at most once a second per path and LOOKS_PER_SECOND paths
   * in all. Null when there is nothing to look for (none dropped, or looked for too lately); else
   * resolves once the table is up to date for it.
   */
  lookAgain(urlPath: string): Promise<void> | null {
    if (!this.hasDropped) return null;
    // A directory (with or without its slash) is looked for by its index.html.
    return this.lookAgainAt(urlPath) ?? this.lookAgainAt(`${urlPath.endsWith('/') ? urlPath : `${urlPath}/`}index.html`);
  }

  /** Whether lookAgain may find anything to look for: checked before a caller decodes a path for it. */
  get hasDropped(): boolean {
    return this.dropped.size !== 0;
  }

  private lookAgainAt(urlPath: string): Promise<void> | null {
    const last = this.dropped.get(urlPath);
    if (last === undefined) return null;
    const now = performance.now();
    if (now - last < LOOK_AGAIN_MS) return null;
    // A budget for all paths, so that 404s a client asks for cannot make the table scan back to back.
    if (now - this.looksSince >= LOOK_AGAIN_MS) {
      this.looksSince = now;
      this.looks = 0;
    }
    if (++this.looks > LOOKS_PER_SECOND) return null;
    this.dropped.set(urlPath, now);
    return this.lookIfBack(urlPath);
  }

  /**
   * Scans `urlPath` only when it is back, readable (or a directory with a readable index.html): a scan
   * of a tree with a symlink, or of a directory, is a walk, not one stat.
   */
  private async lookIfBack(urlPath: string): Promise<void> {
    const filePath = join(this.rootAt.real, ...urlPath.slice(1).split('/'));
    try {
      const s = await stat(filePath);
      await access(s.isDirectory() ? join(filePath, 'index.html') : filePath, constants.R_OK);
    } catch {
      return;
    }
    this.scans.note(relative(this.rootAt.real, filePath));
    await this.runScans();
    if (this.infos.has(urlPath)) this.dropped.delete(urlPath);
  }

  /**
   * Looks at one file again (found changed by a response reading it, before any watcher event), and
   * reads it again once its backoff's floor allows (ReadBackoff.delay: 4 × its last read time, at once
   * for a font): only its path is stat'ed, unless the tree must be walked anyway. Resolves once the
   * table is up to date for it, or its read is put off.
   */
  refresh(info: AssetInfo): Promise<void> {
    // Read again even if its identity is unchanged: the caller found bytes that do not hash to its
    // ETag (a tag from a cache that was wrong, a write that kept every stat field), which a look at
    // the identity alone would keep forever.
    this.racy.add(info);
    this.reader.urgent.add(info.filePath);
    this.scans.note(this.relativeToRoot(info.filePath));
    return this.runScans();
  }

  /** ms until `refresh(info)` would read the file (0: at once): its backoff's floor (ReadBackoff.delay). */
  refreshDelay(info: AssetInfo): number {
    return this.reader.backoff.delay(info.filePath, performance.now(), false);
  }

  /**
   * Looks at one file again that was found changed with no event (by revalidation.ts, or by a response
   * that found only its ctime moved: send-body.ts): as a watcher event would have it looked at, so its
   * backoff holds. (Not `refresh`: a file appended to all the time was read at once at each
   * revalidation, whatever its backoff said.)
   */
  changedUnseen(info: AssetInfo): Promise<void> {
    this.scans.note(this.relativeToRoot(info.filePath));
    return this.runScans();
  }

  /** `filePath` relative to the root, or null when it is not under the root. */
  private relativeToRoot(filePath: string): string | null {
    const rel = relative(this.rootAt.real, filePath);
    return rel.startsWith('..') ? null : rel;
  }

  /**
   * Runs scans until nothing new is pending (a walk, or a look at just the paths the watcher named), and
   * resolves once the next pass has ended: the paths noted before this call have been looked at then.
   * Not once no pass is pending: under a stream of changes (a tree whose symlinks make every event walk
   * it) a response waiting to look at its file again waited for the stream to end (a review: 10.7 s).
   */
  private runScans(): Promise<void> {
    this.nextPass ??= passEnd();
    const pass = this.nextPass.promise;
    if (this.scanning !== null) {
      this.dirty = true;
      return pass;
    }
    this.scanning = this.scanLoop();
    return pass;
  }

  /**
   * The passes of runScans, while paths are noted. Ended (`scanning` null) in the same turn as its last
   * pass: a caller that pass answers may call again at once, and must then start a loop, not join this one.
   */
  private async scanLoop(): Promise<void> {
    try {
      do {
        this.dirty = false;
        const ends = this.nextPass;
        this.nextPass = null;
        try {
          await this.scanPass();
        } catch (e) {
          ends?.reject(e);
          throw e;
        }
        ends?.resolve();
      } while (this.dirty && this.serving);
      // Changes seen while the start-up scan ran get a scan of their own once it is in force: the
      // start-up report (its line, lastScan) describes the walk, not the few paths looked at after it.
      // Their callers are answered now, as when every caller waited for the last pass.
      if (this.dirty) this.scans.soon();
      this.settleNextPass(null);
    } catch (e) {
      // Said to the callers waiting (the pass's, and those since); the loop's own promise never rejects:
      // nothing awaits it, and a rejection left unhandled ended the process (review h49).
      this.settleNextPass(e);
    } finally {
      this.scanning = null;
      this.reader.readNow = false;
      this.reader.urgent.clear(); // a file asked for that is gone now: nothing to keep it for
    }
  }

  /** Settles what callers since the last pass began wait for: resolved, or rejected with `error`. */
  private settleNextPass(error: unknown): void {
    const ends = this.nextPass;
    this.nextPass = null;
    if (error === null) ends?.resolve();
    else ends?.reject(error);
  }

  /** One pass of runScans: the paths noted since the last (or the whole tree) looked at, and put in force. */
  private async scanPass(): Promise<void> {
    // Moved: the tree is walked, which starts the watcher again (a root made again at the same path too).
    const moved = await this.locateRoot();
    const paths = this.scans.take();
    if (!moved && paths !== null && paths.size === 0) return; // already seen by a scan that ran meanwhile
    const walk = paths === null || this.linked || moved;
    // Only because of symlinks, every event walks the whole tree, so a file appended to every
    // 20 ms in a 31,000-file tree kept a core busy walking; and a tree polled for want of inotify
    // watches whose walk outlasts the poll period (20,000 directories) was walked back to back.
    // Spaced, such walks take at most a quarter of a core.
    if (walk && !moved && (paths !== null || this.poll !== null)) await this.paceWalk();
    const started = performance.now();
    const delta = walk ? null : new TableDelta(this.infos, this.dirs);
    const scan = delta === null ? this.reader.newScan(new Map(), new Set()) : this.reader.newScan(delta, new Set(this.racy));
    if (walk || delta === null || !(await this.reader.update(paths, scan, delta))) {
      await this.walkInto(scan);
    } else {
      this.undecodableNotice.note(scan.undecodable, false);
      this.deniedNotice.note(scan.denied, false);
    }
    this.publish(scan);
    // Paced by the walks made while serving only: the start-up walk (every file hashed) is no guide.
    if (scan.out instanceof Map && this.serving) [this.walkEndedAt, this.walkMs] = [performance.now(), performance.now() - started];
    this.lastScan = { files: scan.counts.files, stated: scan.stated, probed: scan.probed, readAhead: scan.readAhead, hashed: scan.hashed, cached: scan.cached, ms: performance.now() - started };
  }

  /**
   * Waits until the last walk's end plus WALK_SPACING times its length (at most WALK_WAIT_MAX_MS): a
   * linked or polled tree's walks then take at most 1 / (1 + WALK_SPACING) of a core (when a walk takes
   * under a second), and a change is served after at most that wait plus a walk.
   */
  private paceWalk(): Promise<void> {
    const wait = this.walkEndedAt + Math.min(WALK_SPACING * this.walkMs, WALK_WAIT_MAX_MS) - performance.now();
    if (wait <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, wait).unref());
  }

  /** Walks the whole tree into `scan` (what a targeted look put there is dropped), and starts the watcher when it is wanted. */
  private async walkInto(scan: Scan): Promise<void> {
    scan.out = new Map();
    scan.racy.clear();
    scan.linked = false;
    scan.watchDir = null;
    await this.rootAt.walkStarts();
    const starting = this.watcherWanted;
    if (starting) this.startWatcher(scan);
    await this.reader.walk(this.rootAt.real, '', scan);
    scan.watchDir = null;
    this.linked = scan.linked;
    this.rootAt.denied = scan.denied.includes('/');
    this.undecodableNotice.note(scan.undecodable, true);
    this.deniedNotice.note(scan.denied, true);
    // A root this process may not list is not watched either (see startWatcher).
    if (starting && this.rootAt.denied && this.watcher !== null) {
      this.stopWatcher();
      this.watcherWanted = true;
    }
  }

  /**
   * Puts a scan's result in force, in one synchronous step: a request sees the table before or after
   * the scan, never a mix.
   */
  private publish(scan: Scan): void {
    const dropped = scan.out instanceof TableDelta ? this.apply(scan.out) : this.replace(scan.out);
    this.racy = scan.racy;
    this.revalidation.published(scan.out instanceof TableDelta ? scan.out.changes : null);
    // Before the start-up scan's cache write, which then keeps saying them.
    const overflowed = this.published === -1 && this.rememberDeparted();
    this.options.published?.(dropped, this.isCurrent);
    // A first scan that read nothing found the cache complete: N workers starting at once do not all rewrite it.
    if (scan.hashed > 0 || overflowed || (this.published !== -1 && this.infos.size !== this.published)) {
      if (this.published === -1) this.cacheWrites.now();
      else this.cacheWrites.soon();
    }
    this.published = this.infos.size;
    // A file left out is missing from the table: look again soon, watched or not.
    if (scan.unsettled) this.scans.recheckIn(UNSETTLED_RECHECK_MS, true);
    this.exhausted = scan.exhausted;
    this.noteFailures(scan);
    // A same-tick write to a racy file raises an event the scan may already have consumed; without this
    // rescan it would wait for some unrelated change. With `watch: false` the table rescans itself only
    // to date what it could not date yet (AssetInfo.undated: a build written just before the start).
    if (scan.racy.size > 0 && (this.options.watch !== false || someUndated(scan.racy))) this.scans.recheckIn(recheckDelay(scan.racy), false);
    this.noteDatedAhead(scan.racy);
    this.reader.backoff.prune(performance.now());
    this.scans.later(scan.later);
  }

  /**
   * Says once per run that versions wait undated for a date far ahead of the clock (asset-info.ts
   * describe): a date kept from a run whose clock was ahead, or a clock set back since. They go
   * without Last-Modified until the clock gets there, however many restarts later, and an operator
   * saw nothing say why (review r26b #4).
   */
  private noteDatedAhead(racy: ReadonlySet<AssetInfo>): void {
    if (this.saidAhead || racy.size === 0) return;
    const now = Date.now();
    let count = 0;
    let latest = 0;
    for (const info of racy) {
      if (!info.undated || info.lastModified - now <= DATED_AHEAD_NOTE_MS) continue;
      count++;
      latest = Math.max(latest, info.lastModified);
    }
    if (count === 0) return;
    this.saidAhead = true;
    const files = count === 1 ? '1 file is' : `${count} files are`;
    const cache = this.options.etagCache === undefined ? '' : `, or delete the ETag cache in ${this.options.etagCache} to date them anew`;
    this.warn(`xorigin: ${files} dated ahead of this machine's clock, the latest ${new Date(latest).toISOString()} (a date kept from a run whose clock was ahead, or the clock set back since): sent without Last-Modified until the clock gets there; check the clock${cache}`);
  }

  /**
   * Paths the disk would not read (EIO…): said on stderr, at most once a minute (a disk that keeps
   * failing must not fill the log), and the tree is walked again after 0.1 s, doubling up to 10 s,
   * so a path the walk failed on (a file not yet read, a directory) is served once it reads, and a
   * disk that stays broken costs a walk every 10 s, not every 0.1 s.
   */
  private noteFailures(scan: Scan): void {
    // A scan cut short by close() (a shutdown during a rescan) failed its reads by being stopped: no disk to report.
    if (this.closed) return;
    if (scan.failures === 0) {
      // Only a walk looks at every path: a targeted scan of another file says nothing of the failed ones.
      if (scan.out instanceof Map) this.failedDelay = UNSETTLED_RECHECK_MS;
      return;
    }
    const now = performance.now();
    if (now - this.failureSaidAt >= FAILURE_QUIET_MS) {
      this.failureSaidAt = now;
      const more = scan.failures > 1 ? ` and ${String(scan.failures - 1)} more` : '';
      this.warn(`xorigin: cannot read ${scan.firstFailure}${more} under ${this.root}; kept as last read (a file served from disk answers 503 while it cannot be read) and tried again; said at most once a minute`);
    }
    this.scans.recheckIn(this.failedDelay, true);
    this.failedDelay = Math.min(this.failedDelay * 2, FAILED_RECHECK_MAX_MS);
  }

  /** True when `info` is the version the table serves at its URL path. */
  private readonly isCurrent = (info: AssetInfo): boolean => this.infos.get(info.urlPath) === info;

  /** Replaces the table by a walk's; null: every version held elsewhere may be gone (see `published`). */
  private replace(out: Map<string, AssetInfo>): null {
    const entries = new Map<string, T>();
    const variants = new Map<string, Variants>();
    // Nothing is kept from an empty table (the start-up scan's): no need to know what changed.
    const touched = this.infos.size === 0 ? NOTHING : this.touched(out);
    const bases = siblingBases(out);
    for (const [urlPath, info] of out) {
      // Siblings looked up only where something changed: for 100,000 files that lookup was most of the
      // 350 ms a one-file rescan took.
      const kept = this.infos.get(urlPath) === info && !touched.has(urlPath) && !touched.has(info.urlPath);
      const v = kept ? (this.variants.get(urlPath) ?? NO_VARIANTS) : bases.has(info.urlPath) ? variantsOf(info, out) : NO_VARIANTS;
      const reuse = this.infos.get(urlPath) === info && sameVariants(this.variants.get(urlPath), v);
      const existing = reuse ? this.entries.get(urlPath) : undefined;
      if (existing !== undefined) entries.set(urlPath, existing);
      if (v !== NO_VARIANTS) variants.set(urlPath, v);
    }
    const dirs = new Set<string>();
    for (const urlPath of out.keys()) addDirsOf(urlPath, dirs);
    for (const [urlPath, info] of this.infos) if (!out.has(urlPath)) this.depart(urlPath, info);
    // The remembered paths back in the table (at most DEPARTED_LIMIT to look at, not the whole table).
    for (const urlPath of this.departed.keys()) if (out.has(urlPath)) this.departed.delete(urlPath);
    this.infos = out;
    this.variants = variants;
    this.entries = entries;
    this.dirs = dirs;
    return null;
  }

  /**
   * Applies a targeted scan's changes to the live table in place, in work proportional to them: the
   * entries changed lose their built entry, and those whose sibling set may have changed (see
   * touchedBy) get it looked up again. Returns the versions no longer in the table.
   */
  private apply(delta: TableDelta): AssetInfo[] {
    const changed = new Set<string>();
    // A set: an index.html is one version at two URL paths, and a caller is told of it once.
    const gone = new Set<AssetInfo>(delta.created);
    for (const [urlPath, info] of delta.changes) {
      const old = this.infos.get(urlPath);
      if (old === (info ?? undefined)) continue;
      changed.add(urlPath);
      if (old !== undefined) gone.add(old);
      if (info === null) {
        this.infos.delete(urlPath);
        if (old !== undefined) this.depart(urlPath, old);
      } else {
        this.infos.set(urlPath, info);
        this.departed.delete(urlPath);
      }
      if (info !== null) addDirsOf(urlPath, this.dirs);
    }
    for (const dir of delta.emptied) this.forgetDir(dir);
    const touched = new Set<string>();
    for (const urlPath of changed) touchedBy(urlPath, touched);
    for (const urlPath of touched) this.relink(urlPath, changed.has(urlPath));
    return [...gone].filter((info) => !this.isCurrent(info));
  }

  /**
   * After the start-up scan: the URL paths an earlier run served that this tree no longer has, so the
   * next version put there is dated after it, and the next cache written still says it.
   */
  private rememberDeparted(): boolean {
    if (this.known === null) return false;
    for (const [urlPath, served] of this.known.served()) {
      if (this.infos.has(urlPath) || this.departed.has(urlPath)) continue;
      // More than are remembered (a tree emptied while stopped): true, so the cache is written again
      // with those alone, instead of being read whole at every start.
      if (this.departed.size >= DEPARTED_LIMIT) return true;
      this.departed.set(urlPath, { etag: served.etag, lastModified: served.lastModified });
    }
    return false;
  }

  /** Remembers what `urlPath` served last, now that it is gone (see `departed`). */
  private depart(urlPath: string, info: AssetInfo): void {
    // Unwatched, once serving (not the start-up scan's drops): see lookAgain.
    if (this.options.watch === false && this.serving && this.dropped.size < DEPARTED_LIMIT) this.dropped.set(urlPath, -Infinity);
    // A directory's `/dir/` is its index.html's version: that path departs on its own.
    if (urlPath !== info.urlPath) return;
    this.departed.delete(urlPath);
    this.departed.set(urlPath, { etag: info.etag, lastModified: info.lastModified });
    if (this.departed.size > DEPARTED_LIMIT) this.departed.delete(this.departed.keys().next().value as string);
  }

  /** Takes `urlDir` and every directory under it out of `dirs` (no entry is under them now). */
  private forgetDir(urlDir: string): void {
    const below = `${urlDir}/`;
    for (const dir of this.dirs) if (dir === urlDir || dir.startsWith(below)) this.dirs.delete(dir);
  }

  /** Brings the sibling set and built entry of one URL path in line with `infos` (`changed`: its file is another). */
  private relink(urlPath: string, changed: boolean): void {
    const info = this.infos.get(urlPath);
    const v = info === undefined ? NO_VARIANTS : variantsOf(info, this.infos);
    if (changed || !sameVariants(this.variants.get(urlPath), v)) this.entries.delete(urlPath);
    if (v === NO_VARIANTS) this.variants.delete(urlPath);
    else this.variants.set(urlPath, v);
  }

  /**
   * The URL paths whose entry or sibling set may differ between the table and `out`: each path added,
   * removed or replaced, and the file a changed `x.br`, `x.zst` or `x.gz` is a sibling of.
   */
  private touched(out: ReadonlyMap<string, AssetInfo>): Set<string> {
    const changed: string[] = [];
    for (const [urlPath, info] of out) if (this.infos.get(urlPath) !== info) changed.push(urlPath);
    for (const urlPath of this.infos.keys()) if (!out.has(urlPath)) changed.push(urlPath);
    const touched = new Set(changed);
    for (const urlPath of changed) addSiblingBase(urlPath, touched);
    return touched;
  }

}

/** How often a request may have one dropped path looked for again, unwatched (AssetTable.lookAgain). */
const LOOK_AGAIN_MS = 1000;
/** How many dropped paths requests may have looked for again in a second, all paths together. */
const LOOKS_PER_SECOND = 16;

/** How many removed URL paths the table remembers what they served (see AssetTable `departed`): ~100 bytes each. */
const DEPARTED_LIMIT = 10_000;

/**
 * Scans `root` once, without watching or keeping anything, and writes its ETag cache in `dir`: run
 * by a cluster primary before it forks, so that the workers' own scans read no file the cache knows.
 */
export async function writeEtagCache(root: string, dir: string): Promise<ScanReport | null> {
  const table = new AssetTable(root, { watch: false, etagCache: dir }, () => null);
  try {
    await table.open();
    await table.flush();
    return table.lastScan;
  } finally {
    table.close();
  }
}

/**
 * The longest wait for a version to become datable: the wait is measured on the wall clock, which may
 * jump forward meanwhile (NTP, a VM resumed), and the version was then left undated for the whole span.
 */
const LONGEST_DATING_WAIT_MS = 600_000;

/** How far ahead of the clock a date must be for noteDatedAhead to say so: a step of an NTP correction is not news. */
const DATED_AHEAD_NOTE_MS = 600_000;

/**
 * When the racy files are looked at again: after RACY_RECHECK_MS, or, when each waits only for the
 * clock to reach its date (a clock stepped back: AssetInfo.undated), when the first can be dated. A
 * stat of each every 2 s for as long as the clock lags (an hour, after a restored VM) cost what a
 * rescan of them does, for nothing.
 */
function recheckDelay(racy: ReadonlySet<AssetInfo>): number {
  const now = Date.now();
  let soonest = LONGEST_DATING_WAIT_MS;
  for (const info of racy) {
    // Racy by its change, not by its read: a version kept waiting keeps the time of its first read.
    const wait = isRacy(info.identity, now) ? 0 : untilDatable(info, now);
    if (wait <= RACY_RECHECK_MS) return RACY_RECHECK_MS;
    soonest = Math.min(soonest, wait);
  }
  return soonest;
}

function someUndated(infos: ReadonlySet<AssetInfo>): boolean {
  for (const info of infos) if (info.undated) return true;
  return false;
}
