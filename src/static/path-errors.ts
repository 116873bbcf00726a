/**
 * The errors that say a path has nothing to serve: gone, not a directory, a symlink loop, a name too
 * long, or not readable by this process (the operator's chmod). Any other system error (EIO, ESTALE,
 * EMFILE…) says nothing about the file: the scan keeps what it knew and looks again. Taking them for
 * "gone" answered 404, with nothing said, until the file next changed: for every file when the
 * process ran out of descriptors (a flood of HTTP/2 streams each holding a file open), for a font
 * whose disk failed one read.
 */
const ABSENT: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'ERR_ACCESS_DENIED']);
/**
 * Not readable by this process: gone from what is served, and said (see AssetTable's deniedNotice).
 * ERR_ACCESS_DENIED: Node's permission model (`--allow-fs-read` not covering the path).
 */
export const DENIED: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'ERR_ACCESS_DENIED']);
/** Out of descriptors or memory: the process's own state, brief; the scan keeps what it knew. */
export const EXHAUSTED: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOMEM']);
/** Out of file descriptors, the process's (EMFILE) or the system's (ENFILE): said on stderr (descriptor-shortage.ts). */
export const OUT_OF_DESCRIPTORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE']);

/** A system error's code (`ENOENT`…), or '' for anything else. */
export function errorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * An error that says nothing about the path (see ABSENT): keep what was known and look again. An
 * error with no system code is one too: the file's absence is not what it says, and taking it for
 * that dropped files with nothing said (a hashing thread that could not start).
 */
export function isTransient(e: unknown): boolean {
  return !ABSENT.has(errorCode(e));
}

/** For a `.catch`: a path that is gone reads as null; a transient error is passed on. */
export function goneOrThrow(e: unknown): null {
  if (isTransient(e)) throw e;
  return null;
}
