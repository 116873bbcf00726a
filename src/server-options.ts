import { PolicyError, type PolicyProblem } from './errors.js';
import { Cors } from './cors.js';
import type { CorsOptions } from './policy.js';

export interface ServerOptions {
  /** Directory to serve. */
  root: string;
  /** CORS policy (the core's options). Default: `{ origins: ["*"] }`. */
  cors?: CorsOptions | undefined;
  /** Cache-Control for files and 304s. Default `public, max-age=3600`. */
  cacheControl?: string | undefined;
  /** Versioned URLs: `public, max-age=31536000, immutable`. */
  immutable?: boolean | undefined;
  /** Files up to this size (bytes) are served from memory. Default 256 KiB. */
  smallFileLimit?: number | undefined;
  /** Send `Cross-Origin-Resource-Policy: cross-origin`. Default: on for a `*` policy. */
  crossOriginResourcePolicy?: boolean | undefined;
  /** Watch the root and pick up changes without a restart. Default true. */
  watch?: boolean | undefined;
  /** Access log: one line per request to this function (default none). */
  log?: ((line: string) => void) | undefined;
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
}

/** The options after validation, with every default applied. */
export interface ResolvedServerOptions {
  readonly cors: Cors;
  /** The root as given (resolved to an absolute path by the server). */
  readonly root: string;
  readonly cacheControl: string;
  readonly crossOriginResourcePolicy: boolean;
  readonly smallFileLimit: number;
  readonly watch: boolean;
  readonly log: ((line: string) => void) | undefined;
  readonly sendTimeout: number;
  readonly keepAliveTimeout: number;
}

export const DEFAULT_CACHE_CONTROL = 'public, max-age=3600';
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const DEFAULT_SMALL_FILE_LIMIT = 256 * 1024;
export const DEFAULT_SEND_TIMEOUT = 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT = 5_000;

const SERVER_OPTIONS = ['root', 'cors', 'cacheControl', 'immutable', 'smallFileLimit', 'crossOriginResourcePolicy', 'watch', 'log', 'sendTimeout', 'keepAliveTimeout'];

/** Validates the server options (and the policy inside), collecting every problem. */
export function validate(options: ServerOptions): ResolvedServerOptions {
  const problems: PolicyProblem[] = [];
  const raw = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!SERVER_OPTIONS.includes(key)) {
      problems.push({ option: key, value: raw[key], reason: 'unknown server option', fix: `remove it; known options are ${SERVER_OPTIONS.join(', ')}` });
    }
  }
  if (typeof options.root !== 'string' || options.root === '') {
    problems.push({ option: 'root', value: options.root, reason: 'the directory to serve is required', fix: 'pass root: "./fonts"' });
  }
  if (options.cacheControl !== undefined && (typeof options.cacheControl !== 'string' || /[\r\n]/.test(options.cacheControl) || options.cacheControl === '')) {
    problems.push({ option: 'cacheControl', value: options.cacheControl, reason: 'must be a non-empty one-line header value', fix: 'e.g. "public, max-age=3600"' });
  }
  if (options.cacheControl !== undefined && options.immutable === true) {
    problems.push({ option: 'immutable', value: true, reason: 'immutable and cacheControl both set the Cache-Control header', fix: 'use one of them' });
  }
  const limit = options.smallFileLimit;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > 64 * 1024 * 1024)) {
    problems.push({ option: 'smallFileLimit', value: limit, reason: 'must be a whole number of bytes from 0 to 67108864', fix: 'e.g. 262144 (256 KiB)' });
  }
  // Server defaults (DESIGN.md): a public font host allows the range request header, and
  // Timing-Allow-Origin follows a `*` policy unless the policy says otherwise.
  const given = options.cors ?? { origins: ['*'] };
  const corsOptions: CorsOptions = { ...given };
  const anyHeader = given.allowedHeaders?.includes('*') ?? false;
  if (!anyHeader && !(given.allowedHeaders ?? []).some((h) => typeof h === 'string' && h.toLowerCase() === 'range')) {
    corsOptions.allowedHeaders = [...(given.allowedHeaders ?? []), 'range'];
  }
  if (given.timingAllowOrigin === undefined && Array.isArray(given.origins) && given.origins.length === 1 && given.origins[0] === '*') {
    corsOptions.timingAllowOrigin = true;
  }
  let cors: Cors | null = null;
  try {
    cors = new Cors(corsOptions, 'cors.');
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    problems.push(...e.problems);
  }
  for (const key of ['sendTimeout', 'keepAliveTimeout'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 3_600_000)) {
      problems.push({ option: key, value: v, reason: 'must be a whole number of milliseconds from 1 to 3600000', fix: 'e.g. 60000 (60 s)' });
    }
  }
  if (problems.length > 0 || cors === null) throw new PolicyError(problems);
  return {
    cors,
    root: options.root,
    cacheControl: options.cacheControl ?? (options.immutable === true ? IMMUTABLE_CACHE_CONTROL : DEFAULT_CACHE_CONTROL),
    crossOriginResourcePolicy: options.crossOriginResourcePolicy ?? cors.policy.anyOrigin,
    smallFileLimit: options.smallFileLimit ?? DEFAULT_SMALL_FILE_LIMIT,
    watch: options.watch !== false,
    log: options.log,
    sendTimeout: options.sendTimeout ?? DEFAULT_SEND_TIMEOUT,
    keepAliveTimeout: options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
  };
}

/**
 * Checks the options (and the policy inside) without scanning the root: throws a PolicyError
 * listing every problem. createServer runs the same checks.
 */
export function validateServerOptions(options: ServerOptions): void {
  validate(options);
}

