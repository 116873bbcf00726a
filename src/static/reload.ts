import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SERVER_SCHEMA, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { validateServable } from './root-problem.js';

/**
 * What a reload did: the options whose new value is in force, and those that changed but take
 * effect only after a restart. Nothing is ignored silently: every changed option is in one list.
 */
export interface ReloadReport {
  readonly applied: readonly string[];
  readonly needsRestart: readonly string[];
}

/**
 * Options a running server keeps until a restart: the directory scanned and how (root,
 * smallFileLimit, memoryBudget, etagCache, watch), and what is negotiated per connection (HTTP/2, TLS on or off). The
 * CLI adds its own (port, host, workers), which decide what is bound.
 */
export const RESTART_ONLY: readonly string[] = ['root', 'smallFileLimit', 'memoryBudget', 'etagCache', 'watch', 'http2'];

/**
 * Same value for the report. Functions (the log, debug, cors.onDenied) by identity, at any depth:
 * JSON.stringify drops them, so a new onDenied alone read as "nothing changed" though it was put
 * in force. The CLI gives the same function for the same destination (cli/config.ts).
 */
function same(name: string, a: unknown, b: unknown): boolean {
  if (name === 'root') return sameDirectory(String(a), String(b));
  return comparable(a) === comparable(b);
}

/**
 * One directory: the same path, or two paths without a symlink in them (a bind mount) to the same
 * device and inode. A path through a symlink is another root even when it points at the same
 * directory now: the server follows the path it was given (root-location.ts), so after the link
 * is switched the two would serve different trees.
 */
function sameDirectory(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    if (realpathSync(a) !== resolve(a) || realpathSync(b) !== resolve(b)) return false;
    const x = statSync(a, { bigint: true });
    const y = statSync(b, { bigint: true });
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false; // a path that is gone or cannot be looked up (too long, a loop): rootProblem names it
  }
}

const functionIds = new WeakMap<object, number>();
let functionsSeen = 0;

function comparable(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'function') return v;
    let id = functionIds.get(v);
    if (id === undefined) functionIds.set(v, (id = ++functionsSeen));
    return `function #${id}`;
  });
}

/**
 * The options of a reload, validated completely: as validate(), and a root other than the one in
 * force must be a directory a restart could serve, though it applies only then (a reload that
 * would leave the server unable to restart is refused, as the CLI refuses it).
 * @throws PolicyError naming every problem found.
 */
export function validateReload(inForce: ResolvedServerOptions, next: ServerOptions): ResolvedServerOptions {
  return validateServable(next, (root) => !same('root', inForce.root, root));
}

/**
 * Compares the options in force with new ones (both already validated; `before`/`after` are
 * what was given last and now, `old`/`next` what validation made of them, `old` as kept by
 * keepRestartOnly).
 * A restart-only option is compared by its resolved value, so `"http2": true` given where the
 * default (true) was in force is no change. A renewed certificate counts as a change even under
 * the same file names.
 */
export function planReload(before: ServerOptions, after: ServerOptions, old: ResolvedServerOptions, next: ResolvedServerOptions): ReloadReport {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const given = before as unknown as Record<string, unknown>;
  const wanted = after as unknown as Record<string, unknown>;
  const was = old as unknown as Record<string, unknown>;
  const now = next as unknown as Record<string, unknown>;
  for (const spec of SERVER_SCHEMA) {
    const name = spec.name;
    if (name === 'tls') continue;
    if (RESTART_ONLY.includes(name)) {
      if (!same(name, was[name], now[name])) needsRestart.push(name);
    } else if (!same(name, given[name], wanted[name])) applied.push(name);
  }
  if ((old.tls === null) !== (next.tls === null)) needsRestart.push('tls');
  else if (old.tls !== null && next.tls !== null && !(old.tls.cert.equals(next.tls.cert) && old.tls.key.equals(next.tls.key))) applied.push('tls');
  return { applied, needsRestart };
}

/**
 * The resolved options in force after a reload: the new ones, but the restart-only ones as they
 * were, TLS included when the reload would turn it on or off (a later renewal must still apply to
 * the server's own), so the next reload is compared against what is really in force.
 */
export function keepRestartOnly(old: ResolvedServerOptions, fresh: ResolvedServerOptions): ResolvedServerOptions {
  const out = { ...fresh, tls: (old.tls === null) !== (fresh.tls === null) ? old.tls : fresh.tls } as unknown as Record<string, unknown>;
  const was = old as unknown as Record<string, unknown>;
  for (const name of RESTART_ONLY) out[name] = was[name];
  return out as unknown as ResolvedServerOptions;
}

/** One line for a log or terminal: `applied: cors, tls; needs a restart: root`. */
export function describeReload(report: ReloadReport): string {
  const parts = [report.applied.length === 0 ? 'nothing changed' : `applied: ${report.applied.join(', ')}`];
  if (report.needsRestart.length > 0) parts.push(`needs a restart to change: ${report.needsRestart.join(', ')}`);
  return parts.join('; ');
}
