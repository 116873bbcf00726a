import { isOws, rangeEqualsLower } from './tokens.js';

/**
 * True when a Connection field value (RFC 9110 §7.6.1: a list of connection options, elements
 * separated by "," and OWS, empty ones allowed, §5.6.1) has the option `close`, in any case: the
 * sender will close the connection after this message, and a server MUST too (RFC 9112 §9.6).
 */
export function hasCloseOption(value: string): boolean {
  let i = 0;
  while (i <= value.length) {
    let end = value.indexOf(',', i);
    if (end === -1) end = value.length;
    let start = i;
    let stop = end;
    while (start < stop && isOws(value.charCodeAt(start))) start++;
    while (stop > start && isOws(value.charCodeAt(stop - 1))) stop--;
    if (rangeEqualsLower(value, start, stop, 'close')) return true;
    i = end + 1;
  }
  return false;
}
