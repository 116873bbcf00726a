/**
 * Content-coding negotiation for precompressed siblings (`font.css.br`, `.zst`, `.gz`), after
 * RFC 9110 §12.5.3. The header is scanned in place by char index: no split, no per-request arrays.
 */
import { isOws, rangeEqualsLower } from './tokens.js';

export const ENCODING_IDENTITY = 0;
export const ENCODING_BR = 1;
export const ENCODING_ZSTD = 2;
export const ENCODING_GZIP = 3;
export type Encoding = 0 | 1 | 2 | 3;

/** Sibling file suffix and Content-Encoding value for each coding, in our order of preference. */
export const ENCODINGS: readonly { readonly coding: Exclude<Encoding, 0>; readonly suffix: string; readonly name: string }[] = [
  { coding: ENCODING_BR, suffix: '.br', name: 'br' },
  { coding: ENCODING_ZSTD, suffix: '.zst', name: 'zstd' },
  { coding: ENCODING_GZIP, suffix: '.gz', name: 'gzip' },
];

/** A q-value in thousandths; -1 when the element is absent or its q-value is malformed. */
function parseQ(s: string, i: number, end: number): number {
  // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  const first = s.charCodeAt(i);
  if (first !== 48 && first !== 49) return -1;
  let q = first === 49 ? 1000 : 0;
  i++;
  if (i === end) return q;
  if (s.charCodeAt(i) !== 46 /* . */ || end - i > 4) return -1;
  let scale = 100;
  for (i++; i < end; i++, scale /= 10) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (first === 49 && d !== 0)) return -1;
    q += d * scale;
  }
  return q;
}

/**
 * q-values (thousandths; -1: not listed) from the last scan, by coding, with `*` at ANY. One table for
 * the module, reused by every request: the scan and the pick below run synchronously back to back.
 */
const seen = new Int32Array(5);
const ANY = 4;
/** Where the last parameter scan stopped: the ',' that ends the element, or the header's end. */
let cursor = 0;

/**
 * Picks the coding to send. `available` is a bit set of `1 << coding` for the siblings a file has.
 * A coding is acceptable when it is listed (or covered by `*`) with q > 0; the highest q wins, ties
 * go to br, then zstd, then gzip. Identity is the fallback and wins only when it is listed with a
 * higher q than every acceptable coding. A missing or empty header means identity: RFC 9110 lets a
 * server assume any coding then, but old clients that send nothing may not decode.
 */
export function negotiateEncoding(header: string | undefined, available: number): Encoding {
  if (header === undefined || available === 0) return ENCODING_IDENTITY;
  scanAcceptEncoding(header);
  let best: Encoding = ENCODING_IDENTITY;
  let bestQ = 0;
  for (let k = 0; k < ENCODINGS.length; k++) {
    const coding = (ENCODINGS[k] as (typeof ENCODINGS)[number]).coding;
    if ((available & (1 << coding)) === 0) continue;
    const listed = seen[coding] as number;
    const q = listed >= 0 ? listed : (seen[ANY] as number);
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return (seen[ENCODING_IDENTITY] as number) > bestQ ? ENCODING_IDENTITY : best;
}

/** Fills `seen` from an Accept-Encoding value, element by element, in place. */
function scanAcceptEncoding(header: string): void {
  seen.fill(-1);
  const n = header.length;
  let i = 0;
  while (i < n) {
    let c = header.charCodeAt(i);
    if (c === 44 /* , */ || isOws(c)) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && (c = header.charCodeAt(i)) !== 44 && c !== 59 /* ; */ && !isOws(c)) i++;
    const end = i;
    const q = paramsQ(header, i);
    i = cursor;
    if (q < 0) continue; // malformed q-value: ignore the element rather than guess
    const slot = slotOf(header, start, end);
    if (slot !== -1) seen[slot] = q;
  }
}

/**
 * The q of the parameters from `i` to the element's end (1000 when there is none); only q matters,
 * anything else is skipped up to the next ';' or ','. Leaves `cursor` at the element's end.
 */
function paramsQ(header: string, i: number): number {
  const n = header.length;
  let q = 1000;
  let c: number;
  while (i < n && header.charCodeAt(i) !== 44) {
    if (header.charCodeAt(i) !== 59) {
      i++;
      continue;
    }
    i++;
    while (i < n && isOws(header.charCodeAt(i))) i++;
    const pStart = i;
    while (i < n && (c = header.charCodeAt(i)) !== 61 /* = */ && c !== 59 && c !== 44) i++;
    if (i < n && header.charCodeAt(i) === 61 && i - pStart === 1 && (header.charCodeAt(pStart) | 0x20) === 113 /* q */) {
      const vStart = ++i;
      while (i < n && (c = header.charCodeAt(i)) !== 59 && c !== 44 && !isOws(c)) i++;
      q = parseQ(header, vStart, i);
    }
  }
  cursor = i;
  return q;
}

/** The `seen` slot of the coding named at `header[start, end)`, or -1 for a coding we do not have. */
function slotOf(header: string, start: number, end: number): number {
  if (rangeEqualsLower(header, start, end, 'br')) return ENCODING_BR;
  if (rangeEqualsLower(header, start, end, 'zstd')) return ENCODING_ZSTD;
  if (rangeEqualsLower(header, start, end, 'gzip') || rangeEqualsLower(header, start, end, 'x-gzip')) return ENCODING_GZIP;
  if (rangeEqualsLower(header, start, end, 'identity')) return ENCODING_IDENTITY;
  return end - start === 1 && header.charCodeAt(start) === 42 /* * */ ? ANY : -1;
}
