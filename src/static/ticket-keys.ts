import { randomBytes } from 'node:crypto';

/**
 * How a cluster primary hands its workers the session ticket keys they share (hex of 48 bytes).
 * Set by the CLI's supervisor (to the user's own, when given); a library user running their own
 * cluster, or several machines behind one address, may set it the same way.
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
 * tickets with: those in TICKET_KEYS_ENV (its primary's when it is a worker), so a client resumes on
 * whichever worker its next connection is dealt to; else new ones. Left to node:tls, each process
 * and each setSecureContext() (a reload) made its own, and every ticket issued before a reload, even
 * one that changed nothing, cost its client a full handshake (882 µs of server CPU instead of 569,
 * bench/RESULTS-h2.md). Under node:cluster, workers listening on one port also get the first
 * worker's keys from the primary (cluster's _getServerData hand-off), but only while one of them
 * still holds the port: when every worker has died at once, the replacements start anew.
 */
export function ticketKeysForProcess(): Buffer {
  const given = process.env[TICKET_KEYS_ENV];
  if (given !== undefined && /^[0-9a-f]{96}$/i.test(given)) return Buffer.from(given, 'hex');
  return newTicketKeys();
}

/**
 * What a TLS server (and each setSecureContext() of a reload) is given for session resumption:
 * `ticketKeys`, and one session ID context for every xorigin process. A session resumes only where
 * the context matches (OpenSSL SSL_CTX_set_session_id_context), and node:tls makes it a hash of
 * process.argv: a process started with another command line (one more flag, another path), holding
 * the same keys, refused every ticket of the first. Who may resume is decided by the keys alone.
 */
export function resumptionOptions(ticketKeys: Buffer): { ticketKeys: Buffer; sessionIdContext: string } {
  return { ticketKeys, sessionIdContext: 'xorigin' };
}
