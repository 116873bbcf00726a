import { createHash } from 'node:crypto';
import { createReadStream, watch, type BigIntStats } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ENCODINGS } from '../http/encoding.js';
import { contentTypeFor } from '../http/mime.js';

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
  readonly contentType: string;
  /** The whole body for small files (served from memory), null for large ones (streamed). */
  readonly body: Buffer | null;
}

/**
 * Precompressed siblings of a file, indexed by coding (see encoding.ts): `[unused, br, zstd, gzip]`.
 * Each sibling is also an ordinary file of the table, served at its own URL.
 */
export type Variants = readonly (AssetInfo | undefined)[];

const NO_VARIANTS: Variants = [];

/** A running watch of the tree: only its failure and its end matter to the table. */
export interface TreeWatcher {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

/** Starts watching a directory tree, calling `onChange` on any change below it. */
export type WatchTree = (dir: string, onChange: () => void) => TreeWatcher;

export interface AssetTableOptions {
  /** Files up to this many bytes are kept in memory. */
  readonly smallFileLimit: number;
  /** Watch the tree and rescan on change (default true). */
  readonly watch?: boolean | undefined;
  /** Rescan period once the tree cannot be watched (default 2000 ms). */
  readonly pollIntervalMs?: number | undefined;
  /** Receives the one line saying watching failed (default: written to stderr). */
  readonly warn?: ((line: string) => void) | undefined;
  /** How the tree is watched (default: recursive `fs.watch`); tests inject one to make it fail. */
  readonly watchTree?: WatchTree | undefined;
  /**
   * How paths are stat'ed (default: `fs.promises.stat` with bigint times). Tests inject one to produce
   * what a real file system gives only by chance: two writes within one timestamp tick, or a writer
   * that lands exactly between a read and the stat after it.
   */
  readonly statFile?: ((path: string) => Promise<BigIntStats>) | undefined;
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
/** How long after a scan that found racy files the next one runs: once the window has surely passed. */
const RACY_RECHECK_MS = 2100;
/** How often a file is read before a writer that keeps changing it makes the scan give up on it. */
const READ_ATTEMPTS = 3;
/** When the scan gave up on a file being written, it looks again this much later. */
const UNSETTLED_RECHECK_MS = 100;

const defaultWatchTree: WatchTree = (dir, onChange) => watch(dir, { recursive: true }, onChange);
const defaultStat = (path: string): Promise<BigIntStats> => stat(path, { bigint: true });
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

/** The content of one file version, and when its read started. */
interface Read {
  readonly identity: FileIdentity;
  readonly body: Buffer | null;
  readonly digest: Buffer;
  readonly readAtMs: number;
}

/** What one walk of the tree collects. */
interface Scan {
  readonly out: Map<string, AssetInfo>;
  readonly seen: Set<string>;
  /** Entries read while racily clean: the next scan reads them again. */
  readonly racy: Set<AssetInfo>;
  /** Some file kept changing while read and was left out. */
  unsettled: boolean;
}

function etagOf(digest: Buffer): string {
  return `"${digest.toString('base64url').slice(0, 27)}"`;
}

async function hashFile(filePath: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest();
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
  private rootReal = '';
  private rootIno = -1n;
  private rootDev = -1n;
  private rootCheck: NodeJS.Timeout | null = null;
  private watcher: TreeWatcher | null = null;
  private pending: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private poll: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private recheckAt = 0;
  private closed = false;
  private scanning: Promise<void> | null = null;
  private dirty = false;
  private readonly statFile: (path: string) => Promise<BigIntStats>;

  constructor(
    readonly root: string,
    private readonly options: AssetTableOptions,
    private build: (info: AssetInfo, variants: Variants) => T,
  ) {
    this.statFile = options.statFile ?? defaultStat;
  }

  get size(): number {
    return this.infos.size;
  }

  get(urlPath: string): T | undefined {
    return this.entries.get(urlPath);
  }

  /**
   * Rebuilds every entry with `build` (a new configuration's header blocks) from the files already
   * read, and uses it for later scans. Synchronous, and the new map replaces the old in one
   * assignment: a request sees every entry built the old way or every entry built the new way.
   */
  rebuild(build: (info: AssetInfo, variants: Variants) => T): void {
    const entries = new Map<string, T>();
    for (const [urlPath, info] of this.infos) entries.set(urlPath, build(info, this.variants.get(urlPath) ?? NO_VARIANTS));
    this.build = build;
    this.entries = entries;
  }

  info(urlPath: string): AssetInfo | undefined {
    return this.infos.get(urlPath);
  }

  /** Scans the root and starts watching it. Throws if the root is not a readable directory. */
  async open(): Promise<void> {
    const s = await stat(this.root);
    if (!s.isDirectory()) throw new Error(`root ${this.root} is not a directory`);
    await this.locateRoot();
    await this.rescan();
    if (this.options.watch === false || this.closed) return;
    this.startWatcher();
    // A deploy that switches a symlinked root, or replaces the root directory, raises no event in the
    // directory watched: look for that on a timer too (two syscalls).
    this.rootCheck = setInterval(() => void this.rootMoved().then((moved) => moved && this.schedule()), ROOT_CHECK_MS);
    this.rootCheck.unref();
  }

  private startWatcher(): void {
    try {
      const watcher = (this.options.watchTree ?? defaultWatchTree)(this.rootReal, () => this.schedule());
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
    } catch {
      return false; // gone for now (rm -rf, then recreated): the walk finds nothing, the next check retries
    }
  }

  /** Resolves the root again; when it moved, the watcher follows it. */
  private async locateRoot(): Promise<void> {
    if (this.rootReal !== '' && !(await this.rootMoved())) return;
    try {
      const real = await realpath(this.root);
      const s = await stat(real, { bigint: true });
      this.rootReal = real;
      this.rootIno = s.ino;
      this.rootDev = s.dev;
    } catch {
      return;
    }
    if (this.watcher !== null) {
      this.stopWatcher();
      this.startWatcher();
    }
  }

  /** Stops watching and every timer; a scan already running completes but schedules nothing. */
  close(): void {
    this.closed = true;
    this.stopWatcher();
    for (const t of [this.pending, this.recheck]) if (t !== null) clearTimeout(t);
    if (this.poll !== null) clearInterval(this.poll);
    if (this.rootCheck !== null) clearInterval(this.rootCheck);
    this.pending = this.recheck = this.poll = this.rootCheck = null;
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
    (this.options.warn ?? writeStderr)(`xorigin: watching ${this.root} failed (${reason}); rescanning every ${formatInterval(every)} instead`);
    this.poll = setInterval(() => this.schedule(), every);
    this.poll.unref();
    this.schedule(); // changes made while the watcher was failing went unreported
  }

  /**
   * Coalesces bursts of file-system events into one rescan once they have been quiet for
   * DEBOUNCE_MS, but no later than DEBOUNCE_MAX_MS after the burst began.
   */
  private schedule(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.pending === null) this.burstStart = now;
    else clearTimeout(this.pending);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.burstStart + DEBOUNCE_MAX_MS - now));
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.rescan().catch(() => {});
    }, wait);
    this.pending.unref();
  }

  /** Rescans in `ms` (or sooner, if another recheck is already due earlier). */
  private recheckIn(ms: number): void {
    if (this.closed) return;
    const at = Date.now() + ms;
    if (this.recheck !== null) {
      if (this.recheckAt <= at) return;
      clearTimeout(this.recheck);
    }
    this.recheckAt = at;
    this.recheck = setTimeout(() => {
      this.recheck = null;
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
    if (this.scanning !== null) {
      this.dirty = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.dirty = false;
        await this.locateRoot();
        const scan: Scan = { out: new Map(), seen: new Set([this.rootReal]), racy: new Set(), unsettled: false };
        await this.walk(this.rootReal, '', scan);
        this.publish(scan);
      } while (this.dirty);
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private publish(scan: Scan): void {
    const entries = new Map<string, T>();
    const variants = new Map<string, Variants>();
    for (const [urlPath, info] of scan.out) {
      const v = variantsOf(info, scan.out);
      const reuse = this.infos.get(urlPath) === info && sameVariants(this.variants.get(urlPath), v);
      const existing = reuse ? this.entries.get(urlPath) : undefined;
      entries.set(urlPath, existing ?? this.build(info, v));
      if (v !== NO_VARIANTS) variants.set(urlPath, v);
    }
    this.infos = scan.out;
    this.variants = variants;
    this.entries = entries;
    this.racy = scan.racy;
    // A file left out is missing from the table: look again soon, watched or not.
    if (scan.unsettled) this.recheckIn(UNSETTLED_RECHECK_MS);
    // A same-tick write to a racy file raises an event the scan may already have consumed; without this
    // rescan it would wait for some unrelated change. With `watch: false` the table never rescans itself.
    if (scan.racy.size > 0 && this.options.watch !== false) this.recheckIn(RACY_RECHECK_MS);
  }

  private async walk(dir: string, urlDir: string, scan: Scan): Promise<void> {
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed while walking, or unreadable: serve nothing from it
    }
    for (const entry of names) {
      if (!isServableName(entry.name, urlDir === '')) continue;
      const full = join(dir, entry.name);
      const urlPath = `${urlDir}/${entry.name}`;
      let target = full;
      try {
        const l = await lstat(full);
        if (l.isSymbolicLink()) {
          target = await realpath(full);
          // Symlinks may point anywhere; only targets inside the root are served.
          if (target !== this.rootReal && !target.startsWith(this.rootReal + sep)) continue;
        }
        const s = await this.statFile(target);
        if (s.isDirectory()) {
          if (scan.seen.has(target)) continue; // a symlink cycle
          scan.seen.add(target);
          await this.walk(target, urlPath, scan);
        } else if (s.isFile()) {
          await this.addFile(target, urlPath, s, scan);
        }
      } catch {
        // Vanished between readdir and stat, or a dangling symlink: not servable.
      }
    }
    // Directory index: /dir/ and / serve index.html when present.
    const index = scan.out.get(`${urlDir}/index.html`);
    if (index !== undefined) scan.out.set(`${urlDir}/`, index);
  }

  private async addFile(filePath: string, urlPath: string, s: BigIntStats, scan: Scan): Promise<void> {
    const previous = this.infos.get(urlPath);
    const same = previous !== undefined && previous.filePath === filePath && sameIdentity(previous.identity, s);
    if (same && !this.racy.has(previous)) {
      scan.out.set(urlPath, previous);
      return;
    }
    const read = await this.readSettled(filePath, s);
    if (read === null) {
      // Still changing: keep the version known so far (its bytes and tag agree; the disk path checks
      // its identity before sending), or leave a new file out rather than guess; look again soon.
      scan.unsettled = true;
      if (previous !== undefined && previous.filePath === filePath) scan.out.set(urlPath, previous);
      return;
    }
    // Read again only because it was racy, and unchanged: keep the entry, and its Last-Modified.
    const unchanged = same && previous.etag === etagOf(read.digest) && equalIdentities(previous.identity, read.identity);
    const info = unchanged ? previous : describe(filePath, urlPath, read);
    if (isRacy(read.identity, read.readAtMs)) scan.racy.add(info);
    scan.out.set(urlPath, info);
  }

  /**
   * Reads (small) or hashes (large) a file, then stats it again: a writer that changed it during the
   * read would otherwise leave old bytes recorded under the new identity, unnoticed by every later scan.
   * Returns null if it changed during each of READ_ATTEMPTS reads.
   */
  private async readSettled(filePath: string, before: BigIntStats): Promise<Read | null> {
    for (let attempt = 1; ; attempt++) {
      const readAtMs = Date.now();
      let body: Buffer | null = null;
      let digest: Buffer;
      if (before.size <= BigInt(this.options.smallFileLimit)) {
        body = await readFile(filePath);
        // Hash exactly the bytes kept, so the tag always describes the body served with it.
        digest = createHash('sha256').update(body).digest();
      } else {
        digest = await hashFile(filePath);
      }
      const after = await this.statFile(filePath);
      if (sameIdentity(identityOf(before), after)) return { identity: identityOf(after), body, digest, readAtMs };
      if (attempt === READ_ATTEMPTS || !after.isFile()) return null;
      before = after;
    }
  }
}

function describe(filePath: string, urlPath: string, read: Read): AssetInfo {
  const mtimeMs = msOf(read.identity.mtimeNs);
  // A future mtime (clock skew, a tarball from a machine ahead of us) is clamped to when we read the
  // file: a later change then gets a later date whenever it lands in a later second.
  const lastModified = Math.min(Math.floor(mtimeMs / 1000), Math.floor(read.readAtMs / 1000)) * 1000;
  return {
    urlPath,
    filePath,
    identity: read.identity,
    size: read.body?.length ?? Number(read.identity.size),
    mtimeMs,
    lastModified,
    lastModifiedText: new Date(lastModified).toUTCString(),
    etag: etagOf(read.digest),
    contentType: contentTypeFor(urlPath),
    body: read.body,
  };
}
