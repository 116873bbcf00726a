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

/** A worker's first message: it holds reloads now and asks what to start from. */
interface StartRequest {
  readonly xorigin: 'start?';
}

/** The primary's answer: the files in force and the start-up values of what needs a restart. */
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
  cluster.on('message', (worker: Worker, m: Partial<StartRequest>) => {
    if (m?.xorigin !== 'start?' || !worker.isConnected()) return;
    // The callback: a worker dying meanwhile must not make send() emit an unhandled 'error'.
    worker.send(config.answer(), () => {});
  });
}

/**
 * A worker: asks the primary what to start from. Call once the worker holds reload requests
 * (holdEarlyReloads): one the primary validates after its answer is sent on, and applied once the
 * worker is up.
 */
export function askForStartFiles(): Promise<{ files: Map<string, Buffer>; startup: StartupValues }> {
  return new Promise((resolve) => {
    const onMessage = (m: Partial<StartAnswer>): void => {
      if (m?.xorigin !== 'start') return;
      process.off('message', onMessage);
      resolve({ files: fromWire(m.files), startup: m.startup ?? {} });
    };
    process.on('message', onMessage);
    const request: StartRequest = { xorigin: 'start?' };
    process.send?.(request);
  });
}

/** A worker about to listen asks on which port; the primary answers with a number. */
interface PortRequest {
  readonly xorigin: 'port?';
}
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
  cluster.on('message', (worker: Worker, m: Partial<PortRequest>) => {
    if (m?.xorigin !== 'port?' || !worker.isConnected()) return;
    const answer: PortAnswer = { xorigin: 'port', port: port() };
    worker.send(answer, () => {});
  });
}

/** A worker, its scan done: the port to listen on (asked now, not at start: a scan can take minutes). */
export function askForPort(): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: Partial<PortAnswer>): void => {
      if (m?.xorigin !== 'port' || typeof m.port !== 'number') return;
      process.off('message', onMessage);
      resolve(m.port);
    };
    process.on('message', onMessage);
    const request: PortRequest = { xorigin: 'port?' };
    process.send?.(request);
  });
}
