/**
 * Characters a terminal must not be given as themselves, beside tab and newline: C0 and C1 controls
 * and DEL (a byte 0x9B reads as U+009B, an 8-bit CSI), U+2028/U+2029 (line breaks to some viewers),
 * and the bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9), which reorder what follows
 * them on the line: a file name or HAR value holding U+202E showed the rest of the line reversed,
 * so a warning could read as something else ("Trojan Source", CVE-2021-42574).
 */
export const UNSAFE = '\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2028\\u2029\\u2066-\\u2069';
const UNSAFE_IN_LINE = new RegExp(`[\\x0a${UNSAFE}]`, 'g');

export const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0');

/**
 * Text made safe for a terminal: names from the served tree (any bytes but `/` and NUL on Linux),
 * header values from a server checked and HAR values from any JSON reach stderr and stdout, so the
 * characters above, and newline, are written as escapes (`\x1b`, `\u202e`), never as themselves.
 * Tab is left as it is.
 */
export function terminalSafe(line: string): string {
  return line.replace(UNSAFE_IN_LINE, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${hex(code, 4)}` : `\\x${hex(code, 2)}`;
  });
}
