/** 128 + SIGINT's number: the exit status shells report for a process ended by Ctrl-C. */
export const INTERRUPTED = 130;

/**
 * SIGTERM and a first SIGINT call `graceful` (once), after writing `announce` (if any) on stderr:
 * a server finishing a long download would otherwise seem to ignore the Ctrl-C. A SIGINT while
 * already stopping is the user insisting: `abort` runs (the cluster primary kills its workers) and
 * the process exits at once with 130. A repeated SIGTERM changes nothing: supervisors send it,
 * then SIGKILL at their deadline.
 */
export function onStopSignals(graceful: () => void, abort: () => void = () => {}, announce?: string): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (announce !== undefined) process.stderr.write(`${announce}\n`);
    graceful();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => {
    if (!stopping) {
      stop();
      return;
    }
    abort();
    process.exit(INTERRUPTED);
  });
}
