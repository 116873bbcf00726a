// What `xorigin check` writes to a terminal: values come from the server checked or from a HAR file,
// so nothing in them may act as a control sequence.

/** Where the command writes: its report, and its one-line errors. */
export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** One line of the report made safe for a terminal (one rule for every line xorigin writes). */
export { terminalSafe } from '../http/terminal-safe.js';

/** JSON for a terminal: JSON.stringify escapes C0 controls; DEL, C1 and U+2028/U+2029 are escaped too (still valid JSON). */
export const safeJson = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(/[\x7f-\x9f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
