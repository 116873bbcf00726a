import cluster from 'node:cluster';
import { PolicyError } from '../cors/errors.js';
import { readingFrom } from '../static/operator-files.js';
import { serve as serveFiles, type XoriginServer } from '../static/server.js';
import type { Settings } from './config.js';
import { speaker } from '../static/stderr-line.js';
import { onStopSignals } from './signals.js';
import { reloadOnSignal, type HeldReloads, type Reread } from './reload.js';
import { askForPort } from './worker-start.js';
import { releaseYoungGeneration } from './young-generation.js';

/** How long a stopping server lets responses in flight finish (XoriginServer.shutdown's default). */
export const SHUTDOWN_GRACE = 10_000;

/** `[::1]` for an IPv6 host, so the printed URL can be pasted. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** What to do about the listen errors an operator meets, appended to node's own message. */
const LISTEN_FIXES: Readonly<Record<string, string>> = {
  EADDRINUSE: '; fix: stop what listens there, or pass another --port (or set $PORT)',
  EACCES: '; fix: a port below 1024 needs privileges (setcap cap_net_bind_service=+ep on node, or a higher --port behind a proxy)',
  EADDRNOTAVAIL: '; fix: --host must be an address of this machine (127.0.0.1, 0.0.0.0 for every IPv4 interface, :: for every interface)',
  ENOTFOUND: '; fix: --host names no address; pass one of this machine\'s (127.0.0.1, 0.0.0.0, ::)',
  EAI_AGAIN: '; fix: --host could not be resolved now; pass an IP address (127.0.0.1, 0.0.0.0, ::)',
};

/**
 * Scans the root and serves until a signal: one process, or one worker of a cluster (whose primary
 * prints the URL). `files`: the operator files `settings` were read from, which the server
 * validates again from those bytes, not the disk. SIGHUP (or the primary's request) reloads from
 * `reread`; one asked for before the server is up (`held`) is applied then. A problem found only
 * now (the root could not be scanned) exits 2; a port that cannot be bound exits 1. A worker asks
 * its primary on which port to listen once its scan is done (worker-start.ts askForPort).
 */
export async function serve(settings: Settings, files: ReadonlyMap<string, Buffer>, reread: Reread, held: HeldReloads): Promise<void> {
  const { options, host } = settings;
  let server: XoriginServer;
  try {
    // serveFiles validates (reading the certificate and key) before its first await, so inside readingFrom.
    // A worker starts from bytes its primary validated (worker-start.ts): their validity period is not checked again.
    server = await readingFrom(files, () => serveFiles(options), cluster.isWorker);
  } catch (e) {
    // The options were checked already, so what failed is most likely the scan of the root.
    throw e instanceof PolicyError ? e : new PolicyError([{ option: 'root', value: options.root, reason: (e as Error).message, fix: 'pass a readable directory' }]);
  }
  // The primary names each worker's scan in its "listening" line.
  if (cluster.isWorker) process.send?.({ xorigin: 'scanned', scan: server.stats.lastScan });
  const port = cluster.isWorker ? await askForPort() : settings.port;
  server.on('error', (e: NodeJS.ErrnoException) => {
    process.stderr.write(`${speaker()}cannot listen on ${host}:${String(port)}: ${e.message}${LISTEN_FIXES[e.code ?? ''] ?? ''}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    // Start-up is over: from here V8 sizes its young generation for serving (young-generation.ts).
    releaseYoungGeneration();
    if (cluster.isWorker) return;
    const address = server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    // The pid is the one to send SIGHUP (reload) or SIGTERM to: a wrapper (npx, npm) has its own.
    process.stdout.write(`listening on ${server.scheme}://${urlHost(host)}:${String(actual)} (pid ${String(process.pid)})\n`);
  });
  let stopping = false;
  reloadOnSignal(server, settings, reread, held, () => stopping);
  // A worker stops when its primary says so, and the primary says it for all of them.
  const announce = cluster.isWorker ? undefined : `xorigin: stopping: responses in flight finish (up to ${String(SHUTDOWN_GRACE / 1000)} s)`;
  onStopSignals(() => {
    stopping = true;
    // Set before shutdown() sets its deadline of the same length, so it runs first and sees what that cuts.
    setTimeout(() => sayCut(server.stats.inFlight), SHUTDOWN_GRACE).unref();
    void server.shutdown(SHUTDOWN_GRACE).then(() => process.exit(0));
  }, undefined, announce);
}

/** At the shutdown deadline: says how many responses it cut (a stalled client's download), if any. */
function sayCut(inFlight: number): void {
  if (inFlight === 0) return;
  const what = inFlight === 1 ? '1 response still in flight was' : `${String(inFlight)} responses still in flight were`;
  process.stderr.write(`xorigin: ${what} cut at the ${String(SHUTDOWN_GRACE / 1000)} s shutdown deadline\n`);
}
