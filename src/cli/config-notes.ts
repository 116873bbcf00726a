import { chainNotes } from '../static/tls.js';
import { terminalSafe } from '../http/terminal-safe.js';
import type { Settings } from './config.js';

/**
 * Prints on stderr what is doubtful in the certificate chain about to be put in force (see
 * chainNotes): at start-up, and after a reload that validated. Only a single process or the primary
 * says it, from the bytes it validated (`files`: by path, as read); workers never do, so it is said
 * once. Advice only: a failure here is swallowed, never the end of a reload or of the process.
 */
export function printChainNotes(settings: Settings, files: ReadonlyMap<string, Buffer>): void {
  try {
    const path = settings.options.tls?.cert;
    const bytes = path === undefined ? undefined : files.get(path);
    if (path === undefined || bytes === undefined) return;
    // A certificate's names and the file's path may hold control characters.
    for (const note of chainNotes(bytes, path)) process.stderr.write(`xorigin: warning: ${terminalSafe(note)}\n`);
  } catch {
    // Nothing to say, then.
  }
}
