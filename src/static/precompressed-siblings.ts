import { ENCODINGS } from '../http/encoding.js';
import type { AssetInfo } from './asset-info.js';

/**
 * Precompressed siblings of a file, indexed by coding (see encoding.ts): `[unused, br, zstd, gzip]`.
 * Each sibling is also an ordinary file of the table, served at its own URL.
 */
export type Variants = readonly (AssetInfo | undefined)[];

export const NO_VARIANTS: Variants = [];

/** The siblings `x.br`, `x.zst`, `x.gz` of the file behind an entry (found by its real URL path, so `/dir/` uses index.html's). */
export function variantsOf(info: AssetInfo, infos: ReadonlyMap<string, AssetInfo>): Variants {
  let out: (AssetInfo | undefined)[] | null = null;
  for (const { coding, suffix } of ENCODINGS) {
    const sibling = infos.get(info.urlPath + suffix);
    if (sibling === undefined) continue;
    out ??= [];
    out[coding] = sibling;
  }
  return out ?? NO_VARIANTS;
}

/**
 * The URL paths that have a sibling (`x` of `x.br`) in `infos`: only those need their siblings looked
 * up, three string concatenations and Map lookups per entry otherwise, for a tree without any.
 */
export function siblingBases(infos: ReadonlyMap<string, AssetInfo>): Set<string> {
  const bases = new Set<string>();
  for (const urlPath of infos.keys()) addSiblingBase(urlPath, bases);
  return bases;
}

/** Adds to `to` the URL path `urlPath` is a sibling of (`x` for `x.br`), if it is one. */
export function addSiblingBase(urlPath: string, to: Set<string>): void {
  for (const { suffix } of ENCODINGS) if (urlPath.endsWith(suffix)) to.add(urlPath.slice(0, -suffix.length));
}

/**
 * Adds to `touched` the URL paths whose entry a change at `urlPath` may alter: itself, the file it is
 * a sibling of (`x` for `x.br`), and the `/dir/` entry of an index.html among those.
 */
export function touchedBy(urlPath: string, touched: Set<string>): void {
  const paths = new Set([urlPath]);
  addSiblingBase(urlPath, paths);
  for (const path of paths) {
    touched.add(path);
    if (path.endsWith('/index.html')) touched.add(path.slice(0, -'index.html'.length));
  }
}

/** True when `a` (none: no siblings) names the same sibling versions as `b`. */
export function sameVariants(a: Variants | undefined, b: Variants): boolean {
  a ??= NO_VARIANTS;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
