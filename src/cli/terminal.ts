// What `xorigin check` writes to a terminal: values come from the server checked or from a HAR file,
// so nothing in them may act as a control sequence.
import { hex, UNSAFE } from '../http/terminal-safe.js';

/** Where the command writes: its report, and its one-line errors. */
export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** One line of the report made safe for a terminal (one rule for every line xorigin writes). */
export { terminalSafe } from '../http/terminal-safe.js';

/** For JSON.stringify's output, which already escapes C0 controls: the rest of UNSAFE. */
const UNSAFE_IN_JSON = new RegExp(`[${UNSAFE}]`, 'g');

/** JSON for a terminal, still valid JSON: what JSON.stringify leaves as it is of terminalSafe's characters is written `\uXXXX`. */
export const safeJson = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
