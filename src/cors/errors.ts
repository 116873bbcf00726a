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

function render(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
  } catch {
    return String(value);
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
  readonly problems: readonly PolicyProblem[];

  constructor(problems: readonly PolicyProblem[]) {
    const lines = problems.map((p) => `  - ${named(p.option, p.value)}: ${p.reason}. Fix: ${sentence(p.fix)}`);
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`invalid xorigin configuration (${count}):\n${lines.join('\n')}`);
    this.name = 'PolicyError';
    this.problems = Object.freeze(problems.slice());
  }
}
