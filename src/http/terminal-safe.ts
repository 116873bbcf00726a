/**
 * Text made safe for a terminal: names from the served tree (any bytes but `/` and NUL on Linux),
 * header values from a server checked (a byte 0x9B reads as U+009B, an 8-bit CSI) and HAR values
 * from any JSON reach stderr and stdout, so C0 and C1 controls, DEL and U+2028/U+2029 are written
 * as escapes (\x1b, \u2028), never as themselves. Tab is left as it is.
 */
export function terminalSafe(line: string): string {
  return line.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
