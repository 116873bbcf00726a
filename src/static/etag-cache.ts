import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import type { BigIntStats, Stats } from 'node:fs';
import type { AssetInfo, FileIdentity } from './asset-table.js';
import { READ_NONBLOCK } from './read-flags.js';

/**
 * The format tag of a cache file, on its first line; any other value (another version, another
 * program, the JSON of xorigin-etags/1) makes the file ignored. After that line, one line per file:
 * `PATH \t DEV \t INO \t SIZE \t MTIME_NS \t CTIME_NS \t ETAG \t READ_AT_MS \t LAST_MODIFIED_MS`, PATH
 * relative to the root (as a JSON string when it holds a tab, a line break or starts with `"`). Read
 * line by line: the JSON of version 1 was read and parsed whole (18 MB of text for 100,000 files,
 * then an object and an array per file, and five bigints per file kept until the scan ended).
 * Version 3 added LAST_MODIFIED_MS.
 */
const FORMAT = 'xorigin-etags/3';
const DECIMAL = '(?:0|-?[1-9]\\d{0,29})';
/** Everything after the path: the identity in canonical decimals, the tag, when it was read, the date served. */
const ENTRY = new RegExp(`^(?:${DECIMAL}\\t){5}"[A-Za-z0-9_-]{27}"\\t\\d{1,16}\\t-?\\d{1,16}$`);
const TAG_LENGTH = 29;
/**
 * Lines are read this many bytes at a time; a longer line makes the file ignored (a path is at most
 * PATH_MAX, 4,096 bytes, six times that JSON-escaped): format 1 was one line of megabytes.
 */
const CHUNK = 64 * 1024;
/** Lines are written about this many characters at a time, so a write never holds the loop for the whole table. */
const WRITE_CHUNK = 256 * 1024;

/** A tag known from an earlier run, for a file version: its ETag and when its bytes were read (ms). */
export interface KnownTag {
  readonly etag: string;
  readonly readAtMs: number;
  /**
   * The Last-Modified (ms) it was served with: a version dated when read (its mtime older than its
   * predecessor's) keeps that date after a restart instead of falling back to its mtime.
   */
  readonly lastModified: number;
}

/**
 * A tag as read, with the identity it is valid for as the file has it (canonical decimals, each
 * followed by a tab): compared as a string, exactly as bigints would be, and a string per file is
 * cheaper than five bigints and the object around them.
 */
interface Known extends KnownTag {
  readonly identity: string;
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
  return join(dir, `etags-${createHash('sha256').update(rootReal).digest('hex').slice(0, 16)}.tsv`);
}

/**
 * ETags computed by an earlier run, keyed by file path and valid only for the exact identity
 * (device, inode, size, mtime and ctime in ns) they were computed for, so an unchanged tree restarts
 * without reading file contents. The file is a cache, never an authority: one that cannot be read,
 * is malformed, has another format, describes another root or has a single malformed entry is
 * ignored as a whole (everything is hashed again).
 */
export class EtagCache {
  private constructor(
    private readonly file: string,
    private readonly rootReal: string,
    /** By path relative to the root. */
    private known: Map<string, Known>,
  ) {
    this.prefix = rootReal + sep;
  }

  /** The root's real path and a separator: what the path of every file under it starts with. */
  private readonly prefix: string;

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
      // O_NONBLOCK: a FIFO at this name is opened at once (then not read), not waited on for a writer forever.
      const handle = await open(file, READ_NONBLOCK);
      try {
        const s = await handle.stat();
        const writable = writableByOthers(s, false) ? file : writableByOthers(await stat(dir), true) ? dir : null;
        if (writable !== null) warn?.(`xorigin: not reading the ETag cache ${file}: ${writable} may be written by another user (it must be yours, and not group- or world-writable)`);
        else if (s.isFile()) known = (await readEntries(handle, rootReal)) ?? known;
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
    if (!filePath.startsWith(this.prefix)) return undefined;
    const known = this.known.get(filePath.slice(this.prefix.length));
    return known !== undefined && known.identity === identityText(s) ? { etag: known.etag, readAtMs: known.readAtMs, lastModified: known.lastModified } : undefined;
  }

  /**
   * The tag and date an earlier run served at `filePath`, whatever version it was: a version put
   * there while the server was stopped is dated after it, as one changed while it runs would be.
   */
  lastServed(filePath: string): { readonly etag: string; readonly lastModified: number } | undefined {
    if (!filePath.startsWith(this.prefix)) return undefined;
    return this.known.get(filePath.slice(this.prefix.length));
  }

  /** Forgets what was read at open (the table knows it from now on). */
  release(): void {
    this.known = new Map();
  }

  /**
   * Writes the tags of `infos` (except those in `skip`: read too recently to be sure of) to the
   * cache file, atomically (a temporary file renamed over it). Rejects when it cannot be written.
   */
  async save(infos: ReadonlyMap<string, AssetInfo>, skip: ReadonlySet<AssetInfo>): Promise<void> {
    const dir = this.file.slice(0, this.file.lastIndexOf(sep));
    await makeDirs(dir);
    // Its own name: two tables (two handlers, or workers) may write the same root's cache at once.
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, this.lines(infos, skip), { mode: 0o600 });
      await rename(tmp, this.file);
    } catch (e) {
      // A full disk or a cache file that cannot be replaced: the partial copy would stay until the next start.
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /**
   * The file's content, a chunk at a time. Each file once: a directory's `/dir/` entry is its
   * index.html's. The table may change between chunks; every line still pairs a tag with the identity
   * it was computed for.
   */
  private *lines(infos: ReadonlyMap<string, AssetInfo>, skip: ReadonlySet<AssetInfo>): Generator<string> {
    let chunk = `${JSON.stringify({ format: FORMAT, root: this.rootReal })}\n`;
    const prefix = this.prefix;
    for (const [urlPath, info] of infos) {
      if (urlPath !== info.urlPath || skip.has(info) || !info.filePath.startsWith(prefix)) continue;
      chunk += `${pathField(info.filePath.slice(prefix.length))}\t${identityText(info.identity)}${info.etag}\t${String(info.readAtMs)}\t${String(info.lastModified)}\n`;
      if (chunk.length < WRITE_CHUNK) continue;
      yield chunk;
      chunk = '';
    }
    yield chunk;
  }
}

/**
 * `mkdir -p`, one level at a time. Node's recursive mkdir retries for ever where a level cannot be
 * made although its parent exists (under /proc: ENOENT every time), holding a libuv thread at 100% CPU.
 */
async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
  }
  await makeDirs(dirname(dir));
  await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}

/** The identity as a line holds it, each field followed by a tab. */
function identityText(i: FileIdentity): string {
  return `${String(i.dev)}\t${String(i.ino)}\t${String(i.size)}\t${String(i.mtimeNs)}\t${String(i.ctimeNs)}\t`;
}

/** A path as written: as is, unless it could be mistaken for the end of a field or line. */
function pathField(rel: string): string {
  return /[\t\n\r]/.test(rel) || rel.startsWith('"') ? JSON.stringify(rel) : rel;
}

/**
 * Deletes the temporary files of `file` left by processes that died while writing one (save() names
 * them FILE.PID.RANDOM.tmp and renames them when complete): a server killed mid-write left a
 * partial copy of the cache, megabytes for a large tree, on every such kill. A file whose process
 * still runs (or may: another user's, or a pid reused) is left alone. Also the root's cache file of
 * format 1 (`.json`), which no version reads once this one has run.
 */
async function removeAbandoned(file: string): Promise<void> {
  const dir = file.slice(0, file.lastIndexOf(sep));
  // This root's cache in the JSON of version 1, superseded by this file: never read again.
  await unlink(file.replace(/\.tsv$/, '.json')).catch(() => {});
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

/**
 * True when someone but this process's user (or root) may have written what `s` describes: owned by
 * another user, or group- or world-writable (a directory that is sticky, as /tmp, lets nobody
 * replace our file). Always false where there are no user ids (Windows).
 */
function writableByOthers(s: Stats, isDir: boolean): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  if (s.uid !== uid && !(isDir && s.uid === 0)) return true;
  return (s.mode & 0o022) !== 0 && !(isDir && (s.mode & 0o1000) !== 0);
}

/**
 * The entries of a cache file, read from `handle` a chunk at a time, or null when anything in it is
 * not as written by save(): another format or root, a malformed line, a path that is not plainly
 * under the root or is there twice, a last line cut short.
 */
async function readEntries(handle: FileHandle, rootReal: string): Promise<Map<string, Known> | null> {
  const known = new Map<string, Known>();
  const buffer = Buffer.allocUnsafe(CHUNK);
  let carry = Buffer.alloc(0);
  let header = true;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
    if (bytesRead === 0) return carry.length === 0 && !header ? known : null;
    const data = carry.length === 0 ? buffer.subarray(0, bytesRead) : Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; start = nl + 1, nl = data.indexOf(10, start)) {
      // A line begun in the carry can end in this read, up to twice CHUNK long: the limit is per line.
      if (nl - start >= CHUNK) return null;
      if (header ? !isHeader(data.toString('utf8', start, nl), rootReal) : !addEntry(data, start, nl, known)) return null;
      header = false;
    }
    if (data.length - start >= CHUNK) return null;
    // A copy: `buffer` is read into again.
    carry = Buffer.from(data.subarray(start));
  }
}

function isHeader(line: string, rootReal: string): boolean {
  try {
    const { format, root } = JSON.parse(line) as Record<string, unknown>;
    return format === FORMAT && root === rootReal;
  } catch {
    return false;
  }
}

/**
 * Adds the entry on bytes `start` to `end` of `data` to `known`; false when it is malformed. The
 * strings kept are cut from the bytes, not from the line: a slice of the line would keep all of it
 * alive for as long as the table keeps the tag.
 */
function addEntry(data: Buffer, start: number, end: number, known: Map<string, Known>): boolean {
  const line = data.toString('utf8', start, end);
  const quoted = line.startsWith('"');
  const tab = quoted ? line.indexOf('"\t') + 1 : line.indexOf('\t');
  if (tab <= 0) return false;
  const rest = line.slice(tab + 1);
  if (!ENTRY.test(rest)) return false;
  // The rest is ASCII: as many bytes as characters, counted back from the end of the line.
  const restAt = end - rest.length;
  const dateAt = restAt + rest.lastIndexOf('\t') + 1;
  const tagAt = restAt + rest.lastIndexOf('\t', dateAt - restAt - 2) - TAG_LENGTH;
  let path: unknown;
  try {
    path = quoted ? JSON.parse(line.slice(0, tab)) : data.toString('utf8', start, restAt - 1);
  } catch {
    return false;
  }
  // save() writes each path once: a second line for one (which would win) is not its work.
  if (typeof path !== 'string' || !isPlainRelative(path) || known.has(path)) return false;
  const readAtMs = Number(data.toString('latin1', tagAt + TAG_LENGTH + 1, dateAt - 1));
  const lastModified = Number(data.toString('latin1', dateAt, end));
  known.set(path, { identity: data.toString('latin1', restAt, tagAt), etag: data.toString('latin1', tagAt, tagAt + TAG_LENGTH), readAtMs, lastModified });
  return true;
}

/** An empty, `.` or `..` segment (a leading separator makes an empty one). */
const SEP = sep === '/' ? '/' : '\\\\';
const ODD_SEGMENT = new RegExp(`(?:^|${SEP})\\.{0,2}(?:${SEP}|$)`);

/** A path relative to the root that stays under it: no empty, `.` or `..` segment, not absolute. */
function isPlainRelative(rel: string): boolean {
  return !ODD_SEGMENT.test(rel);
}
