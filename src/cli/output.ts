/**
 * What the CLI writes on stdout (the URL, the access log) and stderr (everything else), and what
 * happens when nobody reads it. A log pipeline's reader exits or restarts (`| head`, `| logger`,
 * rotatelogs, a container's log driver): a pipe then fails each write with EPIPE, as an 'error'
 * event on process.stdout or process.stderr that, unheard, ends the process. A reader that stops
 * reading makes node queue every line in memory. Neither may stop or swell a server: the lines
 * are dropped instead, and stderr says so once (while it has a reader).
 */

import { speaker } from '../static/stderr-line.js';

/** Queued on stdout past this, access-log lines are dropped until the reader catches up. */
const QUEUE_LIMIT = 16 * 1024 * 1024;

let dropped = 0;
let guarded = false;

function note(line: string): void {
  if (process.stderr.writable) process.stderr.write(`${speaker()}${line}\n`);
}

/**
 * Listens for the streams' errors, once per process: a write to a pipe with no reader then fails
 * alone. stdout's failure is said on stderr once; stderr's cannot be said anywhere.
 */
export function guardOutput(): void {
  if (guarded) return;
  guarded = true;
  let said = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (said) return;
    said = true;
    note(`stdout failed (${e.code ?? e.message}): its reader is gone; the access log is not written from now on`);
  });
  process.stderr.on('error', () => {});
}

/** The access log's sink: one line on stdout, dropped when stdout has no reader or one that lags. */
export function toStdout(line: string): void {
  const out = process.stdout;
  if (!out.writable) return;
  if (out.writableLength > QUEUE_LIMIT) {
    if (dropped++ === 0) note(`stdout's reader is not reading (${QUEUE_LIMIT / 1048576} MiB queued): access-log lines are dropped until it does`);
    return;
  }
  if (dropped > 0) {
    note(`stdout's reader is reading again; ${String(dropped)} access-log lines were dropped`);
    dropped = 0;
  }
  out.write(`${line}\n`);
}

/** Explain mode's sink: one line on stderr. */
export function toStderr(line: string): void {
  if (process.stderr.writable) process.stderr.write(`${line}\n`);
}
