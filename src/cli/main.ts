#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PolicyError, type PolicyProblem } from '../cors/errors.js';
import { serve as serveFiles, type XoriginServer } from '../static/server.js';
import { OPTION_SCHEMA, SERVER_SCHEMA, checkOption, unknownKeys, validateServerOptions, type OptionSpec, type ServerOptions } from '../static/options.js';

/** --help, from the option schema: one line per flag, continuation lines aligned under the text. */
function help(): string {
  const rows: [string, string][] = [];
  for (const spec of OPTION_SCHEMA) {
    const f = spec.flag;
    if (f !== undefined) rows.push([`${f.short === undefined ? '    ' : `-${f.short}, `}--${f.name}${f.arg === undefined ? '' : ` ${f.arg}`}`, spec.help]);
  }
  rows.push(['-h, --help', 'this help'], ['-v, --version', 'print the version']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = ['xorigin serve [root] [options]', '', 'Serves a directory (fonts first) with correct CORS, caching and range headers.', ''];
  for (const [flag, text] of rows) {
    const [first, ...rest] = text.split('\n');
    lines.push(`  ${flag.padEnd(width)}${first ?? ''}`);
    for (const more of rest) lines.push(`  ${''.padEnd(width)}${more}`);
  }
  lines.push('', 'Flags override the config file. Config values keep their JSON types: "port": 8080 and', '"watch": false, not "8080" or "false". Invalid options exit with status 2 and list every problem.');
  return lines.join('\n');
}

function fail(problems: readonly PolicyProblem[]): never {
  process.stderr.write(`${new PolicyError(problems).message}\n`);
  process.exit(2);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type FlagValues = Record<string, string | boolean | string[] | undefined>;

function parseFlags(argv: string[]): { values: FlagValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const { flag } of OPTION_SCHEMA) {
    if (flag === undefined) continue;
    options[flag.name] = { type: flag.arg === undefined ? 'boolean' : 'string', ...(flag.short === undefined ? {} : { short: flag.short }), ...(flag.multiple === true ? { multiple: true } : {}) };
  }
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options }) as { values: FlagValues; positionals: string[] };
  } catch (e) {
    fail([{ option: 'arguments', value: argv.join(' '), reason: (e as Error).message, fix: 'see xorigin --help' }]);
  }
}

/**
 * A flag's text as the option's value. Digits become a number; anything else stays a string, so
 * the check names the option with the value as typed (never NaN).
 */
function flagValue(spec: OptionSpec, text: string | boolean | string[]): unknown {
  if (typeof text !== 'string') return text;
  if (spec.flag?.list === true) return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (spec.type === 'integer' && /^\s*-?\d+\s*$/.test(text)) return Number(text);
  return text;
}

function readConfig(path: string | undefined, problems: PolicyProblem[]): Record<string, unknown> {
  if (path === undefined) return {};
  let config: Record<string, unknown> = {};
  try {
    const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('the top level must be a JSON object');
    config = data as Record<string, unknown>;
  } catch (e) {
    fail([{ option: '--config', value: path, reason: `cannot read the config file: ${(e as Error).message}`, fix: 'pass a readable JSON file' }]);
  }
  const keys = OPTION_SCHEMA.filter((s) => s.scope !== 'policy' && s.configType !== null);
  problems.push(...unknownKeys(config, keys, 'key in the config file'));
  return config;
}

/**
 * The settings: the config file, then the flags over it. Policy flags go into `cors`; a `cors` that
 * is not an object is left as is, so validation names it rather than a spread of its characters.
 */
function settings(config: Record<string, unknown>, values: FlagValues): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  const policy: Record<string, unknown> = {};
  for (const spec of OPTION_SCHEMA) {
    const text = spec.flag === undefined ? undefined : values[spec.flag.name];
    // A boolean flag can only switch something on (there are no --no- flags yet).
    if (text === undefined || text === false) continue;
    if (spec.scope === 'policy') policy[spec.name] = flagValue(spec, text);
    else out[spec.name] = flagValue(spec, text);
  }
  if (config.cors === undefined || (config.cors !== null && typeof config.cors === 'object' && !Array.isArray(config.cors))) {
    const cors: Record<string, unknown> = { ...(config.cors as Record<string, unknown> | undefined), ...policy };
    if (cors.origins === undefined) cors.origins = ['*'];
    out.cors = cors;
  }
  return out;
}

function spec(name: string): OptionSpec {
  return OPTION_SCHEMA.find((s) => s.name === name) as OptionSpec;
}

/** Checks and resolves what only the CLI uses: port (flag, config, then $PORT), host, workers. */
function cliSettings(all: Record<string, unknown>, problems: PolicyProblem[]): { port: number; host: string; workers: number } {
  // An empty $PORT (`PORT= xorigin serve`) counts as unset, as in most shells' idiom.
  const env = process.env.PORT?.trim() || undefined;
  const fromEnv = env === undefined ? undefined : /^\d+$/.test(env) ? Number(env) : env;
  const resolved = { port: all.port ?? fromEnv ?? 8080, host: all.host ?? '127.0.0.1', workers: all.workers ?? 1 };
  for (const [name, value] of Object.entries(resolved)) {
    const problem = checkOption(spec(name), value);
    if (problem !== null) problems.push(problem);
  }
  return resolved as { port: number; host: string; workers: number };
}

/** The createServer options: every server key as given (validate() checks them), `log` turned into stdout. */
function serverOptions(all: Record<string, unknown>, root: string | undefined, problems: PolicyProblem[]): ServerOptions {
  const options: Record<string, unknown> = {};
  for (const s of SERVER_SCHEMA) if (all[s.name] !== undefined) options[s.name] = all[s.name];
  if (root !== undefined) options.root = root;
  const log = spec('log');
  const problem = checkOption(log, all.log, log.configType ?? log.type);
  if (problem !== null) problems.push(problem);
  delete options.log;
  if (all.log === true) options.log = (line: string) => process.stdout.write(`${line}\n`);
  return options as unknown as ServerOptions;
}

/** Every problem of the options, the CLI's own included; the root must be a directory. */
function check(options: ServerOptions, problems: PolicyProblem[]): void {
  const noRoot = options.root === undefined;
  if (noRoot) problems.push({ option: 'root', value: null, reason: 'no directory to serve', fix: 'run "xorigin serve DIR" or set "root" in the config file' });
  try {
    // A placeholder root, so a missing one is reported once, in the CLI's words.
    validateServerOptions(noRoot ? { ...options, root: '.' } : options);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    problems.push(...e.problems);
  }
  if (typeof options.root === 'string' && options.root !== '' && !isDirectory(options.root)) {
    problems.push({ option: 'root', value: options.root, reason: 'not a readable directory', fix: 'pass an existing directory' });
  }
  if (problems.length > 0) fail(problems);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv);
  if (values.help === true) {
    process.stdout.write(`${help()}\n`);
    return;
  }
  if (values.version === true) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const [command, root, ...extra] = positionals;
  if (command !== 'serve') {
    fail([{ option: 'command', value: command ?? null, reason: 'unknown or missing command', fix: 'run "xorigin serve DIR" (see --help)' }]);
  }
  const problems: PolicyProblem[] = [];
  if (extra.length > 0) problems.push({ option: 'arguments', value: extra, reason: 'only one root directory is served', fix: 'pass a single directory' });
  const all = settings(readConfig(values.config as string | undefined, problems), values);
  const { port, host, workers } = cliSettings(all, problems);
  const options = serverOptions(all, root, problems);
  // The same checks with and without --workers, before anything listens or forks.
  check(options, problems);

  const shown = host.includes(':') ? `[${host}]` : host;
  if (cluster.isPrimary && workers !== 1) {
    runPrimary(workers, shown);
    return;
  }
  await serve(options, port, host, shown);
}

async function serve(options: ServerOptions, port: number, host: string, shown: string): Promise<void> {
  let server: XoriginServer;
  try {
    server = await serveFiles(options);
  } catch (e) {
    if (e instanceof PolicyError) fail(e.problems);
    // The options were valid, so what failed is the scan of the root.
    fail([{ option: 'root', value: options.root, reason: (e as Error).message, fix: 'pass a readable directory' }]);
  }
  server.on('error', (e: NodeJS.ErrnoException) => {
    process.stderr.write(`xorigin: cannot listen on ${host}:${String(port)}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
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
