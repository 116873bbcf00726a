import { open } from 'node:fs/promises';
import { newEtagHash } from './etag.js';
import type { ProbeReply, ProbeRequest } from './file-probe.js';
import { HashWorkers, ThreadsUnavailable } from './hash-workers.js';
import { READ_BY_PATH } from './read-flags.js';

/**
 * Bytes the main thread hashes in one burst (from its being idle to its being idle again) before
 * further files go to worker threads. A thread takes ~35 ms to start, in which the main thread
 * hashes ~55 MiB (SHA-256 at ~1.6 GB/s on this machine), and it leaves ~2.5 MB resident after it
 * has stopped (glibc keeps each thread's malloc arena): a small tree, or the few files a rescan
 * reads, are hashed sooner and cost no memory here. A large tree still fills every core.
 */
const MAIN_BURST = 16 * 1024 * 1024;
/** Bytes per read on the main thread: one slice (~0.15 ms of hashing) at a time, requests served between. */
const SLICE = 256 * 1024;

/**
 * SHA-256 of files, where it costs least: on the main thread, one file at a time in slices, while
 * the work waiting there is small; on worker threads (hash-workers.ts) past MAIN_BURST bytes in
 * one burst, and for as long as those threads run.
 */
export class FileHasher {
  private readonly threads: HashWorkers;
  /** The main thread's jobs run one after another (one read buffer). */
  private tail: Promise<unknown> = Promise.resolve();
  /** Main-thread jobs queued or running. */
  private queued = 0;
  /** Bytes given to the main thread since it was last idle. */
  private burst = 0;
  /** Counts close() calls: a job queued before one is rejected instead of run. */
  private epoch = 0;
  private buffer: Buffer | null = null;
  private mainBytes = 0;
  /** The failure last said (see takeBack). */
  private told: ThreadsUnavailable | null = null;

  /**
   * `threads`: at most this many worker threads (default: one per core, up to 8). `unavailable` is
   * told when no thread can run (see ThreadsUnavailable), once per failure: everything is then hashed
   * here, and every file is still served, only the scan takes longer. `script`, `retryMs`: see HashWorkers.
   */
  constructor(threads?: number, private readonly unavailable?: (e: ThreadsUnavailable) => void, script?: URL, retryMs?: number) {
    this.threads = new HashWorkers(threads, script, retryMs);
  }

  /** Bytes hashed so far, on either side (for progress reports). */
  get bytes(): number {
    return this.mainBytes + this.threads.bytes;
  }

  /** Worker threads started so far (for tests and measurements). */
  get threadsStarted(): number {
    return this.threads.started;
  }

  /**
   * The SHA-256 of the file's first `size` bytes (its size at the scan's stat: the caller stats it
   * again after, and a file that grew, shrank or was replaced meanwhile is read again). Rejects when
   * it cannot be read, or is no file (a FIFO: positioned reads fail with ESPIPE).
   */
  hash(path: string, size: number): Promise<Buffer> {
    if (this.threads.unavailable === null && (this.threads.active || this.burst + size > MAIN_BURST)) {
      return this.threads.hash(path, size).catch((e: unknown) => this.takeBack(e, path, size));
    }
    return this.hashOnMain(path, size);
  }

  /**
   * A batch of a directory's files stat'ed and the small ones read, on a thread (file-probe.ts); null
   * when no thread can take it, or it failed: the caller then stats and reads them one by one.
   */
  async probe(request: ProbeRequest): Promise<ProbeReply | null> {
    if (this.threads.unavailable !== null) return null;
    try {
      return await this.threads.probe(request);
    } catch (e) {
      if (e instanceof ThreadsUnavailable) this.tell(e);
      return null;
    }
  }

  /** A job the threads gave back, as none can run: hashed here. */
  private takeBack(e: unknown, path: string, size: number): Promise<Buffer> {
    if (!(e instanceof ThreadsUnavailable)) throw e;
    this.tell(e);
    return this.hashOnMain(path, size);
  }

  /** Says why no thread can run, once per failure (a passing one may recur). */
  private tell(e: ThreadsUnavailable): void {
    if (this.told !== e) this.unavailable?.(e);
    this.told = e;
  }

  private hashOnMain(path: string, size: number): Promise<Buffer> {
    this.burst += size;
    this.queued++;
    const epoch = this.epoch;
    const job = this.tail.then(() => {
      if (epoch !== this.epoch) throw new Error('hashing stopped');
      return this.hashHere(path, size, epoch);
    });
    this.tail = job.then(this.done, this.done);
    return job;
  }

  /** Stops the worker threads, and rejects the main thread's jobs not yet begun. */
  close(): void {
    this.epoch++;
    this.threads.close();
  }

  private readonly done = (): void => {
    if (--this.queued > 0) return;
    this.burst = 0;
    this.buffer = null;
  };

  /**
   * Positioned reads up to `size`, never "until EOF": a file appended to faster than it is hashed (or
   * a FIFO with a writer, which read(2) at the file position would drain forever) would hold this
   * job, every job queued behind it and the burst, with no end. A close() stops it between slices.
   */
  private async hashHere(path: string, size: number, epoch: number): Promise<Buffer> {
    const buffer = (this.buffer ??= Buffer.allocUnsafeSlow(SLICE));
    const file = await open(path, READ_BY_PATH);
    try {
      const hash = newEtagHash();
      for (let at = 0, n; at < size; at += n, this.mainBytes += n) {
        if (epoch !== this.epoch) throw new Error('hashing stopped');
        n = (await file.read(buffer, 0, Math.min(SLICE, size - at), at)).bytesRead;
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
      }
      return hash.digest();
    } finally {
      await file.close();
    }
  }
}
