import { DEFAULT_PORTS, MAX_HOST_LENGTH, PORT_ANY, PORT_NONE, type OriginPattern } from './origin-pattern.js';

/** Returned by `match` when no configured origin allows the request's Origin. */
export const NO_MATCH = -1;

/** Which entry ids a host allows, by port. */
class PortTable {
  none = NO_MATCH;
  any = NO_MATCH;
  readonly ports: number[] = [];
  readonly ids: number[] = [];

  add(port: number, id: number): void {
    if (port === PORT_NONE) {
      if (this.none === NO_MATCH) this.none = id;
    } else if (port === PORT_ANY) {
      if (this.any === NO_MATCH) this.any = id;
    } else if (!this.ports.includes(port)) {
      this.ports.push(port);
      this.ids.push(id);
    }
  }

  lookup(port: number): number {
    if (port === PORT_NONE) return this.none !== NO_MATCH ? this.none : this.any;
    const ports = this.ports;
    for (let i = 0; i < ports.length; i++) {
      if (ports[i] === port) return this.ids[i] as number;
    }
    return this.any;
  }
}

// Tails are byte arrays rather than strings built with +=, which V8 keeps as cons strings that
// every charCodeAt would have to walk through.
const EMPTY_TAIL = new Uint8Array(0);

class TrieNode {
  // Children keyed by one character of the host, host read right to left. Most nodes have one or
  // two children, so parallel arrays scanned linearly beat a Map here and allocate nothing.
  codes: number[] = [];
  children: TrieNode[] = [];
  /**
   * Characters (in walk order) that must follow on entering this node before its entries and
   * children apply: chains of single-child nodes are merged at compile time, so most of a host is
   * compared with a tight charCodeAt loop instead of one child lookup per character.
   */
  tail: Uint8Array = EMPTY_TAIL;
  /** Entries whose host ends exactly at this node. */
  exact: PortTable | null = null;
  /** `*.` entries whose base domain ends at this node: they match when a '.' and a label follow. */
  wildcard: PortTable | null = null;

  child(code: number): TrieNode | undefined {
    const codes = this.codes;
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] === code) return this.children[i];
    }
    return undefined;
  }

  /** Merges chains of single-child nodes without entries into their parent's tail. */
  compress(): void {
    while (this.children.length === 1 && this.exact === null && this.wildcard === null) {
      const only = this.children[0] as TrieNode;
      const merged = new Uint8Array(this.tail.length + 1 + only.tail.length);
      merged.set(this.tail, 0);
      merged[this.tail.length] = this.codes[0] as number;
      merged.set(only.tail, this.tail.length + 1);
      this.tail = merged;
      this.codes = only.codes;
      this.children = only.children;
      this.exact = only.exact;
      this.wildcard = only.wildcard;
    }
    for (const child of this.children) child.compress();
  }

  childOrNew(code: number): TrieNode {
    let next = this.child(code);
    if (next === undefined) {
      next = new TrieNode();
      this.codes.push(code);
      this.children.push(next);
    }
    return next;
  }
}

/** ":65535". */
const MAX_PORT_SUFFIX = 6;

const C_DOT = 46; // .
const C_COLON = 58; // :
const C_LBRACKET = 91; // [
const C_RBRACKET = 93; // ]
const C_0 = 48;
const C_9 = 57;

/** a-z, 0-9, '-', '_': what a serialised origin's host label may contain. */
function isLabelChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= C_0 && c <= C_9) || c === 45 || c === 95;
}

/** Hex digits (lowercase only: browsers serialise IPv6 in lowercase), ':' and '.' (embedded IPv4). */
function isIPv6Char(c: number): boolean {
  return (c >= 97 && c <= 102) || (c >= C_0 && c <= C_9) || c === C_COLON || c === C_DOT;
}

function startsWithAt(s: string, prefix: string): boolean {
  if (s.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (s.charCodeAt(i) !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The precompiled origin matcher. Configured origins are inserted host-reversed under one root per
 * scheme; `match` walks the request's Origin by character index, so it never creates a substring,
 * and it rejects anything that is not a canonical serialised origin (uppercase, default or
 * zero-padded port, trailing slash or path, userinfo, two values joined by ", ").
 */
export class OriginTrie {
  private readonly http = new TrieNode();
  private readonly https = new TrieNode();
  private size = 0;
  private compiled = false;

  get entries(): number {
    return this.size;
  }

  /** Freezes the shape: merges single-child chains. Call once, after the last add(). */
  compile(): this {
    if (!this.compiled) {
      this.compiled = true;
      this.http.compress();
      this.https.compress();
    }
    return this;
  }

  /** Adds a parsed pattern under the given entry id (the first id added for a host and port wins). */
  add(pattern: OriginPattern, id: number): void {
    if (this.compiled) throw new Error('OriginTrie: add() after compile()');
    // App origins (capacitor://, chrome-extension://, ...) are exact only and live in the matcher's
    // exact set, compared byte-for-byte; the trie walks http(s) hosts alone.
    if (pattern.scheme !== 'https' && pattern.scheme !== 'http') throw new Error(`OriginTrie: ${pattern.scheme}: origins are exact only`);
    let node = pattern.scheme === 'https' ? this.https : this.http;
    const host = pattern.host;
    for (let i = host.length - 1; i >= 0; i--) node = node.childOrNew(host.charCodeAt(i));
    if (pattern.subdomains) {
      node.wildcard ??= new PortTable();
      node.wildcard.add(pattern.port, id);
    } else {
      node.exact ??= new PortTable();
      node.exact.add(pattern.port, id);
    }
    this.size++;
  }

  /**
   * The entry id allowing `origin` (a serialised Origin header value, Fetch standard §3.2.5), or
   * NO_MATCH. Exact entries win over `*.`; deeper `*.` over shallower. The origin is read in place:
   * a forward scan validates host and port, then the host is walked right to left.
   */
  match(origin: string): number {
    let root: TrieNode;
    let hostStart: number;
    let defaultPort: number;
    if (startsWithAt(origin, 'https://')) {
      root = this.https;
      hostStart = 8;
      defaultPort = DEFAULT_PORTS.https;
    } else if (startsWithAt(origin, 'http://')) {
      root = this.http;
      hostStart = 7;
      defaultPort = DEFAULT_PORTS.http;
    } else {
      return NO_MATCH;
    }
    // A host over 253 characters is no DNS name (RFC 1035 §2.3.4), so no page has that origin, and
    // the policy refuses such hosts too: refused at once, a 16 KB Origin costs no scan (it cost
    // 21–62 µs here).
    if (origin.length - hostStart > MAX_HOST_LENGTH + MAX_PORT_SUFFIX) return NO_MATCH;
    const hostEnd = hostEndOf(origin, hostStart);
    if (hostEnd < 0) return NO_MATCH;
    const port = portOf(origin, hostEnd, defaultPort);
    if (port === INVALID_PORT) return NO_MATCH;
    return walk(root, origin, hostStart, hostEnd, port);
  }
}

/**
 * Where the host starting at `hostStart` ends, or -1 when it is no well-formed host (a bracketed
 * IPv6 literal, or dot-separated labels of 1-63 label characters, 253 in all), so that `walk` may
 * treat any '.' boundary as the start of a valid label.
 */
function hostEndOf(origin: string, hostStart: number): number {
  const len = origin.length;
  let i = hostStart;
  if (i < len && origin.charCodeAt(i) === C_LBRACKET) {
    i++;
    while (i < len && isIPv6Char(origin.charCodeAt(i))) i++;
    if (i >= len || origin.charCodeAt(i) !== C_RBRACKET || i === hostStart + 1) return -1;
    return i + 1;
  }
  let labelLen = 0;
  while (i < len) {
    const c = origin.charCodeAt(i);
    if (c === C_DOT) {
      if (labelLen === 0) return -1; // leading dot or empty label
      labelLen = 0;
    } else if (isLabelChar(c)) {
      if (++labelLen > 63) return -1;
    } else {
      break;
    }
    i++;
  }
  if (labelLen === 0 || i - hostStart > MAX_HOST_LENGTH) return -1; // empty host, trailing dot
  return i;
}

/** Returned by `portOf` for a malformed port or the scheme's default written out. */
const INVALID_PORT = -3;

/**
 * The port after the host: PORT_NONE when the origin ends there, else ':' and digits without a
 * leading zero, at most 65535 and not the scheme's default (a serialised origin omits it), or
 * INVALID_PORT.
 */
function portOf(origin: string, i: number, defaultPort: number): number {
  const len = origin.length;
  if (i === len) return PORT_NONE;
  if (origin.charCodeAt(i) !== C_COLON) return INVALID_PORT;
  const digitsStart = ++i;
  let port = 0;
  for (; i < len; i++) {
    const c = origin.charCodeAt(i);
    if (c < C_0 || c > C_9) return INVALID_PORT;
    port = port * 10 + (c - C_0);
  }
  // No digit count check: six digits without a leading zero already exceed 65535.
  if (i === digitsStart || origin.charCodeAt(digitsStart) === C_0) return INVALID_PORT;
  return port > 65535 || port === defaultPort ? INVALID_PORT : port;
}

/** Walks the well-formed host `origin[hostStart, hostEnd)` right to left from `root`. */
function walk(root: TrieNode, origin: string, hostStart: number, hostEnd: number, port: number): number {
  let best = NO_MATCH;
  let node: TrieNode | undefined = root;
  let k = hostEnd - 1;
  for (;;) {
    const tail = node.tail;
    for (let t = 0; t < tail.length; t++, k--) {
      if (k < hostStart || origin.charCodeAt(k) !== tail[t]) return best;
    }
    if (k < hostStart) break; // the whole host is consumed: only exact entries can match here
    const c = origin.charCodeAt(k);
    // A '*.' base ends here and a '.' plus at least one label lies to the left: a candidate.
    // Deeper candidates overwrite shallower ones, so the most specific pattern wins.
    if (c === C_DOT && node.wildcard !== null) {
      const id = node.wildcard.lookup(port);
      if (id !== NO_MATCH) best = id;
    }
    node = node.child(c);
    if (node === undefined) return best;
    k--;
  }
  if (node.exact !== null) {
    const id = node.exact.lookup(port);
    if (id !== NO_MATCH) return id;
  }
  return best;
}
