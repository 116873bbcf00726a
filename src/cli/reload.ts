import cluster, { type Worker } from 'node:cluster';
import { PolicyError } from '../cors/errors.js';
import { describeReload } from '../static/reload.js';
import { readingFrom, recordingReads, validatedElsewhere } from '../static/operator-files.js';
import type { XoriginServer } from '../static/server.js';
import { printConfigNotes } from './config-notes.js';
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
  /** Failed on an error of xorigin's own, not a refused configuration (see reloadServer). */
  readonly unexpected?: boolean;
}

/**
 * `run`, once for any number of calls made before it starts: a burst of SIGHUPs (a tool hanging up
 * every process, an operator pressing twice) asks for one reload of what is on disk now, not one
 * each; with a large configuration each reload held new connections back for most of a second,
 * and under --workers each sent every worker the whole configuration again. Calls made while it
 * runs (signals dispatched once the event loop is free again) give one more run after it.
 */
function coalesced(run: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      run();
    });
  };
}

const STOPPING = 'reload not applied: the server is stopping';

/** The line for a configuration refused: nothing changed. */
function refused(e: PolicyError): string {
  return `reload refused, the running configuration stays in force: ${e.message}`;
}

/**
 * The line for an error other than PolicyError, a fault of xorigin's own, with its stack: while the
 * sources were read and checked nothing changed; while the server applied them, part of the new
 * configuration may be in force.
 */
function failed(e: unknown, applying: boolean): string {
  const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
  const state = applying ? 'part of the new configuration may be in force: send SIGHUP again to apply it whole, or restart' : 'the running configuration stays in force';
  return `reload failed on an unexpected error (a fault in xorigin, please report this line); ${state}: ${what}`;
}

/**
 * Reloads one server from the sources; returns the line to print. `running` is updated to what is
 * now in force, so the next reload compares against it. The sources are read and checked whole
 * first (reread); only then does the server apply them (server.reload checks again, from the same bytes).
 */
export function reloadServer(server: XoriginServer, running: { settings: Settings }, reread: Reread): ReloadAnswer {
  let applying = false;
  try {
    // The server validates again what it puts in force: from the bytes just read, not the disk again.
    const read = recordingReads(reread);
    const next = read.value;
    const options = next.options;
    applying = true;
    // A worker's reload comes from bytes its primary validated: keep that said (readingFrom's `validated`).
    const report = readingFrom(read.files, () => server.reload(options), validatedElsewhere());
    if (!cluster.isWorker) printConfigNotes(next, read.files);
    const bound = BOUND.filter((name) => next[name] !== running.settings[name]);
    running.settings = { ...next, port: running.settings.port, host: running.settings.host, workers: running.settings.workers };
    const line = describeReload({ applied: report.applied, needsRestart: [...report.needsRestart, ...bound] });
    return { xorigin: 'reloaded', ok: true, line: `reloaded: ${line}` };
  } catch (e) {
    if (e instanceof PolicyError) return { xorigin: 'reloaded', ok: false, line: refused(e) };
    return { xorigin: 'reloaded', ok: false, line: failed(e, applying), unexpected: true };
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
 * process group hung up) is ignored instead of ending it. `held`: what was asked while starting;
 * `stopping`: true once SIGTERM or SIGINT was received (a reload then is not applied).
 */
export function reloadOnSignal(server: XoriginServer, settings: Settings, reread: Reread, held: HeldReloads, stopping: () => boolean): void {
  const running = { settings };
  if (cluster.isWorker) {
    const answer = (): void => {
      const reply = reloadServer(server, running, reread);
      if (reply.unexpected !== true) return void process.send?.(reply);
      // The primary has put the new configuration in force for every replacement: a worker left on
      // the old one (or a mix) would answer under another policy behind the same port. It exits and
      // is replaced from the configuration in force.
      process.send?.({ ...reply, line: `${reply.line}\n  this worker exits and is replaced` }, () => process.exit(1));
    };
    process.on('SIGHUP', () => {});
    // Requests queued while one was applied: the newest alone is applied (each carries every file in force).
    let newest: WireFiles | undefined;
    const applyNewest = coalesced(() => readingFrom(fromWire(newest), answer, true));
    process.on('message', (m: Partial<ReloadRequest>) => {
      if (m?.xorigin !== 'reload') return;
      // Bytes the primary validated (readingFrom's `validated`).
      newest = m.files;
      applyNewest();
    });
    // Released only now: with no SIGHUP listener for an instant, a signal then would end the process.
    const early = held.release();
    if (early instanceof Map) readingFrom(early, answer, true);
    return;
  }
  const reload = (): void => {
    // A SIGHUP after SIGTERM: the server is closing, a new configuration would serve nothing.
    const line = stopping() ? STOPPING : reloadServer(server, running, reread).line;
    process.stderr.write(`xorigin: ${line}\n`);
  };
  process.on('SIGHUP', coalesced(reload));
  if (held.release() !== null) reload();
}

/**
 * The cluster primary on SIGHUP: validates the sources once (on a problem nothing is forwarded),
 * records them as the configuration in force (what replacements start from), then asks each worker
 * to reload and prints each worker's answer. Returns the reload, for a SIGHUP held during start-up.
 */
export function forwardReloads(workers: () => Worker[], reread: Reread, config: ConfigInForce, stopping: () => boolean): () => void {
  cluster.on('message', (worker: Worker, m: Partial<ReloadAnswer>) => {
    if (m?.xorigin === 'reloaded') process.stderr.write(`xorigin: worker ${String(worker.process.pid)}: ${String(m.line)}\n`);
  });
  const reload = (): void => {
    if (stopping()) return void process.stderr.write(`xorigin: ${STOPPING}\n`);
    let read: { value: Settings; files: Map<string, Buffer> };
    try {
      read = recordingReads(reread);
    } catch (e) {
      process.stderr.write(`xorigin: ${e instanceof PolicyError ? refused(e) : failed(e, false)}\n`);
      return;
    }
    const files = read.files;
    printConfigNotes(read.value, files);
    config.reloaded(files, read.value);
    // The workers reload from the bytes validated here: a file rewritten meanwhile would otherwise
    // give each worker whichever version it read (two policies behind one port).
    const request: ReloadRequest = { xorigin: 'reload', files: toWire(files) };
    // A worker that just died stays listed until its 'exit' has been seen, with its channel already
    // closed: send() to it would emit an 'error' on the Worker, which has no listener and would end
    // the primary (and with it every worker). Skip it; with the callback, a send that fails anyway
    // (the channel closing in between) is ignored. Its replacement starts from `config`.
    let sent = 0;
    for (const w of workers()) {
      if (!w.isConnected()) continue;
      w.send(request, () => {});
      sent++;
    }
    // Said here too: each worker answers for itself, but one still starting (a replacement) applies
    // it silently once up, and with none running no worker line would come at all.
    process.stderr.write(`xorigin: reload validated: ${sent === 0 ? 'no worker is running; the workers started next serve it' : `sent to ${String(sent)} ${sent === 1 ? 'worker' : 'workers'} (each answers as it applies it; one still starting applies it once up, and one that dies first is replaced under it)`}\n`);
  };
  process.on('SIGHUP', coalesced(reload));
  return reload;
}
