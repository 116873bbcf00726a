/**
 * The known name a mistyped one most likely meant, for "did you mean" in error messages: compared
 * without case and inner dashes and underscores (`max_age`, `--maxage` and `maxAge` are one name), by edit
 * distance with a swap of two neighbours counting as one edit (`prot` is one edit from `port`).
 * Undefined when no known name is within 1 edit for names of up to 4 characters, 2 beyond.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const typed = normalized(name);
  const limit = typed.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const name = normalized(candidate);
    // Each edit changes the length by one at most: a name farther off in length is never close, and
    // skipping it keeps a 64 KB mistyped key from building a 64 KB-row table per known name.
    if (Math.abs(name.length - typed.length) > limit) continue;
    const d = editDistance(typed, name);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Inner dashes and underscores dropped; leading and trailing ones kept (`__proto__` is no typo of `root`). */
function normalized(name: string): string {
  return name.toLowerCase().replace(/(?<=[^-_])[-_]+(?=[^-_])/g, '');
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2] as number[])[j - 2] as number + 1);
      row[j] = d;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
