import type { ProbeReply, ProbeRequest } from './file-probe.js';
import type { TaskLimit } from './task-limit.js';

/** Files per probe message at least, when that many are waiting: one message each way per this many files. */
export const PROBE_BATCH = 256;

/** A directory's files waiting for a probe: `read` says what to read, decided when the probe is sent. */
interface Waiting {
  readonly paths: readonly string[];
  readonly read: () => Uint8Array;
  readonly visit: (reply: ProbeReply | null, at: number) => Promise<void>;
  readonly settle: (error?: unknown) => void;
}

/**
 * Gathers the files of the directories a walk lists into probe messages (file-probe.ts) of up to about
 * PROBE_BATCH files: what arrives in one turn of the event loop goes together. One message per directory
 * cost a tree of 12-file directories (bench/startup.js's fonts) as many round trips to a thread as
 * directories, 8,333 for 100,000 files, most of a second of the main thread in postMessage alone.
 *
 * `limit` bounds the probes under way: a probe's slot is held until every directory of it has visited
 * its files, so probes run no further ahead of the walk than that.
 */
export class ProbeBatcher {
  private waiting: Waiting[] = [];
  private files = 0;
  private scheduled = false;

  constructor(
    private readonly probe: (request: ProbeRequest) => Promise<ProbeReply | null>,
    private readonly limit: TaskLimit,
    private readonly readUpTo: number,
  ) {}

  /**
   * Probes `paths` with other directories' files, then calls `visit` with the reply (null when no thread
   * could take it) and the index of `paths[0]` in it. Settles when `visit` has.
   */
  run(paths: readonly string[], read: () => Uint8Array, visit: (reply: ProbeReply | null, at: number) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ paths, read, visit, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      this.files += paths.length;
      if (this.files >= PROBE_BATCH) this.send();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  private send(): void {
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.files = 0;
    // Whatever fails, every directory of the batch is told: one left waiting held the walk for good.
    this.limit.run(() => this.probeAndVisit(batch)).catch((e: unknown) => {
      for (const w of batch) w.settle(e ?? new Error('probe failed'));
    });
  }

  private async probeAndVisit(batch: Waiting[]): Promise<void> {
    // Decided now, not when listed: what the probes before this one found counts (a deploy, see TreeReader.stale).
    const read = new Uint8Array(batch.reduce((n, w) => n + w.paths.length, 0));
    let offset = 0;
    for (const w of batch) {
      read.set(w.read(), offset);
      offset += w.paths.length;
    }
    const reply = await this.probe({ paths: batch.flatMap((w) => w.paths), read, readUpTo: this.readUpTo }).catch(() => null);
    let at = 0;
    await Promise.all(
      batch.map((w) => {
        const from = at;
        at += w.paths.length;
        return w.visit(reply, from).then(() => w.settle(), (e: unknown) => w.settle(e ?? new Error('probe visit failed')));
      }),
    );
  }
}
