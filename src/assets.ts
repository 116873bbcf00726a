import { createHash } from 'node:crypto';
import { createReadStream, watch, type FSWatcher } from 'node:fs';
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

export interface AssetTableOptions {
  /** Files up to this many bytes are kept in memory. */
  readonly smallFileLimit: number;
  /** Watch the tree and rescan on change (default true). */
  readonly watch?: boolean | undefined;
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
  private watcher: FSWatcher | null = null;
  private pending: NodeJS.Timeout | null = null;
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
    if (this.options.watch !== false) {
      try {
        this.watcher = watch(this.rootReal, { recursive: true }, () => this.schedule());
        this.watcher.on('error', () => this.schedule());
      } catch {
        // No recursive watch on this platform: revalidate on a timer instead.
        const timer = setInterval(() => this.schedule(), 2000);
        timer.unref();
      }
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = null;
  }

  /** Coalesces bursts of file-system events into one rescan shortly after they stop. */
  private schedule(): void {
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.rescan().catch(() => {});
    }, 30);
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
