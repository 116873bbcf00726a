import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { PolicyError, type PolicyProblem } from '../cors/errors.js';
import { KNOWN_OPTIONS } from '../cors/options.js';
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_WORKERS, OPTION_SCHEMA, SERVER_SCHEMA, checkOption, unknownKeys, type OptionSpec, type ServerOptions } from '../static/options.js';
import { defaultEtagCacheDir } from '../static/etag-cache.js';
import { readSmallRegularFile } from '../static/operator-files.js';
import { validateServable } from '../static/root-problem.js';
import { RESTART_ONLY } from '../static/reload.js';
import { isDirectory, type CommandLine } from './args.js';
import { duplicateKeys } from './duplicate-keys.js';
import { toStderr, toStdout } from './output.js';

/** A config file is a few KiB (10,000 origins: ~400 KiB); past this it is not one. */
const CONFIG_LIMIT = 16 * 1024 * 1024;

/** Everything `xorigin serve` needs, from every source, checked. */
export interface Settings {
  readonly options: ServerOptions;
  readonly port: number;
  readonly host: string;
  readonly workers: number;
}

/** Option values by option name, as one source gives them; policy keys under `cors`. */
type Layer = Record<string, unknown>;

function spec(name: string): OptionSpec {
  return OPTION_SCHEMA.find((s) => s.name === name) as OptionSpec;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** JSON.parse says where by offset ("at position 101"): the line and column are what an editor shows. */
function withLineAndColumn(message: string, text: string): string {
  const m = /position (\d+)/.exec(message);
  // Node 22 and later name the line and column themselves: "at position 23 (line 3 column 1)".
  if (m === null || /\(line \d+ column \d+\)/.test(message)) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

/**
 * The config file's keys. A relative `root` is resolved against the file's own directory, so the
 * file means the same wherever it is run from. Unreadable or not a JSON object: its problem is
 * added and null returned (the rest of the command line is still checked).
 */
function configLayer(path: string, problems: PolicyProblem[]): Layer | null {
  let text: string;
  try {
    // A UTF-8 byte-order mark (Windows editors, PowerShell's Out-File) is no part of the JSON; npm skips it too.
    text = readSmallRegularFile(path, CONFIG_LIMIT).toString('utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    problems.push({ option: '--config', value: path, reason: `cannot read the config file: ${(e as Error).message}`, fix: `pass a readable JSON file (a config file is a few KiB; ${CONFIG_LIMIT / 1048576} MiB at most)` });
    return null;
  }
  let config: Layer;
  try {
    const data: unknown = JSON.parse(text);
    if (!isPlainObject(data)) throw new Error('the top level must be a JSON object');
    config = data;
  } catch (e) {
    problems.push({ option: '--config', value: path, reason: `not valid JSON: ${withLineAndColumn((e as Error).message, text)}`, fix: 'correct the file there (keys and strings in double quotes, no trailing commas, no comments)' });
    return null;
  }
  checkKeys(config, text, problems);
  const here = dirname(path);
  for (const key of ['root', 'etagCache']) {
    const value = config[key];
    if (typeof value === 'string' && value !== '' && value !== 'off') config[key] = resolve(here, value);
  }
  if (isPlainObject(config.tls)) {
    const tls = { ...config.tls };
    for (const name of ['cert', 'key']) if (typeof tls[name] === 'string' && tls[name] !== '') tls[name] = resolve(here, tls[name] as string);
    config.tls = tls;
  }
  return config;
}

/**
 * The config file's keys that JSON.parse and the schema alone would take wrongly: a key given twice
 * (JSON keeps the last), a policy option outside `"cors"`, and `onDenied`, a function, which no JSON
 * can hold. Unknown keys are named with the one most likely meant.
 */
function checkKeys(config: Layer, text: string, problems: PolicyProblem[]): void {
  for (const { path, at, times } of duplicateKeys(text)) {
    const kept = at.reduce<unknown>((value, step) => (value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[step] : undefined), config);
    problems.push({ option: path, value: kept, reason: `is given ${String(times)} times in one object of the config file, and JSON keeps only the last (this one): what the others said is dropped`, fix: `keep one "${String(at[at.length - 1])}" there, with everything it should say` });
  }
  for (const problem of unknownKeys(config, OPTION_SCHEMA.filter((s) => (s.scope === 'server' || s.scope === 'cli') && s.configType !== null), 'key in the config file')) {
    const policy = KNOWN_OPTIONS.includes(problem.option);
    problems.push(policy ? { ...problem, reason: 'is a CORS policy option, and policy options go inside "cors"', fix: `move it there: "cors": { "${problem.option}": ... }` } : problem);
  }
  if (isPlainObject(config.cors) && Object.hasOwn(config.cors, 'onDenied')) {
    problems.push({ option: 'cors.onDenied', value: config.cors.onDenied, reason: 'must be a function, which a JSON config file cannot hold', fix: 'remove it; pass onDenied to serve() or createCors() in code, or run with --debug to see each refusal explained on stderr' });
    const { onDenied: _, ...rest } = config.cors;
    config.cors = rest;
  }
}

/** The environment: `$PORT` (digits become a number; an empty or blank value counts as unset). */
function envLayer(env: NodeJS.ProcessEnv): Layer {
  const text = env.PORT?.trim();
  if (text === undefined || text === '') return {};
  return { port: /^\d+$/.test(text) ? Number(text) : text };
}

/** The options that hold an object of keys, each of which a flag may set on its own. */
const NESTED = ['cors', 'tls'];

/** The flags; the root argument is the `root` flag's value, relative to the working directory. */
function flagLayer(cmd: CommandLine): Layer {
  const layer: Layer = {};
  const nested: Record<string, Layer> = { cors: {}, tls: {} };
  for (const [name, value] of Object.entries(cmd.options)) {
    const scope = spec(name).scope;
    if (scope === 'policy') (nested.cors as Layer)[name] = value;
    else if (scope === 'tls') (nested.tls as Layer)[name] = value;
    else layer[name] = value;
  }
  for (const key of NESTED) if (Object.keys(nested[key] as Layer).length > 0) layer[key] = nested[key];
  const root = cmd.positionals[1];
  if (root !== undefined) layer.root = root;
  return layer;
}

/**
 * `higher` over `lower`, key by key (policy keys inside `cors`, and `tls` keys, too). Options that decide the same
 * response header (cacheControl, immutable) are one setting: where `higher` sets one of them, what
 * `lower` said through the others is dropped. A `cors` or `tls` that is not an object is kept as is,
 * so validation names it rather than a spread of its characters.
 */
function overlay(lower: Layer, higher: Layer): Layer {
  const out: Layer = { ...lower };
  for (const [name, value] of Object.entries(higher)) {
    const decides = OPTION_SCHEMA.find((s) => s.name === name)?.decides;
    if (decides === undefined || value === false) continue;
    for (const other of OPTION_SCHEMA) if (other.decides === decides) delete out[other.name];
  }
  for (const [name, value] of Object.entries(higher)) {
    if (NESTED.includes(name) && isPlainObject(value)) {
      const below = lower[name];
      out[name] = isPlainObject(below) ? { ...below, ...value } : below === undefined ? value : below;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * Port, host and workers, checked; a bad port from the environment is named `$PORT`, and a port
 * written into the host is told to go where the host came from (a flag or the config file). Only a key left
 * out takes its default: a JSON `null` is a value of the wrong type, as it is for every other key.
 */
function cliSettings(all: Layer, from: { portFromEnv: boolean; hostFromFlag: boolean }, problems: PolicyProblem[]): { port: number; host: string; workers: number } {
  const given = (name: string, otherwise: unknown): unknown => (all[name] === undefined ? otherwise : all[name]);
  const resolved = { port: given('port', DEFAULT_PORT), host: given('host', DEFAULT_HOST), workers: given('workers', DEFAULT_WORKERS) };
  for (const [name, value] of Object.entries(resolved)) {
    const problem = checkOption(spec(name), value) ?? (name === 'host' ? hostProblem(value as string, from.hostFromFlag) : null);
    if (problem === null) continue;
    if (name === 'port' && from.portFromEnv) problems.push({ ...problem, option: '$PORT', fix: 'set PORT to a whole number from 0 to 65535, or unset it' });
    else problems.push(problem);
  }
  return resolved as { port: number; host: string; workers: number };
}

/**
 * Why `host` cannot be listened on, or null: an IP address (`127.0.0.1`, `0.0.0.0`, `::1`, `::`) or
 * a host name. Checked here, so that a URL, a port or a bracketed IPv6 address is a start-up error
 * naming the option, not a getaddrinfo failure after the scan of the root.
 */
function hostProblem(host: string, byFlag: boolean): PolicyProblem | null {
  if (isIP(host) !== 0) return null;
  const portAs = (port: string): string => (byFlag ? `--port ${port}` : `"port": ${String(Number(port))}`);
  const problem = (reason: string, fix: string): PolicyProblem => ({ option: 'host', value: host, reason, fix });
  const inBrackets = /^\[(.*)\](?::(\d+))?$/.exec(host);
  if (inBrackets !== null && isIP(inBrackets[1] as string) === 6) {
    const [, address, port] = inBrackets as unknown as [string, string, string | undefined];
    if (port !== undefined) return problem('holds a port', `write the address alone, without brackets (${address}), and the port as ${portAs(port)}`);
    return problem('an IPv6 address is written here without its brackets', `write it as ${address}`);
  }
  if (host.includes('://')) return problem('is an address to listen on, not a URL', `write the address alone, e.g. 127.0.0.1 (the port is ${byFlag ? '--port' : '"port"'})`);
  if (/^[^:]+:\d+$/.test(host)) return problem('holds a port', `write the address alone (${host.slice(0, host.lastIndexOf(':'))}) and the port as ${portAs(host.slice(host.lastIndexOf(':') + 1))}`);
  // getaddrinfo reads a bare number as a 32-bit address (8080 is 0.0.31.144): in a port's range, it was meant as one.
  if (/^\d+$/.test(host) && Number(host) >= 1 && Number(host) <= 65535) return problem('is a port number, not an address', `write the port as ${portAs(host)}, and an address here, e.g. 127.0.0.1 or 0.0.0.0`);
  // Numeric forms isIP refuses (`0`, `127.1`) are left to getaddrinfo, which reads them as inet_aton does.
  if (!HOST_NAME.test(host)) return problem('is not an IP address or a host name', 'e.g. 127.0.0.1 (this machine only), 0.0.0.0 (every IPv4 interface) or :: (every interface)');
  return null;
}

/** A DNS host name (RFC 1123 §2.1): dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}\.?$)[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?(?:\.[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?)*\.?$/i;

/**
 * The serve() options: every server key as given (validate() checks them), `log: true` turned into
 * stdout. One function per destination (output.ts), so that a reload compares them as unchanged
 * (static/reload.ts).
 */
function serverOptions(all: Layer, env: NodeJS.ProcessEnv, problems: PolicyProblem[]): ServerOptions {
  const options: Layer = {};
  for (const s of SERVER_SCHEMA) if (all[s.name] !== undefined) options[s.name] = all[s.name];
  // The library writes nowhere unless asked; the command keeps its ETags where caches go.
  if (options.etagCache === undefined) options.etagCache = defaultEtagCacheDir(env);
  if (isPlainObject(options.cors) && options.cors.origins === undefined) options.cors = { ...options.cors, origins: ['*'] };
  else if (options.cors === undefined) options.cors = { origins: ['*'] };
  const log = spec('log');
  const problem = checkOption(log, all.log, log.configType ?? log.type);
  if (problem !== null) problems.push(problem);
  delete options.log;
  if (all.log === true) options.log = toStdout;
  // --debug / "debug": true: explain mode on stderr (the access log keeps stdout).
  const debug = spec('debug');
  const debugProblem = checkOption(debug, all.debug, debug.configType ?? debug.type);
  if (debugProblem !== null) problems.push(debugProblem);
  delete options.debug;
  if (all.debug === true) options.debug = toStderr;
  return options as unknown as ServerOptions;
}

/** Every problem of the server options; the root must be a directory. */
function checkServerOptions(options: ServerOptions, problems: PolicyProblem[]): void {
  const noRoot = options.root === undefined;
  if (noRoot) problems.push({ option: 'root', value: undefined, reason: 'no directory to serve', fix: 'run "xorigin serve DIR" or set "root" in the config file' });
  try {
    // A placeholder root, so a missing one is reported once, in the CLI's words (and not looked at).
    validateServable(noRoot ? { ...options, root: '.' } : options, () => !noRoot);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    problems.push(...e.problems);
  }
}

/** What the CLI binds or forks: a reload reports a change of these as needing a restart. */
export const BOUND = ['port', 'host', 'workers'] as const;

/**
 * The values of the settings a running server keeps until a restart (BOUND, the server's
 * RESTART_ONLY options, and TLS on or off: its paths), as a cluster primary started with them.
 * Plain JSON, for the IPC channel; an absent key is an option left to its default.
 */
export type StartupValues = Readonly<Record<string, unknown>>;

export function startupValues(settings: Settings): StartupValues {
  const options = settings.options as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { port: settings.port, host: settings.host, workers: settings.workers, tls: options.tls };
  for (const name of RESTART_ONLY) out[name] = options[name];
  return out;
}

/**
 * The layers with the settings that need a restart as `pinned` has them: how a worker replacing
 * one that died starts with the values its siblings started with (they keep them until a restart),
 * and everything else from the configuration in force. TLS stays on or off as it was; the
 * certificate and key are the newest, as the siblings' last reload put them in force.
 */
function pin(all: Layer, pinned: StartupValues): Layer {
  const out: Layer = { ...all };
  const tlsWas = pinned.tls !== undefined;
  for (const name of [...BOUND, ...RESTART_ONLY, ...((out.tls !== undefined) !== tlsWas ? ['tls'] : [])]) {
    if (pinned[name] === undefined) delete out[name];
    else out[name] = pinned[name];
  }
  return out;
}

/**
 * The settings from every source: flags > environment > config file > defaults (args.ts
 * PRECEDENCE); with `pinned`, the settings that need a restart as given there (see pin). Throws a
 * PolicyError listing every problem, before anything listens or forks.
 */
export function resolveSettings(cmd: CommandLine, env: NodeJS.ProcessEnv, pinned?: StartupValues): Settings {
  const problems: PolicyProblem[] = [...cmd.problems];
  const extra = cmd.positionals.slice(2);
  if (extra.length > 0) problems.push({ option: 'arguments', value: extra, reason: 'only one root directory is served', fix: 'pass a single directory' });
  const configPath = cmd.options.config as string | undefined;
  const config = configPath === undefined ? {} : configLayer(configPath, problems);
  if (config === null) {
    // What the file would have said is unknown: the flags are checked alone, without defaults that
    // the file may have set (its root), so that every problem is reported at once.
    checkFlagsAlone(cmd, problems);
    throw new PolicyError(problems.map((p) => inFlagTerms(p, cmd)));
  }
  const fromEnv = envLayer(env);
  const flags = flagLayer(cmd);
  checkCovered(config, fromEnv, flags, problems);
  const layered = overlay(overlay(config, fromEnv), flags);
  const all = pinned === undefined ? layered : pin(layered, pinned);
  const { port, host, workers } = cliSettings(all, { portFromEnv: flags.port === undefined && fromEnv.port !== undefined, hostFromFlag: flags.host !== undefined }, problems);
  const options = serverOptions(all, env, problems);
  checkServerOptions(options, problems);
  if (problems.length > 0) throw new PolicyError(problems.map((p) => inFlagTerms(noRootHint(p, cmd), cmd)));
  return { options, port, host, workers };
}

/**
 * The config file's values that a flag or `$PORT` sets over, checked all the same (type and range):
 * every value of the file must be valid, or the file that starts today, its mistake covered by a
 * flag, fails the day the flag is dropped (a `"port": "8080"` under `--port`).
 */
function checkCovered(config: Layer, fromEnv: Layer, flags: Layer, problems: PolicyProblem[]): void {
  const check = (name: string, value: unknown, option: string, by: string): void => {
    const s = OPTION_SCHEMA.find((o) => o.name === name);
    const problem = s === undefined ? null : checkOption(s, value, s.configType ?? s.type);
    if (problem !== null) problems.push({ ...problem, option, reason: `${problem.reason} (in the config file, though ${by} sets it over the file now)` });
  };
  const flagOf = (name: string): string => `--${spec(name).flag?.name ?? name}`;
  // Own keys only: a file's "constructor" or "toString" found Object.prototype's member in a plain
  // object's lookup, no flag's, and crashed the CLI instead of its unknown-key error (review h58).
  const own = (layer: Layer, key: string): unknown => (Object.hasOwn(layer, key) ? layer[key] : undefined);
  for (const [name, value] of Object.entries(config)) {
    const over = own(flags, name) ?? own(fromEnv, name);
    if (over === undefined) continue;
    const by = own(flags, name) !== undefined ? flagOf(name) : '$PORT';
    if (!NESTED.includes(name)) check(name, value, name, by);
    else if (isPlainObject(value) && isPlainObject(over)) {
      for (const [key, inner] of Object.entries(value)) if (own(over as Layer, key) !== undefined) check(key, inner, `${name}.${key}`, flagOf(key));
    }
  }
}

/** Flags whose value is a directory by design: one of them naming a directory says nothing of the root. */
const DIRECTORY_FLAGS = ['etagCache', 'config', 'cert', 'key'];

/**
 * The missing root's problem, with the flag that most likely took the root as its value: in
 * `--allowed-headers $LIST fonts` with LIST unset, the shell drops the empty word and the flag takes
 * `fonts`. Any other problem as it is.
 */
function noRootHint(p: PolicyProblem, cmd: CommandLine): PolicyProblem {
  if (p.option !== 'root' || p.value !== undefined) return p;
  for (const [name, value] of Object.entries(cmd.options)) {
    if (DIRECTORY_FLAGS.includes(name)) continue;
    for (const text of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (typeof text !== 'string' || !isDirectory(text)) continue;
      const flag = `--${spec(name).flag?.name ?? name}`;
      return { ...p, fix: `${p.fix} (${flag} took "${text}" as its value: if that is the directory to serve, ${flag} is missing its own value, as when it is given an unset shell variable)` };
    }
  }
  return p;
}

/**
 * Each flag's value checked on its own (its type and range), when the config file could not be
 * read: rules that combine options (credentials with `*`) wait for the file, which may change them.
 */
function checkFlagsAlone(cmd: CommandLine, problems: PolicyProblem[]): void {
  cliSettings(flagLayer(cmd), { portFromEnv: false, hostFromFlag: true }, problems);
  for (const [name, value] of Object.entries(cmd.options)) {
    if (name === 'port' || name === 'host' || name === 'workers') continue; // checked just above
    const problem = checkOption(spec(name), value);
    if (problem !== null) problems.push(problem);
  }
}

/**
 * A problem's fix in the terms of the flags given: its `name: value` advice about an option a flag
 * set, as the flag says it (`maxAge: 7200` as `--max-age 7200`, `set credentials: false` as `drop
 * --credentials`). The problem keeps the option's own name, as the config file and the API spell
 * it. A policy option the fix names that has no flag is said to belong in a config file.
 */
function inFlagTerms(p: PolicyProblem, cmd: CommandLine): PolicyProblem {
  const given = (spec: OptionSpec | undefined): spec is OptionSpec & { flag: NonNullable<OptionSpec['flag']> } =>
    spec?.flag !== undefined && Object.hasOwn(cmd.options, spec.name);
  let fix = p.fix.replace(/\b(set )?(\w+): ([^\s,;)]+)/g, (said, set: string | undefined, name: string, value: string) => {
    const spec = OPTION_SCHEMA.find((s) => s.name === name);
    if (!given(spec)) return said;
    const pass = set === undefined ? '' : 'pass ';
    if (spec.flag.arg !== undefined) return `${pass}--${spec.flag.name} ${value}`;
    if (value !== 'false') return `${pass}--${spec.flag.name}`;
    return set === undefined ? `--no-${spec.flag.name}` : `drop --${spec.flag.name}`;
  });
  const flagless = KNOWN_OPTIONS.filter((name) => !OPTION_SCHEMA.some((s) => s.name === name && s.flag !== undefined) && new RegExp(`\\b${name}:`).test(fix));
  if (flagless.length > 0 && cmd.options.config === undefined) fix += ` (${flagless.join(', ')} has no flag: set it in a config file's "cors" object, --config FILE)`;
  return fix === p.fix ? p : { ...p, fix };
}
