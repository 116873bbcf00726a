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
 * For a file already open and being read: true when its bytes may still be those of `a`. As
 * `sameIdentity`, except that the ctime may be newer when the number of names differs from the
 * `links` it had when read: a rename deploy unlinks the old inode, `cp -al`, `rsync --link-dest` and
 * a pnpm store link it, none of which touch the bytes; its device, inode, size and mtime must still
 * match. A write with its mtime put back changes only the ctime too, so the caller hashes the open
 * content when the ctime differs (see unchangedButCtime). With the same number of names a newer
 * ctime is a write (or a chmod): cut, since only the final content can be hashed, not what was sent
 * before a rollback.
 */
export function unchangedWhileOpen(a: FileIdentity, s: BigIntStats, links: number): boolean {
  if (equalIdentities(a, s)) return true;
  return s.nlink !== BigInt(links) && a.ino === s.ino && a.mtimeNs === s.mtimeNs && a.size === s.size && a.dev === s.dev;
}

/** True when `s` passes unchangedWhileOpen only through its ctime exception. */
export function unchangedButCtime(a: FileIdentity, s: BigIntStats, links: number): boolean {
  return !equalIdentities(a, s) && unchangedWhileOpen(a, s, links);
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
