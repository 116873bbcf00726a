import type { BigIntStats, Dirent, Stats } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ENCODINGS } from '../http/encoding.js';
import { describe, type AssetInfo, type Read } from './asset-info.js';
import { holdDirectory } from './directory-handle.js';
import { etagOf, newEtagHash } from './etag.js';
import type { EtagCache, KnownTag, Served } from './etag-cache.js';
import { equalIdentities, identityOf, isRacy, sameIdentity, type FileStats } from './file-identity.js';
import { FileHasher } from './file-hasher.js';
import { childPath, probedAt, type Probed, type ProbedRead, type ProbeReply } from './file-probe.js';
import { RETRY_MS } from './hash-workers.js';
import { DENIED, errorCode, EXHAUSTED, goneOrThrow, isTransient, OUT_OF_DESCRIPTORS } from './path-errors.js';
import { PROBE_BATCH, ProbeBatcher } from './probe-batcher.js';
import { ReadBackoff, type ReadBackoffOptions } from './read-backoff.js';
import { readStated } from './read-stated.js';
import type { RootLocation } from './root-location.js';
import { hasAncestorIn } from './scan-schedule.js';
import type { TableDelta } from './table-delta.js';
import { TaskLimit } from './task-limit.js';

/** How often a file is read before a writer that keeps changing it makes the scan give up on it. */
const READ_ATTEMPTS = 3;
/** When the scan gave up on a file being written, it looks again this much later. */
export const UNSETTLED_RECHECK_MS = 100;
/**
 * Files up to this size are read and hashed on the main thread (one read; a message to a hashing
 * thread and back would cost more than the hash), larger ones on the hashing threads.
 */
const INLINE_HASH_LIMIT = 16 * 1024;
/** Files stat'ed and hashed at once during a scan: enough to keep every thread and the disk busy. */
const SCAN_CONCURRENCY = 64;
/**
 * Directories whose files are visited at once, each held open meanwhile (directory-handle.ts): at 64, a
 * busy server at `ulimit -n 256` walking 20,000 directories ran out of descriptors (review h49).
 */
const DIRECTORY_CONCURRENCY = 16;
/**
 * Files a walk lists before it probes them on the hashing threads in batches (file-probe.ts): a
 * thread takes ~35 ms to start and leaves ~2.5 MB resident after, in which the main thread stats and
 * reads ~200 small files one by one. A small tree never starts one.
 */
export const PROBE_AFTER = 1000;
/**
 * Files a walk lists before it probes even files it knows (table, ETag cache) for their stats alone:
 * a warm start of 100,000 one-byte files was ready in 2.0-2.2 s so, against 5.7-7.7 s stat'ed one by
 * one, but one of 10,000 font files 70-230 ms later and 35 MB larger at ready (the threads), and one of
 * 18,300 files no sooner, 30-45 MB larger (review h52).
 */
export const PROBE_STATS_AFTER = 20_000;
/**
 * Files a scan found changed, of those it knew by name, before it reads ahead every small file of a
 * probe (a deploy replaced the tree while the server was stopped, or under it): read one by one on the
 * main thread, a restart after 100,000 one-byte files were replaced took 23 s, against 3 s for a cold
 * start. A few changed files are read as they are found.
 */
const STALE_AFTER = 32;
/** Probes under way at once: enough for two threads (two jobs each, see HashWorkers); more measured no faster. */
const PROBE_CONCURRENCY = 4;

/** One read of a file's content: when it began, its digest, its bytes when read whole (small), and the stat after it. */
interface ContentRead {
  readonly readAtMs: number;
  readonly digest: Buffer;
  readonly bytes?: Buffer | undefined;
  readonly after: FileStats;
}

/** A directory whose files are being visited: its path, its URL path, how its files are reached, and its other entries. */
interface Listing {
  readonly dir: string;
  readonly urlDir: string;
  /** The directory by its descriptor (directory-handle.ts), or `dir` where it is not held. */
  readonly via: string;
  /** Entries the caller visits (see visit). */
  readonly others: Dirent[];
}

/** What one scan of the tree (a walk, or a look at the paths the watcher named) collects. */
export interface Scan {
  /** The table as this scan leaves it: a new Map for a walk, changes to the live table for a targeted scan. */
  out: Map<string, AssetInfo> | TableDelta;
  /** Entries read while racily clean: the next scan reads them again. */
  readonly racy: Set<AssetInfo>;
  /** Some file kept changing while read and was left out. */
  unsettled: boolean;
  /** Some path could not be read for want of descriptors or memory (EXHAUSTED), and was left as it was. */
  exhausted: boolean;
  /** Files whose content was read (not known from the table or the ETag cache). */
  hashed: number;
  /** Paths stat'ed. */
  stated: number;
  /** Files whose tag came from the ETag cache. */
  cached: number;
  /** Files found, bytes to read and read (for progress reports). */
  counts: { files: number; bytesToHash: number; bytesHashed: number };
  /** Regular files the walk has listed so far (see PROBE_AFTER). */
  listed: number;
  /** Files stat'ed by a probe (file-probe.ts), not one by one. */
  probed: number;
  /** Files whose read a probe made. */
  readAhead: number;
  /** Files stat'ed whose URL path the table or the ETag cache knew, and those of them found changed (see STALE_AFTER). */
  knownStated: number;
  knownChanged: number;
  /** Some entry was reached through a symlink: a change to its target raises an event under another path. */
  linked: boolean;
  /**
   * Called with each directory (its real path) before it is listed, when the watcher is started by
   * this walk: watched first, a file made in it after the listing still raises an event.
   */
  watchDir: ((dir: string) => void) | null;
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

/** What a TreeReader needs of the table it reads for, read at each use (the table is replaced at each publish). */
export interface ReadFor {
  /** The table in force: an unchanged file keeps its version from here. */
  readonly infos: () => ReadonlyMap<string, AssetInfo>;
  /** Versions read while racily clean: read again even when their identity is unchanged. */
  readonly racy: () => ReadonlySet<AssetInfo>;
  /** What URL paths no longer in the table served last (a version put back there is dated after it). */
  readonly departed: () => ReadonlyMap<string, Served>;
  /** Tags from the ETag cache (during the start-up scan only), or null. */
  readonly known: () => EtagCache | null;
  /** True once the start-up scan is in force: from then on a read of a changed file counts towards its backoff. */
  readonly started: () => boolean;
}

/** How a TreeReader reaches the file system, and where small files read whole go. */
export interface ReaderOptions {
  readonly statFile: (path: string) => Promise<FileStats>;
  readonly readDir: (path: string) => Promise<Dirent[]>;
  /**
   * Probe the files of a large tree in batches on the hashing threads (file-probe.ts): false when
   * `statFile` is the caller's, which must then see every stat.
   */
  readonly probe: boolean;
  /** Given the bytes of a small file read whole to hash them on the main thread (see AssetTableOptions.readWhole). */
  readonly readWhole?: ((info: AssetInfo, bytes: Buffer) => void) | undefined;
  /** Receives the line saying that no hashing thread could start (the table's warn). */
  readonly warn: (line: string) => void;
  /** Told when a scan found the process out of file descriptors (EMFILE, ENFILE). */
  readonly exhausted?: ((code: string) => void) | undefined;
  /** The backoff's waits (AssetTableOptions.readBackoff). */
  readonly backoff?: ReadBackoffOptions | undefined;
}

/**
 * A directory's walk so far: its entries other than regular files, for the caller to visit, and the
 * identity its files were read under (null where nothing more is to be checked: it was found replaced,
 * or could not be listed).
 */
interface Walked {
  readonly others: Dirent[];
  readonly before: BigIntStats | null;
}

/** A read as another URL path of the scan gets it: the version, not the bytes (see TreeReader.readOnce). */
function withoutBytes(read: Read | null): Read | null {
  if (read?.bytes === undefined) return read;
  const { bytes, ...version } = read;
  return version;
}

/**
 * True while `dir` is still the directory `before` described: same device and inode, not a symlink, and
 * not renamed since. A rename moves the ctime alone (an entry added or removed moves the mtime too): a
 * directory renamed away, a symlink out of the root put in its place, then the directory renamed back
 * had its files stat'ed and hashed through the symlink in between, the outside files' tags kept.
 */
async function sameDirectory(dir: string, before: BigIntStats): Promise<boolean> {
  const now = await lstat(dir, { bigint: true }).catch(() => null);
  if (now === null || !now.isDirectory() || now.ino !== before.ino || now.dev !== before.dev) return false;
  return now.ctimeNs === before.ctimeNs || now.mtimeNs !== before.mtimeNs;
}

/**
 * Reads the tree under the root into a scan: walks directories, stats files, and hashes those whose
 * identity is new (on the main thread when small, else on the hashing threads), so that the table
 * (asset-table.ts) only has to put the scan's result in force. A file that keeps changing is read
 * again only after its backoff (read-backoff.ts); a read counts only when the file's identity is the
 * same before and after it.
 */
export class TreeReader {
  /** Reads of a file's content (each attempt counts), since the reader was made. */
  reads = 0;
  /** The table's rescan() is under way: no read is put off. */
  readNow = false;
  /**
   * Files a response found changed: read as soon as their backoff's floor allows (ReadBackoff.delay,
   * `served` false), not after its doubling waits. Not at once: a client asking again and again for a
   * file that keeps being written brought one whole read per request (61 reads, 4.2 GB, against 10 for
   * the README's 6 s append case), past the bound on hashing the backoff keeps.
   */
  readonly urgent = new Set<string>();
  readonly backoff: ReadBackoff;
  /** Found, to hash and hashed in the scan under way (or the last one): its progress. */
  counts: Scan['counts'] = { files: 0, bytesToHash: 0, bytesHashed: 0 };
  private inlineBytes = 0;
  private readonly hashers: FileHasher;
  private readonly limit = new TaskLimit(SCAN_CONCURRENCY);
  /** Directories whose files are being visited at once (see walkFiles). */
  private readonly dirLimit = new TaskLimit(DIRECTORY_CONCURRENCY);
  private readonly probes = new ProbeBatcher((request) => this.hashers.probe(request), new TaskLimit(PROBE_CONCURRENCY), INLINE_HASH_LIMIT);

  constructor(
    private readonly rootAt: RootLocation,
    private readonly table: ReadFor,
    private readonly options: ReaderOptions,
  ) {
    this.backoff = new ReadBackoff(options.backoff);
    this.hashers = new FileHasher(undefined, (e) => options.warn(e.passing
      ? `xorigin: files are hashed on the main thread for now, as a hashing thread could not start (${e.reason.message}): every file is served; threads are tried again in ${String(RETRY_MS / 1000)} s`
      : `xorigin: files are hashed on the main thread only, as hashing threads cannot run here (${e.reason.message}): every file is served, a large tree's scan takes longer`));
  }

  /** Bytes of file content read to hash them, since the reader was made. */
  get bytesRead(): number {
    return this.inlineBytes + this.hashers.bytes;
  }

  close(): void {
    this.hashers.close();
  }

  /**
   * Halves how many files and directories a walk looks at at once (not below 4 and 1): after a walk
   * that ran out of descriptors at start-up, the next one (see AssetTable.walkWhileExhausted) holds
   * fewer, so it can get further under a very low `ulimit -n`.
   */
  narrow(): void {
    this.limit.halve(4);
    this.dirLimit.halve();
  }

  /** A new scan's state: `out`, a new Map for a walk or the changes to the live table for a targeted scan. */
  newScan(out: Map<string, AssetInfo> | TableDelta, racy: Set<AssetInfo>): Scan {
    this.counts = { files: 0, bytesToHash: 0, bytesHashed: 0 };
    return { out, racy, unsettled: false, exhausted: false, hashed: 0, stated: 0, cached: 0, counts: this.counts, listed: 0, probed: 0, readAhead: 0, knownStated: 0, knownChanged: 0, linked: false, watchDir: null, later: new Map(), undecodable: [], denied: [], reads: new Map(), failures: 0, firstFailure: '' };
  }

  /**
   * Brings `delta` (the changes `scan` makes) up to date for just these paths relative to the root: a
   * file is stat'ed (and read if its identity changed), a directory walked, a missing path removed
   * with everything under it. False when a path is a symlink: the caller walks the whole tree.
   */
  async update(paths: ReadonlySet<string>, scan: Scan, delta: TableDelta): Promise<boolean> {
    for (const rel of paths) {
      if (rel === '') {
        // The root itself (see TreeWatcher's event), or a file of the root named as the root is: walked
        // only when the root's own inode changed (a chmod, a touch), not at every write to that file.
        if (await this.rootAt.unchanged()) continue;
        return false;
      }
      if (!servablePath(rel)) continue; // .git, editor swap files: nothing served changes
      if (hasAncestorIn(rel, paths)) continue; // looked at (walked, or dropped with it) as part of it
      const full = join(this.rootAt.real, rel);
      const urlPath = `/${rel.split(sep).join('/')}`;
      scan.stated++;
      let l: BigIntStats | Stats | null;
      let s: FileStats | null;
      try {
        let denied = false as boolean;
        l = await lstat(full).catch((e: unknown) => {
          denied = DENIED.has(errorCode(e));
          return goneOrThrow(e);
        });
        // The root no longer reachable (a chmod of it or of a parent, which no event reports): walked, where
        // it is said, and looked at again by the root check until it may be listed (see RootLocation.denied).
        if (denied && !(await this.rootAt.listable())) return false;
        if (l !== null && !(await this.reachedDirectly(full))) return false;
        s = l === null ? null : await this.options.statFile(full).catch(goneOrThrow);
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
      else delta.deleteUnder(urlPath);
      await this.updateOne(full, urlPath, s, scan);
      delta.relinkIndex(urlPath.slice(0, urlPath.lastIndexOf('/')));
    }
    // A directory walked here held a symlink (one moved or copied in with it, not named on its own):
    // the tree is walked, which serves a symlink only when it points inside the root and, as for a
    // symlink named, makes every later change walk it, so the link's path follows its target.
    if (scan.linked) return false;
    for (const info of scan.racy) if (delta.get(info.urlPath) !== info) scan.racy.delete(info);
    return true;
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
  private async updateOne(full: string, urlPath: string, s: FileStats | null, scan: Scan): Promise<void> {
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
   * Walks `dir` (served at `urlDir`) into the scan: its files added, its subdirectories walked. A
   * directory below the root is the same directory, no symlink, before it is listed and after its
   * last file was read (sameDirectory): replaced by a symlink between its parent's listing and its
   * own, its path led outside the root, whose files were served under it until a later walk.
   */
  async walk(dir: string, urlDir: string, scan: Scan): Promise<void> {
    scan.watchDir?.(dir);
    const before = urlDir === '' ? null : await lstat(dir, { bigint: true }).catch(() => null);
    if (urlDir !== '' && before?.isDirectory() !== true) return this.replacedWhileWalked(urlDir, scan);
    await this.walkFrom(dir, urlDir, scan, await this.dirLimit.run(() => this.walkFiles(dir, urlDir, scan, before)));
  }

  /**
   * As walk, for an entry its parent listed as a directory, with no stat of it first: opened as a
   * directory, never through a symlink (holdDirectory), it is one, and the descriptor's fstat is the
   * identity its walk keeps (a stat and an lstat fewer, of the seven system calls a directory cost the
   * main thread). False when nothing was walked because it is no directory now (or cannot be held and is
   * none by its lstat): the caller then visits it as any entry.
   */
  private async walkListed(dir: string, urlDir: string, scan: Scan): Promise<boolean> {
    const walked = await this.dirLimit.run(() => this.walkFiles(dir, urlDir, scan, null, true));
    if (walked === null) return false;
    await this.walkFrom(dir, urlDir, scan, walked);
    return true;
  }

  /** The rest of a directory's walk once its files are visited: its other entries, then the checks that it stayed itself. */
  private async walkFrom(dir: string, urlDir: string, scan: Scan, walked: Walked | null): Promise<void> {
    if (walked === null) return;
    const { others, before } = walked;
    // Outside the directory's slot: a subdirectory waiting for one must not hold its parent's. A
    // few at a time: 8,000 subdirectories stat'ed at once each held its stat until it got a slot.
    let next = 0;
    const visitNext = async (): Promise<void> => {
      while (next < others.length) await this.visit(others[next++] as Dirent, dir, urlDir, scan);
    };
    await Promise.all(Array.from({ length: Math.min(others.length, SCAN_CONCURRENCY) }, visitNext));
    if (before !== null && !(await sameDirectory(dir, before))) return this.replacedWhileWalked(urlDir, scan);
    // Directory index: /dir/ and / serve index.html when present.
    const index = scan.out.get(`${urlDir}/index.html`);
    if (index !== undefined) scan.out.set(`${urlDir}/`, index);
  }

  /**
   * A directory that was another (or a symlink) by the time the walk listed or finished it: nothing
   * the walk found under it goes in force; what the table served there before stays (as after a
   * transient error: a deploy's atomic swap of a directory left it 404 for seconds), and the tree is
   * walked again soon (unsettled).
   */
  private replacedWhileWalked(urlDir: string, scan: Scan): void {
    scan.unsettled = true;
    const out = scan.out;
    const below = `${urlDir}/`;
    if (out instanceof Map) {
      for (const path of [...out.keys()]) if (path.startsWith(below)) out.delete(path);
    } else out.deleteUnder(urlDir);
    this.keepServed(urlDir, scan);
  }

  /**
   * Reads a directory and visits its regular files; returns its other entries (directories, and
   * symlinks, which may be one) for the caller to visit. Run under `dirLimit`, so the files of a
   * few directories wait for a slot at a time, not those of the whole tree: queued all at once,
   * 100,000 files' tasks and their directories' entries were most of the 200 MB a warm start of
   * such a tree allocated.
   */
  private async walkFiles(dir: string, urlDir: string, scan: Scan, given: BigIntStats | null, listed = false): Promise<Walked | null> {
    // Its files are reached through it, held open (not with a statFile of the caller's, which sees paths).
    const held = this.options.probe ? await holdDirectory(dir) : undefined;
    let before = given;
    if (listed) {
      if (held === null) return null;
      // Held, the descriptor is the directory; else (out of descriptors) the walk goes by path, as walk's.
      before = held === undefined ? await lstat(dir, { bigint: true }).catch(() => null) : held.stats;
      if (before?.isDirectory() !== true) return null;
      scan.watchDir?.(dir); // before its listing, as walk's: a file added meanwhile is then seen
    }
    // No longer the directory the walk's lstat found: as when one changes during its walk. (The root's
    // own troubles are the root checks', root-location.ts.)
    if (before !== null && (held === null || (held !== undefined && (held.stats.ino !== before.ino || held.stats.dev !== before.dev)))) {
      held?.close();
      this.replacedWhileWalked(urlDir, scan);
      return { others: [], before: null };
    }
    try {
      let names;
      try {
        names = await this.options.readDir(dir);
      } catch (e) {
        this.couldNotRead(urlDir, scan, e, `${urlDir}/`);
        return { others: [], before: null }; // removed while walking, or unreadable: serve nothing from it
      }
      const files: Dirent[] = [];
      const listing: Listing = { dir, urlDir, via: held?.via ?? dir, others: [] };
      for (const entry of names) {
        if (!isServableName(entry.name, urlDir === '')) continue;
        if (entry.isFile()) files.push(entry);
        else listing.others.push(entry);
      }
      scan.listed += files.length;
      if (this.options.probe && scan.listed > PROBE_AFTER) await this.visitProbed(files, listing, scan);
      else await this.visitEach(files, listing, scan);
      return { others: listing.others, before };
    } finally {
      held?.close();
    }
  }

  /**
   * Visits files of `at`, SCAN_CONCURRENCY at a time; one that is a directory by now goes into its
   * `others` (see visit). `probed`: their probe's reply, if any.
   */
  private async visitEach(files: Dirent[], at: Listing, scan: Scan, probed: ProbeReply | null = null, from = 0): Promise<void> {
    await Promise.all(files.map((entry, i) => this.limit.run(() => this.visit(entry, at.dir, at.urlDir, scan, probed === null ? null : probedAt(probed, from + i), at))));
  }

  /**
   * Visits a directory's regular files with their stats, and the small ones' reads, made in batches on
   * a thread (file-probe.ts). Files all known (the table's, the ETag cache's) and likely unchanged are
   * stat'ed one by one while the tree is small (see PROBE_STATS_AFTER), SCAN_CONCURRENCY at a time, so
   * that what they find decides the rest: after a deploy, the directory's next files are probed, read
   * ahead (see STALE_AFTER). Decided for all its files at once, 16 directories of 1,000 files listed
   * together were all read one by one.
   */
  private async visitProbed(files: Dirent[], at: Listing, scan: Scan): Promise<void> {
    const probes: Promise<void>[] = [];
    for (let from = 0; from < files.length; ) {
      if (scan.listed <= PROBE_STATS_AFTER && !this.stale(scan) && !this.anyUnknown(files, from, at)) {
        await this.visitEach(files.slice(from, (from += SCAN_CONCURRENCY)), at, scan);
        continue;
      }
      const batch = files.slice(from, (from += PROBE_BATCH));
      const paths = batch.map((entry) => childPath(at.via, entry.name));
      probes.push(this.probes.run(paths, () => this.readAhead(batch, at, scan), (reply, first) => this.visitEach(batch, at, scan, reply, first)));
    }
    await Promise.all(probes);
  }

  /** True when nothing is known of some file of the PROBE_BATCH from `from` (see unknown). */
  private anyUnknown(files: Dirent[], from: number, at: Listing): boolean {
    for (let i = from; i < files.length && i < from + PROBE_BATCH; i++) if (this.unknown(`${at.urlDir}/${(files[i] as Dirent).name}`)) return true;
    return false;
  }

  /**
   * Which files of `batch` a probe reads ahead: those nothing is known of, or every small file once this
   * scan found many known ones changed (stale). Decided when the probe is sent, so that what the probes
   * before it found counts (one directory may hold the whole tree).
   */
  private readAhead(batch: Dirent[], at: Listing, scan: Scan): Uint8Array {
    const stale = this.stale(scan);
    return Uint8Array.from(batch, (entry) => (stale || this.unknown(`${at.urlDir}/${entry.name}`) ? 1 : 0));
  }

  /** True when a good part of the files this scan knew by name changed (see STALE_AFTER). */
  private stale(scan: Scan): boolean {
    return scan.knownChanged >= STALE_AFTER && scan.knownChanged * 4 >= scan.knownStated;
  }

  /** True when nothing is known of `urlPath`: no version in the table, nothing in the ETag cache. */
  private unknown(urlPath: string): boolean {
    return !this.table.infos().has(urlPath) && this.table.known()?.lastServed(urlPath) === undefined;
  }

  /**
   * One directory entry: a directory is walked, a file added; the entries of a directory go in
   * parallel. `probed`: a regular file's stat (and read) made ahead by a probe, or null when that failed.
   * `listing`: for an entry listed as a file, visited in a slot of `limit`, how it is reached (`via`),
   * and where a directory it has become since the listing goes (`others`), to be walked by the caller
   * once the slot is let go: walked in it, its own files waited for slots that such entries held, and the
   * scan never ended (64 of them, or 4 holding the probes' slots).
   */
  private async visit(entry: Dirent, dir: string, urlDir: string, scan: Scan, probed: Probed | null = null, listing: Listing | null = null): Promise<void> {
    const urlPath = `${urlDir}/${entry.name}`;
    try {
      if (entry.isSymbolicLink()) scan.linked = true;
      const target = entry.isSymbolicLink() ? await this.linkTarget(childPath(dir, entry.name)) : childPath(dir, entry.name);
      if (target === null) return;
      scan.stated++;
      if (listing === null && entry.isDirectory() && this.options.probe && (await this.walkListed(target, urlPath, scan))) return;
      if (probed !== null) scan.probed++;
      const via = listing === null ? target : childPath(listing.via, entry.name);
      const s = probed?.stats ?? (await this.options.statFile(via));
      if (s.isDirectory()) {
        // A symlink to a directory is not followed (README, "No path from the URL"): its files are
        // served at their own paths, whatever the order the walk meets the two in. Followed, it took
        // them away from those paths when met first (a cycle guard that remembered it), and a chain of
        // such links can name one directory under exponentially many URL paths.
        if (entry.isSymbolicLink()) return;
        if (listing !== null) listing.others.push(entry);
        else await this.walk(target, urlPath, scan);
      } else if (s.isFile()) {
        await this.addFile(target, urlPath, s, scan, probed?.read, via);
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
   * A transient error (see path-errors.ts) at `urlPath`: what the table had there (the file, or everything
   * under the directory) stays as it was, and the tree is walked again: soon when the process was
   * out of descriptors, and after a growing delay for an error of the disk (see AssetTable.noteFailures).
   */
  private keepKnown(urlPath: string, scan: Scan, e: unknown): void {
    const code = errorCode(e);
    if (EXHAUSTED.has(code)) {
      scan.unsettled = true;
      scan.exhausted = true;
      if (OUT_OF_DESCRIPTORS.has(code)) this.options.exhausted?.(code);
    } else if (scan.failures++ === 0) scan.firstFailure = `${urlPath} (${code === '' ? String((e as Error | null)?.message) : code})`;
    this.keepServed(urlPath, scan);
  }

  /** What the table serves at `urlPath` (a file, or everything under the directory) goes into the scan as it is. */
  private keepServed(urlPath: string, scan: Scan): void {
    const below = `${urlPath}/`;
    for (const [path, info] of this.table.infos()) {
      if ((path === urlPath || path.startsWith(below)) && !scan.out.has(path)) scan.out.set(path, info);
    }
  }

  /** Where a symlink points, when that is inside the root (symlinks may point anywhere; only those are served). */
  private async linkTarget(link: string): Promise<string | null> {
    const target = await realpath(link);
    return this.rootAt.holds(target) ? target : null;
  }

  /**
   * `ahead`: the file read by a probe (file-probe.ts) with `s` its stat then, used if the scan reads it.
   * `via`: the path it is read by (its directory's descriptor: see directory-handle.ts).
   */
  private async addFile(filePath: string, urlPath: string, s: FileStats, scan: Scan, ahead?: ProbedRead, via = filePath): Promise<void> {
    scan.counts.files++;
    const previous = this.table.infos().get(urlPath);
    const same = previous !== undefined && previous.filePath === filePath && sameIdentity(previous.identity, s);
    if (same && !this.table.racy().has(previous)) {
      scan.out.set(urlPath, previous);
      return;
    }
    // (Not when a response found bytes that do not hash to its tag: AssetTable.refresh.)
    if (same && previous.undated && !isRacy(previous.identity, previous.readAtMs) && !this.urgent.has(filePath)) return this.dateUnread(previous, s, scan);
    const known = this.table.known()?.get(urlPath, s);
    if (previous !== undefined || this.table.known()?.lastServed(urlPath) !== undefined) {
      scan.knownStated++;
      if (!same && known === undefined) scan.knownChanged++;
    }
    // Another URL path of this scan reached the file (a symlink) and read it: that read's backoff
    // must not keep this path on the old version, nor its failure (chmod 000) leave it served.
    const shared = known === undefined ? scan.reads.get(filePath) : undefined;
    // A file with no version to keep serving (removed and put back: rm, then a copy) waits only for its
    // backoff's floor: the whole backoff left its URL path a 404 while the file existed.
    const served = previous !== undefined && previous.filePath === filePath;
    if (known === undefined && shared === undefined && this.postponed(filePath, scan, served)) {
      // Changed again soon after its last read: the version known so far (bytes and tag agree; the disk
      // path checks its identity before sending) is served until the backoff has passed.
      if (served) scan.out.set(urlPath, previous);
      if (previous !== undefined && this.table.racy().has(previous)) scan.racy.add(previous);
      return;
    }
    if (known !== undefined) scan.cached++;
    else if (shared === undefined) {
      scan.hashed++;
      scan.counts.bytesToHash += Number(s.size);
    }
    // A tag the cache vouches for is found to match the file now (its identity is unchanged).
    let read = known !== undefined ? { identity: identityOf(s), links: s.nlink, ...known, checkedAtMs: Date.now() } : await (shared ?? this.readOnce(filePath, s, !same, scan, ahead, via));
    // The other path's read is this path's only while the file is the one this path stat'ed: a directory
    // swapped between the two (for a symlink out of the root, and back) gave a link the outside file's tag.
    if (shared !== undefined && read !== null && !sameIdentity(read.identity, s)) {
      scan.hashed++;
      read = await this.readOnce(filePath, s, !same, scan, undefined, via);
    }
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
    // One not dated yet (AssetInfo.undated) is dated now, if it can be.
    const unchanged = same && previous.etag === read.etag && equalIdentities(previous.identity, read.identity);
    const info = unchanged && !previous.undated ? previous : this.kept(previous, describe(filePath, urlPath, ...this.datedAfter(previous, urlPath, known, read)));
    if (read.bytes !== undefined) this.options.readWhole?.(info, read.bytes);
    if (isRacy(read.identity, read.readAtMs) || info.undated) scan.racy.add(info);
    scan.out.set(urlPath, info);
  }

  /**
   * Dates a version that waited only for that (AssetInfo.undated: npm's 1985 stamp is dated when read,
   * once that second is over) without reading it again: it was not racy when read, so its unchanged
   * identity vouches for its bytes until now.
   */
  private dateUnread(previous: AssetInfo, s: FileStats, scan: Scan): void {
    const now: Read = { identity: previous.identity, links: s.nlink, etag: previous.etag, readAtMs: previous.readAtMs, checkedAtMs: Date.now() };
    const info = this.kept(previous, describe(previous.filePath, previous.urlPath, ...this.datedAfter(previous, previous.urlPath, undefined, now)));
    if (info.undated) scan.racy.add(info);
    scan.out.set(previous.urlPath, info);
  }

  /** `previous` when `info` is the same version still waiting to be dated: its entry (header blocks) is kept. */
  private kept(previous: AssetInfo | undefined, info: AssetInfo): AssetInfo {
    const waiting = previous?.undated === true && info.undated && info.lastModified === previous.lastModified;
    return waiting && info.etag === previous.etag && equalIdentities(info.identity, previous.identity) ? previous : info;
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
    const prior = previous ?? this.table.departed().get(urlPath) ?? (known === undefined ? this.table.known()?.lastServed(urlPath) : undefined);
    // Only for bytes not served before: a version the cache knows keeps its date across restarts.
    const sibling = known === undefined && prior?.etag !== read.etag ? this.siblingsServed(urlPath) : undefined;
    if (prior === undefined) return [read, sibling, undefined];
    if (prior.etag !== read.etag) return [read, Math.max(prior.lastModified, sibling ?? 0), undefined];
    // Read again to be dated (AssetInfo.undated): never before the date it was to get.
    if (previous?.undated === true) return [{ ...read, lastModified: previous.lastModified }, previous.lastModified - 1000, undefined];
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
      const served = this.table.infos().get(path) ?? this.table.departed().get(path) ?? this.table.known()?.lastServed(path);
      if (served !== undefined && (latest === undefined || served.lastModified > latest)) latest = served.lastModified;
    };
    const coding = ENCODINGS.find(({ suffix }) => urlPath.endsWith(suffix));
    if (coding !== undefined) consider(urlPath.slice(0, -coding.suffix.length));
    else for (const { suffix } of ENCODINGS) consider(urlPath + suffix);
    return latest;
  }

  /**
   * True when `filePath` changed again too soon after its last read (see read-backoff.ts): it is
   * then put in `scan.later`. A file a response found changed (AssetTable.refresh: `urgent`) waits only
   * for the floor, as one with no version served meanwhile (see ReadBackoff.delay).
   */
  private postponed(filePath: string, scan: Scan, served: boolean): boolean {
    const urgent = this.urgent.delete(filePath);
    if (this.readNow) return false;
    const wait = this.backoff.delay(filePath, performance.now(), served && !urgent);
    if (wait === 0) return false;
    scan.later.set(filePath, wait);
    return true;
  }

  /**
   * Reads `filePath` for this scan, recorded so that its other URL paths get the same version (or
   * error). The record leaves out the bytes: held until the scan ended, a cold start of 100,000 font
   * files kept every small file's bytes, 380 MB more RSS at ready (bench/startup.js).
   */
  private readOnce(filePath: string, s: FileStats, changed: boolean, scan: Scan, ahead?: ProbedRead, via = filePath): Promise<Read | null> {
    if (ahead !== undefined) scan.readAhead++;
    const read = this.readSettled(filePath, s, changed, ahead, via);
    const shared = read.then(withoutBytes);
    shared.catch(() => {}); // awaited only if a symlink reaches the file: its error is seen there
    scan.reads.set(filePath, shared);
    return read;
  }

  /**
   * Hashes a file, then stats it again: a writer that changed it during the read would otherwise
   * leave old bytes recorded under the new identity, unnoticed by every later scan. Returns null if
   * it changed during each of READ_ATTEMPTS reads, or during the one read of a file that keeps
   * changing (read recently: reading it again at once would most likely be wasted too).
   */
  private async readSettled(filePath: string, before: FileStats, changed: boolean, ahead?: ProbedRead, via = filePath): Promise<Read | null> {
    const started = performance.now();
    const attempts = this.backoff.isHot(filePath, started) ? 1 : READ_ATTEMPTS;
    let failed = true;
    try {
      for (let attempt = 1; ; attempt++) {
        this.reads++;
        // A probe's read was made of the version `before` describes (its stat): the first attempt's.
        const { readAtMs, bytes, digest, after }: ContentRead = attempt === 1 && ahead !== undefined ? ahead : await this.readAndStat(via, before.size);
        failed = false;
        if (sameIdentity(identityOf(before), after)) return { identity: identityOf(after), links: after.nlink, etag: etagOf(digest), readAtMs, bytes };
        if (attempt >= attempts || !after.isFile()) return null;
        before = after;
      }
    } finally {
      // Only a read of a changed file after the start-up scan says a file keeps changing (not a racy
      // file read again to be sure, nor the start-up scan, which reads every file).
      if (changed && this.table.started()) this.backoff.read(filePath, started, performance.now() - started, failed);
    }
  }

  /** One read of the file's first `size` bytes (whole, if small: see INLINE_HASH_LIMIT), and its stat after. */
  private async readAndStat(filePath: string, size: bigint): Promise<ContentRead> {
    const readAtMs = Date.now();
    const bytes = size <= BigInt(INLINE_HASH_LIMIT) ? await readStated(filePath, Number(size)) : undefined;
    this.inlineBytes += bytes?.length ?? 0;
    const digest = bytes !== undefined ? newEtagHash().update(bytes).digest() : await this.hashers.hash(filePath, Number(size));
    return { readAtMs, bytes, digest, after: await this.options.statFile(filePath) };
  }
}


/** Whether a name may be served: no dotfile (.env, .git, .htpasswd) but a top-level `.well-known`. */
export function isServableName(name: string, isTopLevel: boolean): boolean {
  // /.well-known/ is the one public dot-directory.
  return !name.startsWith('.') || (isTopLevel && name === '.well-known');
}

/** Whether a path relative to the root may be served (no dot segment but a top-level .well-known). */
function servablePath(rel: string): boolean {
  return rel.split(sep).every((name, i) => isServableName(name, i === 0));
}
