import { closeSync, constants, openSync, readSync, statSync, type BigIntStats } from 'node:fs';
import { sep } from 'node:path';
import { newEtagHash } from './etag.js';
import type { FileStats } from './file-identity.js';
import { READ_BY_PATH } from './read-flags.js';

/**
 * A batch of files stat'ed, and the small ones read and hashed, in one message to a hashing thread
 * (hash-worker.ts), for a walk of a large tree (the files of several directories: probe-batcher.ts). Each file costs a cold scan five
 * promise-based `node:fs` calls on the main thread otherwise (a stat, open, read, close, and the stat
 * after the read), each a round trip through libuv's pool: 100,000 one-byte files took 18 s to scan
 * where `sha256sum` takes 1 s. On the thread they are plain system calls, and the main thread gets
 * one answer per batch.
 *
 * A probe only fetches ahead: the scan decides as before (tree-reader.ts), from the stat the probe
 * made and, for a file it read, the digest and the stat after the read. A name whose stat failed, or
 * whose read failed, is looked at again the usual way, which says why.
 *
 * The bytes stay on the thread (a file read by a probe is read into memory when asked for, as a large
 * file is): sent over, each body allocated by the thread and freed by the main thread's collector left
 * the thread's malloc arena 38 MB larger after a cold start of 100,000 font files.
 */
export interface ProbeRequest {
  /** The files, as the walk reaches them (through their directory's descriptor: directory-handle.ts); of several directories. */
  readonly paths: readonly string[];
  /** Per path, 1 to read the file when it is a regular file of at most `readUpTo` bytes (0: stat only). */
  readonly read: Uint8Array;
  readonly readUpTo: number;
}

/** A thread's answer to a ProbeRequest (its arrays are transferred, not copied). */
export interface ProbeReply {
  /** Per name, STAT_FIELDS of its stat, then STAT_FIELDS of the stat after its read (zeros when not read). */
  readonly stats: BigInt64Array;
  /** Per name: 0 its stat failed, 1 stat'ed, 2 stat'ed and read. */
  readonly states: Uint8Array;
  /** Per name read: when its read began (ms since the epoch). */
  readonly readAtMs: Float64Array;
  /** Per name read: the SHA-256 of its bytes, 32 bytes each. */
  readonly digests: Uint8Array;
  /** Bytes read (for progress reports). */
  readonly bytes: number;
}

/** A file the probe read: when the read began, the digest of its bytes, and the stat after it (tree-reader.ts compares it). */
export interface ProbedRead {
  readonly readAtMs: number;
  readonly digest: Buffer;
  readonly after: FileStats;
}

/** One name of a probe: its stat, and its read when it was read. */
export interface Probed {
  readonly stats: FileStats;
  readonly read: ProbedRead | undefined;
}

/** dev, ino, size, mtimeNs, ctimeNs, nlink, mode. */
const STAT_FIELDS = 7;
const DIGEST_BYTES = 32;
const STATED = 1;
const READ = 2;
/** A hashing thread's read buffer: files are read and hashed a chunk at a time. */
const CHUNK = 1024 * 1024;
let buffer: Buffer | null = null;

/**
 * The SHA-256 of the first `size` bytes of `path` (the scan's stat; it stats again after) and how many
 * there were, read synchronously (on a hashing thread) by positioned reads with READ_BY_PATH, not until
 * EOF: a file appended to forever would hold the thread. Throws when it cannot be read.
 */
export function hashUpTo(path: string, size: number): { digest: Buffer; bytes: number } {
  const fd = openSync(path, READ_BY_PATH);
  try {
    const chunk = (buffer ??= Buffer.allocUnsafeSlow(CHUNK));
    const hash = newEtagHash();
    let bytes = 0;
    for (let n; bytes < size && (n = readSync(fd, chunk, 0, Math.min(CHUNK, size - bytes), bytes)) > 0; bytes += n) hash.update(chunk.subarray(0, n));
    return { digest: hash.digest(), bytes };
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs on a hashing thread: stats each name, and reads and hashes the regular files asked for, one
 * at a time with synchronous calls (the thread has nothing else to do). Reads the size the stat
 * gave, never until EOF (see read-stated.ts), by READ_BY_PATH (no symlink, no wait for a FIFO).
 */
export function probe(request: ProbeRequest): { reply: ProbeReply; transfer: ArrayBuffer[] } {
  const n = request.paths.length;
  const reply = {
    stats: new BigInt64Array(2 * STAT_FIELDS * n),
    states: new Uint8Array(n),
    readAtMs: new Float64Array(n),
    digests: new Uint8Array(DIGEST_BYTES * n),
    bytes: 0,
  };
  for (let i = 0; i < n; i++) {
    const path = request.paths[i] as string;
    const s = statOrUndefined(path);
    if (s === undefined) continue;
    putStats(reply.stats, 2 * STAT_FIELDS * i, s);
    reply.states[i] = STATED;
    if (request.read[i] !== 1 || !s.isFile() || s.size > BigInt(request.readUpTo)) continue;
    const readAtMs = Date.now();
    const read = hashedOrNull(path, Number(s.size));
    const after = read === null ? undefined : statOrUndefined(path);
    if (read === null || after === undefined) continue;
    putStats(reply.stats, (2 * i + 1) * STAT_FIELDS, after);
    reply.states[i] = READ;
    reply.readAtMs[i] = readAtMs;
    reply.digests.set(read.digest, DIGEST_BYTES * i);
    reply.bytes += read.bytes;
  }
  return { reply, transfer: [reply.stats.buffer, reply.readAtMs.buffer, reply.digests.buffer, reply.states.buffer] as ArrayBuffer[] };
}

/**
 * The path of the entry `name` of directory `dir`, a real path with no `.`, `..` or doubled
 * separator: path.join would normalise it again, ~0.6 KB of garbage per file of a walk.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/** The stat of `path`, or undefined when it failed (gone, denied, out of descriptors: the scan looks again and sees why). */
function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/**
 * hashUpTo, or null when the file cannot be read (the scan reads it again the usual way and sees why) or
 * is shorter now (it changed: read again too).
 */
function hashedOrNull(path: string, size: number): { digest: Buffer; bytes: number } | null {
  try {
    const read = hashUpTo(path, size);
    return read.bytes === size ? read : null;
  } catch {
    return null;
  }
}

function putStats(into: BigInt64Array, at: number, s: BigIntStats): void {
  into[at] = s.dev;
  into[at + 1] = s.ino;
  into[at + 2] = s.size;
  into[at + 3] = s.mtimeNs;
  into[at + 4] = s.ctimeNs;
  into[at + 5] = s.nlink;
  into[at + 6] = s.mode;
}

/** What the scan needs of a stat a probe made (see FileStats), as BigIntStats gives them. */
class ProbedStats implements FileStats {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly nlink: bigint;
  private readonly type: number;

  constructor(stats: BigInt64Array, at: number) {
    this.dev = stats[at] as bigint;
    this.ino = stats[at + 1] as bigint;
    this.size = stats[at + 2] as bigint;
    this.mtimeNs = stats[at + 3] as bigint;
    this.ctimeNs = stats[at + 4] as bigint;
    this.nlink = stats[at + 5] as bigint;
    this.type = Number(stats[at + 6]) & constants.S_IFMT;
  }

  isFile(): boolean {
    return this.type === constants.S_IFREG;
  }

  isDirectory(): boolean {
    return this.type === constants.S_IFDIR;
  }
}

/** Name `i` of a probe's reply, or null when its stat failed (the scan stats it again and sees why). */
export function probedAt(reply: ProbeReply, i: number): Probed | null {
  const state = reply.states[i];
  if (state !== STATED && state !== READ) return null;
  const stats = new ProbedStats(reply.stats, 2 * STAT_FIELDS * i);
  if (state !== READ) return { stats, read: undefined };
  return {
    stats,
    read: {
      readAtMs: reply.readAtMs[i] as number,
      digest: Buffer.from(reply.digests.buffer, reply.digests.byteOffset + DIGEST_BYTES * i, DIGEST_BYTES),
      after: new ProbedStats(reply.stats, (2 * i + 1) * STAT_FIELDS),
    },
  };
}
