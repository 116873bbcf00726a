import cluster, { type Worker } from 'node:cluster';
import { PolicyError } from '../cors/errors.js';
import { describeReload } from '../static/reload.js';
import type { XoriginServer } from '../static/server.js';
import type { Settings } from './config.js';

/** Reads every source again (flags, environment, config file, certificate files), or throws PolicyError. */
export type Reread = () => Settings;

/** What the CLI binds or forks: a reload reports a change of these as needing a restart. */
const BOUND = ['port', 'host', 'workers'] as const;

/** The message a cluster primary sends its workers, and the answer each sends back. */
interface ReloadRequest {
  readonly xorigin: 'reload';
}
interface ReloadAnswer {
  readonly xorigin: 'reloaded';
  readonly ok: boolean;
  readonly line: string;
}

function refused(e: unknown): string {
  if (!(e instanceof PolicyError)) throw e;
  return `reload refused, the running configuration stays in force: ${e.message}`;
}

/**
 * Reloads one server from the sources; returns the line to print. `running` is updated to what is
 * now in force, so the next reload compares against it.
 */
export function reloadServer(server: XoriginServer, running: { settings: Settings }, reread: Reread): ReloadAnswer {
  let next: Settings;
  try {
    next = reread();
    const report = server.reload(next.options);
    const bound = BOUND.filter((name) => next[name] !== running.settings[name]);
    running.settings = { ...next, port: running.settings.port, host: running.settings.host, workers: running.settings.workers };
    const line = describeReload({ applied: report.applied, needsRestart: [...report.needsRestart, ...bound] });
    return { xorigin: 'reloaded', ok: true, line: `reloaded: ${line}` };
  } catch (e) {
    return { xorigin: 'reloaded', ok: false, line: refused(e) };
  }
}

/**
 * One process: SIGHUP reloads and says how on stderr. A cluster worker: the primary asks (it
 * validated first); the worker answers it, and a SIGHUP sent to the worker itself (a whole
 * process group hung up) is ignored instead of ending it.
 */
export function reloadOnSignal(server: XoriginServer, settings: Settings, reread: Reread): void {
  const running = { settings };
  if (cluster.isWorker) {
    process.on('SIGHUP', () => {});
    process.on('message', (m: Partial<ReloadRequest>) => {
      if (m?.xorigin === 'reload') process.send?.(reloadServer(server, running, reread));
    });
    return;
  }
  process.on('SIGHUP', () => process.stderr.write(`xorigin: ${reloadServer(server, running, reread).line}\n`));
}

/**
 * The cluster primary on SIGHUP: validates the sources once (on a problem nothing is forwarded),
 * then asks each worker to reload and prints each worker's answer.
 */
export function forwardReloads(workers: () => Worker[], reread: Reread): void {
  cluster.on('message', (worker: Worker, m: Partial<ReloadAnswer>) => {
    if (m?.xorigin === 'reloaded') process.stderr.write(`xorigin: worker ${String(worker.process.pid)}: ${String(m.line)}\n`);
  });
  process.on('SIGHUP', () => {
    try {
      reread();
    } catch (e) {
      process.stderr.write(`xorigin: ${refused(e)}\n`);
      return;
    }
    const request: ReloadRequest = { xorigin: 'reload' };
    for (const w of workers()) w.send(request);
  });
}
