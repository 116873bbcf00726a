// Each engine's rules: the Fetch standard's, and where a shipping browser departs from them. Every
// deviation here was found by the differential test (test/check-browser.test.js) against the real
// browser, or is marked as documented and not observable in a test (the preflight cache caps).
import type { Browser } from './types.js';

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
  /** The preflight cache lifetime cap, in seconds (Chromium 2 h, Firefox 24 h; the standard: none). */
  readonly maxAgeCap: number;
  /** The lifetime without a valid Access-Control-Max-Age, in seconds (the standard: 5). */
  readonly maxAgeDefault: number;
}

const double = (v: string): boolean => /^\d+(\.\d+)?$/.test(v);
const int = (v: string): boolean => /^\d+$/.test(v);

/** The standard's rules (https://fetch.spec.whatwg.org/). */
const STANDARD: EngineRules = { browser: 'standard', extraSafelisted: new Map(), wildcardCoversAuthorization: false, combinesRepeatedHeaders: false, safelistTotal: 1024, preflightSticksAfterRedirect: false, maxAgeCap: Infinity, maxAgeDefault: 5 };

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
  maxAgeCap: 7200,
  maxAgeDefault: 5,
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
  preflightSticksAfterRedirect: true, maxAgeCap: 86400,
  maxAgeDefault: 5,
};

export function rulesFor(browser: Browser): EngineRules {
  return browser === 'chromium' ? CHROMIUM : browser === 'firefox' ? FIREFOX : STANDARD;
}
