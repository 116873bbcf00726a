/**
 * Characters a terminal must not be given as themselves, beside tab and newline: C0 and C1 controls
 * and DEL (a byte 0x9B reads as U+009B, an 8-bit CSI), U+2028/U+2029 (line breaks to some viewers),
 * the bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9), which reorder what follows
 * them on the line: a file name or HAR value holding U+202E showed the rest of the line reversed,
 * so a warning could read as something else ("Trojan Source", CVE-2021-42574); and the characters
 * that show as nothing (U+00A0, U+00AD, U+180E, U+200B, U+2060-4, U+FEFF, U+FFF9-B), with which two
 * different origins printed alike. ZWNJ and ZWJ (U+200C/D), which Persian and emoji need, are kept.
 */
export const UNSAFE = '\\x00-\\x08\\x0b-\\x1f\\x7f-\\xa0\\xad\\u061c\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff\\ufff9-\\ufffb';
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
