import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, realpath, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Stats } from 'node:fs';
import type { AssetInfo } from './asset-info.js';
import { isRacy, type FileIdentity } from './file-identity.js';
import { ETAG_LENGTH } from './etag.js';
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
const ENTRY = new RegExp(`^(?:${DECIMAL}\\t){5}"[A-Za-z0-9_-]{${ETAG_LENGTH - 2}}"\\t\\d{1,16}\\t-?\\d{1,16}$`);
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

/**
 * The cache file of one root, in `dir`: one per root, named by a hash of its path as named (absolute,
 * symlinks not resolved: `current`, not `releases/42`), so that a root switched back to an older
 * release while the server was stopped still finds what each URL served last.
 */
export function etagCacheFile(dir: string, rootKey: string): string {
  return join(dir, `etags-${createHash('sha256').update(rootKey).digest('hex').slice(0, 16)}.tsv`);
}

/**
 * The identity of a line that records only what a URL served (its tag and date), never matched by a
 * file (no file has inode 0): a version read too recently to vouch for its tag (racily clean), or a
 * path since removed. What a later version at that URL is dated after (see lastServed).
 */
const UNMATCHABLE = '0\t0\t0\t0\t0\t';

/** What a URL path last served: its tag and the Last-Modified (ms) it went with. */
export interface Served {
  readonly etag: string;
  readonly lastModified: number;
}

/**
 * ETags computed by an earlier run, keyed by URL path and valid only for the exact identity
 * (device, inode, size, mtime and ctime in ns) of the file they were computed for, so an unchanged
 * tree restarts without reading file contents. Each line also says what its URL served last. The file is a cache, never an authority: one that cannot be read,
 * is malformed, has another format, describes another root or has a single malformed entry is
 * ignored as a whole (everything is hashed again).
 */
export class EtagCache {
  private constructor(
    private readonly file: string,
    private readonly rootKey: string,
    /** By URL path without its leading "/". */
    private known: Map<string, Known>,
  ) {}

  /**
   * Reads the cache file of `rootKey` (see etagCacheFile) in `dir`; never throws (a missing or bad file gives an empty
   * cache). A file another user could have written is not read (`warn` says so): its tags are
   * believed without reading the files, so a forged one would be served with other bytes, and a
   * client or CDN revalidating its old copy would keep it (304).
   */
  static async open(dir: string, rootKey: string, warn?: (line: string) => void): Promise<EtagCache> {
    const file = etagCacheFile(dir, rootKey);
    let known = new Map<string, Known>();
    try {
      // O_NONBLOCK: a FIFO at this name is opened at once (then not read), not waited on for a writer forever.
      const handle = await open(file, READ_NONBLOCK);
      try {
        const s = await handle.stat();
        const writable = writableByOthers(s, false) ? file : writableByOthers(await stat(dir), true) ? dir : null;
        if (writable !== null) warn?.(`xorigin: not reading the ETag cache ${file}: ${writable} may be written by another user (it must be yours, and not group- or world-writable)`);
        else if (s.isFile()) known = (await readEntries(handle, rootKey)) ?? known;
      } finally {
        await handle.close();
      }
    } catch {
      // Missing (first run) or unreadable: start empty.
    }
    await removeAbandoned(file);
    return new EtagCache(file, rootKey, known);
  }

  /** Files known from the file read at open. */
  get size(): number {
    return this.known.size;
  }

  /** The tag served at `urlPath` when `s` is exactly the file version it was computed for. */
  get(urlPath: string, s: FileIdentity): KnownTag | undefined {
    const known = this.known.get(urlPath.slice(1));
    return known !== undefined && known.identity === identityText(s) ? { etag: known.etag, readAtMs: known.readAtMs, lastModified: known.lastModified } : undefined;
  }

  /**
   * The tag and date an earlier run served at `urlPath` last, whatever version or file it was: a
   * version put there while the server was stopped is dated after it, as one changed while it runs is.
   */
  lastServed(urlPath: string): Served | undefined {
    return this.known.get(urlPath.slice(1));
  }

  /** What each URL path of the file read at open served last (lastServed for all of them). */
  *served(): Generator<[urlPath: string, served: Served]> {
    for (const [path, known] of this.known) yield [`/${path}`, known];
  }

  /** Forgets what was read at open (the table knows it from now on). */
  release(): void {
    this.known = new Map();
  }

  /**
   * Writes the tags of `infos` to the cache file, atomically (a temporary file renamed over it), with
   * what `departed` URL paths served last: those in `skip` (read too recently to vouch for their
   * tag) and the departed are written as served, never as a file's tag. Rejects when it cannot be written.
   */
  async save(infos: ReadonlyMap<string, AssetInfo>, skip: ReadonlySet<AssetInfo>, departed: ReadonlyMap<string, Served>): Promise<void> {
    const dir = this.file.slice(0, this.file.lastIndexOf(sep));
    await makeDirs(dir);
    // Its own name: two tables (two handlers, or workers) may write the same root's cache at once.
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, this.lines(infos, skip, departed), { mode: 0o600 });
      await rename(tmp, this.file);
    } catch (e) {
      // A full disk or a cache file that cannot be replaced: the partial copy would stay until the next start.
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /**
   * The file's content, a chunk at a time, a line per URL path. Not a directory's `/dir/`: its
   * index.html's line says it. The table may change between chunks; every line still pairs a tag with
   * the identity it was computed for.
   */
  private *lines(infos: ReadonlyMap<string, AssetInfo>, skip: ReadonlySet<AssetInfo>, departed: ReadonlyMap<string, Served>): Generator<string> {
    let chunk = `${JSON.stringify({ format: FORMAT, root: this.rootKey })}\n`;
    for (const text of entryLines(infos, skip, departed)) {
      chunk += text;
      if (chunk.length < WRITE_CHUNK) continue;
      yield chunk;
      chunk = '';
    }
    yield chunk;
  }
}

/** One line per URL path: each in `infos` (its tag unvouched when in `skip`), then each departed one. */
function* entryLines(infos: ReadonlyMap<string, AssetInfo>, skip: ReadonlySet<AssetInfo>, departed: ReadonlyMap<string, Served>): Generator<string> {
  for (const [urlPath, info] of infos) {
    // One in `skip` only to be dated (AssetInfo.undated, not read racily) is vouched for: its tag is sure.
    const vouched = !skip.has(info) || !isRacy(info.identity, info.readAtMs);
    if (urlPath === info.urlPath) yield line(urlPath, vouched ? identityText(info.identity) : UNMATCHABLE, info.etag, info.readAtMs, info.lastModified);
  }
  for (const [urlPath, served] of departed) if (!infos.has(urlPath)) yield line(urlPath, UNMATCHABLE, served.etag, 0, served.lastModified);
}

function line(urlPath: string, identity: string, etag: string, readAtMs: number, lastModified: number): string {
  return `${pathField(urlPath.slice(1))}\t${identity}${etag}\t${String(readAtMs)}\t${String(lastModified)}\n`;
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
async function readEntries(handle: FileHandle, rootKey: string): Promise<Map<string, Known> | null> {
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
      if (header ? !isHeader(data.toString('utf8', start, nl), rootKey) : !addEntry(data, start, nl, known)) return null;
      header = false;
    }
    if (data.length - start >= CHUNK) return null;
    // A copy: `buffer` is read into again.
    carry = Buffer.from(data.subarray(start));
  }
}

function isHeader(line: string, rootKey: string): boolean {
  try {
    const { format, root } = JSON.parse(line) as Record<string, unknown>;
    return format === FORMAT && root === rootKey;
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
  const tagAt = restAt + rest.lastIndexOf('\t', dateAt - restAt - 2) - ETAG_LENGTH;
  let path: unknown;
  try {
    path = quoted ? JSON.parse(line.slice(0, tab)) : data.toString('utf8', start, restAt - 1);
  } catch {
    return false;
  }
  // save() writes each path once: a second line for one (which would win) is not its work.
  if (typeof path !== 'string' || !isPlainRelative(path) || known.has(path)) return false;
  const readAtMs = Number(data.toString('latin1', tagAt + ETAG_LENGTH + 1, dateAt - 1));
  const lastModified = Number(data.toString('latin1', dateAt, end));
  known.set(path, { identity: data.toString('latin1', restAt, tagAt), etag: data.toString('latin1', tagAt, tagAt + ETAG_LENGTH), readAtMs, lastModified });
  return true;
}

/** An empty, `.` or `..` segment (a leading separator makes an empty one). */
const SEP = sep === '/' ? '/' : '\\\\';
const ODD_SEGMENT = new RegExp(`(?:^|${SEP})\\.{0,2}(?:${SEP}|$)`);

/** A path relative to the root that stays under it: no empty, `.` or `..` segment, not absolute. */
function isPlainRelative(rel: string): boolean {
  return !ODD_SEGMENT.test(rel);
}

/**
 * The real path `dir` names, symlinks resolved, even when it does not exist yet (it is created at
 * the first save): the real path of its nearest existing ancestor, with the rest appended.
 */
export async function realDir(dir: string): Promise<string> {
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
