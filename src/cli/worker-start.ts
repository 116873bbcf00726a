import cluster, { type Worker } from 'node:cluster';
import type { StartupValues } from './config.js';

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
 * force. A worker starts from the operator files of the last reload the primary validated (over
 * those it read at start-up, by path: a reload that turned TLS off left the start-up pair in force),
 * with the settings that need a restart (root, port, TLS on or off...) pinned to the values the
 * primary started with (config.ts pin), so a replacement serves what its siblings serve. Read from
 * disk instead, a replacement served an edit never reloaded (a second policy behind one port), and a
 * broken edit that a reload had refused made every replacement exit 2, until nothing listened.
 * Started from the start-up files and reloaded, a replacement failed on a certificate expired since
 * (renewed and reloaded by then), and one whose reload was refused listened on the start-up policy.
 */
export class ConfigInForce {
  /** The files to start from, encoded once per reload rather than once per worker. */
  private wire: WireFiles;

  constructor(
    readonly startup: StartupValues,
    private readonly startedFrom: OperatorFiles,
  ) {
    this.wire = toWire(startedFrom);
  }

  /** A reload the primary validated: its files are in force from now on. */
  reloaded(files: OperatorFiles): void {
    this.wire = toWire(new Map([...this.startedFrom, ...files]));
  }

  get files(): WireFiles {
    return this.wire;
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
    const answer: StartAnswer = { xorigin: 'start', files: config.files, startup: config.startup };
    // The callback: a worker dying meanwhile must not make send() emit an unhandled 'error'.
    worker.send(answer, () => {});
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
