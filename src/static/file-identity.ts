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

/** The identity of a file from a `stat(path, { bigint: true })` (or `fstat`) result. */
export function identityOf(s: BigIntStats): FileIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** True when `s` (a bigint stat) still describes the file version `a` was taken from. */
export function sameIdentity(a: FileIdentity, s: BigIntStats): boolean {
  return equalIdentities(a, s);
}

/**
 * The version a download from disk is sending, followed through the fstat made after each chunk it
 * reads: true from `check` while the bytes read so far may all be that version's. Device, inode,
 * size and mtime must stay those of `identity`. The ctime may move only along with the number of
 * names, within the same interval between two chunks: a rename deploy unlinks the old inode, `cp -al`,
 * `rsync --link-dest` and a pnpm store link it, none of which touch the bytes. A ctime that moved
 * with as many names as at the chunk before is a write or a chmod: the caller cuts, since bytes
 * already sent cannot be checked again (an `rsync --inplace` rollback puts the old bytes and mtime
 * back after the reader sent the new ones). Checked at every chunk, not only the first and last: a
 * name gained then lost (a link deploy, then the old release pruned) left as many names as when read
 * and cut the download. A write in the same interval as a name change shows only in the content,
 * which the caller hashes before the body ends when `namesChanged`.
 */
export class OpenVersion {
  /** A name was added or removed while open: the content must hash to the ETag before the end. */
  namesChanged = false;
  private ctimeNs: bigint;
  private links = -1n;

  constructor(private readonly identity: FileIdentity) {
    this.ctimeNs = identity.ctimeNs;
  }

  /** `s`: an fstat of the open file after a chunk was read from it. */
  check(s: BigIntStats): boolean {
    const a = this.identity;
    if (s.ino !== a.ino || s.mtimeNs !== a.mtimeNs || s.size !== a.size || s.dev !== a.dev) return false;
    const links = this.links;
    this.links = s.nlink;
    if (s.ctimeNs === this.ctimeNs) return true;
    // The first chunk is checked against the table's identity as it is (the headers are not out yet).
    if (links === -1n || s.nlink === links) return false;
    this.ctimeNs = s.ctimeNs;
    this.namesChanged = true;
    return true;
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
