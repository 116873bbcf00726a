/** 128 + SIGINT's number: the exit status shells report for a process ended by Ctrl-C. */
export const INTERRUPTED = 130;

/**
 * A SIGINT this soon after the first is the same Ctrl-C delivered twice, not the user insisting: a
 * terminal signals its whole foreground process group, and npm, in it, passes its own SIGINT on to
 * the server its script exec'd (`npm start`), ~5 ms later. A second press takes a person longer.
 */
const SAME_CTRL_C_MS = 250;

/** Removes the handlers stopWhileStarting installed; null once onStopSignals took over. */
let startingStop: (() => void) | null = null;

/**
 * SIGTERM, SIGQUIT (nginx's graceful stop, `nginx -s quit`) and a first SIGINT call `graceful` (once),
 * after writing `announce` (if any) on stderr, with how to stop at once: a server finishing a long
 * download would otherwise seem to ignore the Ctrl-C. A SIGINT while already stopping
 * (SAME_CTRL_C_MS after the first, or any after a SIGTERM) is the user insisting: `abort` runs (the
 * cluster primary kills its workers) and the process exits at once with 130. A repeated SIGTERM
 * changes nothing: supervisors send it, then SIGKILL at their deadline.
 */
export function onStopSignals(graceful: () => void, abort: () => void = () => {}, announce?: string): void {
  startingStop?.();
  startingStop = null;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    // "again" only after a Ctrl-C: after a supervisor's SIGTERM it read as if one had been pressed.
    if (announce !== undefined) process.stderr.write(`${announce}; ${signal === 'SIGINT' ? 'Ctrl-C again' : 'a SIGINT (Ctrl-C)'} exits at once\n`);
    graceful();
  };
  process.on('SIGTERM', stop);
  process.on('SIGQUIT', stop);
  let firstInterrupt = -Infinity;
  process.on('SIGINT', (signal) => {
    if (!stopping) {
      firstInterrupt = performance.now();
      stop(signal);
      return;
    }
    if (performance.now() - firstInterrupt < SAME_CTRL_C_MS) return;
    abort();
    process.exit(INTERRUPTED);
  });
}

/**
 * Until onStopSignals takes over: SIGTERM, SIGQUIT or SIGINT while the server is starting (the first scan of
 * a large tree takes seconds) ends the process with a line and exit 0, as later, where the signal's
 * default action ended it silently with 143 or 130. Nothing listens yet, so nothing is cut.
 */
export function stopWhileStarting(): void {
  const stop = (): void => {
    process.stderr.write('xorigin: stopped while starting (nothing was listening yet)\n');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGQUIT', stop);
  process.on('SIGINT', stop);
  startingStop = () => {
    process.off('SIGTERM', stop);
    process.off('SIGQUIT', stop);
    process.off('SIGINT', stop);
  };
}
