import { randomBytes } from 'node:crypto';

/**
 * How a cluster primary hands its workers the session ticket keys they share (hex of 48 bytes).
 * Set by the CLI's supervisor; a library user running their own cluster may set it the same way.
 */
export const TICKET_KEYS_ENV = 'XORIGIN_TLS_TICKET_KEYS';

/** node:tls's `ticketKeys`: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
const TICKET_KEYS_BYTES = 48;

/** Fresh keys, for a process or a cluster (the supervisor's, passed on in TICKET_KEYS_ENV). */
export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

/**
 * The session ticket keys (RFC 8446 §4.6.1; RFC 5077 for TLS 1.2) this process encrypts its
 * tickets with: its primary's when it is a worker, so a client resumes on whichever worker its next
 * connection is dealt to; else new ones. Left to node:tls, each process and each setSecureContext()
 * (a reload) made its own, and every ticket issued before a reload, even one that changed nothing,
 * cost its client a full handshake (882 µs of server CPU instead of 569, bench/RESULTS-h2.md).
 */
export function ticketKeysForProcess(): Buffer {
  const given = process.env[TICKET_KEYS_ENV];
  if (given !== undefined && /^[0-9a-f]{96}$/i.test(given)) return Buffer.from(given, 'hex');
  return newTicketKeys();
}
