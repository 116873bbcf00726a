import { terminalSafe } from '../http/terminal-safe.js';

/**
 * Says on stderr which paths of the served tree a scan left out for one reason (a name not valid
 * UTF-8, a file this process may not read): without it, the operator sees only 404s for files that
 * `ls` shows. A walk (`whole`) says them all, once per walk that finds a different set; a targeted
 * scan (a file added while running) says only those not said before. At most three are shown,
 * escaped (terminalSafe): a name is any bytes but `/` and NUL, escape sequences included.
 */
export class SkippedPaths {
  private told = new Set<string>();

  /** `line(count, shown)`: the whole line, given how many paths and the first three as text. */
  constructor(
    private readonly line: (count: number, shown: string) => string,
    private readonly warn: (line: string) => void,
  ) {}

  note(paths: readonly string[], whole: boolean): void {
    const told = this.told;
    const fresh = paths.filter((p) => !told.has(p));
    if (whole) {
      if (fresh.length === 0 && paths.length === told.size) return; // the same set as last said
      this.told = new Set(paths);
    } else {
      for (const p of fresh) told.add(p);
    }
    const said = whole ? paths : fresh;
    if (said.length === 0) return;
    const shown = said.slice(0, 3).map(terminalSafe).join(', ') + (said.length > 3 ? `, and ${String(said.length - 3)} more` : '');
    this.warn(this.line(said.length, shown));
  }
}
