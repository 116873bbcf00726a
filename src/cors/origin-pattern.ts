
/**
 * A configured origin, parsed and validated at start-up. Three forms exist:
 *   https://app.example.com          exact
 *   https://*.example.com            one or more labels in front of example.com, never the apex
 *   http://localhost:*               any port, including none; combines with *. as https://*.example.com:*
 * and app origins, exact only: capacitor://localhost, ionic://localhost, chrome-extension://<id>,
 * moz-extension://<uuid> (any scheme other than http(s) that browsers put in Origin for an app).
 */
export interface OriginPattern {
  /** The string as configured. */
  readonly source: string;
  /** Lowercase; `http`, `https`, or an app scheme (`capacitor`, `chrome-extension`, ...). */
  readonly scheme: string;
  /** The host in canonical form; for a subdomain pattern, the base domain without `*.`. */
  readonly host: string;
  /** True for `*.` patterns. */
  readonly subdomains: boolean;
  /** PORT_NONE (no port: the scheme's default), PORT_ANY (`:*`), or the explicit port. */
  readonly port: number;
  /** http(s) only: localhost, *.localhost, 127.0.0.0/8 or [::1], potentially trustworthy even over http. */
  readonly loopback: boolean;
}

export const PORT_NONE = -1;
export const PORT_ANY = -2;

export const DEFAULT_PORTS: Readonly<Record<'http' | 'https', number>> = { http: 80, https: 443 };
/** The longest host a DNS name can have (RFC 1035 §2.3.4), so the longest a policy accepts (origin-trie.ts relies on it). */
export const MAX_HOST_LENGTH = 253;

export interface PatternProblem {
  readonly reason: string;
  readonly fix: string;
}

export type PatternResult =
  | { readonly ok: true; readonly pattern: OriginPattern }
  | { readonly ok: false; readonly problem: PatternProblem };

function fail(reason: string, fix: string): PatternResult {
  return { ok: false, problem: { reason, fix } };
}

/**
 * Fails with a corrected origin as the fix. The correction is parsed in turn, so an origin with
 * several faults (`HTTPS://App.example.com:443/`) gets one fix that is right, not one per attempt.
 */
function failSuggesting(reason: string, corrected: string): PatternResult {
  // Each correction removes a fault, so a few rounds suffice; the bound keeps a rule whose fix is
  // itself refused (port 0 once was) from recursing without end.
  if (suggestionDepth >= 4) return fail(reason, 'write the origin exactly as the browser sends it: scheme://host[:port]');
  suggestionDepth++;
  try {
    const again = parseOriginPattern(corrected);
    if (!again.ok) return fail(`${reason}; also, ${again.problem.reason}`, again.problem.fix);
    return fail(reason, `use "${corrected}"`);
  } finally {
    suggestionDepth--;
  }
}
let suggestionDepth = 0;

// Characters a browser can put in a serialised origin's host label. Underscore appears in real
// hostnames (and browsers send it), so it is accepted.
const LABEL = /^[a-z0-9_-]{1,63}$/;
const HAS_NON_ASCII = /[^\x00-\x7f]/;
const DIGITS = /^[0-9]+$/;
/**
 * A last label that makes the URL parser read the host as IPv4 (URL Standard, "ends in a number
 * checker"): decimal digits, or `0x` and hex digits (`0x7f000001` is 127.0.0.1; `app.0xff` no host).
 */
const ENDS_IN_NUMBER = /^(\d+|0x[\da-f]*)$/;

/** The canonical host as the WHATWG URL parser (and so every browser) would serialise it, or null. */
function canonicalHost(host: string): string | null {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
}

export function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/**
 * Schemes a browser never sends in `Origin`, each with the reason, checked before anything else so
 * the message says why rather than "not an origin".
 */
function refusedScheme(source: string): PatternResult | null {
  const colon = source.indexOf(':');
  if (colon <= 0) return null;
  const scheme = source.slice(0, colon).toLowerCase();
  const rest = source.slice(colon + 1);
  switch (scheme) {
    case 'file':
      return fail(
        'file: pages have an opaque origin and send "Origin: null", so no request ever carries a file:// origin (and allowing "null" would allow every sandboxed page)',
        'serve the page over http://localhost:PORT or https and list that origin',
      );
    case 'data':
      return fail('a data: URL document has an opaque origin and sends "Origin: null"', 'serve the document from a real origin and list that');
    case 'javascript':
      return fail('a javascript: URL runs in the origin of the page that opens it; it has no origin of its own', 'list the origin of that page');
    case 'about':
      return fail('about:blank and about:srcdoc documents take the origin of the page that creates them', 'list the origin of that page');
    case 'blob': {
      let inner: string | null = null;
      try {
        const origin = new URL(rest).origin;
        if (origin !== 'null') inner = origin;
      } catch {
        // not a URL inside: no suggestion
      }
      const reason = 'a blob: URL has the origin of the page that created it, and requests from it send that origin';
      return inner === null ? fail(reason, 'list the origin of the page that creates the blob') : failSuggesting(reason, inner);
    }
    case 'ws':
    case 'wss': {
      const reason = 'a WebSocket handshake carries the origin of the page that opens it (http or https), never a ws: origin';
      return failSuggesting(reason, `${scheme === 'wss' ? 'https' : 'http'}${source.slice(colon)}`);
    }
    case 'ftp':
      return fail('browsers no longer load ftp: pages, so no request carries an ftp origin', 'remove it, or list the http:// or https:// origin of the calling page');
    default:
      return null;
  }
}

// Hosts of app origins are opaque to the URL parser (kept as declared, case included: Safari
// extension ids are uppercase UUIDs), so they are matched byte-for-byte and only their shape is checked.
const APP_HOST = /^[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*$/;
const CHROME_EXTENSION_ID = /^[a-p]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * An app origin (capacitor://localhost, chrome-extension://<id>, ...): a scheme other than http(s),
 * allowed exactly. No `*.` and no `:*`: a pattern over an app scheme would match apps nobody
 * reviewed, and none of these schemes has subdomains or ports in practice.
 */
function parseAppOrigin(source: string, scheme: string, rest: string): PatternResult {
  const example = `"${scheme}://localhost"`;
  if (rest === '') return fail('the host is empty', `write the app's host, e.g. ${example}`);
  if (rest.includes('*')) {
    return fail(
      `"${scheme}:" origins can only be listed exactly: "*." and ":*" patterns are for http and https`,
      'list each app origin exactly, e.g. "capacitor://localhost"',
    );
  }
  const extra = beyondAuthority(scheme, rest);
  if (extra !== null) return extra;
  const badHost = fail(
    'not a valid app host: labels of A-Z, a-z, 0-9, "-" and "_", joined by single dots (no IP literals, no trailing dot)',
    `write the host exactly as the app sends it, e.g. ${example}`,
  );
  if (rest.startsWith('[')) return badHost;
  let host = rest;
  let port = PORT_NONE;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    host = rest.slice(0, colon);
    const portText = rest.slice(colon + 1);
    if (!DIGITS.test(portText) || portText.length > 5 || portText[0] === '0' || Number(portText) > 65535) {
      return fail(`port "${portText}" is not a number from 1 to 65535 without leading zeros`, `write the port as the app sends it, or none: ${example}`);
    }
    port = Number(portText);
  }
  if (HAS_NON_ASCII.test(host) || host.length > MAX_HOST_LENGTH || !APP_HOST.test(host)) return badHost;
  if (scheme === 'chrome-extension' && (port !== PORT_NONE || !CHROME_EXTENSION_ID.test(host))) {
    return fail('a Chrome extension id is 32 letters from a to p, and its origin has no port', 'copy the id from chrome://extensions: "chrome-extension://<id>"');
  }
  if (scheme === 'moz-extension' && (port !== PORT_NONE || !UUID.test(host))) {
    return fail(
      'a Firefox extension origin is moz-extension://<UUID> with a lowercase UUID and no port',
      'copy the "Internal UUID" from about:debugging: "moz-extension://xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"',
    );
  }
  return { ok: true, pattern: { source, scheme, host, subdomains: false, port, loopback: false } };
}

// An entry that begins like an origin ("https://", "capacitor://") or is "*".
const LOOKS_LIKE_ORIGIN = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|\*$)/;

/**
 * Several origins written as one entry ("https://a.com, https://b.com", as an
 * Access-Control-Allow-Origin list or a shell variable would have them): named as such, with the
 * entries to write, rather than reported as the path or port the parser would otherwise see.
 */
function severalOrigins(source: string): PatternResult | null {
  const parts = source.split(/[\s,;|]+/).filter((p) => p !== '');
  if (parts.filter((p) => LOOKS_LIKE_ORIGIN.test(p)).length < 2) return null;
  return fail(
    'several origins in one entry: each origin must be an entry of its own (one --origin flag each on the command line)',
    `list them separately: ${parts.map((p) => JSON.stringify(p)).join(', ')}`,
  );
}

// "https:/a.com", "https:a.com", "https//a.com": http(s) with a mistyped "://".
const MISTYPED_SEPARATOR = /^(https?)(?::\/?|:?\/\/)([^/].*)$/i;

/** An entry without "://": the fix restores the separator the author meant, or adds a scheme. */
function notAnOrigin(source: string): PatternResult {
  const reason = 'not an origin: expected scheme://host[:port]';
  const mistyped = MISTYPED_SEPARATOR.exec(source);
  if (mistyped !== null) return failSuggesting(reason, `${(mistyped[1] as string).toLowerCase()}://${mistyped[2] as string}`);
  if (source.startsWith('//') && source.length > 2 && source[2] !== '/') return failSuggesting(reason, `https:${source}`);
  return fail(reason, `write it as "https://${source}"`);
}

/**
 * Parses one configured origin. Everything a browser would never send byte-for-byte is rejected
 * with the fix, because a request `Origin` is matched byte-exactly and such an entry would never
 * match (or, worse, would match more than the author meant).
 */
export function parseOriginPattern(source: string): PatternResult {
  if (source.toLowerCase() === 'null') {
    return fail(
      'the "null" origin is sent by sandboxed iframes, file: pages and cross-origin redirects, so allowing it allows all of them',
      'remove "null"; serve the calling page from a real origin',
    );
  }
  const trimmed = source.trim();
  if (trimmed === '') return fail('an origin must not be empty', 'write an origin such as "https://app.example.com", or remove the entry');
  const several = severalOrigins(trimmed);
  if (several !== null) return several;
  if (trimmed !== source) return failSuggesting('an origin must not carry whitespace', trimmed);
  const refused = refusedScheme(source);
  if (refused !== null) return refused;
  const sep = source.indexOf('://');
  if (sep <= 0) return notAnOrigin(source);
  const rawScheme = source.slice(0, sep);
  if (!SCHEME.test(rawScheme)) {
    return fail(
      `"${rawScheme}" is not a URI scheme (RFC 3986 §3.1: a letter, then letters, digits, "+", "-" or ".")`,
      'write the origin as scheme://host, e.g. "https://app.example.com" or "capacitor://localhost"',
    );
  }
  const scheme = rawScheme.toLowerCase();
  if (rawScheme !== scheme) {
    return failSuggesting('browsers send the scheme in lowercase, so this entry would never match', `${scheme}${source.slice(sep)}`);
  }
  const rest = source.slice(sep + 3);
  if (scheme !== 'http' && scheme !== 'https') return parseAppOrigin(source, scheme, rest);
  return parseWebOrigin(source, scheme, rest);
}

/** An http(s) origin or pattern: `rest` is what follows `scheme://`. */
function parseWebOrigin(source: string, scheme: 'http' | 'https', rest: string): PatternResult {
  const extra = beyondAuthority(scheme, rest);
  if (extra !== null) return extra;
  const split = splitHostPort(rest);
  if ('ok' in split) return split;
  const { host, portText } = split;
  const port = parsePort(scheme, host, portText);
  if (typeof port !== 'number') return port;
  const portSuffix = portText === null ? '' : `:${portText}`;
  if (host.startsWith('[')) return ipv6Origin(source, scheme, host, port, portSuffix);
  return namedOrigin(source, scheme, host, port, portSuffix);
}

/** Userinfo, a path, a query or a fragment after `scheme://` (`rest`): never in an origin, whatever the scheme. */
function beyondAuthority(scheme: string, rest: string): PatternResult | null {
  const at = rest.indexOf('@');
  if (at !== -1) return failSuggesting('an origin never has userinfo (user:password@)', `${scheme}://${rest.slice(at + 1)}`);
  const end = rest.search(/[/?#]/);
  if (end === -1) return null;
  const what = rest[end] === '/' && end === rest.length - 1 ? 'a trailing slash' : 'a path, query or fragment';
  return failSuggesting(`an origin never has ${what}: browsers send scheme://host[:port] only`, `${scheme}://${rest.slice(0, end)}`);
}

/** Host and port text of an authority. An IPv6 literal carries colons inside its brackets. */
function splitHostPort(rest: string): { host: string; portText: string | null } | PatternResult {
  if (!rest.startsWith('[')) {
    const colon = rest.lastIndexOf(':');
    return colon === -1 ? { host: rest, portText: null } : { host: rest.slice(0, colon), portText: rest.slice(colon + 1) };
  }
  const close = rest.indexOf(']');
  if (close === -1) return fail('unterminated IPv6 literal', 'close the address with "]"');
  const after = rest.slice(close + 1);
  if (after === '') return { host: rest.slice(0, close + 1), portText: null };
  if (!after.startsWith(':')) return fail('unexpected characters after the IPv6 literal', 'write [address]:port');
  return { host: rest.slice(0, close + 1), portText: after.slice(1) };
}

/** The port (PORT_NONE, PORT_ANY or 1..65535) exactly as browsers would send it, or why not. */
function parsePort(scheme: 'http' | 'https', host: string, portText: string | null): number | PatternResult {
  if (portText === null) return PORT_NONE;
  if (portText === '*') return PORT_ANY;
  if (!DIGITS.test(portText) || portText.length > 5) {
    return fail(`port "${portText}" is not a number from 1 to 65535 or "*"`, 'write a port number, or ":*" for any port');
  }
  if (Number(portText) === 0) {
    // Checked before the leading-zero rule, whose suggestion (`:0`) would be refused again.
    return fail('port 0 is not a port a page can be served from', 'use a port from 1 to 65535, ":*" for any, or none');
  }
  if (portText[0] === '0') {
    return failSuggesting('browsers never send a port with leading zeros, so this entry would never match', `${scheme}://${host}:${Number(portText)}`);
  }
  const port = Number(portText);
  if (port > 65535) return fail(`port ${port} is out of range`, 'use a port from 1 to 65535');
  if (port === DEFAULT_PORTS[scheme]) {
    return failSuggesting(`:${port} is the default port for ${scheme}, which browsers omit from the Origin, so this entry would never match`, `${scheme}://${host}`);
  }
  return port;
}

function ipv6Origin(source: string, scheme: string, host: string, port: number, portSuffix: string): PatternResult {
  const canonical = canonicalHost(host);
  if (canonical === null) return fail(`"${host}" is not a valid IPv6 address`, 'write a valid IPv6 address in brackets');
  if (canonical !== host) {
    return failSuggesting('browsers send IPv6 addresses compressed and in lowercase, so this entry would never match', `${scheme}://${canonical}${portSuffix}`);
  }
  return { ok: true, pattern: { source, scheme, host, subdomains: false, port, loopback: isLoopbackHost(host) } };
}

/** A host name, an IPv4 address, or a `*.` subdomain pattern. */
function namedOrigin(source: string, scheme: string, host: string, port: number, portSuffix: string): PatternResult {
  const subdomains = host.startsWith('*.');
  const base = subdomains ? host.slice(2) : host;
  const prefix = subdomains ? '*.' : '';
  if (base.includes('*')) {
    return fail(
      'a "*" is only allowed as a leading "*." label (subdomains) or as the port ":*" (any port)',
      'use a pattern like "https://*.example.com" or "http://localhost:*"',
    );
  }
  if (base === '') return fail('the host is empty', 'write a host name, e.g. "https://example.com"');
  if (HAS_NON_ASCII.test(base)) {
    const ascii = punycodeOf(base);
    return ascii === ''
      ? fail('the host is not a valid internationalised domain name', 'write the host in its punycode (xn--) form')
      : failSuggesting('browsers send internationalised hosts in their punycode form, so this entry would never match', `${scheme}://${prefix}${ascii}${portSuffix}`);
  }
  if (base !== base.toLowerCase()) {
    return failSuggesting('browsers send the host in lowercase, so this entry would never match', `${scheme}://${prefix}${base.toLowerCase()}${portSuffix}`);
  }
  if (base.endsWith('.')) {
    return failSuggesting('a trailing dot names another origin than the host without it (one a browser sends only from a page loaded by the dotted name), and origins cannot list it: only "*" allows such pages', `${scheme}://${host.slice(0, -1)}${portSuffix}`);
  }
  const labels = base.split('.');
  // "*." adds a label and a dot to its base.
  if (base.length > (subdomains ? MAX_HOST_LENGTH - 2 : MAX_HOST_LENGTH) || !labels.every((l) => LABEL.test(l))) {
    return fail(
      'not a valid host: labels are 1 to 63 of a-z, 0-9, "-" and "_", joined by single dots, at most 253 characters (251 after "*.")',
      'correct the host name',
    );
  }
  const problem = ENDS_IN_NUMBER.test(labels[labels.length - 1] as string) ? ipv4Problem(scheme, base, subdomains, portSuffix) : null;
  if (problem !== null) return problem;
  if (subdomains && labels.length < 2 && base !== 'localhost') {
    return fail(`"*.${base}" would allow every site under a top-level domain`, `name your own domain, e.g. "${scheme}://*.example.${base}"`);
  }
  return { ok: true, pattern: { source, scheme, host: base, subdomains, port, loopback: isLoopbackHost(base) } };
}

/**
 * The host as the WHATWG URL parser serialises it (punycode), or '' when it is not a valid domain.
 * URL, not node:url, so the engine runs unchanged in Workers, Deno and Bun.
 */
function punycodeOf(host: string): string {
  // The URL parser would read ':' as a port and skip '\\', turning `ü:1:8080` into a suggestion:
  // only label characters may stand beside the non-ASCII ones.
  if (NOT_LABEL_ASCII.test(host)) return '';
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return '';
  }
}
const NOT_LABEL_ASCII = /[\x00-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]/;

/** A host ending in a number is an IPv4 address: it must be canonical, and never under `*.`. */
function ipv4Problem(scheme: string, base: string, subdomains: boolean, portSuffix: string): PatternResult | null {
  const canonical = canonicalHost(base);
  if (canonical === null) {
    return fail(`"${base}" ends in a number, so browsers read it as an IPv4 address, and it is not a valid one`, 'write an address as four decimal numbers (127.0.0.1), or a host name whose last label is not a number');
  }
  if (subdomains) return fail('"*." cannot apply to an IP address', 'list each address as its own exact origin');
  if (canonical !== base) {
    return failSuggesting('browsers send IPv4 addresses as four plain decimal numbers, so this entry would never match', `${scheme}://${canonical}${portSuffix}`);
  }
  return null;
}
