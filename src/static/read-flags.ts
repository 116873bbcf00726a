import { constants } from 'node:fs';

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
