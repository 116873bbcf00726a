import { randomBytes } from 'node:crypto';
import type { PolicyProblem } from '../cors/errors.js';

/**
 * How a cluster primary hands its workers the session ticket keys they share (hex of 48 bytes).
 * Set by the CLI's supervisor (to the user's own, when given); a library user running their own
 * cluster, or several machines behind one address, may set it the same way. A secret: it is never
 * printed, not even in an error.
 */
export const TICKET_KEYS_ENV = 'XORIGIN_TLS_TICKET_KEYS';

/** node:tls's `ticketKeys`: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
const TICKET_KEYS_BYTES = 48;
const TICKET_KEYS_HEX = new RegExp(`^[0-9a-f]{${String(TICKET_KEYS_BYTES * 2)}}$`, 'i');

/** Fresh keys, for a process or a cluster (the supervisor's, passed on in TICKET_KEYS_ENV). */
function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

interface GivenKeys {
  readonly keys: Buffer | null;
  readonly problem: PolicyProblem | null;
}

/** What TICKET_KEYS_ENV held when this process first asked; undefined until then. */
let given: GivenKeys | undefined;

/**
 * TICKET_KEYS_ENV, read once. It is then removed from process.env, so that no child process
 * inherits it and no diagnostic report (process.report, --report-on-fatalerror) lists it.
 * An empty or blank value counts as unset, as `$PORT` does.
 */
function givenKeys(): GivenKeys {
  if (given !== undefined) return given;
  const text = process.env[TICKET_KEYS_ENV]?.trim();
  delete process.env[TICKET_KEYS_ENV];
  given = text === undefined || text === '' ? { keys: null, problem: null } : parseKeys(text);
  return given;
}

/** The keys, or the problem naming the variable, what is wrong and the fix; never the value. */
function parseKeys(text: string): GivenKeys {
  if (TICKET_KEYS_HEX.test(text)) return { keys: Buffer.from(text, 'hex'), problem: null };
  const notHex = /[^0-9a-f]/i.exec(text);
  const reason = notHex === null
    ? `has ${String(text.length)} hex digits; session ticket keys are ${String(TICKET_KEYS_BYTES * 2)} (${String(TICKET_KEYS_BYTES)} bytes)`
    : `has a character that is not a hex digit at position ${String(notHex.index + 1)}`;
  return {
    keys: null,
    problem: {
      option: `$${TICKET_KEYS_ENV}`,
      value: `(${String(text.length)} characters, not shown: a secret)`,
      reason,
      fix: `set it to ${String(TICKET_KEYS_BYTES * 2)} hex digits (openssl rand -hex ${String(TICKET_KEYS_BYTES)}), the same in every process that is to resume the others' TLS sessions, or unset it to have fresh keys made at start`,
    },
  };
}

/**
 * A start-up problem when TICKET_KEYS_ENV is set but malformed, else null. Falling back to fresh
 * keys would quietly defeat the one thing the variable is set for (sharing), and the only symptom,
 * clients doing full handshakes, shows nowhere.
 */
export function ticketKeysProblem(): PolicyProblem | null {
  return givenKeys().problem;
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
  return givenKeys().keys ?? newTicketKeys();
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
