#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PolicyError, type PolicyProblem } from './errors.js';
import type { CorsOptions } from './policy.js';
import { createServer } from './server.js';
import { validateServerOptions, type ServerOptions } from './server-options.js';

const HELP = `xorigin serve [root] [options]

Serves a directory (fonts first) with correct CORS, caching and range headers.

  -p, --port N              port (default 8080, or $PORT; 0 picks a free port)
      --host H              address to bind (default 127.0.0.1; 0.0.0.0 to expose)
      --config FILE         JSON: { "root", "port", "host", "cors": {...}, "cacheControl", ... }
      --origin O            allowed origin, repeatable: https://app.example.com,
                            'https://*.example.com', 'http://localhost:*' or '*' (default '*')
      --methods LIST        extra allowed methods, comma-separated (e.g. PUT,DELETE)
      --allowed-headers L   request headers a preflight may ask for (range is always allowed)
      --exposed-headers L   response headers scripts may read
      --credentials         send Access-Control-Allow-Credentials: true to allowed origins
      --max-age SECONDS     how long browsers may cache a preflight (-1 sends 0)
      --cache-control V     Cache-Control value (default "public, max-age=3600")
      --immutable           versioned URLs: "public, max-age=31536000, immutable"
      --workers N           run N server processes (node:cluster); a worker that dies is
                            replaced (default 1: a single process, no cluster)
      --log                 access log on stdout, one line per request
  -h, --help                this help
  -v, --version             print the version

Flags override the config file. Invalid options exit with status 2 and list every problem.`;

const CONFIG_KEYS = ['root', 'port', 'host', 'workers', 'cors', 'cacheControl', 'immutable', 'smallFileLimit', 'crossOriginResourcePolicy', 'watch', 'log'];
const MAX_WORKERS = 256;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function fail(problems: readonly PolicyProblem[]): never {
  process.stderr.write(`${new PolicyError(problems).message}\n`);
  process.exit(2);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        config: { type: 'string' },
        origin: { type: 'string', multiple: true },
        methods: { type: 'string' },
        'allowed-headers': { type: 'string' },
        'exposed-headers': { type: 'string' },
        credentials: { type: 'boolean' },
        'max-age': { type: 'string' },
        'cache-control': { type: 'string' },
        immutable: { type: 'boolean' },
        log: { type: 'boolean' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    fail([{ option: 'arguments', value: argv.join(' '), reason: (e as Error).message, fix: 'see xorigin --help' }]);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (values.version === true) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const [command, root, ...extra] = positionals;
  const problems: PolicyProblem[] = [];
  if (command !== 'serve') {
    fail([{ option: 'command', value: command ?? null, reason: 'unknown or missing command', fix: 'run "xorigin serve DIR" (see --help)' }]);
  }
  if (extra.length > 0) problems.push({ option: 'arguments', value: extra, reason: 'only one root directory is served', fix: 'pass a single directory' });

  // The config file first; flags override it.
  let config: Record<string, unknown> = {};
  if (values.config !== undefined) {
    try {
      const data: unknown = JSON.parse(readFileSync(values.config, 'utf8'));
      if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('the top level must be a JSON object');
      config = data as Record<string, unknown>;
    } catch (e) {
      fail([{ option: '--config', value: values.config, reason: `cannot read the config file: ${(e as Error).message}`, fix: 'pass a readable JSON file' }]);
    }
    for (const key of Object.keys(config)) {
      if (!CONFIG_KEYS.includes(key)) {
        problems.push({ option: key, value: config[key], reason: 'unknown key in the config file', fix: `remove it; known keys are ${CONFIG_KEYS.join(', ')}` });
      }
    }
  }

  const cors: Record<string, unknown> = { ...((config.cors as Record<string, unknown> | undefined) ?? {}) };
  if (values.origin !== undefined) cors.origins = values.origin;
  if (cors.origins === undefined) cors.origins = ['*'];
  const methods = list(values.methods);
  if (methods !== undefined) cors.methods = methods;
  const allowed = list(values['allowed-headers']);
  if (allowed !== undefined) cors.allowedHeaders = allowed;
  const exposed = list(values['exposed-headers']);
  if (exposed !== undefined) cors.exposedHeaders = exposed;
  if (values.credentials === true) cors.credentials = true;
  if (values['max-age'] !== undefined) {
    const n = Number(values['max-age']);
    cors.maxAge = values['max-age'].trim() === '' ? values['max-age'] : n;
  }

  let port: unknown = values.port ?? config.port ?? process.env.PORT ?? 8080;
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push({ option: 'port', value: port, reason: 'must be a port number from 0 to 65535', fix: 'e.g. --port 8080 (0 picks a free port)' });
  }
  const host = values.host ?? config.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') problems.push({ option: 'host', value: host, reason: 'must be an address or host name', fix: 'e.g. --host 127.0.0.1' });

  let workers: unknown = values.workers ?? config.workers ?? 1;
  if (typeof workers === 'string' && /^\d+$/.test(workers)) workers = Number(workers);
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    problems.push({ option: 'workers', value: workers, reason: `must be a whole number from 1 to ${MAX_WORKERS}`, fix: 'e.g. --workers 2 (one per CPU core is the usual choice)' });
  }

  const logEnabled = values.log === true || config.log === true;
  const options: ServerOptions = {
    root: root ?? (config.root as string | undefined) ?? '',
    cors: cors as unknown as CorsOptions,
  };
  const copy = ['cacheControl', 'immutable', 'smallFileLimit', 'crossOriginResourcePolicy', 'watch'] as const;
  for (const key of copy) if (config[key] !== undefined) (options as unknown as Record<string, unknown>)[key] = config[key];
  if (values['cache-control'] !== undefined) options.cacheControl = values['cache-control'];
  if (values.immutable === true) options.immutable = true;
  if (logEnabled) options.log = (line) => process.stdout.write(`${line}\n`);
  if (options.root === '') problems.push({ option: 'root', value: null, reason: 'no directory to serve', fix: 'run "xorigin serve DIR" or set "root" in the config file' });

  const shown = (host as string).includes(':') ? `[${host as string}]` : (host as string);
  if (cluster.isPrimary && workers !== 1) {
    // Validate here, once, so a bad option exits 2 before any worker starts.
    try {
      validateServerOptions(options);
    } catch (e) {
      if (e instanceof PolicyError) problems.push(...e.problems);
      else throw e;
    }
    if (options.root !== '' && !isDirectory(options.root)) {
      problems.push({ option: 'root', value: options.root, reason: 'not a readable directory', fix: 'pass an existing directory' });
    }
    if (problems.length > 0) fail(problems);
    runPrimary(workers as number, shown);
    return;
  }

  let server;
  try {
    if (problems.length > 0) {
      // Validate the rest too, so every problem is listed in one go.
      try {
        validateServerOptions({ ...options, root: options.root === '' ? '.' : options.root });
      } catch (e) {
        if (e instanceof PolicyError) problems.push(...e.problems);
      }
      fail(problems);
    }
    server = await createServer(options);
  } catch (e) {
    if (e instanceof PolicyError) fail(e.problems);
    fail([{ option: 'root', value: options.root, reason: (e as Error).message, fix: 'pass an existing directory' }]);
  }
  server.on('error', (e: NodeJS.ErrnoException) => {
    process.stderr.write(`xorigin: cannot listen on ${String(host)}:${String(port)}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(port as number, host as string, () => {
    // In a cluster the primary prints the URL once, for all workers.
    if (cluster.isWorker) return;
    const address = server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    process.stdout.write(`listening on http://${shown}:${String(actual)}\n`);
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The cluster primary: forks the workers (each re-runs this CLI with the same arguments and serves),
 * prints the URL once, replaces a worker that dies, and on SIGTERM/SIGINT stops them all gracefully.
 */
function runPrimary(count: number, shownHost: string): void {
  let stopping = false;
  let everListened = false;
  let printed = false;
  let quickDeaths = 0;
  const startedAt = new Map<number, number>();

  const fork = (): void => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
  };
  cluster.on('listening', (worker, address) => {
    everListened = true;
    process.stderr.write(`xorigin: worker ${String(worker.process.pid)} listening\n`);
    if (!printed) {
      printed = true;
      process.stdout.write(`listening on http://${shownHost}:${String(address.port)}\n`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    if (stopping) {
      // process.exitCode is 1 when stopping because start-up failed, else unset (0).
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
      return;
    }
    if (!everListened) {
      // Never got as far as listening (port in use, root unreadable): restarting would loop.
      process.stderr.write(`xorigin: worker ${String(worker.process.pid)} failed to start (exit ${String(code)}); stopping\n`);
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      process.exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    // A worker that keeps dying right after start is restarted with a growing delay, not in a hot loop.
    quickDeaths = lived < 1000 ? quickDeaths + 1 : 0;
    const delay = quickDeaths === 0 ? 0 : Math.min(10_000, 100 * 2 ** quickDeaths);
    process.stderr.write(
      `xorigin: worker ${String(worker.process.pid)} died (${signal ?? `exit ${String(code)}`}); starting a new one${delay > 0 ? ` in ${String(delay)} ms` : ''}\n`,
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });
  for (let i = 0; i < count; i++) fork();

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const live = Object.values(cluster.workers ?? {});
    if (live.length === 0) process.exit(0);
    // Each worker finishes its in-flight responses and exits 0; a stuck one is killed at the deadline.
    for (const w of live) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(0);
    }, 15_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main(process.argv.slice(2));
