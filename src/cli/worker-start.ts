import cluster, { type Worker } from 'node:cluster';
import type { HeldReloads } from './reload.js';

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
 * What a cluster primary starts its workers from, replacements included: the operator files it read
 * at start-up, and those of the last reload it validated. A worker starts from the first, then
 * applies the second as soon as it has scanned: the two steps every other worker went through, so a
 * replacement ends on the same configuration as they (the settings that need a restart, such as
 * root, from start-up; the rest from the reload). Read from disk instead, a replacement served an
 * edit never reloaded (a second policy behind one port), and a broken edit that a reload had refused
 * made every replacement exit 2, until nothing listened.
 */
export interface ConfigInForce {
  readonly startedFrom: OperatorFiles;
  /** The last reload the primary validated; null until one is. */
  reloaded: OperatorFiles | null;
}

/** A worker's first message: it listens for reloads now and asks what to start from. */
interface StartRequest {
  readonly xorigin: 'start?';
}

/** The primary's answer: the start-up files, and the last reload's (null: none since start-up). */
interface StartAnswer {
  readonly xorigin: 'start';
  readonly files: WireFiles;
  readonly reload: WireFiles | null;
}

/**
 * The primary: answers each worker's request with the configuration in force at that moment. A
 * reload validated after the answer is forwarded to the worker like to every other one (it holds it
 * while it scans: reload.ts holdEarlyReloads).
 */
export function answerStartRequests(config: ConfigInForce): void {
  cluster.on('message', (worker: Worker, m: Partial<StartRequest>) => {
    if (m?.xorigin !== 'start?' || !worker.isConnected()) return;
    const answer: StartAnswer = { xorigin: 'start', files: toWire(config.startedFrom), reload: config.reloaded === null ? null : toWire(config.reloaded) };
    // The callback: a worker dying meanwhile must not make send() emit an unhandled 'error'.
    worker.send(answer, () => {});
  });
}

/**
 * A worker: asks the primary for the files to start from, and resolves with them. Call once the
 * worker holds reload requests (`held`): a reload validated before the answer comes in the answer
 * and is handed to `held` at once, in message order, so one sent after it still wins.
 */
export function askForStartFiles(held: HeldReloads): Promise<Map<string, Buffer>> {
  return new Promise((resolve) => {
    const onMessage = (m: Partial<StartAnswer>): void => {
      if (m?.xorigin !== 'start') return;
      process.off('message', onMessage);
      if (m.reload != null) held.hold(fromWire(m.reload));
      resolve(fromWire(m.files));
    };
    process.on('message', onMessage);
    const request: StartRequest = { xorigin: 'start?' };
    process.send?.(request);
  });
}
