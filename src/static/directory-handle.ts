import { close, closeSync, constants, fstat, open, stat, type BigIntStats } from 'node:fs';

/**
 * Linux names an open descriptor's directory under /proc/self/fd: `/proc/self/fd/N/name` is the entry
 * `name` of that very directory, wherever it has been renamed to and whatever its old path names now.
 */
const BY_DESCRIPTOR = process.platform === 'linux' ? '/proc/self/fd/' : null;
/** A directory only, never through a symlink at its last component. */
const OPEN_DIRECTORY = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0);

/** A directory held open while the walk stats and reads its files through it (see holdDirectory). */
export interface DirectoryHandle {
  /** The directory's path through its descriptor: files are `via/name`. */
  readonly via: string;
  /** The directory held, as fstat(2) saw it once opened: the walk's identity of it (see TreeReader.walk). */
  readonly stats: BigIntStats;
  close(): void;
}

/**
 * Opens the directory at `dir` for the walk of its files (openat(2), as Node has none): a file stat'ed
 * and read as `via/name` is the directory's own, even if `dir` is renamed away and a symlink out of the
 * root put in its place meanwhile. By path, such a swap and back (the directory's inode unchanged, so
 * the checks around its walk saw nothing) had the outside files stat'ed, hashed and their bytes held in
 * memory under the directory's URL paths. Resolves null where no directory is there to hold (ELOOP: a
 * symlink now; ENOENT, ENOTDIR), `undefined` where one cannot be held (not Linux, no /proc mounted, as in
 * a chroot; out of descriptors: the walk goes by path, as it did).
 */
export function holdDirectory(dir: string): Promise<DirectoryHandle | null | undefined> {
  if (BY_DESCRIPTOR === null) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    open(dir, OPEN_DIRECTORY, (err, fd) => {
      if (err !== null) return resolve(GONE.has(err.code ?? '') ? null : undefined);
      fstat(fd, { bigint: true }, (e, s: BigIntStats) => {
        const via = `${BY_DESCRIPTOR}${String(fd)}`;
        if (e !== null) return giveUp(fd, resolve);
        const held = { via, stats: s, close: () => closeDirectory(fd) };
        if (performance.now() < namesHeldUntil) return resolve(held);
        // The path must name the directory held: without /proc every file under it was a 404 (review h49).
        stat(via, { bigint: true }, (notThere, named: BigIntStats) => {
          if (notThere !== null || named.ino !== s.ino || named.dev !== s.dev) return giveUp(fd, resolve);
          namesHeldUntil = performance.now() + TRUSTED_MS;
          resolve(held);
        });
      });
    });
  });
}

/**
 * How long a descriptor path found to name the directory held is trusted for the next ones: /proc is
 * mounted for the whole process or not at all, so checking each of a walk's 8,000 directories cost a
 * system call each (one of the nine a directory cost then) for nothing. Checked again after this long, for
 * a /proc unmounted under a running server.
 */
const TRUSTED_MS = 1000;
let namesHeldUntil = -Infinity;

/**
 * Closes a directory's descriptor at once: a directory has nothing to flush, so close(2) does no I/O,
 * and the thread-pool round trip of an asynchronous close cost the walk a callback per directory.
 */
function closeDirectory(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF cannot happen (each handle closes once); EIO/EINTR leave the descriptor closed on Linux.
  }
}

/** Closes `fd` and resolves that no directory is held: the walk goes by path. */
function giveUp(fd: number, resolve: (held: undefined) => void): void {
  close(fd, () => {});
  resolve(undefined);
}

/** What an open of a path the walk listed as a directory says when it is no directory now. */
const GONE: ReadonlySet<string> = new Set(['ELOOP', 'ENOENT', 'ENOTDIR']);
