// `xorigin check URL --origin O ...`: sends what a browser would send, and says what the browser
// decides and why, with the fix for the server's operator. `--har FILE` explains a DevTools export.
import { parseArgs } from 'node:util';
import { argumentsProblem } from './argument-errors.js';
import {
  CheckInputError, evaluateCors, parseHeaderLine, parseOrigin, type Browser, type CheckRequest, type CorsVerdict, type Credentials,
  type HeaderPair, type OutgoingRequest, type ServerResponse,
} from '../check/index.js';
import { NetworkError, send } from './fetch-step.js';
import { runHar } from './har.js';
import { safeJson, terminalSafe, type Io } from './terminal.js';

export { terminalSafe, type Io } from './terminal.js';

const BROWSERS: readonly Browser[] = ['standard', 'chromium', 'firefox'];
const DEFAULT_TIMEOUT = 10_000;
/** The whole check's bound: redirects (up to 20) each answered just under the timeout would otherwise take 20 timeouts. */
const DEFAULT_DEADLINE = 30_000;
const MAX_MS = 600_000;

export const CHECK_HELP = `xorigin check URL --origin O [options]
xorigin check --har FILE [--origin O] [options]

Sends what a browser would send for fetch(URL) from a page on origin O (the preflight when one is
needed, then the request, following redirects as fetch() does) and prints each step, the verdict
(allowed / blocked: reason) and the fix.

  --origin O                 the page's origin, e.g. https://app.example.com (required with a URL)
  --method M                 as the script writes it (default GET; "patch" stays lower case)
  --header 'Name: value'     a request header the script sets (repeatable, order kept)
  --credentials C            omit | same-origin | include (fetch()'s credentials; default same-origin)
  --as fetch|font            font: an @font-face load (a CORS GET, credentials same-origin; a non-2xx,
                             204 or 205 answer loads no font)
  --browser B                standard | chromium | firefox: whose rules set the exit code (default standard)
  --timeout MS               per request (default ${DEFAULT_TIMEOUT}, at most 60000)
  --deadline MS              for the whole check, every request and redirect (default ${DEFAULT_DEADLINE}, at most ${MAX_MS})
  --json                     one JSON object instead of the text
  --har FILE                 judge every request of a DevTools HAR export from its recorded answers (no network)
  -h, --help                 this help

Exit status: 0 allowed, 1 blocked, 2 bad input or a network error.`;

export interface CheckOptions extends CheckRequest {
  readonly browser: Browser;
  /** Per request, ms (default 10000). */
  readonly timeoutMs?: number;
  /** For the whole check, ms (default 30000): past it, a NetworkError with code `deadline`. */
  readonly deadlineMs?: number;
}

export interface CheckResult {
  /** The verdict under the chosen browser's rules. */
  readonly verdict: CorsVerdict;
  /** The verdict under each engine's rules, from the same server answers. */
  readonly all: Readonly<Record<Browser, CorsVerdict>>;
}

const keyOf = (r: OutgoingRequest): string => JSON.stringify([r.kind, r.method, r.url, r.headers]);

/**
 * The in-process entry of `xorigin check`: drives evaluateCors over the network for each engine
 * (answers shared, so the server is asked each distinct request once) and returns every verdict.
 * Throws CheckInputError for bad input and NetworkError when a request gets no answer, or when the
 * whole check outlasts `deadlineMs` (code `deadline`).
 */
export async function checkCors(options: CheckOptions): Promise<CheckResult> {
  const ask = withDeadline(options.timeoutMs ?? DEFAULT_TIMEOUT, options.deadlineMs ?? DEFAULT_DEADLINE);
  const cache = new Map<string, ServerResponse>();
  const found = new Map<Browser, CorsVerdict>();
  // The chosen engine first: its network error is the command's; another engine's (Chromium
  // connects to ports 4190 and 6679, which the others refuse unsent) leaves that one pending.
  for (const browser of [options.browser, ...BROWSERS.filter((b) => b !== options.browser)]) {
    const answers: ServerResponse[] = [];
    for (;;) {
      const v = evaluateCors({ ...options, browser, responses: answers });
      if (v.verdict !== 'pending' || v.next === null) {
        found.set(browser, v);
        break;
      }
      const key = keyOf(v.next);
      let res = cache.get(key);
      if (res === undefined) {
        try {
          res = await ask(v.next);
        } catch (e) {
          if (browser === options.browser || !(e instanceof NetworkError) || e.code === 'deadline') throw e;
          found.set(browser, v);
          break;
        }
        cache.set(key, res);
      }
      answers.push(res);
    }
  }
  const all = Object.fromEntries(BROWSERS.map((b) => [b, found.get(b) as CorsVerdict])) as Record<Browser, CorsVerdict>;
  return { verdict: all[options.browser], all };
}

/**
 * `send` under both bounds: each request gets the per-request timeout or what is left of the
 * deadline, whichever is shorter, so the check ends at the deadline, not a timeout after it.
 */
function withDeadline(timeoutMs: number, deadlineMs: number): (req: OutgoingRequest) => Promise<ServerResponse> {
  // Monotonic: a wall clock stepped (NTP, an operator) mid-check must neither end it nor stretch it.
  const end = performance.now() + deadlineMs;
  let sent = 0;
  const over = (req: OutgoingRequest): NetworkError =>
    new NetworkError(`no verdict within the ${deadlineMs} ms deadline (--deadline): ${sent} request${sent === 1 ? '' : 's'} sent, the last ${req.method} ${req.url}; raise --deadline, or find the slow hop (a redirect chain, a slow server)`, 'deadline');
  return async (req) => {
    const left = end - performance.now();
    if (left <= 0) throw over(req);
    sent++;
    try {
      return await send(req, Math.min(timeoutMs, left));
    } catch (e) {
      if (e instanceof NetworkError && e.code === 'timeout' && left < timeoutMs) throw over(req);
      throw e;
    }
  };
}

/** "allowed in chromium; blocked by the standard and firefox", or null when all agree. */
export function disagreement(all: Readonly<Record<Browser, CorsVerdict>>): string | null {
  const by = (verdict: string): Browser[] => BROWSERS.filter((b) => all[b].verdict === verdict);
  const allowed = by('allowed');
  const blocked = by('blocked');
  const preflights = BROWSERS.filter((b) => all[b].preflight);
  const parts: string[] = [];
  const name = (b: Browser): string => (b === 'standard' ? 'the standard' : b === 'chromium' ? 'Chromium' : 'Firefox');
  const list = (bs: Browser[]): string => bs.map(name).join(' and ');
  if (allowed.length > 0 && blocked.length > 0) parts.push(`allowed ${allowed.includes('standard') ? 'by' : 'in'} ${list(allowed)}, blocked ${blocked.includes('standard') ? 'by' : 'in'} ${list(blocked)}`);
  if (preflights.length > 0 && preflights.length < BROWSERS.length) parts.push(`a preflight goes out under ${list(preflights)} only`);
  return parts.length === 0 ? null : parts.join('; ');
}

interface Parsed {
  help: boolean;
  json: boolean;
  har: string | undefined;
  url: string | undefined;
  origin: string | undefined;
  request: Omit<CheckOptions, 'url' | 'origin'>;
}

const CHECK_FLAGS = {
  origin: { type: 'string' }, method: { type: 'string' }, header: { type: 'string', multiple: true },
  credentials: { type: 'string' }, as: { type: 'string' }, browser: { type: 'string' }, timeout: { type: 'string' }, deadline: { type: 'string' },
  json: { type: 'boolean' }, har: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function parse(argv: readonly string[]): Parsed {
  let p;
  try {
    p = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: CHECK_FLAGS });
  } catch (e) {
    const { reason, meant } = argumentsProblem(e, Object.keys(CHECK_FLAGS));
    throw new CheckInputError(meant === undefined ? `${reason} (see xorigin check --help)` : `${reason}: did you mean ${meant}?`);
  }
  const v = p.values;
  const oneOf = <T extends string>(flag: string, value: string | undefined, allowed: readonly T[], dflt: T): T => {
    if (value === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(value)) throw new CheckInputError(`--${flag} ${JSON.stringify(value)}: use ${allowed.join(', ')}`);
    return value as T;
  };
  const milliseconds = (flag: string, value: string | undefined, max: number, dflt: number): number => {
    if (value === undefined) return dflt;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new CheckInputError(`--${flag} ${JSON.stringify(value)}: milliseconds from 1 to ${max}`);
    return Number(value);
  };
  if (p.positionals.length > 1) throw new CheckInputError(`one URL at a time; got ${p.positionals.length}: ${p.positionals.join(' ')}`);
  const headers: HeaderPair[] = (v.header ?? []).map(parseHeaderLine);
  return {
    help: v.help === true,
    json: v.json === true,
    har: v.har,
    url: p.positionals[0],
    origin: v.origin,
    request: {
      ...(v.method === undefined ? {} : { method: v.method }),
      headers,
      credentials: oneOf<Credentials>('credentials', v.credentials, ['omit', 'same-origin', 'include'], 'same-origin'),
      as: oneOf('as', v.as, ['fetch', 'font'] as const, 'fetch'),
      browser: oneOf<Browser>('browser', v.browser, BROWSERS, 'standard'),
      timeoutMs: milliseconds('timeout', v.timeout, 60_000, DEFAULT_TIMEOUT),
      deadlineMs: milliseconds('deadline', v.deadline, MAX_MS, DEFAULT_DEADLINE),
    },
  };
}

const indent = (s: string, n: number): string => `${' '.repeat(n)}${s}`;

/** The text report: each step with the headers that mattered, the verdict, the fix, and any disagreement. */
export function renderText(request: CheckRequest, result: CheckResult): string {
  const v = result.verdict;
  const lines: string[] = [];
  const method = request.as === 'font' ? 'GET (font)' : (request.method ?? 'GET');
  lines.push(`${method} ${request.url}`, `  from origin ${request.origin}, credentials ${request.as === 'font' ? 'same-origin' : (request.credentials ?? 'same-origin')}, ${v.browser} rules`, '');
  v.steps.forEach((s, i) => {
    const sent = s.request.headers.filter(([n]) => n === 'Origin' || n.startsWith('Access-Control-Request-') || s.request.kind === 'actual');
    lines.push(`${i + 1}. ${s.request.kind === 'preflight' ? 'preflight' : 'request'}: ${s.request.method} ${s.request.url}`);
    for (const [n, val] of sent) lines.push(indent(`> ${n}: ${val}`, 3));
    lines.push(indent(`< ${s.response.protocol === undefined ? '' : `${s.response.protocol} `}${s.response.status}`, 3));
    for (const m of s.mattered) lines.push(indent(`< ${m}`, 3));
    lines.push(indent(s.outcome === 'passed' ? 'passed' : s.outcome === 'redirect' ? 'redirect, followed' : 'FAILED', 3), '');
  });
  if (v.verdict === 'allowed') {
    lines.push(`verdict: allowed (script sees status ${v.status})`);
    lines.push(`readable: ${v.readable.length === 0 ? '(none)' : v.readable.join(', ')}`);
  } else {
    lines.push(`verdict: blocked: ${v.reason}`, `failed step: ${v.failedStep}`, `fix: ${v.fix}`, `see: ${v.spec}`);
  }
  if (v.maxAge !== null) lines.push(`preflight cached for: ${wholeSeconds(v.maxAge)} s`);
  for (const n of v.notes) lines.push(`note: ${n}`);
  const differ = disagreement(result.all);
  if (differ !== null) lines.push(`browsers differ: ${differ}`);
  return lines.map(terminalSafe).join('\n');
}

/** Seconds as digits: String(1e23) is `1e+23`, which reads as a typo for a Max-Age the server sent in digits. */
function wholeSeconds(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 0 }) : String(n);
}

/** The --json shape. */
export function toJson(result: CheckResult): Record<string, unknown> {
  const v = result.verdict;
  return {
    verdict: v.verdict,
    browser: v.browser,
    preflight: v.preflight,
    status: v.status,
    readable: v.readable,
    reason: v.reason,
    failedStep: v.failedStep,
    fix: v.fix,
    spec: v.spec,
    maxAge: v.maxAge,
    notes: v.notes,
    steps: v.steps.map((s) => ({ kind: s.request.kind, method: s.request.method, url: s.request.url, sent: s.request.headers, status: s.response.status, protocol: s.response.protocol ?? null, mattered: s.mattered, outcome: s.outcome })),
    browsers: Object.fromEntries(BROWSERS.map((b) => [b, { verdict: result.all[b].verdict, preflight: result.all[b].preflight, reason: result.all[b].reason }])),
    disagreement: disagreement(result.all),
  };
}

/** `xorigin check ...`: returns the exit status (0 allowed, 1 blocked, 2 bad input or network error). */
export async function runCheck(argv: readonly string[], io: Io): Promise<number> {
  try {
    const p = parse(argv);
    if (p.help) {
      io.out(CHECK_HELP);
      return 0;
    }
    if (p.har !== undefined) return runHar({ file: p.har, origin: p.origin, credentials: p.request.credentials ?? 'same-origin', browser: p.request.browser, json: p.json }, io);
    if (p.url === undefined) throw new CheckInputError('missing URL: xorigin check URL --origin O (see xorigin check --help)');
    if (p.origin === undefined) throw new CheckInputError('missing --origin: the origin of the page that makes the request, e.g. --origin https://app.example.com');
    const request: CheckOptions = { ...p.request, url: p.url, origin: parseOrigin(p.origin) };
    const result = await checkCors(request);
    io.out(p.json ? safeJson(toJson(result)) : renderText(request, result));
    return result.verdict.verdict === 'allowed' ? 0 : 1;
  } catch (e) {
    if (e instanceof CheckInputError || e instanceof NetworkError) {
      io.err(terminalSafe(`xorigin check: ${e.message}`));
      return 2;
    }
    io.err(terminalSafe(`xorigin check: ${(e as Error).message ?? String(e)}`));
    return 2;
  }
}
