import { chainNotes } from '../static/tls.js';
import { terminalSafe } from '../http/terminal-safe.js';
import type { Settings } from './config.js';

/**
 * Prints on stderr the warnings about a configuration about to be put in force, valid but doubtful:
 * at start-up, and after a reload that validated. Only a single process or the primary says them,
 * from the bytes it validated (`files`: by path, as read); workers never do, so each is said once.
 * Advice only: a failure here is swallowed, never the end of a reload or of the process.
 */
export function printConfigNotes(settings: Settings, files: ReadonlyMap<string, Buffer>): void {
  try {
    printIdleOptions(settings);
    printSubsecondKeepAlive(settings);
    printChainNotes(settings, files);
  } catch {
    // Nothing to say, then.
  }
}

/**
 * An option given that does nothing as combined, since the server would otherwise run as if it were
 * not there: a log format with the access log off (`--log-format json` alone).
 */
function printIdleOptions({ options }: Settings): void {
  if (options.logFormat === undefined || options.log !== undefined) return;
  process.stderr.write(`xorigin: warning: logFormat = "${options.logFormat}" has no effect: the access log is off; fix: add --log (config: "log": true), or remove the format\n`);
}

/**
 * A keep-alive timeout under a second, which `Keep-Alive: timeout=` (whole seconds, rounded down, as
 * node:http writes it) advertises as 0: a client may take that as "do not reuse" (review h51).
 */
function printSubsecondKeepAlive({ options }: Settings): void {
  const ms = options.keepAliveTimeout;
  if (ms === undefined || ms >= 1000) return;
  process.stderr.write(`xorigin: warning: keepAliveTimeout = ${ms} ms is advertised as "Keep-Alive: timeout=0" (whole seconds, rounded down), which a client may read as "do not reuse this connection"; fix: give 1000 or more\n`);
}

/** What is doubtful in the certificate chain (see chainNotes). */
function printChainNotes(settings: Settings, files: ReadonlyMap<string, Buffer>): void {
  const path = settings.options.tls?.cert;
  const bytes = path === undefined ? undefined : files.get(path);
  if (path === undefined || bytes === undefined) return;
  // A certificate's names and the file's path may hold control characters.
  for (const note of chainNotes(bytes, path)) process.stderr.write(`xorigin: warning: ${terminalSafe(note)}\n`);
}
