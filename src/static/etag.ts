import { createHash, type Hash } from 'node:crypto';
import { read } from 'node:fs';

/**
 * A new hash of the kind every ETag is made of (SHA-256): the scan, the hashing threads and the
 * checks of bodies held or read again all take it here, so that their tags compare.
 */
export function newEtagHash(): Hash {
  return createHash('sha256');
}

/** An ETag's length in characters: 27 base64url characters of the digest (162 bits), in quotes. */
export const ETAG_LENGTH = 29;

/** The strong ETag of content with this digest (from newEtagHash). */
export function etagOf(digest: Buffer): string {
  return `"${digest.toString('base64url').slice(0, ETAG_LENGTH - 2)}"`;
}

/**
 * Hashes the first `size` bytes of an open file and calls back whether they have `etag` (rare path:
 * see DiskSend.contentMatches). Positioned reads, so a shared fd's offset is not touched; a read
 * error or a short file counts as a mismatch.
 */
export function fdHasEtag(fd: number, size: number, etag: string, done: (same: boolean) => void): void {
  const hash = newEtagHash();
  const buffer = Buffer.allocUnsafe(Math.min(size, 256 * 1024) || 1);
  const next = (pos: number): void => {
    if (pos >= size) return done(etagOf(hash.digest()) === etag);
    read(fd, buffer, 0, Math.min(buffer.length, size - pos), pos, (err, n) => {
      if (err !== null || n === 0) return done(false);
      hash.update(buffer.subarray(0, n));
      next(pos + n);
    });
  };
  next(0);
}
