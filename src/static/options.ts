import { validateHeaderValue } from 'node:http';
import { resolve } from 'node:path';
import { asPolicyError, PolicyError, type PolicyProblem } from '../cors/errors.js';
import { Cors } from '../cors/node.js';
import { observeRejection } from '../cors/engine.js';
import { MAX_AGE_LIMIT, ownValues, readPolicyOnce, type CorsOptions } from '../cors/options.js';
import { LOG_FORMATS, type LogFormat } from './access-log.js';
import { loadTls, reportUnreadable, type TlsFiles, type TlsMaterial } from './tls.js';
import { ticketKeysProblem } from './ticket-keys.js';
import { closestName } from '../cors/closest-name.js';
import { terminalSafe } from '../http/terminal-safe.js';
import { withoutOws } from '../http/whitespace.js';
import { sayOnStderr } from './stderr-line.js';

/** The options of serve() and createStaticHandler() (the README's Options tables list each, with its default). */
export interface ServerOptions {
  /** Directory to serve. */
  root: string;
  /**
   * CORS policy (the core's options). Default: `{ origins: ["*"] }`. The server fills in only what the
   * policy says nothing about: `allowedHeaders` absent → `["range"]`; `exposedHeaders` absent →
   * `["content-range", "accept-ranges", "content-length", "etag"]`; `timingAllowOrigin` absent in a
   * policy whose `origins` is `["*"]` → `true`. An explicit value, even `[]`, is taken as is.
   */
  cors?: CorsOptions | undefined;
  /** Cache-Control for files and 304s. Default `public, max-age=3600`. */
  cacheControl?: string | undefined;
  /** Versioned URLs: `public, max-age=31536000, immutable`. */
  immutable?: boolean | undefined;
  /**
   * The largest file (bytes) that may be held in memory, if it is used often enough and fits the
   * memory budget. Default 4 MiB.
   */
  smallFileLimit?: number | undefined;
  /**
   * Bytes of file bodies held in memory, at most (per process): a number, or a string such as
   * `"64MiB"`, `"512KiB"`, `"1GiB"`. Which files are held is chosen by use. `0` serves every body
   * from disk. Default 64 MiB.
   */
  memoryBudget?: number | string | undefined;
  /**
   * Directory of the ETag cache, which lets an unchanged tree restart without reading file contents,
   * or `"off"`. Default for serve() and createStaticHandler: off; `xorigin serve` uses
   * `$XDG_CACHE_HOME/xorigin` (or `~/.cache/xorigin`).
   */
  etagCache?: string | undefined;
  /** Send `Cross-Origin-Resource-Policy: cross-origin`. Default: on for a `*` policy. */
  crossOriginResourcePolicy?: boolean | undefined;
  /** Watch the root and pick up changes without a restart. Default true. */
  watch?: boolean | undefined;
  /**
   * Access log: one line per request to this function (default none). A throw from it is caught and
   * reported once on stderr; the server keeps serving.
   */
  log?: ((line: string) => void | PromiseLike<void>) | undefined;
  /**
   * The access log's format: `clf` (Common Log Format, the default) or `json` (one JSON object per
   * line). See access-log.ts for the fields.
   */
  logFormat?: LogFormat | undefined;
  /**
   * Explain mode: each refused preflight and each request from an origin the policy does not allow
   * gets one line here saying why (origin not in the policy, method, which request header, the
   * header list's bounds), request values escaped and truncated. Never on the wire; off by default,
   * and then the refusal path does nothing more. A throw from it is reported once on stderr.
   */
  debug?: ((line: string) => void | PromiseLike<void>) | undefined;
  /**
   * Send (inactivity) timeout in ms, like nginx's `send_timeout`: a connection on which nothing could
   * be written for this long is closed, and everything its response held is released. Default 60000.
   */
  sendTimeout?: number | undefined;
  /**
   * How long (ms) an idle keep-alive connection is kept open. Default 5000. Behind a load balancer it
   * must exceed the balancer's own idle timeout (often 60 s), or the balancer reuses a connection
   * this server is closing and answers 502.
   */
  keepAliveTimeout?: number | undefined;
  /**
   * HTTPS: the certificate chain and private key, as PEM file paths. Read (and checked to belong
   * together) at start-up and again on each reload. Default: none, plain HTTP.
   */
  tls?: TlsFiles | undefined;
  /** With `tls`: offer HTTP/2 by ALPN (`h2`, then `http/1.1` for older clients). Default true. */
  http2?: boolean | undefined;
}

/** The options after validation, with every default applied. */
export interface ResolvedServerOptions {
  readonly cors: Cors;
  /** The root as given (resolved to an absolute path by the server). */
  readonly root: string;
  readonly cacheControl: string;
  readonly crossOriginResourcePolicy: boolean;
  readonly smallFileLimit: number;
  /** Bytes. */
  readonly memoryBudget: number;
  /** An absolute directory, or undefined: no ETag cache. */
  readonly etagCache: string | undefined;
  readonly watch: boolean;
  /** The user's callback, guarded: it never throws (see guardLog). */
  readonly log: ((line: string) => void) | undefined;
  readonly logFormat: LogFormat;
  /** The explain-mode callback, guarded like `log`. */
  readonly debug: ((line: string) => void) | undefined;
  readonly sendTimeout: number;
  readonly keepAliveTimeout: number;
  /** The certificate and key read and checked, or null for plain HTTP. */
  readonly tls: TlsMaterial | null;
  readonly http2: boolean;
}

/** Cache-Control of files and 304s unless `cacheControl` says otherwise (RFC 9111 §5.2.2). */
export const DEFAULT_CACHE_CONTROL = 'public, max-age=3600';
/** Cache-Control with `immutable: true`: for URLs that change when the file does (RFC 8246). */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const DEFAULT_SMALL_FILE_LIMIT = 4 * 1024 * 1024;
export const DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024;
/** 1 TiB: beyond any machine this runs on, and still an exact double. */
const MEMORY_BUDGET_MAX = 2 ** 40;
export const DEFAULT_SEND_TIMEOUT = 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT = 5_000;
/** The CLI's defaults (the library binds where listen() is told). */
export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_WORKERS = 1;
/** Request headers the server allows when the policy names none: resumable and ranged font reads. */
export const DEFAULT_ALLOWED_HEADERS: readonly string[] = ['range'];
/**
 * Response headers the server exposes when the policy names none: what ranged readers (pdf.js) read,
 * and the ETag a script resuming a download compares (Last-Modified is readable without exposing).
 * Content-Length is safelisted by the Fetch standard since 2020, but not in older engines.
 */
export const DEFAULT_EXPOSED_HEADERS: readonly string[] = ['content-range', 'accept-ranges', 'content-length', 'etag'];
const EXPOSED_TEXT = DEFAULT_EXPOSED_HEADERS.join(', ');

/** The kinds of value an option takes. Config files are JSON, so a number in quotes is a string. */
export type OptionType = 'string' | 'boolean' | 'integer' | 'bytes' | 'function' | 'object' | 'strings';

/**
 * Where an option lives. `server`: a createServer option and a config-file key, checked by validate().
 * `cli`: a config key and/or flag of the CLI only (port, host, workers, config), checked by the CLI.
 * `policy`: a key of the `cors` policy, checked by compilePolicy; listed here for its flag.
 * `tls`: a key of the `tls` object (the certificate files), checked by validate(); listed for its flag.
 */
export type OptionScope = 'server' | 'cli' | 'policy' | 'tls';

export interface OptionFlag {
  /** Long name without dashes. A boolean flag (no `arg`) also has a `--no-NAME` form that sets false. */
  readonly name: string;
  readonly short?: string;
  /** Placeholder of the value in --help (`MS`); absent for a boolean flag. */
  readonly arg?: string;
  /** Repeatable: `--origin a --origin b`. */
  readonly multiple?: boolean;
  /** One comma-separated argument: `--methods PUT,DELETE`. */
  readonly list?: boolean;
}

/**
 * One option: the single description that drives createServer's checks, the config file's keys and
 * types, the CLI flags and --help (and that the README tables are checked against).
 */
export interface OptionSpec {
  readonly name: string;
  readonly scope: OptionScope;
  readonly type: OptionType;
  /** Its type in the config file when that differs (`log` is a function in code, `true` in JSON); null: no config key. */
  readonly configType?: OptionType | null;
  readonly required?: boolean;
  /** Bounds of an integer. */
  readonly min?: number;
  readonly max?: number;
  readonly unit?: string;
  /** The value is sent as this response header, so it must pass node:http's header-value check. */
  readonly header?: string;
  /**
   * The response header this option decides. Options that decide the same header are one setting
   * for precedence: where a higher source (a flag) sets one of them, what a lower source (the config
   * file) said through the others is dropped.
   */
  readonly decides?: string;
  /** The only values a string option takes. */
  readonly values?: readonly string[];
  /** The default, as documented. */
  readonly default: string;
  readonly flag?: OptionFlag;
  /** One line for --help; `\n` continues it on the next line. */
  readonly help: string;
  /**
   * The README's tables (generated from this schema by scripts/readme-options.mjs): the meaning in the
   * flag table (markdown), and in the serve() options table when it reads differently there.
   */
  readonly doc?: string;
  readonly apiDoc?: string;
  /** The default as the README's serve() table shows it, when it differs from `default`. */
  readonly apiDefault?: string;
  /** A valid value, quoted in the fix of a problem. */
  readonly example: string;
}

const TIMEOUT_MAX = 3_600_000;

/**
 * The range an integer option accepts, as --help and the README's flag table show it ("1-3600000"),
 * from the same bounds validation uses; '' for an option without both.
 */
export function rangeText(spec: OptionSpec): string {
  return spec.type === 'integer' && spec.min !== undefined && spec.max !== undefined ? `${spec.min}-${spec.max}` : '';
}

export const OPTION_SCHEMA: readonly OptionSpec[] = [
  { name: 'root', scope: 'server', type: 'string', required: true, default: '', help: 'the directory to serve (the first argument)', example: '"./fonts"', apiDefault: 'required', apiDoc: 'the directory to serve' },
  { name: 'port', scope: 'cli', type: 'integer', min: 0, max: 65535, default: `${DEFAULT_PORT} or $PORT`, flag: { name: 'port', short: 'p', arg: 'N' }, help: `port (default ${DEFAULT_PORT}, or $PORT; 0 picks a free port)`, example: '8080', doc: '`0` picks a free port' },
  { name: 'host', scope: 'cli', type: 'string', default: DEFAULT_HOST, flag: { name: 'host', arg: 'H' }, help: `address to bind: an IP address (IPv6 without brackets) or a host\nname (default ${DEFAULT_HOST}; 0.0.0.0 or :: to expose)`, example: '"127.0.0.1"', doc: 'an IP address (`0.0.0.0` or `::` to expose) or a host name; IPv6 without brackets' },
  { name: 'config', scope: 'cli', type: 'string', configType: null, default: '', flag: { name: 'config', arg: 'FILE' }, help: 'JSON: { "root", "port", "host", "cors": {...}, "cacheControl", ... }\n(the README lists every key; an unknown or repeated key is an error;\nrelative paths are relative to the file)', example: '"xorigin.json"', doc: 'JSON: `{ "root", "port", "host", "workers", "cors": { ...policy options... }, "cacheControl", "immutable", "smallFileLimit", "memoryBudget", "etagCache", "crossOriginResourcePolicy", "watch", "log", "debug", "logFormat", "sendTimeout", "keepAliveTimeout", "tls": { "cert", "key" }, "http2" }`; unknown keys and a key given twice (JSON would keep the last) are errors, and every value must have its JSON type (`null` too is an error): `"port": 8080`, `"watch": false`, `"log": true` (a quoted `"8080"` or `"false"` is an error, never read as a number or a truthy string); a relative `"root"`, `"etagCache"` or `"tls"` file is relative to the config file\'s directory; `"smallFileLimit"` and `"crossOriginResourcePolicy"` have no flag (config only: see the `serve()` options for their defaults)' },
  { name: 'cors', scope: 'server', type: 'object', default: '{ "origins": ["*"] }', help: 'the CORS policy', example: '{ "origins": ["https://app.example.com"] }', apiDefault: '{ origins: ["*"] }', apiDoc: `the policy ([options](#options)); with no \`allowedHeaders\` the server allows \`range\`, with no \`exposedHeaders\` it exposes \`${EXPOSED_TEXT}\`; an explicit list, even \`[]\`, is taken as is` },
  { name: 'origins', scope: 'policy', type: 'strings', default: '*', flag: { name: 'origin', arg: 'O', multiple: true }, help: "allowed origin, repeatable: https://app.example.com,\n'https://*.example.com', 'http://localhost:*' or '*' (default '*')", example: '["https://app.example.com"]', doc: 'repeatable; any origin form of the policy' },
  { name: 'methods', scope: 'policy', type: 'strings', default: 'none', flag: { name: 'methods', arg: 'LIST', list: true }, help: 'extra allowed methods, comma-separated (e.g. PUT,DELETE)', example: '["PUT"]', doc: 'comma-separated (the server itself answers only GET/HEAD/OPTIONS)' },
  { name: 'allowedHeaders', scope: 'policy', type: 'strings', default: 'range', flag: { name: 'allowed-headers', arg: 'L', list: true }, help: 'request headers a preflight may ask for (default: range;\na list given here replaces it)', example: '["range", "x-requested-with"]', doc: 'with no list at all the server allows `range` (suffix and multi-range requests from script need it); a list given here or in the config, even `[]`, replaces that default and is honoured exactly' },
  { name: 'exposedHeaders', scope: 'policy', type: 'strings', default: EXPOSED_TEXT, flag: { name: 'exposed-headers', arg: 'L', list: true }, help: `response headers scripts may read; a list given here replaces\nthe default: ${EXPOSED_TEXT}`, example: '["content-range"]', doc: 'with no list at all the server exposes what ranged readers (pdf.js) and scripts resuming a download (the ETag they compare) read; a list given here or in the config, even `[]`, replaces it' },
  { name: 'credentials', scope: 'policy', type: 'boolean', default: 'off', flag: { name: 'credentials' }, help: 'send Access-Control-Allow-Credentials: true to allowed origins', example: 'true', doc: 'send `Access-Control-Allow-Credentials: true` to allowed origins' },
  { name: 'maxAge', scope: 'policy', type: 'integer', default: 'none', flag: { name: 'max-age', arg: 'SECONDS' }, help: `how long browsers may cache a preflight (0-${MAX_AGE_LIMIT}; -1 sends 0)`, example: '7200', doc: `preflight cache time in seconds, 0-${MAX_AGE_LIMIT} (\`-1\` sends \`0\`)` },
  { name: 'cacheControl', scope: 'server', type: 'string', header: 'Cache-Control', decides: 'Cache-Control', default: DEFAULT_CACHE_CONTROL, flag: { name: 'cache-control', arg: 'V' }, help: `Cache-Control value (default "${DEFAULT_CACHE_CONTROL}")`, example: '"public, max-age=3600"', doc: 'also repeated on 304s', apiDoc: 'a valid header value' },
  { name: 'immutable', scope: 'server', type: 'boolean', decides: 'Cache-Control', default: 'off', flag: { name: 'immutable' }, help: `versioned URLs: "${IMMUTABLE_CACHE_CONTROL}"`, example: 'true', doc: '`public, max-age=31536000, immutable`, for versioned URLs only', apiDefault: 'false', apiDoc: '`public, max-age=31536000, immutable` (not with `cacheControl`)' },
  { name: 'smallFileLimit', scope: 'server', type: 'integer', min: 0, max: 64 * 1024 * 1024, unit: 'bytes', default: String(DEFAULT_SMALL_FILE_LIMIT), help: 'the largest file that may be held in memory', example: '4194304 (4 MiB)', apiDoc: 'the largest file (bytes) that may be held in memory, when used often enough (0-67108864; see `memoryBudget`)' },
  { name: 'memoryBudget', scope: 'server', type: 'bytes', min: 0, max: MEMORY_BUDGET_MAX, unit: 'bytes', default: '64MiB', flag: { name: 'memory-budget', arg: 'BYTES' }, help: 'file bodies held in memory, at most, per process (default 64MiB;\nalso KiB, MiB, GiB); the most used files are held, the rest read from disk', example: '"256MiB"', doc: 'bytes of file bodies held in memory per process (`67108864`, `64MiB`, `1GiB`); the files held are chosen by use (see [Memory](#memory)); `0` reads every body from disk', apiDoc: 'as `--memory-budget`: a number of bytes, or a string such as `"256MiB"`' },
  { name: 'etagCache', scope: 'server', type: 'string', default: '$XDG_CACHE_HOME/xorigin', flag: { name: 'etag-cache', arg: 'DIR' }, help: 'where ETags are kept between runs, so an unchanged tree restarts\nwithout reading its files (default $XDG_CACHE_HOME/xorigin or\n~/.cache/xorigin; off: none)', example: '"/var/cache/xorigin" or "off"', doc: 'where ETags are kept between runs, keyed by URL path and file identity, so an unchanged tree restarts without reading its files (or `~/.cache/xorigin`; `off` for none); a cache file that is corrupt, of another version or of another root is ignored; one inside the root is not used', apiDefault: 'off', apiDoc: 'a directory for the ETag cache (see `--etag-cache`), or `"off"`; off unless given' },
  { name: 'crossOriginResourcePolicy', scope: 'server', type: 'boolean', default: 'on for a * policy', help: 'send Cross-Origin-Resource-Policy: cross-origin', example: 'true', apiDoc: 'send `Cross-Origin-Resource-Policy: cross-origin`', apiDefault: 'on for a `*` policy' },
  { name: 'watch', scope: 'server', type: 'boolean', default: 'on', flag: { name: 'watch' }, help: 'pick up added, changed and removed files without a restart (default on)', example: 'false', doc: 'pick up added, changed and removed files without a restart; off: the files the start-up scan found are served until a restart, and a body held in memory keeps the bytes it was read with (one read from disk is still checked, before a 304 too, and a changed one read afresh; one a request found gone or unreadable is looked for again by a later request for it, at most once a second and 16 such paths a second in all, and served again once it is back, but a precompressed sibling found so is offered again only after a restart); under `--workers`, a worker started later to replace one that died scans the files as they are then, so after an edit it can serve newer bytes than its siblings: keep watching on with `--workers`, or restart after an edit', apiDefault: 'true' },
  { name: 'sendTimeout', scope: 'server', type: 'integer', min: 1, max: TIMEOUT_MAX, unit: 'milliseconds', default: String(DEFAULT_SEND_TIMEOUT), flag: { name: 'send-timeout', arg: 'MS' }, help: `close a connection nothing could be written to for MS ms\n(default ${DEFAULT_SEND_TIMEOUT}, like nginx's send_timeout)`, example: '60000 (60 s)', doc: 'a connection nothing could be written to for this long is closed and its response\'s resources released (nginx\'s `send_timeout`)', apiDoc: `ms, as \`--send-timeout\` (1-${TIMEOUT_MAX})` },
  { name: 'keepAliveTimeout', scope: 'server', type: 'integer', min: 1, max: TIMEOUT_MAX, unit: 'milliseconds', default: String(DEFAULT_KEEP_ALIVE_TIMEOUT), flag: { name: 'keep-alive-timeout', arg: 'MS' }, help: `idle keep-alive connections are closed after MS ms (default\n${DEFAULT_KEEP_ALIVE_TIMEOUT}; advertised in whole seconds; HTTP/1.x ones 1-3 s\nlater, as node:http adds 1 s); behind a load balancer, set it above\nthe balancer's idle timeout (often 60 s), or the balancer answers 502`, example: '65000 (above a 60 s balancer timeout)', doc: 'how long an idle keep-alive connection stays open, as advertised in `Keep-Alive: timeout=` (whole seconds, rounded down: under 1000 that is `timeout=0`, which a start-up warning says); an HTTP/1.x one is kept 1 s longer, as node:http does, so a client reusing it at the last moment is answered, and closed by a sweep within 2 s after that (6-8 s after an answer at the default); behind a load balancer, set it above the balancer\'s idle timeout (often 60 s), or the balancer reuses a connection being closed and answers 502', apiDoc: `ms, as \`--keep-alive-timeout\` (1-${TIMEOUT_MAX})` },
  { name: 'tls', scope: 'server', type: 'object', default: 'none (plain HTTP)', help: 'HTTPS: { "cert": FILE, "key": FILE }', example: '{ "cert": "/etc/tls/fullchain.pem", "key": "/etc/tls/privkey.pem" }', apiDefault: 'none', apiDoc: '`{ cert, key }`: PEM file paths of the certificate chain and its private key; read and checked at start-up and on each reload' },
  { name: 'cert', scope: 'tls', type: 'string', required: true, default: 'none', flag: { name: 'cert', arg: 'FILE' }, help: 'serve HTTPS with this PEM certificate chain (with --key)', example: '"/etc/tls/fullchain.pem"', doc: 'PEM certificate chain, leaf first (`fullchain.pem`); with `--key`, the server speaks HTTPS (and HTTP/2 unless `--no-http2`); re-read on SIGHUP' },
  { name: 'key', scope: 'tls', type: 'string', required: true, default: 'none', flag: { name: 'key', arg: 'FILE' }, help: 'the private key of --cert (PEM, unencrypted)', example: '"/etc/tls/privkey.pem"', doc: 'the certificate\'s private key (PEM, unencrypted); a key that does not match the certificate is a start-up error' },
  { name: 'http2', scope: 'server', type: 'boolean', default: 'on', flag: { name: 'http2' }, help: 'with --cert: offer HTTP/2 as well as HTTP/1.1 (default on)', example: 'false', doc: 'with `--cert`: offer HTTP/2 (ALPN `h2`) and HTTP/1.1; `--no-http2` offers HTTP/1.1 only. Without TLS it changes nothing (browsers speak HTTP/2 only over TLS)', apiDefault: 'true', apiDoc: 'with `tls`: offer HTTP/2 and HTTP/1.1 (ALPN); false: HTTP/1.1 only' },
  { name: 'workers', scope: 'cli', type: 'integer', min: 1, max: 256, default: String(DEFAULT_WORKERS), flag: { name: 'workers', arg: 'N' }, help: `run N server processes (node:cluster); a worker that dies is\nreplaced (default ${DEFAULT_WORKERS}: a single process, no cluster)`, example: '2 (one per CPU core is the usual choice)', doc: 'run N processes with `node:cluster` sharing the port; the primary first hashes the tree once into the ETag cache, so the workers read no file it knows (with `--etag-cache off`, each worker hashes the tree); a worker that dies is replaced (with a growing delay while they keep dying before listening or within a second of it; if every worker dies at once, node:cluster lets the port go until a replacement listens, on the same port, `--port 0` included, and the primary says so: `no worker is serving`, then `serving again` (a process that binds the port in that gap keeps it: replacements then fail, each line naming its worker, and are retried with the growing delay until it lets go); the replacement serves the configuration in force: the bytes of the last reload the primary validated, with the settings that need a restart as at start-up, not the files as edited since); if none ever starts listening, the CLI exits 1' },
  { name: 'log', scope: 'server', type: 'function', configType: 'boolean', default: 'off', flag: { name: 'log' }, help: 'access log on stdout, one line per request', example: 'true', doc: 'one access-log line per request on stdout (see [Access log](#access-log))', apiDefault: 'none', apiDoc: '`(line) => void`, one access-log line per request; it may be async; if it throws or rejects, the server reports that once on stderr and keeps serving' },
  { name: 'debug', scope: 'server', type: 'function', configType: 'boolean', default: 'off', flag: { name: 'debug' }, help: 'explain each CORS refusal on stderr, one line each (never on the wire)', example: 'true', doc: 'one line on stderr per refused preflight or disallowed origin, saying why (origin, method, which request header, the header list\'s bounds); request values escaped and truncated; the response is unchanged', apiDefault: 'none', apiDoc: '`(line) => void`: explain mode, one line per CORS refusal, saying why; never on the wire; it may be async, and a throw or rejection from it is reported once on stderr' },
  { name: 'logFormat', scope: 'server', type: 'string', values: LOG_FORMATS, default: 'clf', flag: { name: 'log-format', arg: 'F' }, help: 'clf (Common Log Format, the default) or json (one object per line)', example: '"json"', doc: '`clf` (Common Log Format) or `json` (one object per line); takes effect with `--log` (without it, a warning at start-up and on reload)', apiDoc: '`clf` or `json` ([Access log](#access-log))' },
];

export const SERVER_SCHEMA: readonly OptionSpec[] = OPTION_SCHEMA.filter((s) => s.scope === 'server');
/** The keys of the `tls` object. */
export const TLS_SCHEMA: readonly OptionSpec[] = OPTION_SCHEMA.filter((s) => s.scope === 'tls');

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/**
 * A size in bytes: a whole number, or digits with a binary unit (`64MiB`, `512 KiB`, `1GiB`; case
 * ignored). Null for anything else, `64MB` included: decimal and binary units differ by 5-10%, so
 * the ambiguous form is refused rather than guessed at.
 */
export function byteCount(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  // Trimmed first: `\s*([a-z]*)\s*$` has two adjacent runs that can both match spaces (quadratic).
  const m = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m === null ? undefined : BYTE_UNITS[(m[2] as string).toLowerCase()];
  if (m === null || unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function expected(spec: OptionSpec, type: OptionType): string {
  switch (type) {
    case 'string':
      return spec.values === undefined ? 'a non-empty string' : `one of ${spec.values.map((v) => `"${v}"`).join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'integer':
      return `a whole number${spec.unit === undefined ? '' : ` of ${spec.unit}`} from ${spec.min ?? 0} to ${spec.max ?? Number.MAX_SAFE_INTEGER}`;
    case 'bytes':
      return `a number of bytes from ${spec.min ?? 0} to ${spec.max ?? Number.MAX_SAFE_INTEGER}, or a size such as "64MiB", "512KiB", "1GiB"`;
    case 'function':
      return 'a function';
    case 'object':
      return 'an object';
    case 'strings':
      return 'an array of strings';
  }
}

function hasType(value: unknown, spec: OptionSpec, type: OptionType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string' && value !== '' && (spec.values === undefined || spec.values.includes(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= (spec.min ?? 0) && value <= (spec.max ?? Number.MAX_SAFE_INTEGER);
    case 'bytes': {
      const n = byteCount(value);
      return n !== null && n >= (spec.min ?? 0) && n <= (spec.max ?? Number.MAX_SAFE_INTEGER);
    }
    case 'function':
      return typeof value === 'function';
    case 'object':
      return isPlainObject(value);
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
}

/**
 * Checks one value against its spec (`type` overrides the spec's, for the config file's JSON type).
 * Returns the problem, or null. An absent value is fine unless the option is required.
 */
export function checkOption(spec: OptionSpec, value: unknown, type: OptionType = spec.type): PolicyProblem | null {
  const option = spec.name;
  if (value === undefined) {
    return spec.required === true ? { option, value, reason: 'is required', fix: `set it, e.g. ${spec.example}` } : null;
  }
  if (!hasType(value, spec, type)) {
    // A JSON value in quotes is the usual slip: say so, rather than only what was expected.
    const quoted = typeof value === 'string' && type !== 'string' && type !== 'bytes' && /^(true|false|-?\d+)$/.test(value.trim());
    // The examples are the config file's (`"log": true`); in code those options take a function.
    const example = type === 'function' ? '(line) => console.log(line)' : spec.example;
    // Without its quotes only when that is a valid value: "99999" as a port is out of range either way.
    // Written as JSON writes it ("0080" as 80: JSON has no leading zeros).
    const bare = quoted ? unquoted(value.trim()) : undefined;
    const fix = bare !== undefined && checkOption(spec, bare, type) === null ? `write it without quotes: ${String(bare)}` : `e.g. ${example}`;
    return { option, value, reason: `must be ${expected(spec, type)}${quoted ? ', not a string' : ''}`, fix };
  }
  if (spec.header !== undefined) {
    const text = value as string;
    // Node sends it as given; RFC 9113 §8.2.1 makes such a field malformed over HTTP/2 (nghttp resets
    // the stream). Only SP and HTAB: String.trim() would also take U+00A0, valid obs-text. Not by a
    // regex: see whitespace.ts (a value with a long run of spaces inside took seconds).
    const trimmed = withoutOws(text);
    if (trimmed !== text) {
      // A long value is not written out again (a 4 MB one made a 4 MB line on stderr).
      const fix = trimmed === '' ? `e.g. ${spec.example}` : trimmed.length > 200 ? 'write it without the spaces and tabs at its start and end' : `write it without them: ${JSON.stringify(trimmed)}`;
      return { option, value, reason: `is sent as the ${spec.header} header, whose value may not start or end with a space or a tab`, fix };
    }
    try {
      validateHeaderValue(spec.header, text);
    } catch {
      return {
        option,
        value,
        reason: `is sent as the ${spec.header} header, and a header value may hold only tabs, spaces, visible ASCII and latin1 characters (no line breaks, no other Unicode)`,
        fix: `e.g. ${spec.example}`,
      };
    }
  }
  return null;
}

/** `true`, `false` or a number, as the text in quotes says it. */
function unquoted(text: string): boolean | number {
  return text === 'true' ? true : text === 'false' ? false : Number(text);
}

/** Problems for keys of `raw` that no spec in `specs` names, each with the known name it most likely meant. */
export function unknownKeys(raw: Record<string, unknown>, specs: readonly OptionSpec[], what: string): PolicyProblem[] {
  const known = specs.map((s) => s.name);
  return Object.keys(raw)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const meant = closestName(key, known);
      const fix = meant === undefined ? `remove it; known ones are ${known.join(', ')}` : `did you mean "${meant}"? Known ones are ${known.join(', ')}`;
      return { option: keyShown(key), value: raw[key], reason: `unknown ${what}`, fix };
    });
}

/** `port` and `host` given to serve() or createStaticHandler(): they are listen()'s, as with node:http. */
function listenHint(p: PolicyProblem): PolicyProblem {
  if (p.option !== 'port' && p.option !== 'host') return p;
  return { ...p, fix: 'give it to listen(), as for a node:http server: (await serve(options)).listen(port, host); a handler from createStaticHandler() is mounted in your own server, which listens' };
}

/**
 * A key as a problem names it: `""` when empty, and cut past 100 characters (a 4 MB key made a 4 MB
 * line), never between the two halves of a surrogate pair (an emoji would print as U+FFFD).
 */
function keyShown(key: string): string {
  if (key === '') return '""';
  if (key.length <= 100) return key;
  const cut = /[\ud800-\udbff]/.test(key[99] as string) ? 99 : 100;
  return `${key.slice(0, cut)}...(${key.length - cut} more)`;
}

/**
 * Compiles the policy with the server's defaults. A default fills only what the policy says nothing
 * about (DESIGN.md "The policy is honoured exactly"): an explicit list, even [], is taken as is.
 */
function compileCors(given: CorsOptions | undefined, problems: PolicyProblem[]): Cors | null {
  const options: CorsOptions = { ...(given ?? { origins: ['*'] }) };
  if (options.allowedHeaders === undefined) options.allowedHeaders = DEFAULT_ALLOWED_HEADERS;
  if (options.exposedHeaders === undefined) options.exposedHeaders = DEFAULT_EXPOSED_HEADERS;
  // A public font host (a `*` policy) lets Resource Timing see full timings unless the policy says otherwise.
  if (options.timingAllowOrigin === undefined && Array.isArray(options.origins) && options.origins.length === 1 && options.origins[0] === '*') {
    options.timingAllowOrigin = true;
  }
  try {
    return new Cors(options, 'cors.');
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    problems.push(...e.problems);
    return null;
  }
}

/**
 * The `tls` object's keys checked, then the files read and checked (see loadTls). Problems are
 * named `tls.cert`, `tls.key`; a malformed `$XORIGIN_TLS_TICKET_KEYS` is one too (ticket-keys.ts).
 */
function checkTls(tls: TlsFiles | undefined, problems: PolicyProblem[]): TlsMaterial | null {
  if (tls === undefined) return null;
  const raw = tls as unknown as Record<string, unknown>;
  const found = unknownKeys(raw, TLS_SCHEMA, 'key of tls');
  for (const spec of TLS_SCHEMA) {
    const problem = checkOption(spec, raw[spec.name]);
    // One of the pair without the other: say which flag goes with which.
    const other = spec.name === 'cert' ? 'key' : 'cert';
    if (problem !== null && raw[spec.name] === undefined && raw[other] !== undefined) {
      // Said for flags, the config file and the library alike: any of them may have given the other one.
      found.push({ ...problem, reason: `is required when ${other} is given (HTTPS needs both the certificate chain and its key)`, fix: `give it too: --${spec.name} ${spec.example}, or "${spec.name}" beside "${other}" in the config file's "tls" object` });
    } else if (problem !== null) {
      found.push(problem);
    }
  }
  problems.push(...found.map((p) => ({ ...p, option: `tls.${p.option}` })));
  const keys = ticketKeysProblem();
  if (keys !== null) problems.push(keys);
  if (found.length === 0) return loadTls(tls, problems);
  reportUnreadable(raw, problems);
  return null;
}

/**
 * Wraps the user's access-log callback: a throw from it must not reach the response's 'close'
 * listener (where it would take the process down), nor may an async one's rejection go unobserved
 * (an unhandled rejection ends the process too). Either is reported once, not once per request.
 */
function guardLog(log: ((line: string) => void | PromiseLike<void>) | undefined, what = 'log'): ((line: string) => void) | undefined {
  if (log === undefined) return undefined;
  let reported = false;
  const failed = (e: unknown): void => {
    if (reported) return;
    reported = true;
    let why: string;
    try {
      why = terminalSafe(String(e instanceof Error ? e.message : e));
    } catch {
      why = 'a value that cannot be printed';
    }
    sayOnStderr(`xorigin: the ${what} callback failed: ${why}; continuing`);
  };
  return (line) => {
    try {
      observeRejection(log(line), failed);
    } catch (e) {
      failed(e);
    }
  };
}

/**
 * The options as read once, into plain objects (the top level, `cors` and `tls`): validated and put
 * in force from this copy, each is what was checked. Read again at each use, an option given by a
 * getter or a Proxy was validated with one value and served with another (a Cache-Control with a
 * line break answered every request 500). Anything else is returned as given, for validation to
 * report.
 * @throws PolicyError when reading an option throws.
 */
export function readOnce(options: ServerOptions): ServerOptions {
  if (!isPlainObject(options)) return options;
  try {
    const copy = ownValues(options, SERVER_SCHEMA.map((spec) => spec.name));
    if (isPlainObject(copy.cors)) copy.cors = readPolicyOnce(copy.cors as unknown as CorsOptions); // as createCors reads a policy
    if (isPlainObject(copy.tls)) copy.tls = ownValues(copy.tls, ['cert', 'key']);
    return copy as unknown as ServerOptions;
  } catch (e) {
    throw asPolicyError(e); // a getter or Proxy that throws, as validate() says it
  }
}

/**
 * Validates the server options (and the policy inside), collecting every problem. Throws nothing
 * but a PolicyError, whatever it is given.
 */
export function validate(options: ServerOptions): ResolvedServerOptions {
  try {
    return validateData(options);
  } catch (e) {
    throw asPolicyError(e);
  }
}

function validateData(options: ServerOptions): ResolvedServerOptions {
  if (!isPlainObject(options)) {
    throw new PolicyError([{ option: '(options)', value: options, reason: 'the server options must be an object', fix: 'pass an object such as { root: "./fonts" }' }]);
  }
  const raw = options as unknown as Record<string, unknown>;
  const problems = unknownKeys(raw, SERVER_SCHEMA, 'server option').map(listenHint);
  const bad = new Set<string>();
  for (const spec of SERVER_SCHEMA) {
    const problem = checkOption(spec, raw[spec.name]);
    if (problem !== null) {
      problems.push(problem);
      bad.add(spec.name);
    }
  }
  if (options.cacheControl !== undefined && options.immutable === true) {
    problems.push({ option: 'immutable', value: true, reason: 'immutable and cacheControl both set the Cache-Control header', fix: 'use one of them' });
  }
  // A policy of the wrong type is already reported as a problem of `cors`; compiling it would only add noise.
  const cors = bad.has('cors') ? null : compileCors(options.cors, problems);
  const tls = bad.has('tls') ? null : checkTls(options.tls, problems);
  if (problems.length > 0 || cors === null) throw new PolicyError(problems);
  return {
    cors,
    root: options.root,
    cacheControl: options.cacheControl ?? (options.immutable === true ? IMMUTABLE_CACHE_CONTROL : DEFAULT_CACHE_CONTROL),
    crossOriginResourcePolicy: options.crossOriginResourcePolicy ?? cors.policy.anyOrigin,
    smallFileLimit: options.smallFileLimit ?? DEFAULT_SMALL_FILE_LIMIT,
    memoryBudget: byteCount(options.memoryBudget) ?? DEFAULT_MEMORY_BUDGET,
    etagCache: options.etagCache === undefined || options.etagCache === 'off' ? undefined : resolve(options.etagCache),
    watch: options.watch ?? true,
    log: guardLog(options.log),
    logFormat: options.logFormat ?? 'clf',
    debug: guardLog(options.debug, 'debug'),
    sendTimeout: options.sendTimeout ?? DEFAULT_SEND_TIMEOUT,
    keepAliveTimeout: options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
    tls,
    http2: options.http2 ?? true,
  };
}
