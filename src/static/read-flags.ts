import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Flags for opening, by its path, a file the scan found: to hash it, to hold its body, to serve it.
 * Since the scan's stat the path may have become something else: a symlink (to /etc/shadow: a scan
 * read its bytes, found them consistent on a second attempt, and served them) or a FIFO (the open
 * waited for a writer forever, holding the scan, or a request, and a libuv thread: four requests
 * stopped every file operation of the server). O_NOFOLLOW refuses the symlink (ELOOP), and
 * O_NONBLOCK opens a FIFO at once (its positioned reads then fail); on a regular file it changes
 * nothing. 0 where a flag is missing.
 */
export const READ_BY_PATH = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Read-only, not waiting for a writer should the path be a FIFO; a symlink is followed (the ETag cache's file). */
export const READ_NONBLOCK = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * The bytes of a small regular file named by an operator (a certificate, a key, the config file),
 * read synchronously at start-up or on a reload. Throws when it is not one: a FIFO (a plain read
 * waited for a writer, with the event loop and so every request stopped) or a device such as
 * /dev/zero (read to the end, it grew the process by 250 MB/s), or a file over `maxBytes`. The
 * message says which (what an `ls -l` would show), for the caller's problem.
 */
export function readSmallRegularFile(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, READ_NONBLOCK);
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw new Error(`not a regular file (${s.isFIFO() ? 'a FIFO' : s.isDirectory() ? 'a directory' : 'a device or socket'})`);
    if (s.size > maxBytes) throw new Error(`${s.size} bytes, over the ${maxBytes}-byte limit for this file`);
    const bytes = Buffer.alloc(s.size);
    const n = readSync(fd, bytes, 0, s.size, 0);
    return n === s.size ? bytes : bytes.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
