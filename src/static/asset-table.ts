import { createHash } from 'node:crypto';
import { closeSync, constants, open as openFd, read, type BigIntStats, type Dirent, type Stats } from 'node:fs';
import { access, lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { ENCODINGS } from '../http/encoding.js';
import { contentTypeFor } from '../http/mime.js';
import { EtagCache, etagCacheFile, type KnownTag, type Served } from './etag-cache.js';
import { FileHasher } from './file-hasher.js';
import { ReadBackoff } from './read-backoff.js';
import { readStated } from './read-stated.js';
import { reportScan, type ProgressOut, type ScanCounts } from './scan-progress.js';
import { addDirsOf, TableDelta } from './table-delta.js';
import { TaskLimit } from './task-limit.js';
import { TreeWatcher } from './tree-watcher.js';
import { SkippedPaths } from './skipped-paths.js';
import { terminalSafe } from './terminal-safe.js';

/**
 * Which version of a file the table describes. Size and mtime alone miss a file replaced by one of the
 * same size and mtime (`cp -p`, `rsync -a`, `tar`, npm's 1985-10-26 stamp); a replacement by rename
 * changes the inode, and any write or `utimes` changes the ctime, which no user tool can set back.
 */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The identity of a file from a `stat(path, { bigint: true })` (or `fstat`) result. */
export function identityOf(s: BigIntStats): FileIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** True when `s` (a bigint stat) still describes the file version `a` was taken from. */
export function sameIdentity(a: FileIdentity, s: BigIntStats): boolean {
  return equalIdentities(a, s);
}

/**
 * For a file already open and being read: true when its bytes are still those of `a`. As
 * `sameIdentity`, except that an inode unlinked meanwhile (nlink 0: deleted, or replaced by a
 * rename, as rsync, npm and most deploy tools do) may have a newer ctime, since unlinking changes
 * it; its size and mtime must still match. Nobody can open an unlinked file by name to write it.
 */
export function unchangedWhileOpen(a: FileIdentity, s: BigIntStats): boolean {
  if (equalIdentities(a, s)) return true;
  return s.nlink === 0n && a.ino === s.ino && a.mtimeNs === s.mtimeNs && a.size === s.size && a.dev === s.dev;
}

/** True when `s` passes unchangedWhileOpen only through its unlinked-inode exception. */
export function unchangedOnlyBecauseUnlinked(a: FileIdentity, s: BigIntStats): boolean {
  return !equalIdentities(a, s) && unchangedWhileOpen(a, s);
}

function equalIdentities(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.ctimeNs === b.ctimeNs && a.mtimeNs === b.mtimeNs && a.size === b.size && a.dev === b.dev;
}

/** What the start-up scan knows about one file. */
export interface AssetInfo {
  /** The decoded URL path it is served at: `/fonts/a b.woff2`. */
  readonly urlPath: string;
  /** Absolute file-system path (symlinks inside the root resolved). */
  readonly filePath: string;
  /** The file version the body and ETag were taken from. */
  readonly identity: FileIdentity;
  readonly size: number;
  /** As a plain (non-bigint) `stat` reports it, so the two compare equal. */
  readonly mtimeMs: number;
  /**
   * Last-Modified in ms, truncated to whole seconds as HTTP dates are, and never later than the time
   * the file was read: RFC 9110 §8.8.2.1 forbids a Last-Modified later than the response's Date.
   */
  readonly lastModified: number;
  readonly lastModifiedText: string;
  /** Strong, content-derived: the same bytes give the same tag on every replica. */
  readonly etag: string;
  /** When the bytes the ETag was computed from were read (ms since the epoch). */
  readonly readAtMs: number;
  readonly contentType: string;
  /** Names the file had when read (hard links): past one, it may change with no event (see revalidate). */
  readonly links: number;
}

/**
 * Precompressed siblings of a file, indexed by coding (see encoding.ts): `[unused, br, zstd, gzip]`.
 * Each sibling is also an ordinary file of the table, served at its own URL.
 */
export type Variants = readonly (AssetInfo | undefined)[];

const NO_VARIANTS: Variants = [];

/** A running watch of the tree: only its failure and its end matter to the table. */
export interface TreeWatch {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
  /** Resolves once every directory found so far is watched (when watches are opened asynchronously). */
  ready?(): Promise<void>;
}

/**
 * Starts watching a directory tree, calling `onChange` on any change below it with the changed path
 * relative to `dir` when the platform says which (null or undefined: something changed, somewhere).
 * `dirs`: the directories (relative to `dir`, `''` for itself) the table's walk just found, so the
 * watcher need not walk the tree again.
 */
export type WatchTree = (dir: string, onChange: (event?: string, filename?: string | null) => void, dirs?: readonly string[]) => TreeWatch;

export interface AssetTableOptions {
  /** Watch the tree and rescan on change (default true). */
  readonly watch?: boolean | undefined;
  /** Rescan period once the tree cannot be watched (default 2000 ms). */
  readonly pollIntervalMs?: number | undefined;
  /** Receives the one line saying watching failed (default: written to stderr). */
  readonly warn?: ((line: string) => void) | undefined;
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
   * read, so they are exactly the version `info` describes), to keep if there is room.
   */
  readonly readWhole?: ((info: AssetInfo, bytes: Buffer) => void) | undefined;
  /** Where a start-up scan longer than a second reports its progress (default stderr). */
  readonly progress?: ProgressOut | undefined;
  /** How directories are listed (default: `fs.promises.readdir` with file types); tests inject failures. */
  readonly readDir?: ((path: string) => Promise<Dirent[]>) | undefined;
}

/** A burst of events is rescanned once it has been quiet this long... */
const DEBOUNCE_MS = 30;
/** ...or this long after its first event, so a file written continuously cannot keep the rest stale. */
const DEBOUNCE_MAX_MS = 300;
const POLL_DEFAULT_MS = 2000;
/**
 * A second write within the timestamp tick of the first keeps the identity, so a file changed this
 * recently ("racily clean", as git calls it) is re-read on the next scan. 2 s covers the coarsest
 * common clocks (FAT's 2 s mtime; ext3, HFS+ and many network file systems use 1 s).
 */
const RACY_WINDOW_NS = 2_000_000_000n;
/** How often a watched root is checked for having moved (a switched symlink, a replaced directory). */
const ROOT_CHECK_MS = 2000;
/**
 * How often files are stat'ed again for changes no event reports (see revalidate), and at most how
 * many each time: those with more than one name (a tree of 100,000 hard links, as `cp -al` snapshots
 * make, is gone through in 100 s), and every file in turn, slowly (a 1,000-file tree in 10 s).
 */
const REVALIDATE_MS = 1000;
/**
 * The lists revalidate goes through are made again at most this often after the table changed: for
 * 100,000 files that is ~20 ms of the event loop, which at every publish (a file appended to every
 * 100 ms) cost 4-5 times the CPU of the changes themselves. Meanwhile versions replaced are skipped.
 */
const RELIST_MS = 10_000;
const LINKED_PER_CHECK = 1000;
const ANY_PER_CHECK = 100;
/** How long after a scan that found racy files the next one runs: once the window has surely passed. */
const RACY_RECHECK_MS = 2100;
/** How often a file is read before a writer that keeps changing it makes the scan give up on it. */
const READ_ATTEMPTS = 3;
/** When the scan gave up on a file being written, it looks again this much later. */
const UNSETTLED_RECHECK_MS = 100;
/** The longest wait before a walk retries paths the disk would not read (see noteFailures). */
const FAILED_RECHECK_MAX_MS = 10_000;
/** Paths that could not be read are said at most this often. */
const FAILURE_QUIET_MS = 60_000;
/**
 * Files up to this size are read and hashed on the main thread (one read; a message to a hashing
 * thread and back would cost more than the hash), larger ones on the hashing threads.
 */
const INLINE_HASH_LIMIT = 16 * 1024;
/**
 * Up to this many paths named by the watcher are looked at alone (a stat each, a walk of a new
 * directory); past it, or when one of them is a symlink, the whole tree is walked again.
 */
const TARGETED_MAX = 1000;
/** Files stat'ed and hashed at once during a scan: enough to keep every thread and the disk busy. */
const SCAN_CONCURRENCY = 64;
/** How long after a rescan the ETag cache is written (see saveSoon). */
const SAVE_DELAY_MS = 10_000;

const defaultWatchTree: WatchTree = (dir, onChange, dirs) =>
  new TreeWatcher(dir, onChange, { dirs, ignore: (name, parentRel) => !isServableName(name, parentRel === '') });
const defaultStat = (path: string): Promise<BigIntStats> => stat(path, { bigint: true });
const defaultReadDir = (path: string): Promise<Dirent[]> => readdir(path, { withFileTypes: true });

/**
 * The errors that say a path has nothing to serve: gone, not a directory, a symlink loop, a name too
 * long, or not readable by this process (the operator's chmod). Any other system error (EIO, ESTALE,
 * EMFILE…) says nothing about the file: the scan keeps what it knew and looks again. Taking them for
 * "gone" answered 404, with nothing said, until the file next changed: for every file when the
 * process ran out of descriptors (a flood of HTTP/2 streams each holding a file open), for a font
 * whose disk failed one read.
 */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM']);
/** Not readable by this process: gone from what is served, and said (see deniedNotice). */
const DENIED = new Set(['EACCES', 'EPERM']);
/** Out of descriptors or memory: the process's own state, brief, and never worth a line on stderr. */
const EXHAUSTED = new Set(['EMFILE', 'ENFILE', 'ENOMEM']);
function errorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : '';
}
function isTransient(e: unknown): boolean {
  const code = errorCode(e);
  return /^E[A-Z0-9]+$/.test(code) && !ABSENT.has(code);
}
/** For a `.catch`: a path that is gone reads as null; a transient error is passed on. */
function goneOrThrow(e: unknown): null {
  if (isTransient(e)) throw e;
  return null;
}
const writeStderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** Milliseconds exactly as a plain `stat` computes them (seconds * 1000 + nanoseconds / 1e6). */
function msOf(ns: bigint): number {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    // Before 1970: the kernel's timespec has negative seconds and a positive nanosecond part.
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

function isRacy(identity: FileIdentity, readAtMs: number): boolean {
  const age = BigInt(readAtMs) * 1_000_000n - identity.ctimeNs;
  // A ctime far in the future (a skewed network file system) is not treated as racy: every scan would re-read it.
  return age < RACY_WINDOW_NS && age > -RACY_WINDOW_NS;
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The tag of one file version, and when the read it was computed from started. */
interface Read {
  readonly identity: FileIdentity;
  /** The file's link count at the stat `identity` is from. */
  readonly links: bigint;
  readonly etag: string;
  readonly readAtMs: number;
  /** The Last-Modified an earlier run served this version with (from the ETag cache). */
  readonly lastModified?: number | undefined;
  /** The bytes, when the file was small enough to be read whole on the main thread. */
  readonly bytes?: Buffer | undefined;
}

/** What one walk of the tree collects. */
interface Scan {
  /** The table as this scan leaves it: a new Map for a walk, changes to the live table for a targeted scan. */
  out: Map<string, AssetInfo> | TableDelta;
  /** Entries read while racily clean: the next scan reads them again. */
  readonly racy: Set<AssetInfo>;
  /** Some file kept changing while read and was left out. */
  unsettled: boolean;
  /** Files whose content was read (not known from the table or the ETag cache). */
  hashed: number;
  /** Paths stat'ed. */
  stated: number;
  /** Files whose tag came from the ETag cache. */
  cached: number;
  /** Files found, bytes to read and read (for progress reports). */
  counts: { files: number; bytesToHash: number; bytesHashed: number };
  /** Some entry was reached through a symlink: a change to its target raises an event under another path. */
  linked: boolean;
  /** Directories walked (real paths), collected when the watcher is to be started from this walk. */
  dirs: string[] | null;
  /** Files that changed again too soon after their last read (see read-backoff.ts): ms until each is looked at again. */
  readonly later: Map<string, number>;
  /** URL paths of entries whose name is not valid UTF-8 (see visit), which no request can name. */
  readonly undecodable: string[];
  /** URL paths this process may not read (EACCES, EPERM: the operator's chmod), left out. */
  readonly denied: string[];
  /** The reads this scan made, by file path: a file reached by several URL paths (symlinks) is read once. */
  readonly reads: Map<string, Promise<Read | null>>;
  /** Paths a system error other than EXHAUSTED kept from being read (EIO…), and the first as `path (CODE)`. */
  failures: number;
  firstFailure: string;
}

/** The work of the last scan, for tests and the start-up report. */
export interface ScanReport {
  /** Files looked at: every file for a walk of the tree, the ones named by the watcher otherwise. */
  readonly files: number;
  /** Paths stat'ed (files and directories). */
  readonly stated: number;
  /** Files read and hashed. */
  readonly hashed: number;
  /** Files whose tag came from the ETag cache instead. */
  readonly cached: number;
  /** Wall time of the scan, ms. */
  readonly ms: number;
}

/** The strong ETag of content with this SHA-256 digest. */
export function etagOf(digest: Buffer): string {
  return `"${digest.toString('base64url').slice(0, 27)}"`;
}

/**
 * Hashes the first `size` bytes of an open file and calls back whether they have `etag` (rare path:
 * see DiskSend.contentMatches). Positioned reads, so a shared fd's offset is not touched; a read
 * error or a short file counts as a mismatch.
 */
export function fdHasEtag(fd: number, size: number, etag: string, done: (same: boolean) => void): void {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(size, 256 * 1024) || 1);
  const next = (pos: number): void => {
    if (pos >= size) return done(etagOf(hash.digest()) === etag);
    read(fd, buffer, 0, Math.min(buffer.length, size - pos), pos, (err, n) => {
      if (err !== null || n === 0) return done(false);
      hash.update(buffer.subarray(0, n));
      next(pos + n);
    });
  };
  next(0);
}

/**
 * The path of the entry `name` of directory `dir`, a real path with no `.`, `..` or doubled
 * separator: path.join would normalise it again, ~0.6 KB of garbage per file of a walk.
 */
function childPath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/** Removes an entry and, if it was a directory, every entry under it (and its index). */
/** True when a directory above `rel` (not the root: it is walked only when it changed) is one of `paths`. */
function hasAncestorIn(rel: string, paths: ReadonlySet<string>): boolean {
  for (let end = rel.lastIndexOf(sep); end > 0; end = rel.lastIndexOf(sep, end - 1)) {
    if (paths.has(rel.slice(0, end))) return true;
  }
  return false;
}

function removeUnder(out: TableDelta, urlPath: string): void {
  out.delete(urlPath);
  if (!out.mayHoldUnder(urlPath)) return; // a new path, or a file's: nothing to look for
  const prefix = `${urlPath}/`;
  const under: string[] = [];
  for (const key of out.keys()) if (key.startsWith(prefix)) under.push(key);
  for (const key of under) out.delete(key);
  out.removedDir(urlPath);
}

/** The `/dir/` entry of a directory: its index.html when it has one. */
function relinkIndex(out: TableDelta, urlDir: string): void {
  const index = out.get(`${urlDir}/index.html`);
  if (index !== undefined) out.set(`${urlDir}/`, index);
  else out.delete(`${urlDir}/`);
}

/** The siblings `x.br`, `x.zst`, `x.gz` of the file behind an entry (found by its real URL path, so `/dir/` uses index.html's). */
function variantsOf(info: AssetInfo, infos: ReadonlyMap<string, AssetInfo>): Variants {
  let out: (AssetInfo | undefined)[] | null = null;
  for (const { coding, suffix } of ENCODINGS) {
    const sibling = infos.get(info.urlPath + suffix);
    if (sibling === undefined) continue;
    out ??= [];
    out[coding] = sibling;
  }
  return out ?? NO_VARIANTS;
}

const NOTHING: ReadonlySet<string> = new Set();

/**
 * The URL paths that have a sibling (`x` of `x.br`) in `infos`: only those need their siblings looked
 * up, three string concatenations and Map lookups per entry otherwise, for a tree without any.
 */
function siblingBases(infos: ReadonlyMap<string, AssetInfo>): Set<string> {
  const bases = new Set<string>();
  for (const urlPath of infos.keys()) addSiblingBase(urlPath, bases);
  return bases;
}

/** Adds to `to` the URL path `urlPath` is a sibling of (`x` for `x.br`), if it is one. */
function addSiblingBase(urlPath: string, to: Set<string>): void {
  for (const { suffix } of ENCODINGS) if (urlPath.endsWith(suffix)) to.add(urlPath.slice(0, -suffix.length));
}

/**
 * Adds to `touched` the URL paths whose entry a change at `urlPath` may alter: itself, the file it is
 * a sibling of (`x` for `x.br`), and the `/dir/` entry of an index.html among those.
 */
function touchedBy(urlPath: string, touched: Set<string>): void {
  const paths = new Set([urlPath]);
  addSiblingBase(urlPath, paths);
  for (const path of paths) {
    touched.add(path);
    if (path.endsWith('/index.html')) touched.add(path.slice(0, -'index.html'.length));
  }
}

function sameVariants(a: Variants | undefined, b: Variants): boolean {
  a ??= NO_VARIANTS;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isServableName(name: string, isTopLevel: boolean): boolean {
  // Dotfiles (.env, .git, .htpasswd) are never served; /.well-known/ is the one public dot-directory.
  return !name.startsWith('.') || (isTopLevel && name === '.well-known');
}

/**
 * The table of servable files under a root, built by walking the root once. A request is a Map
 * lookup of its URL path: no file-system path is ever built from a URL, so `..`, encoded slashes,
 * NUL bytes and the like cannot reach outside the root, whatever their encoding.
 *
 * `build` turns each file into the data the server keeps per asset (its prebuilt header blocks).
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
  /** Every directory (URL path) some entry is under, and maybe some no longer: see TableDelta.mayHoldUnder. */
  private dirs = new Set<string>();
  private rootReal = '';
  private rootIno = -1n;
  private rootDev = -1n;
  /**
   * The root directory held open (-1: none), so that its inode number cannot go to another file: a
   * root removed and made again (rm -rf root && mkdir root) got the same number back, rootMoved saw
   * nothing, and the table, watching the deleted directory, never changed again.
   */
  private rootFd = -1;
  private rootCheck: NodeJS.Timeout | null = null;
  private revalidation: NodeJS.Timeout | null = null;
  /** The versions in the table, and those with more than one name (null: not listed yet). */
  private versions: { all: AssetInfo[]; linked: AssetInfo[] } | null = null;
  /** When `versions` was made (performance.now() ms), and whether the table changed since. */
  private versionsAt = 0;
  private versionsStale = false;
  /** Where revalidate goes on in each list (kept across publishes: a table that changes often is still gone through). */
  private allNext = 0;
  private linkedNext = 0;
  private revalidating = false;
  /**
   * The last walk could not list the root (the operator's chmod): nothing is served, and nothing is
   * watched (inotify refuses a directory it may not read), so the root check looks for it to be
   * listable again.
   */
  private rootDenied = false;
  /** The root directory's ctime when the last walk began (-1: unknown). */
  private rootCtimeNs = -1n;
  /** The mount table as last read (Linux's /proc/self/mountinfo; '' where there is none): see mountedUnder. */
  private mounts = '';
  private watcher: TreeWatch | null = null;
  /** The next walk starts the watcher with the directories it found (at start, and when the root moved). */
  private watcherWanted = false;
  private readonly backoff = new ReadBackoff();
  /** Files a response found changed: read at once, whatever their backoff says. */
  private readonly urgent = new Set<string>();
  /**
   * Files waiting out their backoff: when each is to be looked at again (performance.now() ms). The
   * scheduling here runs on the monotonic clock, as timers do: on the wall clock, set back an hour, a
   * file put off for 250 ms was not read again for an hour. Only readAtMs, compared with file times,
   * is wall-clock time.
   */
  private readonly due = new Map<string, number>();
  private dueTimer: NodeJS.Timeout | null = null;
  private inlineBytes = 0;
  /** A rescan() is under way: no read is put off. */
  private readNow = false;
  /** Reads of a file's content (each attempt counts), since the table was made. */
  reads = 0;
  private pending: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private poll: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private recheckAt = 0;
  private closed = false;
  private scanning: Promise<void> | null = null;
  private dirty = false;
  private readonly statFile: (path: string) => Promise<BigIntStats>;
  private readonly readDir: (path: string) => Promise<Dirent[]>;
  private readonly hashers = new FileHasher();
  private scanCounts = { files: 0, bytesToHash: 0, bytesHashed: 0 };
  /** Paths the watcher named since the last scan began; null: the next scan walks the whole tree. */
  private changed: Set<string> | null = null;
  /** The last walk reached some entry through a symlink (so events cannot be trusted to name it). */
  private linked = false;
  /** Names left out for not being UTF-8 (Node opens them as U+FFFD: nothing), said on stderr. */
  private readonly undecodableNotice = new SkippedPaths(
    (n, shown) => `xorigin: ${String(n)} name(s) under ${terminalSafe(this.root)} are not valid UTF-8 and are not served (${shown}; U+FFFD marks the bytes); rename them to UTF-8 (e.g. convmv -f latin1 -t utf8)`,
    (line) => (this.options.warn ?? writeStderr)(line),
  );
  /** Paths left out because this process may not read them, said on stderr (nginx logs each 403). */
  private readonly deniedNotice = new SkippedPaths(
    (n, shown) => `xorigin: ${String(n)} path(s) under ${terminalSafe(this.root)} may not be read by this process and are not served (404): ${shown}; give the user xorigin runs as read permission (and execute on directories)`,
    (line) => (this.options.warn ?? writeStderr)(line),
  );
  private recheckWalk = false;
  /** What the last scan did (null before the first). */
  lastScan: ScanReport | null = null;
  private readonly limit = new TaskLimit(SCAN_CONCURRENCY);
  /** Directories whose files are being visited at once (see walkFiles). */
  private readonly dirLimit = new TaskLimit(SCAN_CONCURRENCY);
  /** Tags from the ETag cache, during the first scan only. */
  private known: EtagCache | null = null;
  private tags: EtagCache | null = null;
  private saving: Promise<void> | null = null;
  private saveAgain = false;
  private saveTimer: NodeJS.Timeout | null = null;
  /** Entries in the table after the last scan (a scan that only removed files also rewrites the cache). */
  private published = -1;
  /** How long until a walk tries again paths that could not be read, and when that was last said (see noteFailures). */
  private failedDelay = UNSETTLED_RECHECK_MS;
  private failureSaidAt = -Infinity;

  constructor(
    readonly root: string,
    private readonly options: AssetTableOptions,
    private build: (info: AssetInfo, variants: Variants) => T,
  ) {
    this.statFile = options.statFile ?? defaultStat;
    this.readDir = options.readDir ?? defaultReadDir;
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
    await access(this.root, constants.R_OK | constants.X_OK).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`root ${this.root} may not be listed by this process (${e.code ?? 'error'}): give the user it runs as read and execute permission on it`);
    });
    await this.locateRoot();
    this.tags = await this.openTags();
    this.known = this.tags;
    this.watcherWanted = this.options.watch !== false;
    const stop = reportScan(() => this.counts(), this.options.progress ?? process.stderr);
    try {
      await this.rescan();
    } finally {
      stop();
    }
    this.known?.release();
    this.known = null;
    if (this.options.watch === false || this.closed) return;
    // Ready means watched: a change made once open() resolved is seen.
    await this.watcher?.ready?.();
    // A deploy that switches a symlinked root, or replaces the root directory, raises no event in the
    // directory watched: look for that on a timer too (two syscalls).
    this.mounts = await readMounts();
    this.rootCheck = setInterval(() => void this.rootChanged().then((changed) => changed && this.scheduleWalk()), ROOT_CHECK_MS);
    this.rootCheck.unref();
    this.revalidation = setInterval(() => void this.revalidate(), REVALIDATE_MS);
    this.revalidation.unref();
  }

  /**
   * Stats files again for changes no event reports, and reads again one found changed: a file with
   * more than one name (a hard link) rewritten in place through a name in a directory no watch covers,
   * or linked so after it was read (a link count changes with no event either). Its body held in
   * memory, its ETag and its 304s would otherwise stay those of the old bytes for good (nginx, which
   * stats per request, serves the new ones). Files known to have other names are looked at every
   * REVALIDATE_MS (LINKED_PER_CHECK at a time), every file in turn ANY_PER_CHECK at a time.
   */
  private async revalidate(): Promise<void> {
    if (this.revalidating || this.closed) return;
    this.revalidating = true;
    try {
      const now = performance.now();
      if (this.versions === null || (this.versionsStale && now - this.versionsAt >= RELIST_MS)) {
        this.versions = this.listVersions();
        this.versionsAt = now;
        this.versionsStale = false;
      }
      const v = this.versions;
      this.linkedNext = await this.restat(v.linked, this.linkedNext, LINKED_PER_CHECK);
      this.allNext = await this.restat(v.all, this.allNext, ANY_PER_CHECK);
    } finally {
      this.revalidating = false;
    }
  }

  /** Stats up to `count` of `list` from `next` on (in a ring), reading again each found changed; returns where to go on. */
  private async restat(list: readonly AssetInfo[], next: number, count: number): Promise<number> {
    const n = Math.min(list.length, count);
    if (n === 0) return 0;
    next %= list.length;
    for (let i = 0; i < n && !this.closed; i++, next = (next + 1) % list.length) {
      const info = list[next] as AssetInfo;
      const s = await this.statFile(info.filePath).catch(() => null);
      if (this.isCurrent(info) && (s === null || !sameIdentity(info.identity, s))) void this.refresh(info).catch(() => {});
    }
    return next;
  }

  /** The versions in the table, once each (a directory's index is one at two URL paths), and those with other names. */
  private listVersions(): { all: AssetInfo[]; linked: AssetInfo[] } {
    const all: AssetInfo[] = [];
    const linked: AssetInfo[] = [];
    // forEach: no [key, value] pair allocated per file; a directory's `/dir/` is its index's second path.
    this.infos.forEach((info, urlPath) => {
      if (urlPath !== info.urlPath) return;
      all.push(info);
      if (info.links > 1) linked.push(info);
    });
    return { all, linked };
  }

  /** Bytes of file content read to hash them, since the table was made. */
  get bytesRead(): number {
    return this.inlineBytes + this.hashers.bytes;
  }

  /** The progress of the scan under way (or the last one). */
  private counts(): ScanCounts {
    return this.scanCounts;
  }

  /** The ETag cache of this root, if one is configured and outside the root. */
  private async openTags(): Promise<EtagCache | null> {
    const dir = this.options.etagCache;
    if (dir === undefined || this.rootReal === '') return null;
    // Where the file would really be: a cache directory (or an ancestor of it) may be a symlink into the root.
    const file = etagCacheFile(await realDir(dir), resolve(this.root));
    if (file.startsWith(this.rootReal + sep)) {
      (this.options.warn ?? writeStderr)(`xorigin: the ETag cache ${terminalSafe(dir)} is inside the root ${terminalSafe(this.root)}, where it would be served; not using it`);
      return null;
    }
    return EtagCache.open(dir, resolve(this.root), this.options.warn ?? writeStderr);
  }

  /**
   * After a rescan, the ETag cache is written SAVE_DELAY_MS later, once for every change in that
   * time: a write serialises every entry on the main thread, which for each edited file of a
   * 100,000-file tree held every request ~100 ms (a fifth of the CPU of an edit, with --cpu-prof).
   * The start-up scan's is written at once. One left pending at close is started then.
   */
  private saveSoon(): void {
    // A scan that ends after close() (it was running then) writes now, as close() does with one pending:
    // a timer armed now would write 10 s after the table is gone, or never if the process exits first.
    if (this.closed) return this.saveTags();
    if (this.saveTimer !== null || this.tags === null) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveTags();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  /** Writes the ETag cache after a scan that read some file; one write at a time, the last one wins. */
  private saveTags(): void {
    const tags = this.tags;
    if (tags === null) return;
    if (this.saving !== null) {
      this.saveAgain = true;
      return;
    }
    this.saving = tags.save(this.infos, this.racy, this.departed).catch((e: Error) => {
      (this.options.warn ?? writeStderr)(`xorigin: cannot write the ETag cache: ${e.message}; the next start reads again every file the cache already there (if any) does not know`);
      this.tags = null;
    }).finally(() => {
      this.saving = null;
      if (this.saveAgain) {
        this.saveAgain = false;
        this.saveTags();
      }
    });
  }

  /** Resolves once the ETag cache file has been written (at once if no write is pending). */
  async flush(): Promise<void> {
    this.savePending();
    while (this.saving !== null) await this.saving;
  }

  /** Starts a write that saveSoon() has scheduled, now. */
  private savePending(): void {
    if (this.saveTimer === null) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.saveTags();
  }

  /** Starts watching the directories a walk just found (real paths under the root). */
  private startWatcher(dirs: readonly string[]): void {
    this.watcherWanted = false;
    if (this.closed || this.poll !== null) return;
    try {
      const rels = dirs.map((dir) => relative(this.rootReal, dir));
      const watcher = (this.options.watchTree ?? defaultWatchTree)(this.rootReal, (_event, filename) => {
        this.note(typeof filename === 'string' ? filename : null);
        this.schedule();
      }, rels);
      this.watcher = watcher;
      watcher.on('error', (e) => this.pollInstead(e.message));
    } catch (e) {
      // No recursive watch on this platform, or no inotify watches left.
      this.pollInstead((e as Error).message);
    }
  }

  /** True when the root now resolves to another directory than the one scanned (and watched). */
  private async rootMoved(): Promise<boolean> {
    try {
      const real = await realpath(this.root);
      const s = await stat(real, { bigint: true });
      return real !== this.rootReal || s.ino !== this.rootIno || s.dev !== this.rootDev;
    } catch (e) {
      // No longer reachable by this process (a parent directory's chmod): walked once, which finds it
      // unlistable and serves nothing until it may be listed again (see rootDenied).
      if (DENIED.has(errorCode(e))) {
        const first = !this.rootDenied;
        this.rootDenied = true; // even before the walk says so: a walk a targeted scan runs may come first
        return first;
      }
      return false; // gone for now (rm -rf, then recreated): the walk finds nothing, the next check retries
    }
  }

  /** True when the root moved (see rootMoved), or may be listed again after a walk that could not. */
  private async rootChanged(): Promise<boolean> {
    if (await this.rootMoved()) return true;
    if (await this.mountedUnder()) {
      // The watches of directories a mount now covers (or uncovered) see nothing of what is there now.
      this.stopWatcher();
      this.watcherWanted = true;
      return true;
    }
    return this.rootDenied && this.rootListable();
  }

  /** Whether this process may list the root now. */
  private rootListable(): Promise<boolean> {
    return access(this.rootReal, constants.R_OK | constants.X_OK).then(() => true, () => false);
  }

  /**
   * True when a file system was mounted or unmounted at or under the root since the last look: that
   * raises no inotify event, and the files it covers would be served from the table (and memory) as if
   * they were still there.
   */
  private async mountedUnder(): Promise<boolean> {
    const now = await readMounts();
    if (now === this.mounts) return false;
    const before = new Set(this.mounts.split('\n'));
    const after = new Set(now.split('\n'));
    this.mounts = now;
    const under = (line: string): boolean => {
      const point = mountPoint(line);
      return point === this.rootReal || point.startsWith(this.rootReal + sep);
    };
    for (const line of after) if (!before.has(line) && under(line)) return true;
    for (const line of before) if (!after.has(line) && under(line)) return true;
    return false;
  }

  /** Resolves the root again; when it moved (true), the watcher follows it. */
  private async locateRoot(): Promise<boolean> {
    if (this.rootReal !== '' && !(await this.rootMoved())) return false;
    try {
      const real = await realpath(this.root);
      await this.holdRoot(real);
      const s = await stat(real, { bigint: true });
      this.rootReal = real;
      this.rootIno = s.ino;
      this.rootDev = s.dev;
    } catch {
      return false;
    }
    if (this.watcher !== null) {
      // The walk that follows (the root moved, so the tree is walked) starts it again where the root is now.
      this.stopWatcher();
      this.watcherWanted = true;
    }
    return true;
  }

  /** Holds `dir` open in place of the root held so far (see rootFd); where a directory cannot be opened, none. */
  private async holdRoot(dir: string): Promise<void> {
    const fd = await new Promise<number>((done) => openFd(dir, 'r', (err, n) => done(err === null ? n : -1)));
    this.releaseRoot();
    if (this.closed && fd !== -1) closeSync(fd);
    else this.rootFd = fd;
  }

  private releaseRoot(): void {
    if (this.rootFd !== -1) closeSync(this.rootFd);
    this.rootFd = -1;
  }

  /** Stops watching and every timer; a scan already running completes but schedules nothing. */
  close(): void {
    this.closed = true;
    this.releaseRoot();
    this.stopWatcher();
    this.hashers.close();
    for (const t of [this.pending, this.recheck, this.dueTimer]) if (t !== null) clearTimeout(t);
    if (this.poll !== null) clearInterval(this.poll);
    if (this.rootCheck !== null) clearInterval(this.rootCheck);
    if (this.revalidation !== null) clearInterval(this.revalidation);
    this.pending = this.recheck = this.dueTimer = this.poll = this.rootCheck = this.revalidation = null;
    this.savePending();
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
    (this.options.warn ?? writeStderr)(`xorigin: watching ${terminalSafe(this.root)} failed (${reason}); rescanning every ${formatInterval(every)} instead`);
    this.poll = setInterval(() => this.scheduleWalk(), every);
    this.poll.unref();
    this.scheduleWalk(); // changes made while the watcher was failing went unreported
  }

  /** Records a path (relative to the root) to look at in the next scan; null: walk the whole tree. */
  private note(rel: string | null): void {
    if (rel === null || this.changed === null || this.changed.size >= TARGETED_MAX) this.changed = null;
    // Under a directory already noted it is walked with it, and does not count towards the limit: a
    // chmod of a directory of 1,100 directories names each of them again after it.
    else if (!hasAncestorIn(rel, this.changed)) this.changed.add(rel);
  }

  private scheduleWalk(): void {
    this.note(null);
    this.schedule();
  }

  /**
   * Coalesces bursts of file-system events into one rescan once they have been quiet for
   * DEBOUNCE_MS, but no later than DEBOUNCE_MAX_MS after the burst began.
   */
  private schedule(): void {
    if (this.closed) return;
    const now = performance.now();
    if (this.pending === null) this.burstStart = now;
    else clearTimeout(this.pending);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.burstStart + DEBOUNCE_MAX_MS - now));
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.runScans().catch(() => {});
    }, wait);
    this.pending.unref();
  }

  /** Rescans in `ms` (or sooner, if another recheck is already due earlier): the racy files, or the tree. */
  private recheckIn(ms: number, walk: boolean): void {
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
      for (const info of this.racy) this.note(relative(this.rootReal, info.filePath));
      this.recheckWalk = false;
      this.schedule();
    }, ms);
    this.recheck.unref();
  }

  /**
   * Walks the root again; files whose identity is unchanged keep their entry, others are re-read
   * and re-hashed. The new table replaces the old one in one assignment, so a request sees either
   * the old or the new state, never a mix.
   */
  rescan(): Promise<void> {
    this.note(null);
    // Asked for explicitly: every changed file is read now, whatever its backoff says.
    this.readNow = true;
    return this.runScans();
  }

  /**
   * Looks at one file again (found changed by a response reading it, before any watcher event), and
   * reads it again: only its path is stat'ed, unless the tree must be walked anyway. Resolves once
   * the table is up to date for it.
   */
  refresh(info: AssetInfo): Promise<void> {
    // Read again even if its identity is unchanged: the caller found bytes that do not hash to its
    // ETag (a tag from a cache that was wrong, a write that kept every stat field), which a look at
    // the identity alone would keep forever.
    this.racy.add(info);
    this.urgent.add(info.filePath);
    const rel = relative(this.rootReal, info.filePath);
    this.note(rel.startsWith('..') ? null : rel);
    return this.runScans();
  }

  /** Runs scans until nothing new is pending: a walk, or a look at just the paths the watcher named. */
  private runScans(): Promise<void> {
    if (this.scanning !== null) {
      this.dirty = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.dirty = false;
        // Moved: the tree is walked, which starts the watcher again (a root made again at the same path too).
        const moved = await this.locateRoot();
        const started = performance.now();
        const paths = this.changed;
        if (!moved && paths !== null && paths.size === 0) continue; // already seen by a scan that ran meanwhile
        this.changed = new Set();
        const walk = paths === null || this.linked || moved;
        const delta = walk ? null : new TableDelta(this.infos, this.dirs);
        const scan = delta === null ? this.newScan(new Map(), new Set()) : this.newScan(delta, new Set(this.racy));
        if (walk || delta === null || !(await this.update(paths, scan, delta))) {
          scan.out = new Map();
          scan.racy.clear();
          scan.linked = false;
          scan.dirs = this.watcherWanted ? [] : null;
          this.rootCtimeNs = await this.rootCtime();
          await this.walk(this.rootReal, '', scan);
          this.linked = scan.linked;
          this.rootDenied = scan.denied.includes('/');
          this.undecodableNotice.note(scan.undecodable, true);
          this.deniedNotice.note(scan.denied, true);
          // A root this process may not list may not be watched either: once the root check finds it
          // listable again, the walk that follows starts the watcher.
          if (scan.dirs !== null && this.rootDenied) this.watcherWanted = true;
          else if (scan.dirs !== null) this.startWatcher(scan.dirs);
        } else {
          this.undecodableNotice.note(scan.undecodable, false);
          this.deniedNotice.note(scan.denied, false);
        }
        this.publish(scan);
        this.lastScan = { files: scan.counts.files, stated: scan.stated, hashed: scan.hashed, cached: scan.cached, ms: performance.now() - started };
      } while (this.dirty);
    })().finally(() => {
      this.scanning = null;
      this.readNow = false;
      this.urgent.clear(); // a file asked for that is gone now: nothing to keep it for
    });
    return this.scanning;
  }

  private newScan(out: Map<string, AssetInfo> | TableDelta, racy: Set<AssetInfo>): Scan {
    this.scanCounts = { files: 0, bytesToHash: 0, bytesHashed: 0 };
    return { out, racy, unsettled: false, hashed: 0, stated: 0, cached: 0, counts: this.scanCounts, linked: false, dirs: null, later: new Map(), undecodable: [], denied: [], reads: new Map(), failures: 0, firstFailure: '' };
  }

  /**
   * Brings `delta` (the changes `scan` makes) up to date for just these paths relative to the root: a
   * file is stat'ed (and read if its identity changed), a directory walked, a missing path removed
   * with everything under it. False when a path is a symlink: the caller walks the whole tree.
   */
  private async update(paths: ReadonlySet<string>, scan: Scan, delta: TableDelta): Promise<boolean> {
    for (const rel of paths) {
      if (rel === '') {
        // The root itself (see TreeWatcher's event), or a file of the root named as the root is: walked
        // only when the root's own inode changed (a chmod, a touch), not at every write to that file.
        if (await this.rootUnchanged()) continue;
        return false;
      }
      if (!AssetTable.servable(rel)) continue; // .git, editor swap files: nothing served changes
      if (hasAncestorIn(rel, paths)) continue; // looked at (walked, or dropped with it) as part of it
      const full = join(this.rootReal, rel);
      const urlPath = `/${rel.split(sep).join('/')}`;
      scan.stated++;
      let l: BigIntStats | Stats | null;
      let s: BigIntStats | null;
      try {
        let denied = false as boolean;
        l = await lstat(full).catch((e: unknown) => {
          denied = DENIED.has(errorCode(e));
          return goneOrThrow(e);
        });
        // The root no longer reachable (a chmod of it or of a parent, which no event reports): walked, where
        // it is said, and looked at again by the root check until it may be listed (see rootDenied).
        if (denied && !(await this.rootListable())) return false;
        if (l !== null && !(await this.reachedDirectly(full))) return false;
        s = l === null ? null : await this.statFile(full).catch(goneOrThrow);
      } catch (e) {
        // Out of descriptors: nothing is known of this path now; keep what the table had.
        if (!isTransient(e)) throw e;
        this.keepKnown(urlPath, scan, e);
        continue;
      }
      // The watcher reads a name that is not UTF-8 as the walk does (see visit): it opens nothing.
      if (l === null && rel.includes('\uFFFD')) scan.undecodable.push(urlPath);
      const previous = delta.get(urlPath);
      if (previous !== undefined) scan.racy.delete(previous); // read again below if still racy
      // A path that was a file has nothing under it (whatever it is now): only its own entry goes.
      // Otherwise (it was a directory, or is new: rm -rf names only the directories) everything under
      // it goes too.
      if (previous !== undefined) delta.delete(urlPath);
      else removeUnder(delta, urlPath);
      await this.updateOne(full, urlPath, s, scan);
      relinkIndex(delta, urlPath.slice(0, urlPath.lastIndexOf('/')));
    }
    // A directory walked here held a symlink (one moved or copied in with it, not named on its own):
    // the tree is walked, which serves a symlink only when it points inside the root and, as for a
    // symlink named, makes every later change walk it, so the link's path follows its target.
    if (scan.linked) return false;
    for (const info of scan.racy) if (delta.get(info.urlPath) !== info) scan.racy.delete(info);
    return true;
  }

  /** True when the root's inode is as the last walk found it (its ctime: every chmod, chown and touch changes it). */
  private async rootUnchanged(): Promise<boolean> {
    const ctime = await this.rootCtime();
    return ctime !== -1n && ctime === this.rootCtimeNs;
  }

  /** The root directory's ctime now (-1: it cannot be stat'ed). */
  private rootCtime(): Promise<bigint> {
    return stat(this.rootReal, { bigint: true }).then((r) => r.ctimeNs, () => -1n);
  }

  /**
   * False when `full` is, or is reached through, a symlink: the whole tree is walked then, which
   * serves a symlink only when it points inside the root. A directory of the path replaced by a
   * symlink to /etc since the walk would otherwise have its files served by a look at them alone.
   */
  private async reachedDirectly(full: string): Promise<boolean> {
    return (await realpath(full).catch(goneOrThrow)) === full;
  }

  /** One path of a targeted scan, as a walk visits it: a directory walked, a file added, anything else left out. */
  private async updateOne(full: string, urlPath: string, s: BigIntStats | null, scan: Scan): Promise<void> {
    try {
      if (s?.isDirectory() === true) await this.walk(full, urlPath, scan);
      else if (s?.isFile() === true) await this.addFile(full, urlPath, s, scan);
    } catch (e) {
      // Gone between its stat and its read, or unreadable: not servable, and the other paths of this
      // scan still go in force (a throw here lost them all, until their next change).
      this.couldNotRead(urlPath, scan, e);
    }
  }

  /**
   * Puts a scan's result in force, in one synchronous step: a request sees the table before or after
   * the scan, never a mix.
   */
  private publish(scan: Scan): void {
    const dropped = scan.out instanceof TableDelta ? this.apply(scan.out) : this.replace(scan.out);
    this.racy = scan.racy;
    this.versionsStale = true;
    // The new versions a targeted scan made are looked at from now on, not after the next listing.
    if (scan.out instanceof TableDelta && this.versions !== null) {
      for (const [urlPath, info] of scan.out.changes) {
        if (info === null || urlPath !== info.urlPath) continue;
        this.versions.all.push(info);
        if (info.links > 1) this.versions.linked.push(info);
      }
    }
    // Before the start-up scan's cache write, which then keeps saying them.
    const overflowed = this.published === -1 && this.rememberDeparted();
    this.options.published?.(dropped, this.isCurrent);
    // A first scan that read nothing found the cache complete: N workers starting at once do not all rewrite it.
    if (scan.hashed > 0 || overflowed || (this.published !== -1 && this.infos.size !== this.published)) {
      if (this.published === -1) this.saveTags();
      else this.saveSoon();
    }
    this.published = this.infos.size;
    // A file left out is missing from the table: look again soon, watched or not.
    if (scan.unsettled) this.recheckIn(UNSETTLED_RECHECK_MS, true);
    this.noteFailures(scan);
    // A same-tick write to a racy file raises an event the scan may already have consumed; without this
    // rescan it would wait for some unrelated change. With `watch: false` the table never rescans itself.
    if (scan.racy.size > 0 && this.options.watch !== false) this.recheckIn(RACY_RECHECK_MS, false);
    this.readLater(scan.later);
  }

  /**
   * Paths the disk would not read (EIO…): said on stderr, at most once a minute (a disk that keeps
   * failing must not fill the log), and the tree is walked again after 0.1 s, doubling up to 10 s,
   * so a path the walk failed on (a file not yet read, a directory) is served once it reads, and a
   * disk that stays broken costs a walk every 10 s, not every 0.1 s.
   */
  private noteFailures(scan: Scan): void {
    if (scan.failures === 0) {
      // Only a walk looks at every path: a targeted scan of another file says nothing of the failed ones.
      if (scan.out instanceof Map) this.failedDelay = UNSETTLED_RECHECK_MS;
      return;
    }
    const now = performance.now();
    if (now - this.failureSaidAt >= FAILURE_QUIET_MS) {
      this.failureSaidAt = now;
      const more = scan.failures > 1 ? ` and ${String(scan.failures - 1)} more` : '';
      (this.options.warn ?? writeStderr)(`xorigin: cannot read ${terminalSafe(scan.firstFailure)}${more} under ${terminalSafe(this.root)}; kept as last read (a file served from disk answers 503 while it cannot be read) and tried again; said at most once a minute`);
    }
    this.recheckIn(this.failedDelay, true);
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

  /** Looks at each file again once its backoff has passed (see read-backoff.ts). */
  private readLater(later: ReadonlyMap<string, number>): void {
    const now = performance.now();
    this.backoff.prune(now);
    for (const [filePath, ms] of later) {
      const due = this.due.get(filePath);
      if (due === undefined || now + ms < due) this.due.set(filePath, now + ms);
    }
    this.armDue();
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
        const rel = relative(this.rootReal, filePath);
        this.note(rel.startsWith('..') ? null : rel);
      }
      this.schedule();
      this.armDue();
    }, Math.max(0, next - performance.now()));
    this.dueTimer.unref();
  }

  private async walk(dir: string, urlDir: string, scan: Scan): Promise<void> {
    scan.dirs?.push(dir);
    const others = await this.dirLimit.run(() => this.walkFiles(dir, urlDir, scan));
    // Outside the directory's slot: a subdirectory waiting for one must not hold its parent's. A
    // few at a time: 8,000 subdirectories stat'ed at once each held its stat until it got a slot.
    let next = 0;
    const visitNext = async (): Promise<void> => {
      while (next < others.length) await this.visit(others[next++] as Dirent, dir, urlDir, scan);
    };
    await Promise.all(Array.from({ length: Math.min(others.length, SCAN_CONCURRENCY) }, visitNext));
    // Directory index: /dir/ and / serve index.html when present.
    const index = scan.out.get(`${urlDir}/index.html`);
    if (index !== undefined) scan.out.set(`${urlDir}/`, index);
  }

  /**
   * Reads a directory and visits its regular files; returns its other entries (directories, and
   * symlinks, which may be one) for the caller to visit. Run under `dirLimit`, so the files of a
   * few directories wait for a slot at a time, not those of the whole tree: queued all at once,
   * 100,000 files' tasks and their directories' entries were most of the 200 MB a warm start of
   * such a tree allocated.
   */
  private async walkFiles(dir: string, urlDir: string, scan: Scan): Promise<Dirent[]> {
    let names;
    try {
      names = await this.readDir(dir);
    } catch (e) {
      this.couldNotRead(urlDir, scan, e, `${urlDir}/`);
      return []; // removed while walking, or unreadable: serve nothing from it
    }
    const files: Promise<void>[] = [];
    const others: Dirent[] = [];
    for (const entry of names) {
      if (!isServableName(entry.name, urlDir === '')) continue;
      if (entry.isFile()) files.push(this.limit.run(() => this.visit(entry, dir, urlDir, scan)));
      else others.push(entry);
    }
    await Promise.all(files);
    return others;
  }

  /** One directory entry: a directory is walked, a file added; the entries of a directory go in parallel. */
  private async visit(entry: Dirent, dir: string, urlDir: string, scan: Scan): Promise<void> {
    const urlPath = `${urlDir}/${entry.name}`;
    try {
      if (entry.isSymbolicLink()) scan.linked = true;
      const target = entry.isSymbolicLink() ? await this.linkTarget(childPath(dir, entry.name)) : childPath(dir, entry.name);
      if (target === null) return;
      scan.stated++;
      const s = await this.statFile(target);
      if (s.isDirectory()) {
        // A symlink to a directory is not followed (README, "No path from the URL"): its files are
        // served at their own paths, whatever the order the walk meets the two in. Followed, it took
        // them away from those paths when met first (a cycle guard that remembered it), and a chain of
        // such links can name one directory under exponentially many URL paths.
        if (!entry.isSymbolicLink()) await this.walk(target, urlPath, scan);
      } else if (s.isFile()) {
        await this.addFile(target, urlPath, s, scan);
      }
    } catch (e) {
      // Vanished between readdir and stat, or a dangling symlink: not servable.
      // Node reads a name that is not valid UTF-8 with U+FFFD in place of the bad bytes: that name
      // opens nothing (ENOENT), and no URL could name it either (%E9 is not UTF-8 for decodeURIComponent).
      if (errorCode(e) === 'ENOENT' && entry.name.includes('\uFFFD')) scan.undecodable.push(urlPath);
      else this.couldNotRead(urlPath, scan, e);
    }
  }

  /**
   * A path a scan could not read: kept as it was after a transient error (keepKnown); left out and
   * said (deniedNotice, as `shown`: a directory with its slash) when this process may not read it;
   * otherwise gone.
   */
  private couldNotRead(urlPath: string, scan: Scan, e: unknown, shown = urlPath): void {
    if (isTransient(e)) this.keepKnown(urlPath, scan, e);
    else if (DENIED.has(errorCode(e))) scan.denied.push(shown);
  }

  /**
   * A transient error (see ABSENT) at `urlPath`: what the table had there (the file, or everything
   * under the directory) stays as it was, and the tree is walked again: soon when the process was
   * out of descriptors, and after a growing delay for an error of the disk (see noteFailures).
   */
  private keepKnown(urlPath: string, scan: Scan, e: unknown): void {
    const code = errorCode(e);
    if (EXHAUSTED.has(code)) scan.unsettled = true;
    else if (scan.failures++ === 0) scan.firstFailure = `${urlPath} (${code})`;
    const below = `${urlPath}/`;
    for (const [path, info] of this.infos) {
      if ((path === urlPath || path.startsWith(below)) && !scan.out.has(path)) scan.out.set(path, info);
    }
  }

  /** Whether a path relative to the root may be served (no dot segment but a top-level .well-known). */
  private static servable(rel: string): boolean {
    return rel.split(sep).every((name, i) => isServableName(name, i === 0));
  }

  /** Where a symlink points, when that is inside the root (symlinks may point anywhere; only those are served). */
  private async linkTarget(link: string): Promise<string | null> {
    const target = await realpath(link);
    return target === this.rootReal || target.startsWith(this.rootReal + sep) ? target : null;
  }

  private async addFile(filePath: string, urlPath: string, s: BigIntStats, scan: Scan): Promise<void> {
    scan.counts.files++;
    const previous = this.infos.get(urlPath);
    const same = previous !== undefined && previous.filePath === filePath && sameIdentity(previous.identity, s);
    if (same && !this.racy.has(previous)) {
      scan.out.set(urlPath, previous);
      return;
    }
    const known = this.known?.get(urlPath, s);
    // Another URL path of this scan reached the file (a symlink) and read it: that read's backoff
    // must not keep this path on the old version, nor its failure (chmod 000) leave it served.
    const shared = known === undefined ? scan.reads.get(filePath) : undefined;
    if (known === undefined && shared === undefined && this.postponed(filePath, scan)) {
      // Changed again soon after its last read: the version known so far (bytes and tag agree; the disk
      // path checks its identity before sending) is served until the backoff has passed.
      if (previous !== undefined && previous.filePath === filePath) scan.out.set(urlPath, previous);
      if (previous !== undefined && this.racy.has(previous)) scan.racy.add(previous);
      return;
    }
    if (known !== undefined) scan.cached++;
    else if (shared === undefined) {
      scan.hashed++;
      scan.counts.bytesToHash += Number(s.size);
    }
    const read = known !== undefined ? { identity: identityOf(s), links: s.nlink, ...known } : await (shared ?? this.readOnce(filePath, s, !same, scan));
    if (known === undefined && shared === undefined) scan.counts.bytesHashed += Number(s.size);
    if (read === null) {
      // Still changing: keep the version known so far (its bytes and tag agree; the disk path checks
      // its identity before sending), or leave a new file out rather than guess; look at it alone again
      // once its backoff has passed (not the whole tree: it is this file that is changing).
      if (previous !== undefined && previous.filePath === filePath) scan.out.set(urlPath, previous);
      scan.later.set(filePath, Math.max(UNSETTLED_RECHECK_MS, this.backoff.delay(filePath, performance.now())));
      return;
    }
    // Read again only because it was racy, and unchanged: keep the entry, and its Last-Modified.
    const unchanged = same && previous.etag === read.etag && equalIdentities(previous.identity, read.identity);
    const info = unchanged ? previous : describe(filePath, urlPath, ...this.datedAfter(previous, urlPath, known, read));
    if (read.bytes !== undefined) this.options.readWhole?.(info, read.bytes);
    if (isRacy(read.identity, read.readAtMs)) scan.racy.add(info);
    scan.out.set(urlPath, info);
  }

  /**
   * What `describe` needs to date `read` after what its URL served before: the version in the table,
   * else one removed since (departed), else at start-up what an earlier run served there last (the
   * ETag cache: a version installed, a symlink re-pointed or a release rolled back while the server
   * was stopped). Other bytes get a later Last-Modified (`notBefore`; the same only when both are read
   * within one second); the same bytes under a new identity (a reinstall) never an earlier one
   * (`floor`): a run that did not write the cache (--etag-cache off) may have served other bytes with a
   * later date since, so its date is no more than a floor.
   */
  private datedAfter(previous: AssetInfo | undefined, urlPath: string, known: KnownTag | undefined, read: Read): [Read, number | undefined, number | undefined] {
    const prior = previous ?? this.departed.get(urlPath) ?? (known === undefined ? this.known?.lastServed(urlPath) : undefined);
    // Only for bytes not served before: a version the cache knows keeps its date across restarts.
    const sibling = known === undefined && prior?.etag !== read.etag ? this.siblingsServed(urlPath) : undefined;
    if (prior === undefined) return [read, sibling, undefined];
    if (prior.etag !== read.etag) return [read, Math.max(prior.lastModified, sibling ?? 0), undefined];
    // The same bytes read again after a chmod, a touch, a new link (a ctime change): the representation
    // did not change, so neither does its date (a stamped mtime would otherwise be dated anew at each read,
    // and an If-Modified-Since revalidation get 200 for bytes it holds).
    if (previous !== undefined) return [{ ...read, lastModified: previous.lastModified }, sibling, undefined];
    return [read, sibling, prior.lastModified];
  }

  /**
   * The latest date served for the same resource in another content coding: `x` and its `x.br`,
   * `x.zst`, `x.gz` answer one URL (negotiated), so a client may hold either. A new version of one
   * that is dated before what the other served (a `.br` from an older build added, or removed while
   * `x` gets an older mtime) would be "not modified" to a date-only client holding the other.
   */
  private siblingsServed(urlPath: string): number | undefined {
    let latest: number | undefined;
    const consider = (path: string): void => {
      const served = this.infos.get(path) ?? this.departed.get(path) ?? this.known?.lastServed(path);
      if (served !== undefined && (latest === undefined || served.lastModified > latest)) latest = served.lastModified;
    };
    const coding = ENCODINGS.find(({ suffix }) => urlPath.endsWith(suffix));
    if (coding !== undefined) consider(urlPath.slice(0, -coding.suffix.length));
    else for (const { suffix } of ENCODINGS) consider(urlPath + suffix);
    return latest;
  }

  /**
   * True when `filePath` changed again too soon after its last read (see read-backoff.ts): it is
   * then put in `scan.later`. A file a response found changed (see refresh) is never postponed.
   */
  private postponed(filePath: string, scan: Scan): boolean {
    if (this.urgent.delete(filePath) || this.readNow) return false;
    const wait = this.backoff.delay(filePath, performance.now());
    if (wait === 0) return false;
    scan.later.set(filePath, wait);
    return true;
  }

  /** Reads `filePath` for this scan, recorded so that its other URL paths get the same version (or error). */
  private readOnce(filePath: string, s: BigIntStats, changed: boolean, scan: Scan): Promise<Read | null> {
    const read = this.readSettled(filePath, s, changed);
    scan.reads.set(filePath, read);
    return read;
  }

  /**
   * Hashes a file, then stats it again: a writer that changed it during the read would otherwise
   * leave old bytes recorded under the new identity, unnoticed by every later scan. Returns null if
   * it changed during each of READ_ATTEMPTS reads, or during the one read of a file that keeps
   * changing (read recently: reading it again at once would most likely be wasted too).
   */
  private async readSettled(filePath: string, before: BigIntStats, changed: boolean): Promise<Read | null> {
    const started = performance.now();
    const attempts = this.backoff.isHot(filePath, started) ? 1 : READ_ATTEMPTS;
    try {
      for (let attempt = 1; ; attempt++) {
        const readAtMs = Date.now();
        this.reads++;
        const bytes = before.size <= BigInt(INLINE_HASH_LIMIT) ? await readStated(filePath, Number(before.size)) : undefined;
        this.inlineBytes += bytes?.length ?? 0;
        const digest = bytes !== undefined ? createHash('sha256').update(bytes).digest() : await this.hashers.hash(filePath, Number(before.size));
        const after = await this.statFile(filePath);
        if (sameIdentity(identityOf(before), after)) return { identity: identityOf(after), links: after.nlink, etag: etagOf(digest), readAtMs, bytes };
        if (attempt >= attempts || !after.isFile()) return null;
        before = after;
      }
    } finally {
      // Only a read of a changed file after the start-up scan says a file keeps changing (not a racy
      // file read again to be sure, nor the start-up scan, which reads every file).
      if (changed && this.published !== -1) this.backoff.read(filePath, started, performance.now() - started);
    }
  }
}

/** Linux's mount table (proc(5), mountinfo), or '' where it cannot be read (another system). */
function readMounts(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
}

/** A mountinfo line's mount point (its fifth field), with the octal escapes of spaces and the like undone. */
function mountPoint(line: string): string {
  const field = line.split(' ')[4] ?? '';
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The real path `dir` names, symlinks resolved, even when it does not exist yet (it is created at
 * the first save): the real path of its nearest existing ancestor, with the rest appended.
 */
async function realDir(dir: string): Promise<string> {
  let head = resolve(dir);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(head), ...rest.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(dir);
      rest.push(basename(head));
      head = parent;
    }
  }
}

/** How many removed URL paths the table remembers what they served (see AssetTable `departed`): ~100 bytes each. */
const DEPARTED_LIMIT = 10_000;

/**
 * Package managers' fixed mtimes, whatever a file's age: npm's 1985-10-26T08:15:00Z, Yarn Berry's
 * 1984-06-22T21:50:00Z.
 */
const PACKAGE_STAMPS_MS = [499_162_500_000, 456_789_000_000];
/** 1980-01-02T00:00:00Z: before it, ZIP's (DOS) epoch, 1980-01-01, and the Unix epoch's first years. */
const BEFORE_REAL_MTIMES_MS = 315_619_200_000;

/**
 * An mtime that is a constant stamp, not a time of change: a package manager's, ZIP's 1980 epoch,
 * or the Unix epoch (Nix's store sets 1 s, other reproducible builds 0; nothing served today was last
 * changed before 1980). Two versions of a file carry the same one, so as a Last-Modified it would
 * make a date-only cache (curl -z, wget -N, a proxy) keep the old bytes after a new version is
 * installed while the server is stopped (RFC 9110 §13.1.3).
 */
function isConstantStamp(mtimeMs: number): boolean {
  return mtimeMs < BEFORE_REAL_MTIMES_MS || PACKAGE_STAMPS_MS.includes(Math.floor(mtimeMs / 1000) * 1000);
}

/**
 * Whether a date from the ETag cache can be one this server sent: not past this read (a clock set back,
 * a forged line) and not before 1980 (no version is dated so now: a forged or negative line printed
 * "Invalid Date").
 */
function believable(ms: number, readSecond: number): boolean {
  return ms >= BEFORE_REAL_MTIMES_MS && ms <= readSecond;
}

function describe(filePath: string, urlPath: string, read: Read, notBefore?: number, floor?: number): AssetInfo {
  const mtimeMs = msOf(read.identity.mtimeNs);
  // A future mtime (clock skew, a tarball from a machine ahead of us) is clamped to when we read the
  // file: a later change then gets a later date whenever it lands in a later second.
  // A read time from the ETag cache is not believed past now (a clock set back, a forged line).
  const readSecond = Math.floor(Math.min(read.readAtMs, Date.now()) / 1000) * 1000;
  // An mtime every version gets (npm's, Nix's) says nothing of when the bytes changed: dated when read.
  const stamped = isConstantStamp(mtimeMs);
  let lastModified = stamped ? readSecond : Math.min(Math.floor(mtimeMs / 1000) * 1000, readSecond);
  // This version as an earlier run dated it (the ETag cache): the read-time date below would
  // otherwise fall back to the mtime after a restart, older than what date-only caches hold.
  const served = read.lastModified;
  if (served !== undefined && (served > lastModified || stamped) && believable(served, readSecond)) lastModified = Math.floor(served / 1000) * 1000;
  if (floor !== undefined && floor > lastModified && believable(floor, readSecond)) lastModified = Math.floor(floor / 1000) * 1000;
  // New bytes stamped with an older or the same mtime (tar, rsync -a, cp -p of an old build, npm's
  // 1985 stamp, Nix's epoch + 1, a clock set back): a cache revalidating by date only (curl -z,
  // wget -N, some proxies) would be told 304 for them and keep the old bytes. They are dated when
  // read instead; only two versions read within one second share a date, which HTTP dates cannot part.
  // A date past this read (a clock set back since, a forged cache line) is not carried on: never later than Date.
  if (notBefore !== undefined && lastModified <= notBefore) lastModified = readSecond;
  return {
    urlPath,
    filePath,
    identity: read.identity,
    size: Number(read.identity.size),
    mtimeMs,
    lastModified,
    lastModifiedText: new Date(lastModified).toUTCString(),
    etag: read.etag,
    readAtMs: read.readAtMs,
    contentType: contentTypeFor(urlPath),
    links: Number(read.links),
  };
}

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
