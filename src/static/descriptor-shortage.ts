import { readFileSync } from 'node:fs';

/** Said at most this often while the process keeps meeting its limit. */
const NOTE_EVERY_MS = 60_000;
let saidAt = -Infinity;

/**
 * The process's limit on open files (`ulimit -n`, systemd's LimitNOFILE), read from /proc on Linux;
 * null elsewhere or when unreadable.
 */
function openFilesLimit(): string | null {
  try {
    return /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Read while descriptors are free: out of them, /proc/self/limits cannot be opened either. */
const LIMIT_AT_START = openFilesLimit();

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
  const current = code === 'EMFILE' ? openFilesLimit() : null;
  const limit = current !== null ? `: this process may open ${current}` : LIMIT_AT_START !== null ? `: this process could open ${LIMIT_AT_START} at start` : '';
  const whose = code === 'ENFILE' ? 'the system is out of file descriptors (ENFILE)' : `out of file descriptors (EMFILE${limit})`;
  const fix = code === 'ENFILE' ? 'raise fs.file-max, or lower the load' : 'raise the limit (systemd LimitNOFILE=, ulimit -n), or lower the load';
  process.stderr.write(`xorigin: ${whose}: files read from disk answer 503, changes to the tree wait, and new connections are closed at once until some are free; ${fix}; said at most once a minute\n`);
}
