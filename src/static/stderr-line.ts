import cluster from 'node:cluster';

/**
 * `xorigin: `, and in a node:cluster worker `xorigin: worker PID: `. Under --workers every worker keeps
 * its own asset table and watcher, so N workers say the same thing N times (a root gone, a file that
 * cannot be read); the pid makes each line one worker's, matched to the primary's line about a worker
 * that died.
 */
export function speaker(): string {
  return cluster.isWorker ? `xorigin: worker ${String(process.pid)}: ` : 'xorigin: ';
}

/** Writes `line` (one that starts `xorigin: `) on stderr as this process's own. */
export function sayOnStderr(line: string): void {
  const own = line.startsWith('xorigin: ') ? speaker() + line.slice('xorigin: '.length) : line;
  process.stderr.write(`${own}\n`);
}
