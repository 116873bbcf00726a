import { terminalSafe } from '../http/terminal-safe.js';

/** One problem found while validating a policy or server configuration. */
export interface PolicyProblem {
  /** The option at fault, as a path: `origins[2]`, `maxAge`, `cors.methods[0]`. */
  readonly option: string;
  /** The offending value, as given (JSON-rendered in the message). */
  readonly value: unknown;
  /** What is wrong with it. */
  readonly reason: string;
  /** How to fix it. */
  readonly fix: string;
}

/** `option = value` as the message shows it; an option with no value is said to be missing, not `= undefined`. */
function named(option: string, value: unknown): string {
  return value === undefined ? `${option} (not given)` : `${option} = ${render(value)}`;
}

/**
 * The value as JSON, cut at 120 characters. A number JSON cannot write (NaN, Infinity, 1e309 read
 * from a file) and a BigInt are written as JavaScript would, not as `null` or `10` (a valid-looking value).
 */
function render(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const s = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
  } catch {
    // Nested too deep for JSON.stringify (and for String, which recurses the same way), or cyclic.
    return Array.isArray(value) ? '[...]' : typeof value === 'object' && value !== null ? '{...}' : '(unprintable)';
  }
}

function sentence(s: string): string {
  return /[.?!]$/.test(s) ? s : `${s}.`;
}

/**
 * Thrown at start-up when a policy (or server configuration) is invalid. It carries every problem
 * found, never only the first, so a configuration can be fixed in one pass.
 */
export class PolicyError extends Error {
  /** Every problem found, in the order the options were read. */
  readonly problems: readonly PolicyProblem[];

  constructor(problems: readonly PolicyProblem[]) {
    // Option names, values and reasons come from config files and flags anyone may have written: as
    // printed on a terminal, an escape sequence in them would act (clear the screen, set the title).
    const lines = problems.map((p) => terminalSafe(`  - ${named(p.option, p.value)}: ${p.reason}. Fix: ${sentence(p.fix)}`));
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`invalid xorigin configuration (${count}):\n${lines.join('\n')}`);
    this.name = 'PolicyError';
    this.problems = Object.freeze(problems.slice());
  }
}

/**
 * `e` as a PolicyError: itself, or one naming what reading the options threw (a getter or a Proxy
 * of the caller's that throws), so that validation throws nothing else, whatever it is given.
 */
export function asPolicyError(e: unknown): PolicyError {
  if (e instanceof PolicyError) return e;
  let message: string;
  try {
    message = e instanceof Error ? String(e.message) : String(e);
  } catch {
    message = 'a value that cannot be printed'; // an object without toString, a message getter that throws
  }
  return new PolicyError([{ option: '(options)', value: message, reason: 'reading the options threw this error', fix: 'pass plain values (no getter or Proxy that throws)' }]);
}
