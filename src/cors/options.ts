import { PolicyError, type PolicyProblem } from './errors.js';
import { parseOriginPattern, type OriginPattern } from './origin-pattern.js';
import { OriginMatcher } from './origin-matcher.js';
import { HeaderNameSet } from './request-headers.js';
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
   * yours really sends `patch`, set `caseSensitiveMethods: true` and list both spellings.
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
}

/** A validated, frozen policy: everything the request path needs, computed once. */
export interface CompiledPolicy {
  /** `origins: ["*"]`: every origin, answered with `Access-Control-Allow-Origin: *`. */
  readonly anyOrigin: boolean;
  readonly origins: readonly OriginPattern[];
  readonly matcher: OriginMatcher;
  /** Allowed non-safelisted methods, normalised, deduplicated. */
  readonly methods: readonly string[];
  readonly anyMethod: boolean;
  readonly allowedHeaders: HeaderNameSet;
  /** Exposed header names, lowercase, deduplicated (empty with `anyExposed`). */
  readonly exposedHeaders: readonly string[];
  readonly anyExposed: boolean;
  readonly credentials: boolean;
  /** The value to send in Access-Control-Max-Age, or null for no header. */
  readonly maxAge: number | null;
  readonly preflightStatus: 200 | 204;
  readonly timingAllowOrigin: boolean;
}

export const MAX_AGE_LIMIT = 86400;

const KNOWN_OPTIONS: readonly string[] = [
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
];


/** Fetch's forbidden request-header names: a script cannot set them, so a preflight never asks. */
const FORBIDDEN_REQUEST_HEADERS = [
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
const FORBIDDEN_RESPONSE_HEADERS = ['set-cookie', 'set-cookie2'];

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

/**
 * Validates a policy and compiles it. Throws a PolicyError listing every problem found, each with
 * the option, the value, the reason and the fix. Nothing is checked later, at request time.
 */
export function compilePolicy(options: CorsOptions, prefix = ''): CompiledPolicy {
  const problems: PolicyProblem[] = [];
  const report = (option: string, value: unknown, reason: string, fix: string): void => {
    problems.push({ option: prefix + option, value, reason, fix });
  };

  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    report('(policy)', options, 'the policy must be an object', 'pass an object such as { origins: ["https://app.example.com"] }');
    throw new PolicyError(problems);
  }
  const raw = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      const meant = LIKELY_MEANT[key];
      report(
        key,
        raw[key],
        'unknown option',
        meant !== undefined ? `did you mean "${meant}"?` : `remove it; known options are ${KNOWN_OPTIONS.join(', ')}`,
      );
    }
  }

  const credentials = raw.credentials === true;
  if (raw.credentials !== undefined && typeof raw.credentials !== 'boolean') {
    report('credentials', raw.credentials, 'must be true or false', 'write credentials: true or leave it out');
  }
  const caseSensitiveMethods = raw.caseSensitiveMethods === true;
  if (raw.caseSensitiveMethods !== undefined && typeof raw.caseSensitiveMethods !== 'boolean') {
    report('caseSensitiveMethods', raw.caseSensitiveMethods, 'must be true or false', 'write true or leave it out');
  }
  const tolerateInsecure = raw.tolerateInsecureOrigins === true;
  if (raw.tolerateInsecureOrigins !== undefined && typeof raw.tolerateInsecureOrigins !== 'boolean') {
    report('tolerateInsecureOrigins', raw.tolerateInsecureOrigins, 'must be true or false', 'write true or leave it out');
  }

  // origins
  let anyOrigin = false;
  const patterns: OriginPattern[] = [];
  if (raw.origins === undefined) {
    report('origins', undefined, 'is required', 'list the allowed origins, e.g. origins: ["https://app.example.com"], or ["*"] for any');
  } else if (!isStringArray(raw.origins)) {
    report('origins', raw.origins, 'must be an array of strings', 'write origins: ["https://app.example.com"]');
  } else if (raw.origins.length === 0) {
    report('origins', raw.origins, 'is empty, so no origin could ever be allowed', 'list at least one origin, or ["*"] for any');
  } else if (raw.origins.includes('*')) {
    if (raw.origins.length > 1) {
      report('origins', raw.origins, '"*" allows every origin, so listing others beside it is a mistake', 'use ["*"] alone, or remove "*"');
    } else if (credentials) {
      report(
        'origins',
        raw.origins,
        'browsers reject "Access-Control-Allow-Origin: *" on credentialed requests, and echoing any origin with credentials would let every site read your users\' data',
        'list the exact origins allowed to send credentials, or set credentials: false',
      );
    }
    anyOrigin = true;
  } else {
    const seen = new Set<string>();
    raw.origins.forEach((source, i) => {
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
      if (seen.has(p.source)) return;
      seen.add(p.source);
      patterns.push(p);
    });
  }

  // methods
  let anyMethod = false;
  const methods: string[] = [];
  if (raw.methods !== undefined) {
    if (!isStringArray(raw.methods)) {
      report('methods', raw.methods, 'must be an array of strings', 'write methods: ["PUT", "DELETE"]');
    } else if (raw.methods.includes('*')) {
      anyMethod = true;
      if (raw.methods.length > 1) report('methods', raw.methods, '"*" already allows every method', 'use ["*"] alone');
    } else {
      raw.methods.forEach((m, i) => {
        const lower = m.toLowerCase();
        if (!isToken(m)) {
          report(`methods[${i}]`, m, 'not a valid HTTP method token', 'use a method name such as "PUT" (letters, no spaces)');
        } else if (FORBIDDEN_METHODS.includes(lower)) {
          report(`methods[${i}]`, m, 'a forbidden method: browsers never send it cross-origin, and it only serves attacks', 'remove it');
        } else if (!caseSensitiveMethods && !NORMALISED_METHODS.includes(lower) && miscasedRegisteredMethod(m) !== null) {
          const upper = miscasedRegisteredMethod(m) as string;
          report(
            `methods[${i}]`,
            m,
            `browsers send ${upper} exactly as scripts write it (Fetch uppercases only DELETE, GET, HEAD, OPTIONS, POST and PUT), so "${m}" would never match`,
            `use "${upper}"; if a client really sends "${m}", set caseSensitiveMethods: true`,
          );
        } else {
          const method = NORMALISED_METHODS.includes(lower) ? m.toUpperCase() : m;
          if (!SAFELISTED_METHODS.includes(method) && !methods.includes(method)) methods.push(method);
        }
      });
    }
  }

  // allowedHeaders
  let anyHeader = false;
  const headerNames: string[] = [];
  if (raw.allowedHeaders !== undefined) {
    if (!isStringArray(raw.allowedHeaders)) {
      report('allowedHeaders', raw.allowedHeaders, 'must be an array of strings', 'write allowedHeaders: ["content-type"]');
    } else {
      raw.allowedHeaders.forEach((h, i) => {
        if (h === '*') {
          anyHeader = true;
          return;
        }
        const lower = h.toLowerCase();
        if (!isToken(h)) {
          report(`allowedHeaders[${i}]`, h, 'not a valid header name', 'use a header name such as "content-type" (no spaces, colons or commas)');
        } else if (FORBIDDEN_REQUEST_HEADERS.includes(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) {
          report(
            `allowedHeaders[${i}]`,
            h,
            'a forbidden request header: browsers set it themselves and scripts cannot, so a preflight never asks for it',
            'remove it',
          );
        } else {
          headerNames.push(lower);
        }
      });
      if (anyHeader && headerNames.some((n) => n !== 'authorization')) {
        report(
          'allowedHeaders',
          raw.allowedHeaders,
          '"*" already allows every header except "authorization", so other names beside it are a mistake',
          'use ["*"], or ["*", "authorization"] to allow authorization too',
        );
      }
    }
  }

  // exposedHeaders
  let anyExposed = false;
  const exposed: string[] = [];
  if (raw.exposedHeaders !== undefined) {
    if (!isStringArray(raw.exposedHeaders)) {
      report('exposedHeaders', raw.exposedHeaders, 'must be an array of strings', 'write exposedHeaders: ["x-request-id"]');
    } else if (raw.exposedHeaders.includes('*')) {
      anyExposed = true;
      if (credentials) {
        report(
          'exposedHeaders',
          raw.exposedHeaders,
          'browsers treat "*" as a literal header name on credentialed requests, so nothing would be exposed',
          'list the header names to expose',
        );
      } else if (raw.exposedHeaders.length > 1) {
        report('exposedHeaders', raw.exposedHeaders, '"*" already exposes every header', 'use ["*"] alone');
      }
    } else {
      raw.exposedHeaders.forEach((h, i) => {
        const lower = h.toLowerCase();
        if (!isToken(h)) {
          report(`exposedHeaders[${i}]`, h, 'not a valid header name', 'use a header name such as "x-request-id"');
        } else if (FORBIDDEN_RESPONSE_HEADERS.includes(lower)) {
          report(`exposedHeaders[${i}]`, h, 'browsers never expose Set-Cookie to scripts', 'remove it');
        } else if (!exposed.includes(lower)) {
          exposed.push(lower);
        }
      });
    }
  }

  // maxAge
  let maxAge: number | null = null;
  if (raw.maxAge !== undefined) {
    const v = raw.maxAge;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -1 || v > MAX_AGE_LIMIT) {
      report(
        'maxAge',
        v,
        `must be a whole number of seconds from 0 to ${MAX_AGE_LIMIT}, or -1 to forbid caching`,
        'use e.g. maxAge: 7200 (Chromium caps preflight caching at 7200 s), or leave it out',
      );
    } else {
      maxAge = v === -1 ? 0 : v;
    }
  }

  let preflightStatus: 200 | 204 = 204;
  if (raw.preflightStatus !== undefined) {
    if (raw.preflightStatus === 200 || raw.preflightStatus === 204) {
      preflightStatus = raw.preflightStatus;
    } else {
      report('preflightStatus', raw.preflightStatus, 'must be 204 or 200', 'use 204 (the default) or 200');
    }
  }

  const timingAllowOrigin = raw.timingAllowOrigin === true;
  if (raw.timingAllowOrigin !== undefined && typeof raw.timingAllowOrigin !== 'boolean') {
    report('timingAllowOrigin', raw.timingAllowOrigin, 'must be true or false', 'write true or leave it out');
  }

  if (problems.length > 0) throw new PolicyError(problems);

  const matcher = new OriginMatcher(patterns);
  return Object.freeze({
    anyOrigin,
    origins: Object.freeze(patterns),
    matcher,
    methods: Object.freeze(methods),
    anyMethod,
    allowedHeaders: new HeaderNameSet(headerNames, anyHeader),
    exposedHeaders: Object.freeze(exposed),
    anyExposed,
    credentials,
    maxAge,
    preflightStatus,
    timingAllowOrigin,
  });
}
