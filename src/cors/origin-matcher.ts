import { PORT_ANY, type OriginPattern } from './origin-pattern.js';
import { NO_MATCH, OriginTrie } from './origin-trie.js';

export { NO_MATCH };

/**
 * Matches a request's Origin against the compiled origins and returns the entry id (an index into
 * `patterns`) or NO_MATCH.
 *
 * Exact origins are compared whole with === when there are few (up to LINEAR_LIMIT), else looked up
 * in a Map keyed by the whole serialised origin; patterns (`*.`, `:*`)
 * are walked in the OriginTrie. bench/origin-matcher.js measures why: V8 hashes a header string
 * once and the Map probe is a single comparison, which beats walking ~20 trie nodes for exact
 * origins at every policy size, while the trie beats a regex alternation for patterns by a wide
 * margin and keeps its cost independent of the number of patterns. A Map lookup is byte-exact by
 * construction, so the exact side keeps the trie's canonical-form guarantee.
 */
export class OriginMatcher {
  readonly patterns: readonly OriginPattern[];
  /** Exact origins when there are few: compared with ===, which checks the length first. */
  private readonly exactList: string[] = [];
  private readonly exactIds: number[] = [];
  /** Exact origins when there are many. */
  private readonly exactMap: Map<string, number> | null;
  /**
   * The longest exact origin. A longer Origin is not looked up: V8 hashes the whole string on a
   * Map lookup, and a new 16,000-character one cost 24 µs where a short one costs 0.1.
   */
  private readonly longestExact: number;
  private readonly trie = new OriginTrie();
  private readonly hasPatterns: boolean;
  /**
   * The trie's last RECENT answers (a miss is an answer too), by origin, replaced in turn. Requests
   * come from a few origins over and over: comparing with === (the length first) costs a few
   * instructions where the walk cost ~1,800 (callgrind, `https://fonts.cdn.example.org` against
   * `https://*.example.org`); a client sending a new origin each time pays RECENT comparisons more.
   * A ring, not a Map: a Map remembering every origin walked cost 4x the walk itself when no origin
   * came twice (bench/origin-matcher.js, every subdomain of a `*.` pattern new).
   */
  private readonly recentOrigins: string[] = new Array<string>(RECENT).fill('');
  private readonly recentIds = new Int32Array(RECENT).fill(NO_MATCH);
  private nextRecent = 0;

  constructor(patterns: readonly OriginPattern[]) {
    this.patterns = patterns;
    const exact = new Map<string, number>();
    let longestExact = 0;
    patterns.forEach((p, id) => {
      if (!p.subdomains && p.port !== PORT_ANY) {
        // The configured string is canonical (the parser guarantees it), so it is exactly what a
        // browser sends for this origin.
        if (!exact.has(p.source)) exact.set(p.source, id);
        longestExact = Math.max(longestExact, p.source.length);
      } else {
        this.trie.add(p, id);
      }
    });
    this.trie.compile();
    this.hasPatterns = this.trie.entries > 0;
    this.longestExact = longestExact;
    if (exact.size > LINEAR_LIMIT) {
      this.exactMap = exact;
    } else {
      this.exactMap = null;
      for (const [source, id] of exact) {
        this.exactList.push(source);
        this.exactIds.push(id);
      }
    }
  }

  match(origin: string): number {
    if (origin.length <= this.longestExact) {
      const id = this.exactMatch(origin);
      if (id !== NO_MATCH) return id;
    }
    if (!this.hasPatterns) return NO_MATCH;
    // A longer origin is no browser's (a host has at most 253 characters) and would be compared
    // whole with each remembered one of its length: the trie refuses it by its length, unremembered.
    if (origin.length > RECENT_MAX_LENGTH) return this.trie.match(origin);
    const recent = this.recentOrigins;
    for (let i = 0; i < RECENT; i++) if (recent[i] === origin) return this.recentIds[i] as number;
    const id = this.trie.match(origin);
    // The ring starts filled with '' and NO_MATCH, which is the trie's answer for ''.
    recent[this.nextRecent] = origin;
    this.recentIds[this.nextRecent] = id;
    this.nextRecent = (this.nextRecent + 1) % RECENT;
    return id;
  }

  private exactMatch(origin: string): number {
    if (this.exactMap !== null) return this.exactMap.get(origin) ?? NO_MATCH;
    const list = this.exactList;
    for (let i = 0; i < list.length; i++) if (list[i] === origin) return this.exactIds[i] as number;
    return NO_MATCH;
  }
}

/** How many of the trie's last answers OriginMatcher keeps. */
const RECENT = 4;

/** The longest origin the ring remembers: "https://", a 253-character host, ":65535", with room to spare. */
const RECENT_MAX_LENGTH = 300;

/** Up to this many exact origins, a linear === scan beats hashing the request string. */
const LINEAR_LIMIT = 8;
