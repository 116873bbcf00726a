import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import type { BigIntStats, Stats } from 'node:fs';
import type { AssetInfo, FileIdentity } from './asset-table.js';

/** The format tag of a cache file; any other value (another version, another program) is ignored. */
const FORMAT = 'xorigin-etags/1';
const ETAG = /^"[A-Za-z0-9_-]{27}"$/;
const INTEGER = /^-?\d{1,30}$/;

/** A tag known from an earlier run, for a file version: its ETag and when its bytes were read (ms). */
export interface KnownTag {
  readonly etag: string;
  readonly readAtMs: number;
}

interface Known extends KnownTag {
  readonly identity: FileIdentity;
}

/**
 * The default directory of ETag caches: `$XDG_CACHE_HOME/xorigin`, else `~/.cache/xorigin` (the XDG
 * base directory rule). Outside any served root, so it is never served and never watched.
 */
export function defaultEtagCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'xorigin');
}

/** The cache file of one root, in `dir`: one per root, named by a hash of its real path. */
export function etagCacheFile(dir: string, rootReal: string): string {
  return join(dir, `etags-${createHash('sha256').update(rootReal).digest('hex').slice(0, 16)}.json`);
}

/**
 * ETags computed by an earlier run, keyed by file path and valid only for the exact identity
 * (device, inode, size, mtime and ctime in ns) they were computed for, so an unchanged tree restarts
 * without reading file contents. The file is a cache, never an authority: one that cannot be read,
 * is not valid JSON, has another format, describes another root or has a single malformed entry is
 * ignored as a whole (everything is hashed again).
 */
export class EtagCache {
  private constructor(
    private readonly file: string,
    private readonly rootReal: string,
    private known: Map<string, Known>,
  ) {}

  /**
   * Reads the cache file of `rootReal` in `dir`; never throws (a missing or bad file gives an empty
   * cache). A file another user could have written is not read (`warn` says so): its tags are
   * believed without reading the files, so a forged one would be served with other bytes, and a
   * client or CDN revalidating its old copy would keep it (304).
   */
  static async open(dir: string, rootReal: string, warn?: (line: string) => void): Promise<EtagCache> {
    const file = etagCacheFile(dir, rootReal);
    let known = new Map<string, Known>();
    try {
      const handle = await open(file, 'r');
      try {
        const writable = writableByOthers(await handle.stat(), false) ? file : writableByOthers(await stat(dir), true) ? dir : null;
        if (writable !== null) warn?.(`xorigin: not reading the ETag cache ${file}: ${writable} may be written by another user (it must be yours, and not group- or world-writable)`);
        else known = parse(JSON.parse(await handle.readFile('utf8')), rootReal) ?? known;
      } finally {
        await handle.close();
      }
    } catch {
      // Missing (first run) or unreadable: start empty.
    }
    await removeAbandoned(file);
    return new EtagCache(file, rootReal, known);
  }

  /** Files known from the file read at open. */
  get size(): number {
    return this.known.size;
  }

  /** The tag of `filePath` when `s` is exactly the version it was computed for. */
  get(filePath: string, s: BigIntStats): KnownTag | undefined {
    const k = this.known.get(filePath);
    if (k === undefined) return undefined;
    const i = k.identity;
    return i.ino === s.ino && i.ctimeNs === s.ctimeNs && i.mtimeNs === s.mtimeNs && i.size === s.size && i.dev === s.dev ? k : undefined;
  }

  /** Forgets what was read at open (the table knows it from now on). */
  release(): void {
    this.known = new Map();
  }

  /**
   * Writes the tags of `infos` (except those in `skip`: read too recently to be sure of) to the
   * cache file, atomically (a temporary file renamed over it). Rejects when it cannot be written.
   */
  async save(infos: Iterable<AssetInfo>, skip: ReadonlySet<AssetInfo>): Promise<void> {
    const files: Record<string, (string | number)[]> = {};
    for (const info of infos) {
      if (skip.has(info)) continue;
      const i = info.identity;
      files[info.filePath] = [String(i.dev), String(i.ino), String(i.size), String(i.mtimeNs), String(i.ctimeNs), info.etag, info.readAtMs];
    }
    const dir = this.file.slice(0, this.file.lastIndexOf(sep));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Its own name: two tables (two handlers, or workers) may write the same root's cache at once.
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify({ format: FORMAT, root: this.rootReal, files }), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}

/**
 * True when someone but this process's user (or root) may have written what `s` describes: owned by
 * another user, or group- or world-writable (a directory that is sticky, as /tmp, lets nobody
 * replace our file). Always false where there are no user ids (Windows).
 */
/**
 * Deletes the temporary files of `file` left by processes that died while writing one (save() names
 * them FILE.PID.RANDOM.tmp and renames them when complete): a server killed mid-write left a
 * partial copy of the cache, megabytes for a large tree, on every such kill. A file whose process
 * still runs (or may: another user's, or a pid reused) is left alone.
 */
async function removeAbandoned(file: string): Promise<void> {
  const dir = file.slice(0, file.lastIndexOf(sep));
  const prefix = `${file.slice(dir.length + 1)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, name.indexOf('.', prefix.length)));
    if (!Number.isInteger(pid) || pid <= 0 || isRunning(pid)) continue;
    await unlink(join(dir, name)).catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function writableByOthers(s: Stats, isDir: boolean): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  if (s.uid !== uid && !(isDir && s.uid === 0)) return true;
  return (s.mode & 0o022) !== 0 && !(isDir && (s.mode & 0o1000) !== 0);
}

/** The entries of a cache file's content, or null when anything in it is not as written by save(). */
function parse(data: unknown, rootReal: string): Map<string, Known> | null {
  if (typeof data !== 'object' || data === null) return null;
  const { format, root, files } = data as Record<string, unknown>;
  if (format !== FORMAT || root !== rootReal || typeof files !== 'object' || files === null) return null;
  const known = new Map<string, Known>();
  for (const [path, entry] of Object.entries(files)) {
    if (!path.startsWith(rootReal + sep) || !Array.isArray(entry) || entry.length !== 7) return null;
    const [dev, ino, size, mtimeNs, ctimeNs, etag, readAtMs] = entry as unknown[];
    const ints = [dev, ino, size, mtimeNs, ctimeNs];
    if (!ints.every((v) => typeof v === 'string' && INTEGER.test(v))) return null;
    if (typeof etag !== 'string' || !ETAG.test(etag) || typeof readAtMs !== 'number' || !Number.isFinite(readAtMs)) return null;
    const [d, i, s, m, c] = ints.map((v) => BigInt(v as string)) as [bigint, bigint, bigint, bigint, bigint];
    known.set(path, { identity: { dev: d, ino: i, size: s, mtimeNs: m, ctimeNs: c }, etag, readAtMs });
  }
  return known;
}
