import { isOws } from './tokens.js';

/**
 * Calls `visit(start, stop)` with the bounds of each non-empty element of a list field value (RFC
 * 9110 §5.6.1: elements separated by "," with OWS around them; empty elements count for nothing),
 * in order, until `visit` returns true; returns whether one did. No allocation: the bounds index
 * `value`, for comparisons in place.
 */
export function someListElement(value: string, visit: (start: number, stop: number) => boolean): boolean {
  let i = 0;
  while (i <= value.length) {
    let end = value.indexOf(',', i);
    if (end === -1) end = value.length;
    let start = i;
    let stop = end;
    while (start < stop && isOws(value.charCodeAt(start))) start++;
    while (stop > start && isOws(value.charCodeAt(stop - 1))) stop--;
    if (stop > start && visit(start, stop)) return true;
    i = end + 1;
  }
  return false;
}
