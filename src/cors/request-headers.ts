/**
 * Scans `Access-Control-Request-Headers` in place against the allowed set: case-insensitive, any
 * order, duplicates and empty elements accepted, `,` with optional spaces or tabs between elements
 * (Node joins repeated header lines with ", "). The scan is bounded: a value longer than
 * MAX_REQUEST_HEADERS_BYTES or with more than MAX_REQUEST_HEADERS_ELEMENTS elements is refused at
 * once, so a hostile list costs no more than a legitimate one.
 */
import { equalsLowerAt, isOws, isTchar, isToken } from '../http/tokens.js';

/** Longest Access-Control-Request-Headers value accepted. Browsers send a short sorted list. */
export const MAX_REQUEST_HEADERS_BYTES = 4096;
/** Most elements (empty ones included) accepted in one list. */
export const MAX_REQUEST_HEADERS_ELEMENTS = 128;

const AUTHORIZATION = 'authorization';

/** The compiled set of request-header names a preflight may ask for. */
export class HeaderNameSet {
  /** `*`: any valid name is allowed, except `authorization` unless it is listed as well. */
  readonly any: boolean;
  /** The lowercase names, deduplicated, in configuration order. */
  readonly names: readonly string[];
  /**
   * The lowercase names of the lengths more than WHOLE_TRIES names have, for the whole value of a
   * one-name list (what a browser sends most) of such a length: a Set hashes the whole value, which a
   * fresh string (every request's) has to compute, so the lengths with few names compare instead.
   */
  private readonly crowded: ReadonlySet<string>;
  /**
   * An open-addressing table of the names by nameHash: `slots[i]` is 1 + an index into `names`, or
   * 0 for an empty slot, and `slotHashes[i]` that name's hash. An element is hashed in the pass that
   * checks its bytes, then compared with the one or two names sharing its hash, so its cost is its
   * length whatever the names: comparing it with every name of its length (before) let 40 configured
   * names sharing 25 characters make a 128-element list cost 350 µs (bench/alloc.js, its rows of 40
   * same-length names).
   */
  private readonly slots: Int32Array;
  private readonly slotHashes: Int32Array;
  /**
   * nameHash's multiplier: the first of MULTIPLIERS under which no two names share a hash, so an
   * element is compared with one name at most (names crafted to collide under 31 made one element
   * cost a full comparison with each of them: 256 names, 4.7 ms).
   */
  private readonly multiplier: number;
  /**
   * By length, the names to compare an element with whole before hashing it, when at most
   * WHOLE_TRIES names have that length (undefined otherwise, so the tries stay bounded).
   */
  private readonly shortBuckets: (readonly string[] | undefined)[] = [];

  constructor(names: readonly string[], any: boolean) {
    this.any = any;
    const unique: string[] = [];
    for (const raw of names) {
      // allowsList's whole-value shortcut answers true for any value equal to a stored name, with
      // no syntax check: a name that is not a token ("x a", "a,b") would let that value through
      // where the scan refuses it. compilePolicy never passes one; refuse it here all the same.
      if (!isToken(raw)) throw new Error(`HeaderNameSet: ${JSON.stringify(raw)} is not a header name (an RFC 9110 token); validate names with compilePolicy first`);
      const name = raw.toLowerCase();
      if (!unique.includes(name)) unique.push(name);
    }
    this.names = Object.freeze(unique);
    const byLength: string[][] = [];
    for (const name of unique) (byLength[name.length] ??= []).push(name);
    const crowded: string[] = [];
    byLength.forEach((bucket, length) => {
      if (bucket.length <= WHOLE_TRIES) this.shortBuckets[length] = bucket;
      else crowded.push(...bucket);
    });
    this.crowded = new Set(crowded);
    this.multiplier = fewestCollisions(unique);
    let size = 8;
    while (size < unique.length * 4) size *= 2; // at most a quarter full: probes stay short
    this.slots = new Int32Array(size);
    this.slotHashes = new Int32Array(size);
    unique.forEach((name, index) => {
      const hash = nameHash(name, this.multiplier);
      let slot = hash & (size - 1);
      while (this.slots[slot] !== 0) slot = (slot + 1) & (size - 1);
      this.slots[slot] = index + 1;
      this.slotHashes[slot] = hash;
    });
  }

  /** The name `s[start, end)`, a token whose nameHash is `hash`: allowed? */
  private allowsName(s: string, start: number, end: number, hash: number): boolean {
    const n = end - start;
    if (this.any && (n !== AUTHORIZATION.length || !equalsLowerAt(s, start, AUTHORIZATION))) return true;
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot] as number;
      if (entry === 0) return false;
      if (this.slotHashes[slot] !== hash) continue;
      const name = this.names[entry - 1] as string;
      if (name.length === n && equalsLowerAt(s, start, name)) return true;
    }
  }

  /** One list element, `s[start, end)` between commas: empty, or an allowed name with optional OWS around it. */
  private allowsElement(s: string, start: number, end: number): boolean {
    let i = start;
    while (i < end && isOws(s.charCodeAt(i))) i++;
    const nameStart = i;
    // As browsers send it (or after ", " as Node joins repeated lines): a lowercase allowed name,
    // nothing after it, decided by native comparisons (a stored name is a token, so an element
    // equal to one needs no check of its bytes). The scan below took ~60 ns per element.
    const bucket = this.shortBuckets[end - nameStart];
    if (bucket !== undefined) {
      for (let k = 0; k < bucket.length; k++) if (s.startsWith(bucket[k] as string, nameStart)) return true;
    }
    // nameHash, inlined so that the bytes are checked and hashed in one pass.
    const multiplier = this.multiplier;
    let hash = 0;
    for (; i < end; i++) {
      let c = s.charCodeAt(i);
      if (!isTchar(c)) break;
      if (c >= 65 && c <= 90) c |= 0x20;
      hash = (Math.imul(hash, multiplier) + c) | 0;
    }
    const nameEnd = i;
    while (i < end && isOws(s.charCodeAt(i))) i++;
    if (i < end) return false; // a byte no list may hold
    return nameEnd === nameStart || this.allowsName(s, nameStart, nameEnd, mix(hash));
  }

  /** True when every element of the list is allowed and the list is well-formed and within bounds. */
  allowsList(value: string): boolean {
    const len = value.length;
    if (len > MAX_REQUEST_HEADERS_BYTES) return false;
    // What a browser sends when it asks for one header, e.g. "content-type" (Fetch lowercases the
    // names, sorts them and joins them with ","): compared whole with the one or two names of its
    // length, or looked up among many (a Set hashes all of a fresh value first: 30 ns more for this).
    const few = this.shortBuckets[len];
    if (few !== undefined) {
      for (let k = 0; k < few.length; k++) if (few[k] === value) return true;
    } else if (this.crowded.size > 0 && this.crowded.has(value)) return true;
    let elements = 0;
    for (let i = 0; i <= len; ) {
      let comma = value.indexOf(',', i);
      if (comma === -1) comma = len;
      if (++elements > MAX_REQUEST_HEADERS_ELEMENTS) return false;
      if (!this.allowsElement(value, i, comma)) return false;
      i = comma + 1;
    }
    return true;
  }
}

/** Most names allowsElement compares an element with whole before it scans the element. */
const WHOLE_TRIES = 2;

/** The multipliers HeaderNameSet tries for nameHash, in turn. */
const MULTIPLIERS = [31, 37, 131, 257, 1_000_003, 16_777_619, 2_654_435_761 | 0, 40_503];

/** A hash of the lowercase `name` (A-Z folded to a-z); allowsElement computes the same inline. */
function nameHash(name: string, multiplier: number): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    hash = (Math.imul(hash, multiplier) + c) | 0;
  }
  return mix(hash);
}

/** The first multiplier giving every name its own hash, else the one whose largest group of names sharing a hash is smallest. */
function fewestCollisions(names: readonly string[]): number {
  let best = MULTIPLIERS[0] as number;
  let bestGroup = Infinity;
  for (const multiplier of MULTIPLIERS) {
    const groups = new Map<number, number>();
    let largest = 0;
    for (const name of names) {
      const hash = nameHash(name, multiplier);
      const size = (groups.get(hash) ?? 0) + 1;
      groups.set(hash, size);
      largest = Math.max(largest, size);
    }
    if (largest === 1) return multiplier;
    if (largest < bestGroup) [best, bestGroup] = [multiplier, largest];
  }
  return best;
}

/** Spreads the polynomial hash's high bits into the low ones the table indexes by. */
function mix(hash: number): number {
  return (hash ^ (hash >>> 16)) | 0;
}
