import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { ProbeReply, ProbeRequest } from './file-probe.js';

/**
 * node:worker_threads, loaded on the first thread started: a tree small enough to be hashed on the
 * main thread (file-hasher.ts) never needs it, and loading it cost `xorigin serve` 1 to 1.5 MB of resident memory (bench fixture, after load).
 */
let workerThreads: typeof import('node:worker_threads') | null = null;
const require = createRequire(import.meta.url);

/** Threads at most: hashing is bound by the disk and the cores, and each thread costs some 10 MB. */
const MAX_THREADS = 8;
/** Files queued per thread at once, so a thread never waits for its next file. */
const DEPTH = 2;
/** Threads idle this long are stopped: they are needed only while a scan runs. */
const IDLE_MS = 1000;
/** How long after a passing shortage (ThreadsUnavailable.passing) threads are tried again. */
export const RETRY_MS = 30_000;
/** A thread that could not start for these lacked a resource for a while, not the means to run. */
const PASSING_SHORTAGE = /\b(?:EMFILE|ENFILE|ENOMEM|EAGAIN)\b/;

/** What a thread is sent (hash-worker.ts), less the id it answers with. */
type Task = { readonly path: string; readonly size: number } | ({ readonly probe: true } & ProbeRequest);

interface Job {
  readonly task: Task;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

interface Reply {
  readonly id: number;
  readonly digest?: Uint8Array;
  readonly probed?: ProbeReply;
  /** Bytes the thread read for the task. */
  readonly bytes?: number;
  readonly error?: string;
  /** The error's code (ENOENT, EMFILE…): the scan tells a file gone from a process out of descriptors by it. */
  readonly code?: string;
}

/**
 * Why no thread can hash here: one could not start, or died (its script is not beside this module,
 * as in a bundle; Node's permission model without --allow-worker). The jobs it held, and every
 * later one, are rejected with it, for the caller to hash them itself (FileHasher).
 */
export class ThreadsUnavailable extends Error {
  /**
   * The process lacked descriptors, memory or threads when one started (EMFILE at `ulimit -n`, a burst
   * of connections): threads are tried again after RETRY_MS, not given up on until a restart.
   */
  readonly passing: boolean;

  constructor(readonly reason: Error) {
    super(`hashing threads unavailable: ${reason.message}`);
    const code = (reason as { code?: unknown }).code;
    // A thread's own error may reach here as its message alone, and Node's ERR_WORKER_INIT_FAILED names
    // the shortage only in its message ("Worker initialization failure: EMFILE").
    this.passing = PASSING_SHORTAGE.test(`${String(code)} ${reason.message}`);
  }
}

/**
 * SHA-256 of files, computed on worker threads so that a start-up scan uses every core and the
 * main thread stays free to serve. Threads start on the first file and stop once idle; an idle one
 * never keeps the process alive.
 */
export class HashWorkers {
  private readonly threads: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, { job: Job; thread: Worker }>();
  private readonly load = new Map<Worker, number>();
  private nextId = 0;
  private idle: NodeJS.Timeout | null = null;
  /** Bytes hashed so far (for progress reports). */
  bytes = 0;
  /** Threads started so far. */
  started = 0;
  private failure: ThreadsUnavailable | null = null;
  private failedAt = 0;

  /** `script`: the thread's module (tests name one that cannot load); `retryMs`: see RETRY_MS. */
  constructor(
    private readonly size = Math.min(MAX_THREADS, Math.max(1, availableParallelism())),
    private readonly script = new URL('./hash-worker.js', import.meta.url),
    private readonly retryMs = RETRY_MS,
  ) {}

  /**
   * Why no thread can run now (see ThreadsUnavailable), or null: set once a thread could not start or
   * died; for good, unless it was a passing shortage, which lasts `retryMs`.
   */
  get unavailable(): ThreadsUnavailable | null {
    if (this.failure?.passing === true && performance.now() - this.failedAt >= this.retryMs) this.failure = null;
    return this.failure;
  }

  /** True while any thread runs (from the first file until they stop, idle). */
  get active(): boolean {
    return this.threads.length > 0;
  }

  /** The SHA-256 of the file's first `size` bytes (see FileHasher.hash); rejects when it cannot be read. */
  async hash(path: string, size: number): Promise<Buffer> {
    return Buffer.from((await this.run({ path, size })).digest as Uint8Array);
  }

  /** A batch of a directory's files stat'ed, the small ones read (see file-probe.ts). */
  async probe(request: ProbeRequest): Promise<ProbeReply> {
    return (await this.run({ probe: true, ...request })).probed as ProbeReply;
  }

  /** The thread's answer to `task`; rejects with the error it answered, or with ThreadsUnavailable. */
  private run(task: Task): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.unavailable !== null) return reject(this.unavailable);
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every thread now (a scan under way gets its pending hashes rejected). */
  close(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    for (const thread of this.threads.splice(0)) void thread.terminate();
    this.load.clear();
    const lost = [...this.running.values()].map((r) => r.job).concat(this.queue.splice(0));
    this.running.clear();
    for (const job of lost) job.reject(new Error('hashing stopped'));
  }

  private dispatch(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    while (this.queue.length > 0) {
      const thread = this.freeThread();
      if (thread === null) return;
      const job = this.queue.shift() as Job;
      const id = this.nextId++;
      this.running.set(id, { job, thread });
      const load = this.load.get(thread) ?? 0;
      // Held while it has jobs: unref'd, a thread that exited with jobs of a scan waiting for it (and
      // nothing else pending) let the process end before its 'exit' was seen, the scan unfinished.
      if (load === 0) thread.ref();
      this.load.set(thread, load + 1);
      thread.postMessage({ id, ...job.task });
    }
    if (this.running.size === 0) {
      this.idle = setTimeout(() => this.close(), IDLE_MS);
      this.idle.unref();
    }
  }

  /** The least loaded thread with room, starting one if all are busy and fewer than `size` run. */
  private freeThread(): Worker | null {
    let best: Worker | null = null;
    for (const t of this.threads) if ((this.load.get(t) ?? 0) < DEPTH && (best === null || (this.load.get(t) ?? 0) < (this.load.get(best) ?? 0))) best = t;
    if ((best === null || (this.load.get(best) ?? 0) > 0) && this.threads.length < this.size) return this.start();
    return best;
  }

  private start(): Worker | null {
    let thread: Worker;
    try {
      workerThreads ??= require('node:worker_threads') as typeof import('node:worker_threads');
      thread = new workerThreads.Worker(this.script);
    } catch (e) {
      this.giveUp(e as Error); // the permission model refuses at once (ERR_ACCESS_DENIED)
      return null;
    }
    thread.unref();
    this.started++;
    thread.on('message', (reply: Reply) => this.answered(thread, reply));
    thread.on('error', (e) => this.failed(thread, e));
    // Ended by no error of ours (process.exit in it, a resource limit): its jobs would wait for ever.
    // One stopped here (close, idle) has left `threads` first.
    thread.on('exit', (code) => this.failed(thread, new Error(`a hashing thread exited (code ${String(code)})`)));
    this.threads.push(thread);
    this.load.set(thread, 0);
    return thread;
  }

  private answered(thread: Worker, reply: Reply): void {
    const running = this.running.get(reply.id);
    if (running === undefined) return;
    this.running.delete(reply.id);
    const load = (this.load.get(thread) ?? 1) - 1;
    if (load === 0) thread.unref();
    this.load.set(thread, load);
    if (reply.error === undefined) {
      this.bytes += reply.bytes ?? 0;
      running.job.resolve(reply);
    } else {
      running.job.reject(Object.assign(new Error(reply.error ?? 'hashing failed'), reply.code === undefined ? {} : { code: reply.code }));
    }
    this.dispatch();
  }

  /**
   * A thread's uncaught error: a file's own errors are answered as replies (hash-worker.ts), so this
   * is the thread itself failing, most often at its start (its script missing from a bundle). Every
   * thread would fail the same way: hashing goes back to the caller's thread for good.
   */
  private failed(thread: Worker, e: Error): void {
    if (this.threads.includes(thread)) this.giveUp(e);
  }

  private giveUp(e: Error): void {
    if (this.failure === null) {
      this.failure = new ThreadsUnavailable(e);
      this.failedAt = performance.now();
    }
    const failure = this.failure;
    const lost = [...this.running.values()].map((r) => r.job).concat(this.queue.splice(0));
    this.running.clear();
    this.close();
    for (const job of lost) job.reject(failure);
  }
}
