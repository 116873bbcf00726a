import cluster, { type Worker } from 'node:cluster';
import type { Settings, StartupValues } from './config.js';

/** Operator files (the config file, the certificate, its key) by path: the bytes a process validated. */
export type OperatorFiles = ReadonlyMap<string, Buffer>;

/** The same over the cluster's IPC channel, which carries JSON: [path, base64] pairs. */
export type WireFiles = readonly (readonly [string, string])[];

export function toWire(files: OperatorFiles): WireFiles {
  return [...files].map(([path, bytes]) => [path, bytes.toString('base64')] as const);
}

export function fromWire(wire: WireFiles | null | undefined): Map<string, Buffer> {
  return new Map((wire ?? []).map(([path, base64]) => [path, Buffer.from(base64, 'base64')]));
}

/**
 * What a cluster primary starts its workers from, replacements included: the configuration in
 * force. A worker starts from the operator files in force (the start-up ones, each validated
 * reload's over them by path: a reload that turned TLS off left the last pair applied in force),
 * with the settings that need a restart (root, port, TLS on or off...) pinned to the values the
 * primary started with (config.ts pin), so a replacement serves what its siblings serve. Read from
 * disk instead, a replacement served an edit never reloaded (a second policy behind one port), and a
 * broken edit that a reload had refused made every replacement exit 2, until nothing listened.
 * Started from the start-up files and reloaded, a replacement failed on a certificate expired since
 * (renewed and reloaded by then), and one whose reload was refused listened on the start-up policy.
 */
export class ConfigInForce {
  /** Every operator file in force, by path: the start-up ones, each reload's over them. */
  private files: Map<string, Buffer>;
  private wire: WireFiles;

  constructor(
    private pinned: StartupValues,
    startedFrom: OperatorFiles,
  ) {
    this.files = new Map(startedFrom);
    this.wire = toWire(this.files);
  }

  /**
   * A reload the primary validated: its files are in force from now on. TLS on or off needs a
   * restart, but the certificate and key a reload applied are in force: a later reload that turns
   * TLS off leaves them (not the start-up pair, perhaps expired since) in force.
   */
  reloaded(files: OperatorFiles, settings: Settings): void {
    for (const [path, bytes] of files) this.files.set(path, bytes);
    if (this.pinned.tls !== undefined && settings.options.tls !== undefined) this.pinned = { ...this.pinned, tls: settings.options.tls };
    this.wire = toWire(this.files);
  }

  /** What a worker starting now is told (one encoding per reload, not one per worker). */
  answer(): StartAnswer {
    return { xorigin: 'start', files: this.wire, startup: this.pinned };
  }
}

/**
 * The primary's side of a question workers ask (`kind` + '?'): each is answered with `answer()` at
 * that moment. The send callback: a worker dying meanwhile must not make send() emit an unhandled
 * 'error'.
 */
function answerWorkers(kind: string, answer: () => { readonly xorigin: string }): void {
  cluster.on('message', (worker: Worker, m: { xorigin?: unknown } | null) => {
    if (m?.xorigin !== `${kind}?` || !worker.isConnected()) return;
    worker.send(answer(), () => {});
  });
}

/** A worker's side: sends `{ xorigin: kind + '?' }`, resolves with the primary's `{ xorigin: kind, ... }`. */
function askPrimary<Answer extends { readonly xorigin: string }>(kind: Answer['xorigin']): Promise<Partial<Answer>> {
  return new Promise((resolve) => {
    const onMessage = (m: Partial<Answer> | null): void => {
      if (m?.xorigin !== kind) return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    process.send?.({ xorigin: `${kind}?` });
  });
}

/** The primary's answer to a worker's first question (it holds reloads by then): the files in force and the start-up values of what needs a restart. */
interface StartAnswer {
  readonly xorigin: 'start';
  readonly files: WireFiles;
  readonly startup: StartupValues;
}

/**
 * The primary: answers each worker's request with the configuration in force at that moment. A
 * reload validated after the answer is forwarded to the worker like to every other one (it holds it
 * while it scans: reload.ts holdEarlyReloads).
 */
export function answerStartRequests(config: ConfigInForce): void {
  answerWorkers('start', () => config.answer());
}

/**
 * A worker: asks the primary what to start from. Call once the worker holds reload requests
 * (holdEarlyReloads): one the primary validates after its answer is sent on, and applied once the
 * worker is up.
 */
export async function askForStartFiles(): Promise<{ files: Map<string, Buffer>; startup: StartupValues }> {
  const m = await askPrimary<StartAnswer>('start');
  return { files: fromWire(m.files), startup: m.startup ?? {} };
}

/** The port a worker about to listen is told. */
interface PortAnswer {
  readonly xorigin: 'port';
  readonly port: number;
}

/**
 * The primary: answers each worker about to listen with `port()`, the port to listen on at that
 * moment (see supervisor.ts: with --port 0 it is 0 while a worker serves, so node:cluster deals the
 * new one the same socket, and the port they had once every worker died).
 */
export function answerPortRequests(port: () => number): void {
  answerWorkers('port', (): PortAnswer => ({ xorigin: 'port', port: port() }));
}

/** A worker, its scan done: the port to listen on (asked now, not at start: a scan can take minutes). */
export async function askForPort(): Promise<number> {
  const m = await askPrimary<PortAnswer>('port');
  return typeof m.port === 'number' ? m.port : 0;
}
