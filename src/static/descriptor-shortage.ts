import { openSync, readSync } from 'node:fs';
import { sayOnStderr } from './stderr-line.js';

/** Said at most this often while the process keeps meeting its limit. */
const NOTE_EVERY_MS = 60_000;
let saidAt = -Infinity;

/**
 * /proc/self/limits, opened while descriptors are free and kept: out of them it could not be opened,
 * and the limit read at start misleads once `prlimit --pid` (or systemd) changed it since (a fault
 * review: "could open 20000 at start" with a limit of 29). procfs makes the text anew on each read
 * from offset 0. Null off Linux, or when /proc is not mounted.
 */
let limits: number | null | undefined;

/** The process's limit on open files now (`ulimit -n`, systemd's LimitNOFILE); null when unknown. */
function openFilesLimit(): string | null {
  try {
    const buffer = Buffer.alloc(4096);
    const text = buffer.toString('latin1', 0, readSync(limits as number, buffer, 0, buffer.length, 0));
    return /^Max open files\s+(\d+|unlimited)/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Opens /proc/self/limits (see `limits`), once per process: call while descriptors are free. */
export function watchDescriptorLimit(): void {
  if (limits !== undefined) return;
  try {
    limits = openSync('/proc/self/limits', 'r');
  } catch {
    limits = null;
  }
}

/**
 * Says on stderr, at most once a minute, that the process is out of file descriptors (`code`: EMFILE
 * or ENFILE; an open of a file to serve, or a scan of the tree, failed): files read from disk answer
 * 503 meanwhile, changes wait for the next scan, and libuv closes new connections at once, which no
 * listener hears of. Otherwise an operator whose limit is too low saw clients fail with a clean log
 * (found by a fault review).
 */
export function noteDescriptorShortage(code: string): void {
  const now = performance.now();
  if (now - saidAt < NOTE_EVERY_MS) return;
  saidAt = now;
  const current = code === 'EMFILE' && typeof limits === 'number' ? openFilesLimit() : null;
  const limit = current !== null ? `: this process may open ${current}` : '';
  const whose = code === 'ENFILE' ? 'the system is out of file descriptors (ENFILE)' : `out of file descriptors (EMFILE${limit})`;
  const fix = code === 'ENFILE' ? 'raise fs.file-max, or lower the load' : 'raise the limit (systemd LimitNOFILE=, ulimit -n), or lower the load';
  sayOnStderr(`xorigin: ${whose}: files read from disk answer 503, changes to the tree wait, and new connections are closed at once until some are free; ${fix}; said at most once a minute`);
}
