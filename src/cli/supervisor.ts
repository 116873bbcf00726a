import cluster, { type Worker } from 'node:cluster';
import type { ScanReport } from '../static/asset-table.js';
import { onStopSignals } from './signals.js';
import type { Settings } from './config.js';
import { forwardReloads, type Reread } from './reload.js';
import { answerPortRequests, answerStartRequests, type ConfigInForce } from './worker-start.js';
import { SHUTDOWN_GRACE, urlHost } from './serve.js';
import { ticketKeysForProcess, TICKET_KEYS_ENV } from '../static/ticket-keys.js';

/** A worker is killed if it has not finished its responses this long after being asked to stop. */
const STOP_DEADLINE = 15_000;
/**
 * A worker that dies within this long of listening, or before it listened, counts as a quick death
 * (restart backoff). Counted from the fork, a worker that died right after a long scan of the tree
 * looked long-lived, and was restarted at once, forever, each one reading the tree again.
 */
const QUICK_DEATH = 1_000;
const MAX_RESTART_DELAY = 10_000;

/** ` (N files: H read, C from the ETag cache)`: whether a worker had to hash the tree. */
function scanSummary(s: ScanReport): string {
  return ` (${String(s.files)} ${s.files === 1 ? 'file' : 'files'}: ${String(s.hashed)} read, ${String(s.cached)} from the ETag cache)`;
}

/**
 * What every worker is forked with, replacements included: with TLS, one set of session ticket
 * keys (the user's $XORIGIN_TLS_TICKET_KEYS, checked with the settings, else fresh ones), so a client
 * resumes its TLS session on whichever worker its next connection is dealt to, even one started
 * after every worker had died (node:cluster's own hand-off of the keys lasts only while a worker
 * holds the port: see ticket-keys.ts).
 */
function workerEnv(settings: Settings): Record<string, string> {
  return settings.options.tls === undefined ? {} : { [TICKET_KEYS_ENV]: ticketKeysForProcess().toString('hex') };
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
}

/**
 * The cluster primary: forks `settings.workers` workers (each re-runs the CLI with the same
 * arguments and serves what `config` holds: worker-start.ts), prints the URL once, replaces a
 * worker that dies (with a growing delay while they keep dying at once), forwards SIGHUP as a
 * reload once the sources validate, and stops them all on SIGTERM/SIGINT (a second SIGINT kills
 * them and exits 130). Returns the reload, for a SIGHUP received before.
 */
export function supervise(settings: Settings, reread: Reread, config: ConfigInForce): () => void {
  const count = settings.workers;
  const url = `${settings.options.tls === undefined ? 'http' : 'https'}://${urlHost(settings.host)}`;
  const state: State = { stopping: false, everListened: false, printed: false, quickDeaths: 0, listenedAt: new Map(), unserved: false, listenOn: settings.port, port: null };
  const env = workerEnv(settings);
  // Each worker accepts its own connections (the kernel deals them out), not the primary handing each
  // one over IPC (node:cluster's default on Linux): a worker out of file descriptors cannot receive a
  // handed-over one, never acknowledges it, is never handed another, and the server stopped for good
  // after one burst to the fd limit. Accepting itself, a worker at its limit closes what it cannot hold
  // (libuv's reserve fd) and the others go on. New connections also skip the hop through the primary.
  // A NODE_CLUSTER_SCHED_POLICY the user set is kept.
  if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const fork = (): void => void cluster.fork(env);

  const scans = new Map<number, string>();
  cluster.on('message', (worker, message: { xorigin?: string; scan?: ScanReport | null }) => {
    if (message?.xorigin === 'scanned' && message.scan != null) scans.set(worker.id, scanSummary(message.scan));
  });

  cluster.on('listening', (worker, address) => {
    state.everListened = true;
    // Monotonic: a wall clock stepped forward would make a crash loop look like long-lived workers.
    state.listenedAt.set(worker.id, performance.now());
    state.port = address.port;
    process.stderr.write(`xorigin: worker ${String(worker.process.pid)} listening${scans.get(worker.id) ?? ''}\n`);
    scans.delete(worker.id);
    if (state.unserved) {
      state.unserved = false;
      process.stderr.write(`xorigin: serving again on port ${String(address.port)}\n`);
    }
    if (state.printed) return;
    state.printed = true;
    process.stdout.write(`listening on ${url}:${String(address.port)} (pid ${String(process.pid)})\n`);
  });

  cluster.on('exit', (worker, code, signal) => workerExited(state, worker, signal ?? `exit ${String(code)}`, fork));

  answerStartRequests(config);
  answerPortRequests(() => portToListenOn(state));
  for (let i = 0; i < count; i++) fork();
  const reload = forwardReloads(liveWorkers, reread, config, () => state.stopping);
  onStopSignals(
    () => stopAll(state),
    () => {
      for (const w of liveWorkers()) w.process.kill('SIGKILL');
    },
    `xorigin: stopping ${String(count)} workers: responses in flight finish (up to ${String(SHUTDOWN_GRACE / 1000)} s; a worker still running at ${String(STOP_DEADLINE / 1000)} s is killed)`,
  );
  return reload;
}

/** Supervision state shared by the cluster's event handlers. */
interface State {
  stopping: boolean;
  everListened: boolean;
  printed: boolean;
  quickDeaths: number;
  /** When each worker serving now began listening (performance.now() ms), by worker id. */
  readonly listenedAt: Map<number, number>;
  /** No worker is serving: said once, until one listens again. */
  unserved: boolean;
  /** The port workers are told to listen on (portToListenOn). */
  listenOn: number;
  /** The port workers were listening on, once one has. */
  port: number | null;
}

/**
 * The port a worker about to listen is told: the one its siblings were told while any of them
 * serves (with --port 0 that is 0, which node:cluster answers with the socket they share); once
 * every worker has died, the port they had. node:cluster closes the shared socket with its last
 * worker, and a replacement listening on 0 then was given a new port, not the one printed.
 */
function portToListenOn(state: State): number {
  if (state.listenedAt.size === 0 && state.port !== null) state.listenOn = state.port;
  return state.listenOn;
}

/**
 * A worker ended (`how`: its signal or `exit N`): while stopping, the primary exits with the last
 * one; one that never listened stops everything (port in use, root unreadable: restarting would
 * loop); any other is replaced, later while they keep dying at once.
 */
function workerExited(state: State, worker: Worker, how: string, fork: () => void): void {
  const listenedAt = state.listenedAt.get(worker.id);
  state.listenedAt.delete(worker.id);
  const served = listenedAt === undefined ? 0 : performance.now() - listenedAt;
  if (state.stopping) {
    // process.exitCode is 1 when stopping because start-up failed, else unset (0).
    if (liveWorkers().length === 0) process.exit();
    return;
  }
  // A SIGHUP to the whole process group in a worker's first ~0.1 s (Node's own start-up, before
  // any listener can exist: early-signals.ts) says nothing about the worker: it is started again.
  if (!state.everListened && how !== 'SIGHUP') {
    process.stderr.write(`xorigin: worker ${String(worker.process.pid)} failed to start (${how}); stopping\n`);
    state.stopping = true;
    process.exitCode = 1;
    for (const w of liveWorkers()) w.kill('SIGTERM');
    if (liveWorkers().length === 0) process.exit(1);
    return;
  }
  state.quickDeaths = served < QUICK_DEATH ? state.quickDeaths + 1 : 0;
  const delay = state.quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY, 100 * 2 ** state.quickDeaths);
  process.stderr.write(`xorigin: worker ${String(worker.process.pid)} died (${how}); starting a new one${delay > 0 ? ` in ${String(delay)} ms` : ''}\n`);
  if (state.listenedAt.size === 0 && !state.unserved) {
    // node:cluster closes the port with its last worker: connections are refused until one listens.
    state.unserved = true;
    process.stderr.write(`xorigin: no worker is serving: until a replacement listens${state.port === null ? '' : ` on port ${String(state.port)}`}, connections to it are refused (or reach whatever else binds it meanwhile)\n`);
  }
  setTimeout(() => {
    if (!state.stopping) fork();
  }, delay);
}

/** Each worker finishes its in-flight responses and exits 0; a stuck one is killed at the deadline. */
function stopAll(state: { stopping: boolean }): void {
  state.stopping = true;
  const live = liveWorkers();
  if (live.length === 0) process.exit(0);
  for (const w of live) w.process.kill('SIGTERM');
  setTimeout(() => {
    for (const w of liveWorkers()) w.process.kill('SIGKILL');
    process.exit(0);
  }, STOP_DEADLINE).unref();
}
