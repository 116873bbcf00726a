import { createHash } from 'node:crypto';
import { createReadStream, watch } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ENCODINGS } from './encoding.js';
import { contentTypeFor } from './mime.js';

/** What the start-up scan knows about one file. */
export interface AssetInfo {
  /** The decoded URL path it is served at: `/fonts/a b.woff2`. */
  readonly urlPath: string;
  /** Absolute file-system path (symlinks inside the root resolved). */
  readonly filePath: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Last-Modified in ms, truncated to whole seconds as HTTP dates are. */
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
}

/** A burst of events is rescanned once it has been quiet this long... */
const DEBOUNCE_MS = 30;
/** ...or this long after its first event, so a file written continuously cannot keep the rest stale. */
const DEBOUNCE_MAX_MS = 300;
const POLL_DEFAULT_MS = 2000;

const defaultWatchTree: WatchTree = (dir, onChange) => watch(dir, { recursive: true }, onChange);
const writeStderr = (line: string): void => void process.stderr.write(`${line}\n`);

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
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
  private rootReal = '';
  private watcher: TreeWatcher | null = null;
  private pending: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private poll: NodeJS.Timeout | null = null;
  private closed = false;
  private scanning: Promise<void> | null = null;
  private dirty = false;

  constructor(
    readonly root: string,
    private readonly options: AssetTableOptions,
    private readonly build: (info: AssetInfo, variants: Variants) => T,
  ) {}

  get size(): number {
    return this.infos.size;
  }

  get(urlPath: string): T | undefined {
    return this.entries.get(urlPath);
  }

  info(urlPath: string): AssetInfo | undefined {
    return this.infos.get(urlPath);
  }

  /** Scans the root and starts watching it. Throws if the root is not a readable directory. */
  async open(): Promise<void> {
    const s = await stat(this.root);
    if (!s.isDirectory()) throw new Error(`root ${this.root} is not a directory`);
    this.rootReal = await realpath(this.root);
    await this.rescan();
    if (this.options.watch === false || this.closed) return;
    try {
      const watcher = (this.options.watchTree ?? defaultWatchTree)(this.rootReal, () => this.schedule());
      this.watcher = watcher;
      watcher.on('error', (e) => this.pollInstead(e.message));
    } catch (e) {
      // No recursive watch on this platform, or no inotify watches left.
      this.pollInstead((e as Error).message);
    }
  }

  /** Stops watching and every timer; a scan already running completes. */
  close(): void {
    this.closed = true;
    this.stopWatcher();
    if (this.pending !== null) clearTimeout(this.pending);
    if (this.poll !== null) clearInterval(this.poll);
    this.pending = this.poll = null;
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

  /**
   * Walks the root again; files whose size and mtime are unchanged keep their entry, others are
   * re-read and re-hashed. The new table replaces the old one in one assignment, so a request sees
   * either the old or the new state, never a mix.
   */
  rescan(): Promise<void> {
    if (this.scanning !== null) {
      this.dirty = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.dirty = false;
        const infos = new Map<string, AssetInfo>();
        await this.walk(this.rootReal, '', infos, new Set([this.rootReal]));
        const entries = new Map<string, T>();
        const variants = new Map<string, Variants>();
        for (const [urlPath, info] of infos) {
          const v = variantsOf(info, infos);
          const reuse = this.infos.get(urlPath) === info && sameVariants(this.variants.get(urlPath), v);
          const existing = reuse ? this.entries.get(urlPath) : undefined;
          entries.set(urlPath, existing ?? this.build(info, v));
          if (v !== NO_VARIANTS) variants.set(urlPath, v);
        }
        this.infos = infos;
        this.variants = variants;
        this.entries = entries;
      } while (this.dirty);
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private async walk(dir: string, urlDir: string, out: Map<string, AssetInfo>, seen: Set<string>): Promise<void> {
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
        const s = await stat(target);
        if (s.isDirectory()) {
          if (seen.has(target)) continue; // a symlink cycle
          seen.add(target);
          await this.walk(target, urlPath, out, seen);
        } else if (s.isFile()) {
          await this.addFile(target, urlPath, s.size, s.mtimeMs, out);
        }
      } catch {
        // Vanished between readdir and stat, or a dangling symlink: not servable.
      }
    }
    // Directory index: /dir/ and / serve index.html when present.
    const index = out.get(`${urlDir}/index.html`);
    if (index !== undefined) out.set(`${urlDir}/`, index);
  }

  private async addFile(filePath: string, urlPath: string, size: number, mtimeMs: number, out: Map<string, AssetInfo>): Promise<void> {
    const previous = this.infos.get(urlPath);
    if (previous !== undefined && previous.filePath === filePath && previous.size === size && previous.mtimeMs === mtimeMs) {
      out.set(urlPath, previous);
      return;
    }
    let body: Buffer | null = null;
    let digest: Buffer;
    if (size <= this.options.smallFileLimit) {
      body = await readFile(filePath);
      // Hash exactly the bytes kept, so the tag always describes the body served with it.
      digest = createHash('sha256').update(body).digest();
      size = body.length;
    } else {
      digest = await hashFile(filePath);
    }
    const lastModified = Math.floor(mtimeMs / 1000) * 1000;
    out.set(urlPath, {
      urlPath,
      filePath,
      size,
      mtimeMs,
      lastModified,
      lastModifiedText: new Date(lastModified).toUTCString(),
      etag: etagOf(digest),
      contentType: contentTypeFor(urlPath),
      body,
    });
  }
}
