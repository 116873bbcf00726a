import { someListElement } from './field-list.js';
import { rangeEqualsLower } from './tokens.js';

/**
 * True when a Connection field value (RFC 9110 §7.6.1: a list of connection options) has the option
 * `close`, in any case: the sender will close the connection after this message, and a server MUST
 * too (RFC 9112 §9.6).
 */
export function hasCloseOption(value: string): boolean {
  return someListElement(value, (start, stop) => rangeEqualsLower(value, start, stop, 'close'));
}

/**
 * True when a Connection field value has the option `upgrade`, in any case: beside an Upgrade field,
 * the client asks to switch protocols on this connection (RFC 9110 §7.8).
 */
export function hasUpgradeOption(value: string): boolean {
  return someListElement(value, (start, stop) => rangeEqualsLower(value, start, stop, 'upgrade'));
}
