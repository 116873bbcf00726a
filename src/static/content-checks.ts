import { fstatSync, type BigIntStats } from 'node:fs';
import { fdHasEtag } from './etag.js';

/** Verdicts kept; past it the oldest is forgotten. */
const KEPT = 256;

/**
 * Whether an open file's content still hashes to an ETag (send-body.ts recheck: a download whose
 * file's ctime moved alone while it was read), decided once per inode and state, not once per
 * response. A deploy renamed over a 512 MB file with 16 downloads paused on it hashed
 * it 16 times, 8 GB on the main thread (attack b23b F3); the responses now share one hash, running
 * or done. The state is the fstat before the hash: device, inode, size, mtime and ctime. A verdict
 * is kept only if the file's state after the hash is still that one: a write during the hash moves
 * the ctime, and the next response hashes again.
 */
export class ContentChecks {
  private readonly verdicts = new Map<string, boolean>();
  private readonly running = new Map<string, ((same: boolean) => void)[]>();
  /** Hashes run, for tests. */
  hashes = 0;

  /** Calls back with whether `fd` (whose fstat is `s`) holds `size` bytes that hash to `etag`. */
  matches(fd: number, s: BigIntStats, size: number, etag: string, done: (same: boolean) => void): void {
    const key = stateKey(s, etag);
    const verdict = this.verdicts.get(key);
    if (verdict !== undefined) return done(verdict);
    const waiting = this.running.get(key);
    if (waiting !== undefined) return void waiting.push(done);
    this.running.set(key, [done]);
    this.hashes++;
    fdHasEtag(fd, size, etag, (same) => {
      const waiters = this.running.get(key) ?? [];
      this.running.delete(key);
      if (stillAt(fd, key, etag)) this.keep(key, same);
      for (const waiter of waiters) waiter(same);
    });
  }

  private keep(key: string, same: boolean): void {
    // A Map iterates in insertion order: its first key is the oldest verdict.
    if (this.verdicts.size >= KEPT) this.verdicts.delete(this.verdicts.keys().next().value as string);
    this.verdicts.set(key, same);
  }
}

function stateKey(s: BigIntStats, etag: string): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${etag}`;
}

/** True when `fd` is still in the state `key` was made from (its fd may be closed: false then). */
function stillAt(fd: number, key: string, etag: string): boolean {
  try {
    const s = fstatSync(fd, { bigint: true });
    return key === stateKey(s, etag);
  } catch {
    return false;
  }
}
