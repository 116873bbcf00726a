import type { BigIntStats } from 'node:fs';

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

/**
 * What a scan needs of a file's stat: its identity, its link count and its type. A `BigIntStats` has
 * them, and so has a stat made on a hashing thread (file-probe.ts).
 */
export interface FileStats extends FileIdentity {
  readonly nlink: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
}

/** The identity of a file from a `stat(path, { bigint: true })` (or `fstat`) result. */
export function identityOf(s: FileIdentity): FileIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** True when `s` (a bigint stat's identity, see FileStats) still describes the file version `a` was taken from. */
export function sameIdentity(a: FileIdentity, s: FileIdentity): boolean {
  return equalIdentities(a, s);
}

/** What an fstat made after a chunk was read says of the version a download is sending (OpenVersion.check). */
export const enum OpenState {
  /** Nothing changed since the last check: the chunk is that version's. */
  Same,
  /**
   * Only the ctime moved (device, inode, size and mtime as they were): a name added or removed (a rename
   * deploy unlinks the old inode; `cp -al`, `rsync --link-dest`, a pnpm store link it), a chmod, an
   * xattr, or a write with its mtime put back. Only the content can tell them apart.
   */
  CtimeOnly,
  /** Another file, or other bytes: the headers no longer describe it. */
  Changed,
}

/**
 * The version a download from disk is sending, followed through the fstat made after each chunk it
 * reads. A ctime that moved alone (OpenState.CtimeOnly) cannot say whether bytes changed: the caller
 * hashes the open content against the ETag before sending that chunk, and if it matches, `accept`s
 * the new ctime and reads the chunk again. The chunks sent before were each read before the ctime
 * moved (a write updates the ctime before it copies its bytes in), so they are the version's; the
 * chunk read again comes from content that hashed to the ETag. So a rollback (`rsync --inplace`) that
 * puts the old bytes back after a write leaves nothing of the write in the body, and a name gained
 * then lost within one chunk, which leaves as many names as before, no longer cuts the download.
 */
export class OpenVersion {
  private ctimeNs: bigint;

  constructor(private readonly identity: FileIdentity) {
    this.ctimeNs = identity.ctimeNs;
  }

  /** `s`: an fstat of the open file after a chunk was read from it. */
  check(s: BigIntStats): OpenState {
    const a = this.identity;
    if (s.ino !== a.ino || s.mtimeNs !== a.mtimeNs || s.size !== a.size || s.dev !== a.dev) return OpenState.Changed;
    return s.ctimeNs === this.ctimeNs ? OpenState.Same : OpenState.CtimeOnly;
  }

  /** The content at ctime `s.ctimeNs` hashed to the ETag: later chunks are checked against that ctime. */
  accept(s: BigIntStats): void {
    this.ctimeNs = s.ctimeNs;
  }
}

export function equalIdentities(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.ctimeNs === b.ctimeNs && a.mtimeNs === b.mtimeNs && a.size === b.size && a.dev === b.dev;
}

/**
 * A second write within the timestamp tick of the first keeps the identity, so a file changed this
 * recently ("racily clean", as git calls it) is re-read on the next scan. 2 s covers the coarsest
 * common clocks (FAT's 2 s mtime; ext3, HFS+ and many network file systems use 1 s).
 */
const RACY_WINDOW_NS = 2_000_000_000n;

/** Milliseconds exactly as a plain `stat` computes them (seconds * 1000 + nanoseconds / 1e6). */
export function msOf(ns: bigint): number {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    // Before 1970: the kernel's timespec has negative seconds and a positive nanosecond part.
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

/** True when the version read at `readAtMs` may yet change within its timestamp tick (see RACY_WINDOW_NS). */
export function isRacy(identity: FileIdentity, readAtMs: number): boolean {
  const age = BigInt(readAtMs) * 1_000_000n - identity.ctimeNs;
  // A ctime far in the future (a skewed network file system) is not treated as racy: every scan would re-read it.
  return age < RACY_WINDOW_NS && age > -RACY_WINDOW_NS;
}
