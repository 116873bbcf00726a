// Each engine's rules: the Fetch standard's, and where a shipping browser departs from them. Every
// deviation here was found by the differential test (test/check-browser.test.js) against the real
// browser, or is marked as documented and not observable in a test (the preflight cache caps).
import type { Browser } from './types.js';

/** How one engine (the standard, Chromium, Firefox) applies the Fetch standard's CORS rules. */
export interface EngineRules {
  readonly browser: Browser;
  /**
   * Request-header names the engine treats as CORS-safelisted beyond the standard's, with their
   * value rule. Chromium safelists client hints and `Intervention` (observed: `DPR: 2` sends no preflight).
   */
  readonly extraSafelisted: ReadonlyMap<string, (value: string) => boolean>;
  /**
   * Whether `Access-Control-Allow-Headers: *` (without credentials) also covers `Authorization`. The
   * standard: never. Chromium 150: it does (observed; it only logs a deprecation warning).
   */
  readonly wildcardCoversAuthorization: boolean;
  /**
   * Whether headers set twice under one name are judged as one combined value ("a, b") when deciding
   * on a preflight. The standard judges each entry of the header list. Chromium combines them
   * (observed: two 100-byte Accept-Language values send a preflight, the combined value being over 128 bytes).
   */
  readonly combinesRepeatedHeaders: boolean;
  /**
   * The total size of safelisted header values above which they all need a preflight. The standard
   * and Chromium: 1,024 bytes. Firefox ESR 153: no such total (observed: nine 120-byte
   * Accept-Language values send no preflight).
   */
  readonly safelistTotal: number;
  /**
   * Whether a request that was preflighted is preflighted again after every redirect, even when it
   * became a simple GET (a 303 after a PUT). The standard and Chromium decide afresh from the new
   * method and headers; Firefox ESR 153 keeps preflighting (observed: OPTIONS to the 303's target).
   */
  readonly preflightSticksAfterRedirect: boolean;
  /**
   * Whether a request with a conditional header (If-None-Match, If-Modified-Since, If-Match,
   * If-Unmodified-Since, If-Range) is preflighted every time, its preflight never cached. The
   * standard: the preflight cache applies (the "no-store" such a header brings is the HTTP cache's).
   * Chromium 150 and Firefox ESR 153: not cached (observed; the request goes with the cache mode
   * "no-store" such a header brings, and both engines apply it to the preflight too).
   */
  readonly conditionalSkipsPreflightCache: boolean;
  /**
   * Whether a page whose origin is opaque (`Origin: null`: a sandboxed iframe, a data: URL) has its
   * preflights cached. The standard: yes, under "null". Chromium 150: never (observed by a
   * differential fuzz, x32; not in the test suite, which has no sandboxed page).
   */
  readonly opaqueOriginSkipsPreflightCache: boolean;
  /** The preflight cache lifetime cap, in seconds (Chromium 2 h, Firefox 24 h; the standard: none). */
  readonly maxAgeCap: number;
  /** The lifetime without a valid Access-Control-Max-Age, in seconds (the standard: 5). */
  readonly maxAgeDefault: number;
  /**
   * The lifetime, in seconds, for a non-empty Access-Control-Max-Age that is not one delta-seconds
   * value (two fields read as "5, 5" included). The standard: the default, 5. Chromium 150: 0 for a
   * negative number (`-1`, `-0`), else the default. Firefox ESR 153: 0 (observed: not cached).
   */
  readonly invalidMaxAge: (value: string) => number;
  /** How `Range` is read when deciding on a preflight (see RangeRules). */
  readonly range: RangeRules;
  /**
   * Request-header names the engine drops from what script sets, where the standard sends them (and
   * preflights them). Chromium 150: `user-agent` (observed; crbug.com/571722) and
   * `access-control-request-private-network` (observed: no preflight for it).
   */
  readonly droppedHeaders: ReadonlySet<string>;
  /**
   * Request-header names the engine drops when it follows a redirect, where the standard keeps
   * every header but the request-body ones (after a change to GET) and, cross-origin,
   * Authorization. Chromium 150: the legacy client hints but Save-Data (observed by a differential
   * fuzz, x32: a `DPR: two` that was preflighted goes to a 307's target without it, unpreflighted).
   */
  readonly droppedOnRedirect: ReadonlySet<string>;
  /**
   * Whether a byte 0x80-0xFF in an Accept or Content-Type value makes it CORS-unsafe. The standard
   * and Chromium: no (only the CORS-unsafe request-header bytes do). Firefox ESR 153: yes (observed).
   */
  readonly highBytesUnsafe: boolean;
  /**
   * Whether an empty Access-Control-Allow-Credentials or Access-Control-Max-Age field line is left
   * out when the lines are combined. The standard "gets" `true, ` (not `true`: the check fails) and
   * `5, ` (invalid). Firefox ESR 153 skips it (observed: `true` plus an empty line passes, `5` plus an
   * empty line is cached); not an empty Access-Control-Allow-Origin line (that still fails).
   */
  readonly skipsEmptyFieldLines: boolean;
  /**
   * Whether a 3xx whose Location is empty is the response script gets. The standard (and Firefox):
   * an empty Location is the same URL, followed until the redirect limit. Chromium 150 hands the
   * 3xx to script (observed).
   */
  readonly emptyLocationEndsRedirects: boolean;
  /**
   * Whether a redirect with several Location lines of one same value is followed to it. The
   * standard: Location allows one value, so two lines are a network error whatever they say
   * (§2.2 "extract header list values"). Chromium 150 and Firefox ESR follow lines that are all the
   * same (observed; different ones fail, Chromium's ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION).
   */
  readonly sameLocationLinesAreOne: boolean;
  /**
   * Response fields of which the engine fails any response with two different values (a network
   * error, before CORS), whatever its status: the field's lower-case name, and whether the engine
   * splits its lines at commas outside quotes into values first. The standard: none (only a
   * redirect's Location must be one value). Chromium 150 and Firefox ESR: Location and
   * Content-Disposition, Chromium splitting Content-Disposition (`inline,` is two values, `inline`
   * beside `inline, inline` one); Firefox compares lines (observed by reviews r32, r32b, and by the
   * differential test).
   */
  readonly conflictingFieldsFail: readonly { readonly name: string; readonly splitsCommas: boolean }[];
  /**
   * The ports a fetch may not connect to: Fetch §2.9's list, and port 0, which no server listens on
   * (both browsers refuse it). Chromium 150 connects to 4190 and 6679, on the standard's list (observed).
   */
  readonly badPorts: ReadonlySet<string>;
  /**
   * Whether, once a cross-origin redirect has made the request's origin `null`, a preflight still
   * sends the page's origin and is checked against it. The standard (and Chromium): `null` for the
   * preflight as for the request. Firefox ESR 153: the page's origin (observed on the wire).
   */
  readonly preflightKeepsPageOrigin: boolean;
  /**
   * Whether a request whose header value has a DEL byte (0x7F) fails after its preflight. The
   * standard sends it (a header value may hold 0x7F; it is only CORS-unsafe). Chromium 150 and
   * Firefox ESR 153 send the preflight, then fail the request with a network error (observed).
   */
  readonly refusesDelInValues: boolean;
  /**
   * The highest status a font loads from (with a body, and not 204, 205 or 304). The standard (an ok
   * status): 299. Chromium 150: 399, a 3xx it does not follow (a 300, a 302 without Location)
   * included (observed by a differential fuzz, x32).
   */
  readonly fontLoadsUpTo: number;
}

/**
 * Fetch §2.2.2 "parse a single range header value" as an engine reads it
 * (https://fetch.spec.whatwg.org/#simple-range-header-value). The standard: the unit is `bytes`,
 * lower case, and a position is any run of ASCII digits. Chromium 150: the unit in any case, a `+`
 * before a position allowed, a position past 2^63 - 1 not read. Firefox ESR 153: a position past
 * 2^64 - 1 not read (all observed: a Range the engine does not read needs a preflight).
 */
export interface RangeRules {
  readonly unitAnyCase: boolean;
  readonly plusSign: boolean;
  /** The largest position read, or null for no limit. */
  readonly maxPosition: bigint | null;
}

/** Fetch §2.9 "port blocking": ports of other protocols that no fetch may connect to. */
const FETCH_BAD_PORTS = [
  '1', '7', '9', '11', '13', '15', '17', '19', '20', '21', '22', '23', '25', '37', '42', '43', '53', '69', '77', '79', '87', '95',
  '101', '102', '103', '104', '109', '110', '111', '113', '115', '117', '119', '123', '135', '137', '139', '143', '161', '179',
  '389', '427', '465', '512', '513', '514', '515', '526', '530', '531', '532', '540', '548', '554', '556', '563', '587', '601',
  '636', '989', '990', '993', '995', '1719', '1720', '1723', '2049', '3659', '4045', '4190', '5060', '5061', '6000', '6566',
  '6665', '6666', '6667', '6668', '6669', '6679', '6697', '10080',
];
const BAD_PORTS = new Set(['0', ...FETCH_BAD_PORTS]);
const CHROMIUM_BAD_PORTS = new Set([...BAD_PORTS].filter((p) => p !== '4190' && p !== '6679'));

const double = (v: string): boolean => /^\d+(\.\d+)?$/.test(v);
const int = (v: string): boolean => /^\d+$/.test(v);

/** The standard's rules (https://fetch.spec.whatwg.org/). */
const STANDARD: EngineRules = {
  browser: 'standard',
  extraSafelisted: new Map(),
  wildcardCoversAuthorization: false,
  combinesRepeatedHeaders: false,
  safelistTotal: 1024,
  preflightSticksAfterRedirect: false,
  conditionalSkipsPreflightCache: false,
  opaqueOriginSkipsPreflightCache: false,
  maxAgeCap: Infinity,
  maxAgeDefault: 5,
  invalidMaxAge: () => 5,
  range: { unitAnyCase: false, plusSign: false, maxPosition: null },
  droppedHeaders: new Set(),
  droppedOnRedirect: new Set(),
  highBytesUnsafe: false,
  skipsEmptyFieldLines: false,
  emptyLocationEndsRedirects: false,
  sameLocationLinesAreOne: false,
  conflictingFieldsFail: [],
  badPorts: BAD_PORTS,
  preflightKeepsPageOrigin: false,
  refusesDelInValues: false,
  fontLoadsUpTo: 299,
};

/**
 * Chromium's: services/network/public/cpp/cors/cors.cc IsCorsSafelistedHeader adds the legacy client
 * hints (device-memory, dpr, width, viewport-width, rtt, downlink, ect, save-data) and `intervention`;
 * the preflight cache is capped at 7200 s (as MDN documents it since Chromium 76; not timed by the test).
 */
const CHROMIUM: EngineRules = {
  browser: 'chromium',
  extraSafelisted: new Map<string, (v: string) => boolean>([
    ['intervention', () => true],
    ['device-memory', double],
    ['dpr', double],
    ['downlink', double],
    ['width', int],
    ['viewport-width', int],
    ['rtt', int],
    ['ect', (v) => ['slow-2g', '2g', '3g', '4g'].includes(v)],
    ['save-data', (v) => v.toLowerCase() === 'on'],
  ]),
  wildcardCoversAuthorization: true,
  combinesRepeatedHeaders: true,
  safelistTotal: 1024,
  preflightSticksAfterRedirect: false,
  conditionalSkipsPreflightCache: true,
  opaqueOriginSkipsPreflightCache: true,
  maxAgeCap: 7200,
  maxAgeDefault: 5,
  invalidMaxAge: (v) => (/^-\d+$/.test(v) ? 0 : 5),
  range: { unitAnyCase: true, plusSign: true, maxPosition: 2n ** 63n - 1n },
  droppedHeaders: new Set(['user-agent', 'access-control-request-private-network']),
  droppedOnRedirect: new Set(['dpr', 'width', 'viewport-width', 'device-memory', 'rtt', 'downlink', 'ect']),
  highBytesUnsafe: false,
  skipsEmptyFieldLines: false,
  emptyLocationEndsRedirects: true,
  sameLocationLinesAreOne: true,
  conflictingFieldsFail: [{ name: 'location', splitsCommas: false }, { name: 'content-disposition', splitsCommas: true }],
  badPorts: CHROMIUM_BAD_PORTS,
  preflightKeepsPageOrigin: false,
  refusesDelInValues: true,
  fontLoadsUpTo: 399,
};

/**
 * Firefox ESR's: `*` covers Authorization, no 1,024-byte total, a preflight again after each redirect
 * of a preflighted request (all observed); the preflight cache capped at 86400 s (as MDN documents
 * it; not observed, a day is too long to wait in a test).
 */
const FIREFOX: EngineRules = {
  browser: 'firefox',
  extraSafelisted: new Map(),
  wildcardCoversAuthorization: true,
  combinesRepeatedHeaders: false,
  safelistTotal: Infinity,
  preflightSticksAfterRedirect: true,
  conditionalSkipsPreflightCache: true,
  opaqueOriginSkipsPreflightCache: false,
  maxAgeCap: 86400,
  maxAgeDefault: 5,
  invalidMaxAge: () => 0,
  range: { unitAnyCase: false, plusSign: false, maxPosition: 2n ** 64n - 1n },
  droppedHeaders: new Set(),
  droppedOnRedirect: new Set(),
  highBytesUnsafe: true,
  skipsEmptyFieldLines: true,
  emptyLocationEndsRedirects: false,
  sameLocationLinesAreOne: true,
  conflictingFieldsFail: [{ name: 'location', splitsCommas: false }, { name: 'content-disposition', splitsCommas: false }],
  badPorts: BAD_PORTS,
  preflightKeepsPageOrigin: true,
  refusesDelInValues: true,
  fontLoadsUpTo: 299,
};

/** The standard's rules, for the entry points that take an engine's rules optionally. */
export const STANDARD_RULES = STANDARD;

/** The rules of `browser`: Chromium's, Firefox's, or the standard's for `standard`. */
export function rulesFor(browser: Browser): EngineRules {
  return browser === 'chromium' ? CHROMIUM : browser === 'firefox' ? FIREFOX : STANDARD;
}
