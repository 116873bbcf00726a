/** What a scan under way has done so far. */
export interface ScanCounts {
  /** Files found. */
  readonly files: number;
  /** Bytes of the files found that must be read (not known from the table or the ETag cache). */
  readonly bytesToHash: number;
  readonly bytesHashed: number;
}

/** Where progress goes: a stream that may be a terminal. */
export interface ProgressOut {
  readonly isTTY?: boolean | undefined;
  write(text: string): unknown;
}

/** Nothing is said about a scan shorter than this. */
const QUIET_MS = 1000;
/** How often the live line is redrawn on a terminal. */
const REDRAW_MS = 250;

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return bytes >= 10 * 1024 * MIB ? `${(bytes / 1024 / MIB).toFixed(1)} GiB` : `${(bytes / MIB).toFixed(1)} MiB`;
}

/**
 * 100000 → "100,000". Not toLocaleString: its first call loads ICU's data, which stays resident
 * (measured: +8 MB RSS for the rest of the process) for one line about the scan.
 */
function grouped(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+$)/g, ',');
}

function seconds(ms: number): string {
  return ms >= 100_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 1000).toFixed(1)} s`;
}

/** One line about the scan: files, bytes hashed, rate and (while running) time left. */
export function progressLine(c: ScanCounts, elapsedMs: number, done: boolean): string {
  const rate = c.bytesHashed / Math.max(elapsedMs / 1000, 0.001);
  const head = `xorigin: ${done ? 'scanned' : 'scanning'} ${grouped(c.files)} files, ${mib(c.bytesHashed)} hashed`;
  if (done) return `${head} in ${seconds(elapsedMs)} (${mib(rate)}/s)`;
  const left = rate > 0 ? seconds(((c.bytesToHash - c.bytesHashed) / rate) * 1000) : '?';
  return `${head} of ${mib(c.bytesToHash)} found so far, ${mib(rate)}/s, ${left} left`;
}

/**
 * Reports a scan that takes longer than a second: on a terminal, a live line redrawn every 250 ms
 * then a final line; elsewhere (a log, a pipe), one summary line at the end. A shorter scan says nothing.
 * Call the returned `stop` when the scan is done.
 */
export function reportScan(counts: () => ScanCounts, out: ProgressOut, now: () => number = () => performance.now()): () => void {
  const started = now();
  let live = false;
  const draw = (): void => {
    live = true;
    out.write(`\r\x1b[K${progressLine(counts(), now() - started, false)}`);
  };
  let timer: NodeJS.Timeout | null = null;
  const wait = setTimeout(() => {
    if (out.isTTY !== true) return;
    draw();
    timer = setInterval(draw, REDRAW_MS);
    timer.unref();
  }, QUIET_MS);
  wait.unref();
  return () => {
    clearTimeout(wait);
    if (timer !== null) clearInterval(timer);
    const elapsed = now() - started;
    if (elapsed < QUIET_MS && !live) return;
    out.write(`${live ? '\r\x1b[K' : ''}${progressLine(counts(), elapsed, true)}\n`);
  };
}
