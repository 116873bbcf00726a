import { closestName } from './closest-name.js';
import { asPolicyError, PolicyError, type PolicyProblem } from './errors.js';
import { parseOriginPattern, type OriginPattern } from './origin-pattern.js';
import { OriginMatcher } from './origin-matcher.js';
import { HeaderNameSet, MAX_REQUEST_HEADERS_BYTES } from './request-headers.js';
import { isToken } from '../http/tokens.js';
import { FORBIDDEN_METHODS, NORMALISED_METHODS, SAFELISTED_METHODS, miscasedRegisteredMethod } from './methods.js';

/**
 * A CORS policy. JSON-compatible, so the same object can live in a configuration file.
 * Every option is validated by `compilePolicy`, which reports all problems at once.
 */
export interface CorsOptions {
  /**
   * Origins allowed to read responses: exact (`https://app.example.com`), subdomain patterns
   * (`https://*.example.com`, never the apex), port patterns (`http://localhost:*`), or `["*"]`.
   * App origins (`capacitor://localhost`, `ionic://localhost`, `chrome-extension://<id>`,
   * `moz-extension://<uuid>`) may be listed exactly, never as patterns; `file://`, `null`, `data:`,
   * `javascript:` and `blob:` are refused (browsers send "null" or the creator's origin for them).
   */
  origins: readonly string[];
  /**
   * Non-safelisted methods a preflight may ask for (`PUT`, `DELETE`, ...), or `["*"]`. GET, HEAD and
   * POST always pass. DELETE, GET, HEAD, OPTIONS, POST and PUT are matched in any case (browsers
   * uppercase them); every other method is matched exactly as written, as browsers send it. So a
   * lowercase or mixed-case spelling of a registered method (`"patch"`, `"Propfind"`) is refused
   * with the fix (`"PATCH"`): scripts send `PATCH`, and the entry would never match. If a client of
   * yours really sends `patch`, set `caseSensitiveMethods: true` and list both spellings (on a
   * Fetch-API host: node:http's parser answers `patch` itself with a 400, before any handler). So it
   * does any method not in node:http's `http.METHODS` (`X-CUSTOM`): list one only for a Fetch-API
   * host, as under node:http, Express and Fastify its requests never reach a handler.
   */
  methods?: readonly string[] | undefined;
  /**
   * Take every entry of `methods` as the exact byte string it is, and accept lowercase or
   * mixed-case spellings of registered methods (`"patch"` beside `"PATCH"`). Off by default, because
   * such an entry is almost always a typo that would silently never match.
   */
  caseSensitiveMethods?: boolean | undefined;
  /** Request headers a preflight may ask for, or `["*"]` (which never covers `authorization` unless listed too). */
  allowedHeaders?: readonly string[] | undefined;
  /** Response headers scripts may read, or `["*"]` (not with credentials). */
  exposedHeaders?: readonly string[] | undefined;
  /** Send `Access-Control-Allow-Credentials: true` to allowed origins. */
  credentials?: boolean | undefined;
  /** Seconds a browser may cache a preflight result (0..86400); -1 sends 0 (no caching); absent sends no header. */
  maxAge?: number | undefined;
  /** Status of a successful preflight: 204 (default) or 200 for clients that need it. */
  preflightStatus?: 200 | 204 | undefined;
  /** Also send `Timing-Allow-Origin` with the allowed origin, so Resource Timing sees full timings. */
  timingAllowOrigin?: boolean | undefined;
  /**
   * Allow credentials for `http:` origins that are not loopback. Anyone on the network path can
   * impersonate such an origin, so this is off and an error unless you say so here.
   */
  tolerateInsecureOrigins?: boolean | undefined;
  /**
   * Called with each refused preflight and each actual request from an origin the policy does not
   * allow; never on the wire, and with it absent a refusal costs one null check. The engine only
   * reports; `explainDenied(cors.policy, info)` from `xorigin/check` says why, as one sanitised line.
   * It may be async: the refusal is answered without waiting, and a throw or a rejection is reported
   * once on the console, never passed on.
   */
  onDenied?: ((info: DeniedInfo) => void | PromiseLike<void>) | undefined;
}

/** A refusal, as `onDenied` gets it: the request's values as received (not sanitised). */
export interface DeniedInfo {
  /** A refused preflight, or an actual request whose origin the policy does not allow. */
  readonly kind: 'preflight' | 'actual';
  /** The request's Origin, as received. */
  readonly origin: string;
  /** A preflight's Access-Control-Request-Method. */
  readonly method?: string | undefined;
  /** A preflight's Access-Control-Request-Headers. */
  readonly requestHeaders?: string | undefined;
}

/** A validated, frozen policy: everything the request path needs, computed once. */
export interface CompiledPolicy {
  /** `origins: ["*"]`: every origin, answered with `Access-Control-Allow-Origin: *`. */
  readonly anyOrigin: boolean;
  /** The `origins` entries as parsed (exact origins, `*.` and `:*` patterns), in the order given. */
  readonly origins: readonly OriginPattern[];
  /** The compiled matcher of `origins` (exact list, Map and trie; internal shape, use `match()`). */
  readonly matcher: OriginMatcher;
  /** Allowed non-safelisted methods, normalised, deduplicated. */
  readonly methods: readonly string[];
  /** `methods: ["*"]`: any method a preflight asks for (with credentials, where browsers read `*` literally, the method asked for is echoed). */
  readonly anyMethod: boolean;
  /** The compiled `allowedHeaders` (an internal set; `allowsList()` checks a request's list). */
  readonly allowedHeaders: HeaderNameSet;
  /** Exposed header names, lowercase, deduplicated (empty with `anyExposed`). */
  readonly exposedHeaders: readonly string[];
  /** `exposedHeaders: ["*"]`: every response header readable (without credentials). */
  readonly anyExposed: boolean;
  /** `credentials: true`: Access-Control-Allow-Credentials is sent to allowed origins. */
  readonly credentials: boolean;
  /** The value to send in Access-Control-Max-Age, or null for no header. */
  readonly maxAge: number | null;
  /** The status of an approved preflight. */
  readonly preflightStatus: 200 | 204;
  /** Timing-Allow-Origin is sent beside Access-Control-Allow-Origin. */
  readonly timingAllowOrigin: boolean;
}

export const MAX_AGE_LIMIT = 86400;

/** The policy option names (CorsOptions keys). */
export const KNOWN_OPTIONS: readonly string[] = [
  'origins',
  'methods',
  'caseSensitiveMethods',
  'allowedHeaders',
  'exposedHeaders',
  'credentials',
  'maxAge',
  'preflightStatus',
  'timingAllowOrigin',
  'tolerateInsecureOrigins',
  'onDenied',
];


/** Fetch's forbidden request-header names: a script cannot set them, so a preflight never asks. */
export const FORBIDDEN_REQUEST_HEADERS = [
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
];

/** Fetch's forbidden response-header names: never exposed to scripts, whatever the server says. */
export const FORBIDDEN_RESPONSE_HEADERS = ['set-cookie', 'set-cookie2'];

/** Option names a hurried author (or another CORS library) might use, mapped to ours. */
const LIKELY_MEANT: Readonly<Record<string, string>> = {
  origin: 'origins',
  allowOrigins: 'origins',
  allowedOrigins: 'origins',
  allowHeaders: 'allowedHeaders',
  headers: 'allowedHeaders',
  allowedMethods: 'methods',
  allowMethods: 'methods',
  exposeHeaders: 'exposedHeaders',
  exposedHeader: 'exposedHeaders',
  allowCredentials: 'credentials',
  maxage: 'maxAge',
  optionsSuccessStatus: 'preflightStatus',
};

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Records one problem with the option at `option`; compilePolicy prefixes it and collects them all. */
type Report = (option: string, value: unknown, reason: string, fix: string) => void;

/**
 * Each own key's value, and each of `names` the object answers (a class's getter, a Proxy's `get`
 * trap: read, not asked with `in`, which a Proxy without a `has` trap denies), read once. Defined, not
 * assigned: an own `__proto__` key (JSON.parse's) stays a key, not the copy's prototype.
 */
export function ownValues(object: object, names: readonly string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => void Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  for (const key of Object.keys(object)) put(key, (object as Record<string, unknown>)[key]);
  for (const key of names) {
    if (Object.hasOwn(copy, key)) continue;
    const value = (object as Record<string, unknown>)[key];
    if (value !== undefined) put(key, value);
  }
  return copy;
}

/**
 * The policy's own keys and the known options up its prototype chain (a class's getters, as
 * compilePolicy reads them), each read once: what is validated is what goes in force, whatever a
 * getter answers later (review h56). A non-object is passed on for compilePolicy to refuse; a throwing
 * read is a PolicyError.
 */
export function readPolicyOnce(options: CorsOptions): CorsOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options;
  try {
    return ownValues(options, KNOWN_OPTIONS) as unknown as CorsOptions;
  } catch (e) {
    throw asPolicyError(e);
  }
}

/**
 * Validates a policy and compiles it. Throws a PolicyError listing every problem found, each with
 * the option, the value, the reason and the fix. Nothing is checked later, at request time. Each
 * option has its own small validator below, all reporting into one list.
 */
export function compilePolicy(options: CorsOptions, prefix = ''): CompiledPolicy {
  try {
    return compile(options, prefix);
  } catch (e) {
    throw asPolicyError(e);
  }
}

function compile(options: CorsOptions, prefix: string): CompiledPolicy {
  const problems: PolicyProblem[] = [];
  const report: Report = (option, value, reason, fix) => {
    problems.push({ option: prefix + option, value, reason, fix });
  };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    report('(policy)', options, 'the policy must be an object', 'pass an object such as { origins: ["https://app.example.com"] }');
    throw new PolicyError(problems);
  }
  const raw = options as unknown as Record<string, unknown>;
  checkKnownKeys(raw, report);
  const credentials = readBoolean(raw, 'credentials', report);
  const caseSensitiveMethods = readBoolean(raw, 'caseSensitiveMethods', report);
  const tolerateInsecure = readBoolean(raw, 'tolerateInsecureOrigins', report);
  const timingAllowOrigin = readBoolean(raw, 'timingAllowOrigin', report);
  if (raw.onDenied !== undefined && typeof raw.onDenied !== 'function') report('onDenied', raw.onDenied, 'must be a function', 'pass (info) => void, or leave it out');
  const origins = compileOrigins(raw.origins, credentials, tolerateInsecure, report);
  const methods = compileMethods(raw.methods, caseSensitiveMethods, report);
  const allowed = compileAllowedHeaders(raw.allowedHeaders, report);
  const exposed = compileExposedHeaders(raw.exposedHeaders, credentials, report);
  const maxAge = compileMaxAge(raw.maxAge, report);
  const preflightStatus = compilePreflightStatus(raw.preflightStatus, report);
  if (problems.length > 0) throw new PolicyError(problems);
  return Object.freeze({
    anyOrigin: origins.any,
    origins: Object.freeze(origins.patterns),
    matcher: new OriginMatcher(origins.patterns),
    methods: Object.freeze(methods.list),
    anyMethod: methods.any,
    allowedHeaders: new HeaderNameSet(allowed.names, allowed.any),
    exposedHeaders: Object.freeze(exposed.names),
    anyExposed: exposed.any,
    credentials,
    maxAge,
    preflightStatus,
    timingAllowOrigin,
  });
}

function checkKnownKeys(raw: Record<string, unknown>, report: Report): void {
  for (const key of Object.keys(raw)) {
    if (KNOWN_OPTIONS.includes(key)) continue;
    // hasOwn: a key such as "__proto__" or "constructor" must not find Object.prototype's members.
    // The names other CORS libraries use first, then a typo of one of ours (`orgins`, `credential`).
    const meant = Object.hasOwn(LIKELY_MEANT, key) ? LIKELY_MEANT[key] : closestName(key, KNOWN_OPTIONS);
    const fix = meant !== undefined ? `did you mean "${meant}"?` : `remove it; known options are ${KNOWN_OPTIONS.join(', ')}`;
    report(key, raw[key], 'unknown option', fix);
  }
}

/** An optional boolean option: false when absent; a problem when it is anything but a boolean. */
function readBoolean(raw: Record<string, unknown>, key: string, report: Report): boolean {
  const v = raw[key];
  if (v !== undefined && typeof v !== 'boolean') report(key, v, 'must be true or false', `write ${key}: true or leave it out`);
  return v === true;
}

function compileOrigins(value: unknown, credentials: boolean, tolerateInsecure: boolean, report: Report): { any: boolean; patterns: OriginPattern[] } {
  const none = { any: false, patterns: [] };
  if (value === undefined) {
    report('origins', undefined, 'is required', 'list the allowed origins, e.g. origins: ["https://app.example.com"], or ["*"] for any');
    return none;
  }
  if (!isStringArray(value)) {
    report('origins', value, 'must be an array of strings', 'write origins: ["https://app.example.com"]');
    return none;
  }
  if (value.length === 0) {
    report('origins', value, 'is empty, so no origin could ever be allowed', 'list at least one origin, or ["*"] for any');
    return none;
  }
  if (!value.includes('*')) return { any: false, patterns: compileOriginList(value, credentials, tolerateInsecure, report) };
  if (value.length > 1) {
    report('origins', value, '"*" allows every origin, so listing others beside it is a mistake', 'use ["*"] alone, or remove "*"');
    // What is wrong with the others too, for the case where "*" is the one to remove.
    compileOriginList(value, credentials, tolerateInsecure, report);
  } else if (credentials) {
    report(
      'origins',
      value,
      'browsers reject "Access-Control-Allow-Origin: *" on credentialed requests, and echoing any origin with credentials would let every site read your users\' data',
      'list the exact origins allowed to send credentials, or set credentials: false',
    );
  }
  return { any: true, patterns: [] };
}

/** Each origin or pattern parsed strictly; duplicates (after canonical parsing) are dropped. */
function compileOriginList(list: readonly string[], credentials: boolean, tolerateInsecure: boolean, report: Report): OriginPattern[] {
  const patterns: OriginPattern[] = [];
  const seen = new Set<string>();
  list.forEach((source, i) => {
    if (source === '*') return; // beside other origins: reported by compileOrigins
    const option = `origins[${i}]`;
    const parsed = parseOriginPattern(source);
    if (!parsed.ok) {
      report(option, source, parsed.problem.reason, parsed.problem.fix);
      return;
    }
    const p = parsed.pattern;
    if (credentials && p.scheme === 'http' && !p.loopback && !tolerateInsecure) {
      report(
        option,
        source,
        'credentials to a plain-http origin: anyone on the network path can impersonate it and read your users\' responses',
        'use the https:// origin, or set tolerateInsecureOrigins: true if you accept that risk',
      );
      return;
    }
    // Every name under amazonaws.com is some AWS customer's (S3 buckets, API Gateway, load balancers).
    if (credentials && p.subdomains && (SHARED_SUFFIXES.has(p.host) || p.host.endsWith('.amazonaws.com'))) {
      report(
        option,
        source,
        `anyone can publish a site under ${p.host}, and with credentials each of them could read your users' responses`,
        `write the domain you own under it ("${source.replace('*.', '*.example.')}", or one site: "${source.replace('*.', 'example.')}"), or set credentials: false`,
      );
      return;
    }
    if (seen.has(p.source)) return;
    seen.add(p.source);
    patterns.push(p);
  });
  return patterns;
}

/**
 * The most used suffixes under which anyone gets a site (shared hosts, and country registries' open
 * second levels: not gov.uk or ac.uk, whose registrants are vetted): some entries of the Public Suffix
 * List, not all of it (8,300 multi-label rules, twice the engine), so `*.` over one of these (or under
 * amazonaws.com) is refused with credentials, and over another is not.
 */
const SHARED_SUFFIXES = new Set(
  ('github.io gitlab.io pages.dev workers.dev vercel.app netlify.app herokuapp.com web.app firebaseapp.com ' +
    'appspot.com azurewebsites.net azurestaticapps.net cloudfront.net amazonaws.com ' +
    'blogspot.com glitch.me onrender.com fly.dev deno.dev railway.app surge.sh ngrok.io ngrok-free.app ' +
    'trycloudflare.com csb.app stackblitz.io replit.app repl.co wordpress.com myshopify.com app.github.dev ' +
    'r.appspot.com co.uk org.uk me.uk com.au net.au co.nz co.jp com.br com.cn co.in co.za com.mx co.kr com.tr').split(' '),
);

function compileMethods(value: unknown, caseSensitive: boolean, report: Report): { any: boolean; list: string[] } {
  const list: string[] = [];
  if (value === undefined) return { any: false, list };
  if (!isStringArray(value)) {
    report('methods', value, 'must be an array of strings', 'write methods: ["PUT", "DELETE"]');
    return { any: false, list };
  }
  const any = value.includes('*');
  if (any && value.length > 1) report('methods', value, '"*" already allows every method', 'use ["*"] alone');
  value.forEach((m, i) => {
    if (m === '*') return;
    // Checked beside "*" too, so every problem is reported at once.
    const method = compileMethod(m, `methods[${i}]`, caseSensitive, report);
    if (method !== null && !SAFELISTED_METHODS.includes(method) && !list.includes(method)) list.push(method);
  });
  return any ? { any, list: [] } : { any, list };
}

/** One method as browsers will send it (Fetch "normalize a method"), or null after reporting why not. */
function compileMethod(m: string, option: string, caseSensitive: boolean, report: Report): string | null {
  const lower = m.toLowerCase();
  if (!isToken(m)) {
    report(option, m, 'not a valid HTTP method token', 'use a method name such as "PUT" (letters, no spaces)');
    return null;
  }
  if (FORBIDDEN_METHODS.includes(lower)) {
    report(option, m, 'a forbidden method: browsers never send it cross-origin, and it only serves attacks', 'remove it');
    return null;
  }
  if (NORMALISED_METHODS.includes(lower)) return m.toUpperCase();
  const upper = caseSensitive ? null : miscasedRegisteredMethod(m);
  if (upper !== null) {
    report(
      option,
      m,
      `browsers send ${upper} exactly as scripts write it (Fetch uppercases only DELETE, GET, HEAD, OPTIONS, POST and PUT), so "${m}" would never match`,
      `use "${upper}"; if a client really sends "${m}", set caseSensitiveMethods: true`,
    );
    return null;
  }
  return m;
}

function compileAllowedHeaders(value: unknown, report: Report): { any: boolean; names: string[] } {
  const names: string[] = [];
  if (value === undefined) return { any: false, names };
  if (!isStringArray(value)) {
    report('allowedHeaders', value, 'must be an array of strings', 'write allowedHeaders: ["content-type"]');
    return { any: false, names };
  }
  let any = false;
  value.forEach((h, i) => {
    if (h === '*') {
      any = true;
      return;
    }
    const lower = h.toLowerCase();
    if (!isToken(h)) {
      report(`allowedHeaders[${i}]`, h, 'not a valid header name', 'use a header name such as "content-type" (no spaces, colons or commas)');
    } else if (FORBIDDEN_REQUEST_HEADERS.includes(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) {
      report(`allowedHeaders[${i}]`, h, 'a forbidden request header: browsers set it themselves and scripts cannot, so a preflight never asks for it', 'remove it');
    } else if (h.length > MAX_REQUEST_HEADERS_BYTES) {
      report(`allowedHeaders[${i}]`, `${h.slice(0, 32)}... (${h.length} characters)`, `longer than the ${MAX_REQUEST_HEADERS_BYTES} bytes of Access-Control-Request-Headers this server reads, so no preflight could ask for it`, 'remove it, or use the header name the page really sends');
    } else {
      names.push(lower);
    }
  });
  if (any && names.some((n) => n !== 'authorization')) {
    report(
      'allowedHeaders',
      value,
      '"*" already allows every header except "authorization", so other names beside it are a mistake',
      'use ["*"], or ["*", "authorization"] to allow authorization too',
    );
  }
  return { any, names };
}

function compileExposedHeaders(value: unknown, credentials: boolean, report: Report): { any: boolean; names: string[] } {
  const names: string[] = [];
  if (value === undefined) return { any: false, names };
  if (!isStringArray(value)) {
    report('exposedHeaders', value, 'must be an array of strings', 'write exposedHeaders: ["x-request-id"]');
    return { any: false, names };
  }
  const any = value.includes('*');
  if (any && credentials) {
    report('exposedHeaders', value, 'browsers treat "*" as a literal header name on credentialed requests, so nothing would be exposed', 'list the header names to expose');
  } else if (any && value.length > 1) {
    report('exposedHeaders', value, '"*" already exposes every header', 'use ["*"] alone');
  }
  value.forEach((h, i) => {
    if (h === '*') return;
    // Checked beside "*" too, so every problem is reported at once.
    const lower = h.toLowerCase();
    if (!isToken(h)) report(`exposedHeaders[${i}]`, h, 'not a valid header name', 'use a header name such as "x-request-id"');
    else if (FORBIDDEN_RESPONSE_HEADERS.includes(lower)) report(`exposedHeaders[${i}]`, h, 'browsers never expose Set-Cookie to scripts', 'remove it');
    else if (!names.includes(lower)) names.push(lower);
  });
  return any ? { any, names: [] } : { any, names };
}

/** The Access-Control-Max-Age value to send, or null for none. */
function compileMaxAge(v: unknown, report: Report): number | null {
  if (v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -1 || v > MAX_AGE_LIMIT) {
    report(
      'maxAge',
      v,
      `must be a whole number of seconds from 0 to ${MAX_AGE_LIMIT}, or -1 to forbid caching`,
      'use e.g. maxAge: 7200 (Chromium caps preflight caching at 7200 s), or leave it out',
    );
    return null;
  }
  return v === -1 ? 0 : v;
}

function compilePreflightStatus(v: unknown, report: Report): 200 | 204 {
  if (v === undefined || v === 204) return 204;
  if (v === 200) return 200;
  report('preflightStatus', v, 'must be 204 or 200', 'use 204 (the default) or 200');
  return 204;
}
