import { someListElement } from './field-list.js';
import { rangeEqualsLower } from './tokens.js';

/**
 * True when a Connection field value (RFC 9110 §7.6.1: a list of connection options) has `option`, in
 * any case: `close` (the sender will close the connection after this message, and a server MUST too,
 * RFC 9112 §9.6), `upgrade` (beside an Upgrade field, the client asks to switch protocols on this
 * connection, RFC 9110 §7.8), or `keep-alive` (an HTTP/1.0 client asks to keep the connection, RFC
 * 9112 §9.3).
 */
export function hasConnectionOption(value: string, option: 'close' | 'upgrade' | 'keep-alive'): boolean {
  return someListElement(value, (start, stop) => rangeEqualsLower(value, start, stop, option));
}

/** hasConnectionOption(value, 'close'). */
export const hasCloseOption = (value: string): boolean => hasConnectionOption(value, 'close');
