// `xorigin check --har FILE`: every request of a DevTools HAR export, judged from the answers recorded
// in it (no network). Chromium and Firefox write different shapes (Chromium: `response._error`
// "net::ERR_…", status 0 or -1, `_fromCache`; Firefox: status 0, sometimes no `response.headers`;
// both: pseudo-headers over HTTP/2, `postData`), and a HAR can be edited by hand: any valid JSON is
// read without a crash, a field of the wrong type counting as absent.
import { readFileSync } from 'node:fs';
import {
  CheckInputError, evaluateCors, type Browser, type Credentials, type HeaderPair, type OutgoingRequest, type ServerResponse,
} from '../check/index.js';
import { safeJson, terminalSafe, type Io } from './terminal.js';

export interface HarOptions {
  readonly file: string;
  /** The page's origin, for every entry (else each entry's Origin header). */
  readonly origin: string | undefined;
  readonly credentials: Credentials;
  readonly browser: Browser;
  readonly json: boolean;
}

/** One entry as read. `status` is null when the browser got no response (status -1, 0 or absent). */
interface Entry {
  readonly n: number;
  readonly method: string;
  readonly url: string;
  readonly requestHeaders: HeaderPair[];
  readonly postType: string | undefined;
  readonly status: number | null;
  readonly responseHeaders: HeaderPair[];
  readonly error: string | undefined;
  /** The page's URL as far as the HAR says: the Referer, else the title of its `pageref` page (Chromium writes the URL there). */
  readonly pageUrl: string | undefined;
}

/** What the report says about one entry. */
interface Report {
  readonly entry: number;
  readonly method: string;
  readonly url: string;
  readonly origin: string | null;
  /** `not-cors`: same-origin or without Origin; `no-response`: the browser recorded no answer the verdict needs. */
  readonly verdict: 'allowed' | 'blocked' | 'unknown' | 'no-response' | 'not-cors';
  readonly reason: string | null;
  readonly fix: string | null;
  readonly [more: string]: unknown;
}

const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const lower = (pairs: HeaderPair[], name: string): string | undefined => pairs.find(([n]) => n.toLowerCase() === name)?.[1];

/** A HAR header list; HTTP/2 pseudo-headers (`:authority`) and malformed items left out. */
function headerList(v: unknown): HeaderPair[] {
  if (!Array.isArray(v)) return [];
  const out: HeaderPair[] = [];
  for (const item of v) {
    const h = record(item);
    const name = text(h.name);
    const value = text(h.value);
    if (name !== undefined && value !== undefined && !name.startsWith(':')) out.push([name, value]);
  }
  return out;
}

/** An entry of `log.entries`, whatever its shape; null when it has no method or URL to judge. */
function readEntry(raw: unknown, n: number, pages: ReadonlyMap<unknown, string>): Entry | null {
  const e = record(raw);
  const req = record(e.request);
  const res = record(e.response);
  const method = text(req.method);
  const url = text(req.url);
  if (method === undefined || url === undefined) return null;
  const status = typeof res.status === 'number' && Number.isInteger(res.status) && res.status >= 100 && res.status <= 999 ? res.status : null;
  const requestHeaders = headerList(req.headers);
  return {
    n, method, url, requestHeaders, status,
    postType: text(record(req.postData).mimeType),
    responseHeaders: headerList(res.headers),
    error: text(res._error) ?? text(e._error),
    pageUrl: lower(requestHeaders, 'referer') ?? pages.get(e.pageref),
  };
}

/** Reads FILE as a HAR: a clear CheckInputError when it is not JSON or has no entries. */
function readHar(file: string): (Entry | null)[] {
  const howTo = `export one from DevTools' Network panel ("Save all as HAR")`;
  let contents: string;
  try {
    contents = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckInputError(`--har ${file}: cannot be read (${(e as Error).message}); give the path of a HAR file, or ${howTo}`);
  }
  let har: unknown;
  try {
    har = JSON.parse(contents);
  } catch (e) {
    throw new CheckInputError(`--har ${file}: not JSON, so no HAR file (${(e as Error).message}); ${howTo}`);
  }
  const log = record(record(har).log);
  if (!Array.isArray(log.entries)) throw new CheckInputError(`--har ${file}: no log.entries; ${howTo}`);
  const pages = new Map<unknown, string>();
  for (const page of Array.isArray(log.pages) ? log.pages : []) {
    const title = text(record(page).title);
    if (title !== undefined) pages.set(record(page).id, title);
  }
  return log.entries.map((raw: unknown, i) => readEntry(raw, i + 1, pages));
}

const originOf = (url: string | undefined): string | null => {
  if (url === undefined) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
};

/** Headers the browser adds itself (not the script's), left out when rebuilding a request from a HAR. */
const BROWSER_ADDED = new Set(['user-agent', 'accept', 'accept-language', 'cache-control', 'pragma', 'priority', 'referer', 'origin', 'cookie', 'accept-encoding', 'connection', 'host', 'content-length']);

/** The headers the script set, as far as a HAR shows them (a body's type from postData when no Content-Type was recorded). */
function scriptHeaders(e: Entry): HeaderPair[] {
  const out = e.requestHeaders.filter(([n]) => !BROWSER_ADDED.has(n.toLowerCase()) && !n.toLowerCase().startsWith('sec-'));
  if (e.postType !== undefined && e.postType !== '' && lower(out, 'content-type') === undefined) out.push(['Content-Type', e.postType]);
  return out;
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that checks this request over the network instead, ready to paste. */
function checkCommand(e: Entry, origin: string | null): string {
  const args = ['xorigin', 'check', quote(e.url), '--origin', origin === null ? "'<the page's origin>'" : quote(origin)];
  if (e.method !== 'GET') args.push('--method', quote(e.method));
  for (const [n, v] of scriptHeaders(e)) args.push('--header', quote(`${n}: ${v}`));
  return args.join(' ');
}

/** What a Chromium net error says about a request that got no response. */
function netError(error: string | undefined): string {
  if (error === undefined || error === '') return '';
  if (/ERR_BLOCKED_BY_CLIENT/.test(error)) return ` (${error}: an extension in the browser, such as an ad or privacy blocker, stopped it; not CORS)`;
  if (/ERR_CERT|ERR_SSL/.test(error)) return ` (${error}: the browser refused the server's certificate or TLS)`;
  if (/ERR_FAILED$/.test(error)) return ` (${error}: what Chromium records for a CORS failure, among others)`;
  return ` (${error})`;
}

/** Thrown by the answer lookup when the response a step needs was not received by the browser. */
class NoResponse {
  constructor(readonly at: Entry, readonly kind: OutgoingRequest['kind']) {}
}

/**
 * The entries' positions by URL, preflights (OPTIONS) and other requests apart, in order: an answer
 * is looked up by binary search, not by copying and scanning the entries for each (a 40,000-entry
 * export took 24.5 s so).
 */
class EntryIndex {
  private readonly preflights = new Map<string, number[]>();
  private readonly others = new Map<string, number[]>();

  constructor(private readonly entries: readonly (Entry | null)[]) {
    entries.forEach((x, i) => {
      if (x === null) return;
      const byUrl = x.method === 'OPTIONS' ? this.preflights : this.others;
      const at = byUrl.get(x.url);
      if (at === undefined) byUrl.set(x.url, [i]);
      else at.push(i);
    });
  }

  /** The last preflight to `url` at or before position `at`. */
  preflightBefore(url: string, at: number): Entry | undefined {
    const list = this.preflights.get(url) ?? [];
    const k = firstAbove(list, at) - 1;
    return k >= 0 ? (this.entries[list[k] as number] as Entry) : undefined;
  }

  /** The first other request to `url` at or after position `at`. */
  requestFrom(url: string, at: number): Entry | undefined {
    const list = this.others.get(url) ?? [];
    const k = firstAbove(list, at - 1);
    return k < list.length ? (this.entries[list[k] as number] as Entry) : undefined;
  }
}

/** The index of the first element of the ascending `list` greater than `n` (list.length if none). */
function firstAbove(list: readonly number[], n: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) <= n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Looks up the recorded answer to each request evaluateCors makes for entry `e`. */
function answers(index: EntryIndex, e: Entry): (req: OutgoingRequest) => ServerResponse {
  const at = e.n - 1;
  return (req) => {
    const found = req.kind === 'preflight' ? index.preflightBefore(req.url, at) : index.requestFrom(req.url, at);
    if (found === undefined) {
      throw new CheckInputError(`the ${req.kind === 'preflight' ? 'preflight (OPTIONS) ' : ''}answer from ${req.url} is not in the HAR (DevTools hides preflights unless "Show CORS preflight requests" is on, and a preflight answered from the browser's cache is not recorded: record again with "Disable cache")`);
    }
    if (found.status === null) throw new NoResponse(found, req.kind);
    return { status: found.status, headers: found.responseHeaders };
  };
}

/** Judges one cross-origin request from the page at `origin`. */
function judge(index: EntryIndex, e: Entry, origin: string, o: HarOptions): Report {
  const base = { entry: e.n, method: e.method, url: e.url, origin };
  const cookie = lower(e.requestHeaders, 'cookie') !== undefined;
  try {
    const v = evaluateCors({ url: e.url, origin, method: e.method, headers: scriptHeaders(e), credentials: cookie ? 'include' : o.credentials, browser: o.browser, responses: answers(index, e) });
    return { ...base, verdict: v.verdict === 'allowed' ? 'allowed' : 'blocked', preflight: v.preflight, status: v.status, readable: v.readable, reason: v.reason, failedStep: v.failedStep, fix: v.fix };
  } catch (err) {
    if (err instanceof NoResponse) {
      const what = err.kind === 'preflight' ? `its preflight (entry #${err.at.n}) got` : err.at === e ? 'the browser got' : `the request at entry #${err.at.n} got`;
      return { ...base, verdict: 'no-response', reason: `${what} no response${netError(err.at.error)}: blocked, failed or cancelled before an answer, and the HAR cannot say which`, fix: `check it over the network: ${checkCommand(e, origin)}` };
    }
    if (!(err instanceof CheckInputError)) return { ...base, verdict: 'unknown', reason: `cannot judge it: ${String((err as Error)?.message ?? err)}`, fix: null };
    // Without --origin, the origin judged is the recorded Origin header's: that is what was wrong, not a flag.
    const recorded = o.origin === undefined && err.message.startsWith('--origin ');
    const reason = recorded ? `the recorded Origin header ${err.message.slice('--origin '.length)} (to judge it from another origin, pass the page's as --origin)` : err.message;
    return { ...base, verdict: 'unknown', reason, fix: null };
  }
}

const SAME_ORIGIN = 'not a CORS request: same-origin';

/** An entry with no request method or URL to judge (review h51: it was left out without a line). */
function unreadable(n: number): Report {
  return { entry: n, method: '?', url: '?', origin: null, verdict: 'unknown', reason: 'no request to judge: the entry has no request.method or request.url (as strings)', fix: null };
}

/**
 * Same-origin, no Origin header, `Origin: null` or not http(s): not judged, and why (null: say nothing,
 * for a `data:` or `blob:` URL, which goes to no server). A URL that does not parse is said to be one.
 */
function notCors(e: Entry, pageOrigin: string | null, target: string | null): Report | null {
  const base = { entry: e.n, method: e.method, url: e.url, origin: pageOrigin, verdict: 'not-cors' as const, fix: null };
  if (target === null) return URL.canParse(e.url) ? null : { ...base, verdict: 'unknown', reason: 'its URL does not parse, so it names no server to judge' };
  if (pageOrigin === 'null') return { ...base, reason: 'Origin: null (a sandboxed or file: page, or a hop after a cross-origin redirect, judged with the request that redirected): not judged on its own' };
  if (pageOrigin === target) return { ...base, reason: SAME_ORIGIN };
  return {
    ...base,
    reason: 'not a CORS request as recorded: no Origin header (a no-cors load such as <img>, <script> or a navigation; or DevTools kept only provisional headers)',
    fix: `if script made it with fetch() or XHR, check it: ${checkCommand(e, pageOrigin)}`,
  };
}

/** The report for one entry, or null for what is not a request to judge (a preflight, a data: URL). */
function reportOn(index: EntryIndex, e: Entry, o: HarOptions): Report | null {
  // A preflight is judged with the request it precedes; any other OPTIONS would find itself as its preflight.
  if (e.method === 'OPTIONS') return null;
  const target = originOf(e.url);
  const origin = o.origin ?? lower(e.requestHeaders, 'origin');
  if (origin === undefined || origin === 'null' || target === null || target === origin) {
    return notCors(e, origin ?? originOf(e.pageUrl), target);
  }
  return judge(index, e, origin, o);
}

/** The text line(s) of one report. */
function lines(r: Report): string[] {
  const head = `#${r.entry} ${r.method} ${r.url}${r.origin === null ? '' : ` (from ${r.origin})`}`;
  const out = [r.verdict === 'allowed' ? `${head}: allowed ${String(r.status)}` : `${head}: ${r.verdict}: ${String(r.reason)}`];
  if (r.fix !== null) out.push(`   fix: ${r.fix}`);
  return out.map(terminalSafe);
}

/**
 * --har: every request in the export, judged from the answers recorded in it (no network). Returns
 * the exit status: 1 when any is blocked, else 0. Throws CheckInputError when the file is not a HAR.
 */
export function runHar(o: HarOptions, io: Io): number {
  const entries = readHar(o.file);
  const index = new EntryIndex(entries);
  const reports = entries.flatMap((e, i) => (e === null ? [unreadable(i + 1)] : (reportOn(index, e, o) ?? [])));
  const blocked = reports.filter((r) => r.verdict === 'blocked').length;
  if (o.json) {
    io.out(safeJson({ verdict: blocked > 0 ? 'blocked' : 'allowed', requests: reports }));
    return blocked > 0 ? 1 : 0;
  }
  const sameOrigin = reports.filter((r) => r.reason === SAME_ORIGIN).length;
  const shown = reports.filter((r) => r.reason !== SAME_ORIGIN);
  if (shown.length === 0) io.out('no cross-origin requests in this HAR');
  for (const r of shown) for (const line of lines(r)) io.out(line);
  if (sameOrigin > 0) io.out(`(${sameOrigin} same-origin request${sameOrigin === 1 ? '' : 's'}: not CORS, not judged)`);
  return blocked > 0 ? 1 : 0;
}
