import cluster, { type Worker } from 'node:cluster';
import { PolicyError } from '../cors/errors.js';
import { describeReload } from '../static/reload.js';
import { readingFrom, recordingReads, validatedElsewhere } from '../static/operator-files.js';
import type { XoriginServer } from '../static/server.js';
import { printChainNotes } from './chain-notes.js';
import { BOUND, type Settings } from './config.js';
import { takeEarlySighup } from './early-signals.js';
import { fromWire, toWire, type ConfigInForce, type WireFiles } from './worker-start.js';

/** Reads every source again (flags, environment, config file, certificate files), or throws PolicyError. */
export type Reread = () => Settings;


/**
 * The message a cluster primary sends its workers, and the answer each sends back. `files`: the
 * bytes (base64) of the operator files the primary validated, by path, for the workers to reload
 * from (operator-files.ts).
 */
interface ReloadRequest {
  readonly xorigin: 'reload';
  readonly files: WireFiles;
}
interface ReloadAnswer {
  readonly xorigin: 'reloaded';
  readonly ok: boolean;
  readonly line: string;
}

/**
 * The line for a reload that did not happen. An error other than PolicyError is a fault of ours
 * (validation throws only PolicyError, and everything is validated before anything changes): it
 * is reported with its stack and the process goes on serving, instead of a SIGHUP ending it.
 */
export function refused(e: unknown): string {
  if (e instanceof PolicyError) return `reload refused, the running configuration stays in force: ${e.message}`;
  const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return `reload failed on an unexpected error, still serving (a fault in xorigin, please report this line): ${what}`;
}

/**
 * Reloads one server from the sources; returns the line to print. `running` is updated to what is
 * now in force, so the next reload compares against it.
 */
export function reloadServer(server: XoriginServer, running: { settings: Settings }, reread: Reread): ReloadAnswer {
  let next: Settings;
  try {
    // The server validates again what it puts in force: from the bytes just read, not the disk again.
    const read = recordingReads(reread);
    next = read.value;
    const options = next.options;
    // A worker's reload comes from bytes its primary validated: keep that said (readingFrom's `validated`).
    const report = readingFrom(read.files, () => server.reload(options), validatedElsewhere());
    if (!cluster.isWorker) printChainNotes(next, read.files);
    const bound = BOUND.filter((name) => next[name] !== running.settings[name]);
    running.settings = { ...next, port: running.settings.port, host: running.settings.host, workers: running.settings.workers };
    const line = describeReload({ applied: report.applied, needsRestart: [...report.needsRestart, ...bound] });
    return { xorigin: 'reloaded', ok: true, line: `reloaded: ${line}` };
  } catch (e) {
    return { xorigin: 'reloaded', ok: false, line: refused(e) };
  }
}

/**
 * A reload asked for while starting, to apply once the server is up: `'disk'` (a SIGHUP: read every
 * source again) or the operator files a cluster primary sent (the last request: the newest).
 */
export interface HeldReloads {
  /** Stops holding; the reload to apply now, or null when none was asked for. */
  release(): 'disk' | Map<string, Buffer> | null;
}

/**
 * Holds reloads asked for while the server is starting (the root being scanned, which takes a while
 * for a large tree): a SIGHUP then would otherwise end the process (its default action) without a
 * word, and a worker would drop the primary's request, keeping the configuration it started from.
 * Call before the scan (a worker: before it asks what to start from).
 */
export function holdEarlyReloads(): HeldReloads {
  let asked: 'disk' | Map<string, Buffer> | null = null;
  // A worker's own SIGHUP (its process group hung up) is only kept from ending it, as later.
  const onSignal = (): void => {
    if (!cluster.isWorker) asked = 'disk';
  };
  const onMessage = (m: Partial<ReloadRequest>): void => {
    if (m?.xorigin === 'reload') asked = fromWire(m.files);
  };
  process.on('SIGHUP', onSignal);
  if (takeEarlySighup()) onSignal();
  if (cluster.isWorker) process.on('message', onMessage);
  return {
    release: () => {
      process.off('SIGHUP', onSignal);
      process.off('message', onMessage);
      return asked;
    },
  };
}

/**
 * One process: SIGHUP reloads and says how on stderr. A cluster worker: the primary asks (it
 * validated first); the worker answers it, and a SIGHUP sent to the worker itself (a whole
 * process group hung up) is ignored instead of ending it. `held`: what was asked while starting.
 */
export function reloadOnSignal(server: XoriginServer, settings: Settings, reread: Reread, held: HeldReloads): void {
  const running = { settings };
  if (cluster.isWorker) {
    const answer = (): void => void process.send?.(reloadServer(server, running, reread));
    process.on('SIGHUP', () => {});
    process.on('message', (m: Partial<ReloadRequest>) => {
      // Bytes the primary validated (readingFrom's `validated`).
      if (m?.xorigin === 'reload') readingFrom(fromWire(m.files), answer, true);
    });
    // Released only now: with no SIGHUP listener for an instant, a signal then would end the process.
    const early = held.release();
    if (early instanceof Map) readingFrom(early, answer, true);
    return;
  }
  const reload = (): void => void process.stderr.write(`xorigin: ${reloadServer(server, running, reread).line}\n`);
  process.on('SIGHUP', reload);
  if (held.release() !== null) reload();
}

/**
 * The cluster primary on SIGHUP: validates the sources once (on a problem nothing is forwarded),
 * records them as the configuration in force (what replacements start from), then asks each worker
 * to reload and prints each worker's answer. Returns the reload, for a SIGHUP held during start-up.
 */
export function forwardReloads(workers: () => Worker[], reread: Reread, config: ConfigInForce): () => void {
  cluster.on('message', (worker: Worker, m: Partial<ReloadAnswer>) => {
    if (m?.xorigin === 'reloaded') process.stderr.write(`xorigin: worker ${String(worker.process.pid)}: ${String(m.line)}\n`);
  });
  const reload = (): void => {
    let read: { value: Settings; files: Map<string, Buffer> };
    try {
      read = recordingReads(reread);
    } catch (e) {
      process.stderr.write(`xorigin: ${refused(e)}\n`);
      return;
    }
    const files = read.files;
    printChainNotes(read.value, files);
    config.reloaded(files, read.value);
    // The workers reload from the bytes validated here: a file rewritten meanwhile would otherwise
    // give each worker whichever version it read (two policies behind one port).
    const request: ReloadRequest = { xorigin: 'reload', files: toWire(files) };
    // A worker that just died stays listed until its 'exit' has been seen, with its channel already
    // closed: send() to it would emit an 'error' on the Worker, which has no listener and would end
    // the primary (and with it every worker). Skip it; with the callback, a send that fails anyway
    // (the channel closing in between) is ignored. Its replacement starts from `config`.
    for (const w of workers()) if (w.isConnected()) w.send(request, () => {});
  };
  process.on('SIGHUP', reload);
  return reload;
}
