// evaluateCors: the browser's CORS decision for one fetch, from the server's answers, step by step.
import { corsCheck, type Failure } from './cors-check.js';
import { fieldLines, shown } from './headers.js';
import { checkPreflight, isOkStatus, preflightMaxAge, preflightRequest } from './preflight.js';
import { isForbiddenResponseName, readableHeaders } from './readable.js';
import { isSafelistedMethod, normalizeMethod, scriptHeaders, unsafeHeaderNames } from './request.js';
import { rulesFor } from './rules.js';
import {
  CheckInputError, spec, type CorsInput, type CorsVerdict, type Credentials, type HeaderPair, type OutgoingRequest,
  type ServerResponse, type Step,
} from './types.js';

/** Fetch §2.4 / HTML "origin": the serialisation of an http(s) URL's scheme, host and port, or `null`. */
export function parseOrigin(text: string): string {
  if (text === 'null') return 'null';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CheckInputError(`--origin ${JSON.stringify(text)}: not an origin; write it as scheme://host[:port], e.g. https://app.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CheckInputError(`--origin ${JSON.stringify(text)}: an origin for this check is http: or https:`);
  // Read from the text as written: the origin URL serialises may be shorter or longer (a host written
  // 0x7f000001 or in uppercase is the origin the browser sends, 127.0.0.1 or lowercase).
  // (A backslash ends the authority as "/" does, in http(s) URLs.)
  const parts = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*?(:\d+)?([/?#\\].*)?$/is.exec(text);
  if (parts === null) throw new CheckInputError(`--origin ${JSON.stringify(text)}: not an origin as a browser writes one; write it as scheme://host[:port], e.g. ${url.origin}`);
  const [, port = '', rest = ''] = parts;
  // URL drops the scheme's default port (":443" for https): said as such, not as a path.
  if (port !== '' && url.port === '') throw new CheckInputError(`--origin ${JSON.stringify(text)}: ${port} is the default port for ${url.protocol.slice(0, -1)}, which an origin never includes; did you mean ${url.origin}?`);
  if (rest !== '' && rest !== '/') throw new CheckInputError(`--origin ${JSON.stringify(text)}: an origin has no path, query or fragment; did you mean ${url.origin}?`);
  if (url.username !== '' || url.password !== '') throw new CheckInputError(`--origin ${JSON.stringify(text)}: an origin has no user or password`);
  return url.origin;
}

/**
 * A host whose plain-HTTP URLs an HTTPS page may still fetch (Secure Contexts §3.1 "potentially
 * trustworthy origin"): localhost and its subdomains, 127.0.0.0/8 and ::1. `hostname` as URL gives
 * it (IPv6 in brackets, IPv4 in dotted decimal).
 */
export function potentiallyTrustworthyHost(hostname: string): boolean {
  // A fully qualified name may end in a dot (`localhost.`): the same host (Secure Contexts §3.1 lists both).
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The request URL: absolute http(s). */
export function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CheckInputError(`${JSON.stringify(text)}: not an absolute URL; write it as https://host/path`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CheckInputError(`${JSON.stringify(text)}: only http: and https: URLs are checked`);
  if (url.username !== '' || url.password !== '') throw new CheckInputError(`${JSON.stringify(text)}: fetch() refuses a URL with credentials in it`);
  url.hash = '';
  return url;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** A field line's values as an engine that splits it at commas outside double quotes reads them, trimmed. */
function commaSeparated(line: string): string[] {
  const values: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      values.push(line.slice(start, i).trim());
      start = i + 1;
    }
  }
  values.push(line.slice(start).trim());
  return values;
}

/** RFC 9110 §13.1: the request fields that make a request conditional. */
const CONDITIONAL_HEADERS = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range']);
/** Fetch §2.2.2 "request-body-header name": dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set(['content-encoding', 'content-language', 'content-location', 'content-type']);

/**
 * The fix for an engine that checks a tainted request's preflight against the page's origin and the
 * request itself against `null` (EngineRules.preflightKeepsPageOrigin): one origin answered to both
 * cannot pass, so the fix that works is `*`.
 */
function splitOriginFix(failure: Failure, browser: string, pageOrigin: string): Failure {
  if (!failure.check.startsWith('CORS check: Access-Control-Allow-Origin')) return failure;
  return {
    ...failure,
    fix: `${browser} checks this preflight against the page's origin ${pageOrigin} and the request after it against "null": answer both with "Access-Control-Allow-Origin: *" (without credentials), or link the API directly instead of redirecting.`,
  };
}

interface Blocked {
  readonly failure: Failure;
  readonly where: string;
}

/**
 * Fetch §4.1 "main fetch", §4.3 "HTTP fetch", §4.4 "HTTP-redirect fetch", §4.9 "CORS-preflight fetch"
 * and §4.10 "CORS check" (https://fetch.spec.whatwg.org/#main-fetch), for one fetch() call or font
 * load from a page on `origin`, under `browser`'s rules (the standard, or Chromium's or Firefox's
 * deviations). Pure: it sends nothing. `responses` are the server's answers to the requests it asks
 * for, in order; when they run out the verdict is `pending` with `next` the request to send.
 * Bad input throws a CheckInputError.
 */
export function evaluateCors(input: CorsInput): CorsVerdict {
  return new Evaluation(input).run();
}

/**
 * One evaluation: the request as it stands (URL, method, headers, tainted origin: redirects change
 * them), what the browser has decided so far, and the transcript. Each step is a method that returns
 * the verdict, or null when a redirect was followed and main fetch goes round again.
 */
class Evaluation {
  readonly browser: NonNullable<CorsInput['browser']>;
  readonly rules: ReturnType<typeof rulesFor>;
  readonly origin: string;
  readonly credentials: Credentials;
  url: URL;
  method: string;
  headers: HeaderPair[];
  readonly notes: string[] = [];
  readonly steps: Step[] = [];
  answered = 0;
  preflight = false;
  maxAge: number | null = null;
  tainted = false;
  cors = false;
  redirects = 0;

  constructor(private readonly input: CorsInput) {
    this.browser = input.browser ?? 'standard';
    this.rules = rulesFor(this.browser);
    this.origin = parseOrigin(input.origin);
    this.url = parseUrl(input.url);
    const font = input.as === 'font';
    const credentials: Credentials = font ? 'same-origin' : (input.credentials ?? 'same-origin');
    if (!['omit', 'same-origin', 'include'].includes(credentials)) throw new CheckInputError(`--credentials ${String(credentials)}: use omit, same-origin or include`);
    this.credentials = credentials;
    this.method = font ? 'GET' : normalizeMethod(input.method ?? 'GET');
    const { kept, dropped, droppedByEngine } = font ? { kept: [] as HeaderPair[], dropped: [] as string[], droppedByEngine: [] as string[] } : scriptHeaders(input.headers ?? [], this.rules);
    if (font && (input.headers?.length ?? 0) > 0) this.notes.push('a font load sends no script headers; --header is ignored with --as font');
    for (const d of dropped) this.notes.push(`fetch() silently drops the forbidden request header ${d}`);
    for (const d of droppedByEngine) this.notes.push(`${this.browser} silently drops the request header ${d}, which the standard lets script set (and preflights)`);
    this.headers = kept;
  }

  run(): CorsVerdict {
    const refused = this.badPort(this.url, false) ?? this.mixedContent(this.url, false);
    if (refused !== null) return this.blocked(refused);
    for (;;) {
      // Main fetch step 12: same-origin with "basic" tainting needs no CORS; anything else is CORS from here on.
      const verdict = !this.cors && this.url.origin === this.origin ? this.sameOrigin() : this.crossOrigin();
      if (verdict !== null) return verdict;
    }
  }

  /**
   * Main fetch step 7 ("should request be blocked as mixed content", Mixed Content §4.3): a page served
   * over HTTPS gets a network error, nothing sent, for a plain-HTTP URL whose host is not potentially
   * trustworthy (localhost, 127.0.0.0/8 and ::1 are), a redirect's target included (`redirected`).
   * Fonts and fetch() are blockable content: no browser upgrades them to HTTPS.
   */
  private mixedContent(url: URL, redirected: boolean): Blocked | null {
    if (!this.origin.startsWith('https:') || url.protocol !== 'http:' || potentiallyTrustworthyHost(url.hostname)) return null;
    return {
      where: redirected ? 'redirect' : 'request',
      failure: {
        check: 'mixed content',
        reason: `the page (${this.origin}) is served over HTTPS and ${redirected ? 'the redirect goes to' : 'the request is for'} ${url.href}, over plain HTTP: the browser blocks it before sending anything (mixed content)`,
        fix: `Serve ${url.host} over HTTPS and ${redirected ? 'redirect to' : 'request'} https://${url.host}${url.pathname}${url.search}; no CORS header can allow a plain-HTTP request from an HTTPS page.`,
        spec: spec('main-fetch'),
      },
    };
  }

  /**
   * Main fetch step 7 ("block bad port", Fetch §2.9): a URL on a port of another protocol (6000 for
   * X11, 6667 for IRC...) is a network error before anything is sent, a redirect's target included.
   */
  private badPort(url: URL, redirected: boolean): Blocked | null {
    if (!this.rules.badPorts.has(url.port)) return null;
    return {
      where: redirected ? 'redirect' : 'request',
      failure: {
        check: 'bad port',
        reason: `${redirected ? 'the redirect goes to' : 'the request is for'} ${url.href}, on port ${url.port}, ${url.port === '0' ? 'which no server listens on' : 'one the Fetch standard reserves for other protocols'}: the browser refuses to connect, nothing is sent${this.browser === 'chromium' ? ' (ERR_UNSAFE_PORT)' : ''}`,
        fix: `Serve ${url.hostname} on another port (443, 8443, 8080...); no header can allow port ${url.port}.`,
        spec: spec('block-bad-port'),
      },
    };
  }

  /**
   * EngineRules.conflictingFieldsFail: a response with two different values of such a field is a
   * network error in the engine, whatever its status and CORS headers (the step is recorded failed).
   */
  private conflicting(req: OutgoingRequest, res: ServerResponse, where: string): CorsVerdict | null {
    for (const { name, splitsCommas } of this.rules.conflictingFieldsFail) {
      const lines = fieldLines(res.headers, name);
      const values = splitsCommas ? lines.flatMap(commaSeparated) : lines;
      if (values.every((v) => v === values[0])) continue;
      this.steps.push({ request: req, response: res, outcome: 'failed', mattered: [shown(res.headers, name)] });
      const field = res.headers.find(([n]) => n.toLowerCase() === name)?.[0] ?? name;
      return this.blocked({
        where,
        failure: {
          check: field,
          reason: `the response's ${field} has ${values.length} different values (${values.map((v) => JSON.stringify(v)).join(', ')}${splitsCommas ? `, ${this.browser} splitting its lines at commas outside quotes` : ''}): ${this.browser} fails it with a network error, whatever its status and CORS headers`,
          fix: `Send one ${field} field: two layers (an app and a proxy in front) may each be adding one.`,
          spec: spec('extract-header-list-values'),
        },
      });
    }
    return null;
  }

  private sameOrigin(): CorsVerdict | null {
    const req: OutgoingRequest = { kind: 'actual', url: this.url.href, method: this.method, headers: this.headers };
    const res = this.answer(req);
    if (res === null) return this.pending(req);
    const conflict = this.conflicting(req, res, REDIRECTS.has(res.status) ? 'redirect' : 'request');
    if (conflict !== null) return conflict;
    const location = this.redirectLocation(res);
    if (location !== null) {
      this.steps.push({ request: req, response: res, outcome: typeof location === 'string' ? 'redirect' : 'failed', mattered: [shown(res.headers, 'Location')] });
      return typeof location === 'string' ? this.redirect(res, location) : this.blocked(location);
    }
    this.steps.push({ request: req, response: res, outcome: 'passed', mattered: [] });
    this.notes.push('same-origin: no CORS checks apply');
    const noFont = this.fontProblem(res);
    if (noFont !== null) return this.blocked(noFont);
    return this.result({ verdict: 'allowed', status: res.status, readable: [...new Set(res.headers.map(([n]) => n.toLowerCase()))].filter((n) => !isForbiddenResponseName(n)).sort() });
  }

  private crossOrigin(): CorsVerdict | null {
    this.cors = true;
    const requestOrigin = this.tainted ? 'null' : this.origin;
    const refused = this.preflightIfNeeded(requestOrigin) ?? this.unsendable();
    if (refused !== null) return refused;
    const credentials = this.credentials;
    const req: OutgoingRequest = { kind: 'actual', url: this.url.href, method: this.method, headers: [['Origin', requestOrigin], ...this.headers] };
    const res = this.answer(req);
    if (res === null) return this.pending(req);
    const conflict = this.conflicting(req, res, REDIRECTS.has(res.status) ? 'redirect' : 'actual request');
    if (conflict !== null) return conflict;
    const location = this.redirectLocation(res);
    const isRedirect = location !== null;
    // HTTP fetch step 4: the CORS check applies to every response, redirects included.
    const failure = corsCheck(res, requestOrigin, credentials, isRedirect ? 'redirect response' : 'response', this.rules, this.origin === 'null');
    const mattered = ['Access-Control-Allow-Origin', ...(credentials === 'include' ? ['Access-Control-Allow-Credentials'] : []), ...(isRedirect ? ['Location'] : ['Access-Control-Expose-Headers'])]
      .map((n) => shown(res.headers, n));
    const unfollowable = typeof location === 'object' && location !== null;
    this.steps.push({ request: req, response: res, outcome: failure !== null || unfollowable ? 'failed' : isRedirect ? 'redirect' : 'passed', mattered });
    if (failure !== null) return this.blocked({ failure, where: isRedirect ? 'redirect' : 'actual request' });
    if (unfollowable) return this.blocked(location);
    if (isRedirect) return this.redirect(res, location);
    const noFont = this.fontProblem(res);
    if (noFont !== null) return this.blocked(noFont);
    return this.result({ verdict: 'allowed', status: res.status, readable: readableHeaders(res, credentials) });
  }

  /**
   * The Location of a redirect to follow; null when `res` is the response script gets (not a
   * redirect status, no Location, or (EngineRules.emptyLocationEndsRedirects) an empty one); or why
   * it cannot be followed: Location lines that are not one value (Fetch §2.2 "extract header list
   * values" fails for a single-value field given twice; EngineRules.sameLocationLinesAreOne).
   */
  private redirectLocation(res: ServerResponse): string | null | Blocked {
    if (!REDIRECTS.has(res.status)) return null;
    const lines = fieldLines(res.headers, 'Location');
    const location = lines[0];
    if (location === undefined) return null;
    if (lines.length > 1 && !(this.rules.sameLocationLinesAreOne && lines.every((v) => v === location))) {
      const values = lines.map((v) => JSON.stringify(v)).join(', ');
      return {
        where: 'redirect',
        failure: {
          check: 'Location',
          reason: `the redirect has ${lines.length} Location fields (${values}); Location takes one URL, so the browser fails the request (a network error)${this.rules.sameLocationLinesAreOne ? `, unless they are all the same, as ${this.browser} allows` : ''}`,
          fix: 'Send one Location field: two layers (an app and a proxy in front) may each be adding one.',
          spec: spec('extract-header-list-values'),
        },
      };
    }
    return location === '' && this.rules.emptyLocationEndsRedirects ? null : location;
  }

  /**
   * EngineRules.refusesDelInValues: a cross-origin request fails after its preflight when a header
   * value has DEL (0x7F). Only that was observed (a same-origin one is left to the standard's rule).
   */
  private unsendable(): CorsVerdict | null {
    if (!this.rules.refusesDelInValues) return null;
    const bad = this.headers.find(([, v]) => v.includes('\x7f'));
    if (bad === undefined) return null;
    return this.blocked({
      where: 'actual request',
      failure: {
        check: 'header value',
        reason: `the ${bad[0]} header's value has a DEL byte (0x7F): ${this.browser} fails the request with a network error after its preflight, though the standard would send it`,
        fix: `Remove the DEL byte (0x7F) from the ${bad[0]} value the script sets.`,
        spec: spec('header-value'),
      },
    });
  }

  /**
   * A font load (`as: 'font'`) whose response passed the CORS check still fails when it holds no
   * font: a status that is not ok, or 204/205, which have no body (Chromium 150 and Firefox ESR 153,
   * observed: FontFace.load() rejects).
   */
  private fontProblem(res: ServerResponse): Blocked | null {
    const loads = isOkStatus(res.status) || (res.status >= 300 && res.status <= this.rules.fontLoadsUpTo && res.status !== 304);
    if (this.input.as !== 'font' || (loads && res.status !== 204 && res.status !== 205)) return null;
    const from = this.rules.fontLoadsUpTo > 299 ? `a status from 200 to ${this.rules.fontLoadsUpTo} (${this.browser})` : 'an ok status (200-299)';
    return {
      where: 'font load',
      failure: {
        check: 'status',
        reason: `the font's response is a ${res.status}: the browser loads a font only from ${from} with a body, so the load fails (not a CORS failure)`,
        fix: `Serve the font file itself at this URL with 200 (it got ${res.status}: a wrong path, a missing file, or an error in front of it).`,
        spec: spec('ok-status'),
      },
    };
  }

  /** Fetch §4.9 "CORS-preflight fetch", when the request needs one: a verdict if it ends here, else null. */
  private preflightIfNeeded(requestOrigin: string): CorsVerdict | null {
    const { method, headers, rules, credentials } = this;
    const unsafe = unsafeHeaderNames(headers, rules);
    const sticky = rules.preflightSticksAfterRedirect && this.preflight && this.redirects > 0;
    if (isSafelistedMethod(method) && unsafe.names.length === 0 && !sticky) return null;
    this.preflight = true;
    const origin = this.tainted && rules.preflightKeepsPageOrigin ? this.origin : requestOrigin;
    if (origin !== requestOrigin) this.notes.push(`${this.browser} sends this preflight with the page's origin ${origin} and checks its answer against it, though the request itself goes with "Origin: null"`);
    const req = preflightRequest(this.url.href, origin, method, unsafe);
    const res = this.answer(req);
    if (res === null) return this.pending(req);
    const conflict = this.conflicting(req, res, 'preflight');
    if (conflict !== null) return conflict;
    const failure = checkPreflight(rules, res, origin, credentials, method, headers.map(([n]) => n), unsafe, this.origin === 'null');
    const mattered = ['Access-Control-Allow-Origin', ...(credentials === 'include' ? ['Access-Control-Allow-Credentials'] : []), 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Max-Age']
      .map((n) => shown(res.headers, n));
    this.steps.push({ request: req, response: res, outcome: failure === null ? 'passed' : 'failed', mattered });
    const why = [sticky ? `${this.browser} preflights a redirected request that was preflighted` : '', !isSafelistedMethod(method) ? `the method ${method} is not GET, HEAD or POST` : '', ...unsafe.names.map((n) => `${n}: ${unsafe.why.get(n)}`)].filter((w) => w !== '');
    this.notes.push(`a preflight goes out to ${this.url.href} because ${why.join('; ')}`);
    if (failure !== null) return this.blocked({ failure: origin === requestOrigin ? failure : splitOriginFix(failure, this.browser, origin), where: 'preflight' });
    this.maxAge = this.preflightCacheSkipped() ? 0 : preflightMaxAge(res, rules);
    return null;
  }

  /** Whether the engine keeps this preflight out of its cache whatever Max-Age says (EngineRules), noted if so. */
  private preflightCacheSkipped(): boolean {
    const conditional = this.headers.find(([n]) => CONDITIONAL_HEADERS.has(n.toLowerCase()));
    if (conditional !== undefined && this.rules.conditionalSkipsPreflightCache) {
      this.notes.push(`${this.browser} never caches the preflight of a request with ${conditional[0]} (a conditional request): each such request is preflighted`);
      return true;
    }
    if (this.origin === 'null' && this.rules.opaqueOriginSkipsPreflightCache) {
      this.notes.push(`${this.browser} never caches a preflight from a page whose origin is opaque ("null"): each request is preflighted`);
      return true;
    }
    return false;
  }

  private answer(req: OutgoingRequest): ServerResponse | null {
    const responses = this.input.responses;
    if (typeof responses === 'function') return responses(req);
    const r = responses[this.answered];
    if (r === undefined) return null;
    this.answered++;
    return r;
  }

  private result(over: Partial<CorsVerdict> & Pick<CorsVerdict, 'verdict'>): CorsVerdict {
    const { browser, preflight, maxAge, steps, notes } = this;
    return { browser, preflight, status: null, readable: [], reason: null, failedStep: null, spec: null, fix: null, maxAge, steps, next: null, notes, ...over };
  }

  private pending(next: OutgoingRequest): CorsVerdict {
    return this.result({ verdict: 'pending', next });
  }

  private blocked({ failure, where }: Blocked): CorsVerdict {
    return this.result({ verdict: 'blocked', reason: failure.reason, failedStep: `${where}: ${failure.check}`, spec: failure.spec, fix: failure.fix });
  }

  /** Follows a redirect: null to go round main fetch again, or the verdict when it cannot be followed. */
  private redirect(res: ServerResponse, location: string): CorsVerdict | null {
    const next = this.follow(res, location);
    if (!('failure' in next)) return null;
    // Not followed after all: the redirect's step is where the check failed.
    const last = this.steps.pop();
    if (last !== undefined) this.steps.push({ ...last, outcome: 'failed' });
    return this.blocked(next);
  }

  /** Fetch §4.4 "HTTP-redirect fetch" (https://fetch.spec.whatwg.org/#http-redirect-fetch). Updates url, method, headers, tainted. */
  private follow(res: ServerResponse, location: string): { ok: true } | Blocked {
    const at = spec('http-redirect-fetch');
    let target: URL;
    try {
      target = new URL(location, this.url);
    } catch {
      return { where: 'redirect', failure: { check: 'Location', reason: `the redirect's Location "${location}" is not a URL`, fix: 'Send an absolute URL in Location.', spec: at } };
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return { where: 'redirect', failure: { check: 'Location', reason: `the redirect goes to a ${target.protocol} URL`, fix: 'Redirect only to http: or https: URLs.', spec: at } };
    }
    if (++this.redirects > 20) {
      return { where: 'redirect', failure: { check: 'redirect count', reason: 'more than 20 redirects', fix: 'Break the redirect loop.', spec: at } };
    }
    if (this.cors && (target.username !== '' || target.password !== '')) {
      return { where: 'redirect', failure: { check: 'Location', reason: 'the redirect target has a user name or password in it', fix: 'Redirect to a URL without user:password@.', spec: at } };
    }
    const refused = this.badPort(target, true) ?? this.mixedContent(target, true);
    if (refused !== null) return refused;
    if (target.origin !== this.url.origin && this.url.origin !== this.origin) {
      if (!this.tainted) this.notes.push(`the redirect from ${this.url.origin} to ${target.origin} taints the request's origin: from here the browser sends "Origin: null"`);
      this.tainted = true;
    }
    const m = this.method;
    if (((res.status === 301 || res.status === 302) && m === 'POST') || (res.status === 303 && m !== 'GET' && m !== 'HEAD')) {
      this.method = 'GET';
      this.headers = this.headers.filter(([n]) => !BODY_HEADERS.has(n.toLowerCase()));
    }
    if (target.origin !== this.url.origin) this.headers = this.headers.filter(([n]) => n.toLowerCase() !== 'authorization');
    const dropped = this.headers.filter(([n]) => this.rules.droppedOnRedirect.has(n.toLowerCase()));
    if (dropped.length > 0) {
      this.notes.push(`${this.browser} drops ${dropped.map(([n]) => n).join(', ')} when it follows the redirect (the standard keeps them)`);
      this.headers = this.headers.filter((h) => !dropped.includes(h));
    }
    this.url = target;
    this.url.hash = '';
    return { ok: true };
  }
}
