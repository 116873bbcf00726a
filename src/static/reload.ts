import { resolve } from 'node:path';
import { SERVER_SCHEMA, type ResolvedServerOptions, type ServerOptions } from './options.js';

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
const RESTART_ONLY: readonly string[] = ['root', 'smallFileLimit', 'memoryBudget', 'etagCache', 'watch', 'http2'];

/**
 * Same value for the report. Functions (the log, debug, cors.onDenied) by identity, at any depth:
 * JSON.stringify drops them, so a new onDenied alone read as "nothing changed" though it was put
 * in force. The CLI gives the same function for the same destination (cli/config.ts).
 */
function same(name: string, a: unknown, b: unknown): boolean {
  if (name === 'root') return resolve(String(a)) === resolve(String(b));
  return comparable(a) === comparable(b);
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
 * Compares the options in force with new ones (both already validated; `before`/`after` are
 * what was given, `resolved` what validation made of them). A renewed certificate counts as a
 * change even under the same file names.
 */
export function planReload(before: ServerOptions, after: ServerOptions, old: ResolvedServerOptions, next: ResolvedServerOptions): ReloadReport {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const given = before as unknown as Record<string, unknown>;
  const wanted = after as unknown as Record<string, unknown>;
  for (const spec of SERVER_SCHEMA) {
    const name = spec.name;
    if (name === 'tls') continue;
    if (same(name, given[name], wanted[name])) continue;
    (RESTART_ONLY.includes(name) ? needsRestart : applied).push(name);
  }
  if ((old.tls === null) !== (next.tls === null)) needsRestart.push('tls');
  else if (old.tls !== null && next.tls !== null && !(old.tls.cert.equals(next.tls.cert) && old.tls.key.equals(next.tls.key))) applied.push('tls');
  return { applied, needsRestart };
}

/**
 * The options in force after a reload: the new ones, except what needs a restart, which keeps its
 * old value (so the next reload is compared against what is really in force).
 */
export function inForce(before: ServerOptions, after: ServerOptions, report: ReloadReport): ServerOptions {
  const out = { ...after } as unknown as Record<string, unknown>;
  const old = before as unknown as Record<string, unknown>;
  for (const name of report.needsRestart) out[name] = old[name];
  return out as unknown as ServerOptions;
}

/** One line for a log or terminal: `applied: cors, tls; needs a restart: root`. */
export function describeReload(report: ReloadReport): string {
  const parts = [report.applied.length === 0 ? 'nothing changed' : `applied: ${report.applied.join(', ')}`];
  if (report.needsRestart.length > 0) parts.push(`needs a restart to change: ${report.needsRestart.join(', ')}`);
  return parts.join('; ');
}
