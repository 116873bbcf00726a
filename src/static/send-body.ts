import { fstatSync, read, readSync, stat, type BigIntStats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockingReads } from './blocking-reads.js';
import type { BufferPool } from './buffer-pool.js';
import { OpenState, OpenVersion, sameIdentity, type FileIdentity } from './file-identity.js';
import { Http2Response, resetWithInternalError, type Resettable } from './http2-exchange.js';
import { cutHttp1Response } from './lingering-close.js';

/**
 * Ends a response whose headers are out short of its body (a file cut short under it, an unexpected
 * failure), so that no client can take what came for the whole body. HTTP/1.x: the connection is
 * closed (lingering, cutHttp1Response), the body short of its Content-Length (RFC 9112 §8). HTTP/2
 * (our exchange's response or node:http2's compatibility one, both with `stream`): the stream is
 * reset with INTERNAL_ERROR, no END_STREAM before it (resetWithInternalError); `destroy()` without an
 * error resets it with NO_ERROR, which tells a client that does not compare Content-Length that the
 * body is complete.
 */
export function cutResponse(res: ServerResponse): void {
  const stream = (res as ServerResponse & { stream?: Resettable & { destroyed: boolean } }).stream;
  if (stream === undefined) cutHttp1Response(res);
  else if (!stream.destroyed) resetWithInternalError(stream);
}

/** Bodies held in memory over this many bytes go out this many at a time where writes are copied (endHeld). */
const HELD_SLICE = 64 * 1024;

/**
 * Ends `res` with `body`, a body held in memory (or a range of one). Over plain TCP a write queues a
 * reference to the shared buffer, so the body goes out whole. A TLS socket encrypts a write at once
 * and keeps the ciphertext, and node:http2's compatibility API counts a write against the session's
 * memory: whole, a stalled reader of a 4 MB font pinned 4 MB (100 such HTTPS/1.1 readers: 60 → 451 MB
 * RSS) and a page's parallel font requests were refused with ENHANCE_YOUR_CALM. There the body goes
 * out a slice at a time, the next once the response has taken the last ('drain'). Our own HTTP/2
 * response slices its bodies itself (http2-exchange.ts).
 */
export function endHeld(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  // HEAD: no body goes out, and a write under the compatibility API would wait for a 'drain' that never comes.
  if (req.method === 'HEAD') return void res.end();
  if (body.length <= HELD_SLICE || res instanceof Http2Response || !(req.httpVersionMajor === 2 || (req.socket as { encrypted?: boolean }).encrypted === true)) {
    res.end(body);
    return;
  }
  let at = 0;
  let waiting = false;
  const pump = (): void => {
    waiting = false;
    try {
      // Ended meanwhile by a middleware's wrapper, or closed (no 'drain' comes then): nothing more is ours to write.
      while (!res.writableEnded && !waiting) {
        const next = at + HELD_SLICE;
        if (next >= body.length) return void res.end(body.subarray(at));
        waiting = res.write(body.subarray(at, next)) === false;
        at = next;
      }
    } catch {
      // A middleware's write that throws, here from a 'drain' where a throw would end the process.
      cutResponse(res);
    }
  };
  // One listener for every wait: compression() hands 'drain' listeners to its zlib stream, where a
  // once() wrapper, which removes itself from the response, was left behind at each wait.
  res.on('drain', () => {
    if (waiting) pump();
  });
  pump();
}

/**
 * Resources held by bodies read from disk, for tests and monitoring: both return to zero when
 * nothing is being sent.
 */
export interface DiskCounters {
  /** File descriptors held by responses (one shared cached fd counts once per response holding it). */
  openFiles: number;
  /** Called after a body has given back everything it held (for waiting until all is released). */
  readonly released: () => void;
}

/** One body to send from disk: what to read, and how the server answers around it. */
export interface DiskSend {
  readonly filePath: string;
  /** Opens the file for reading (the fd may be shared with other responses: see fd-cache.ts). */
  readonly openFile: (done: (err: Error | null, fd: number) => void) => void;
  /** Gives back an fd from `openFile`; called exactly once for each. */
  readonly closeFile: (fd: number) => void;
  /**
   * The version the prepared headers describe (see file-identity.ts). While it is read, a ctime that
   * moved alone is let through once the content hashes to the ETag (OpenVersion, `contentMatches`).
   */
  readonly identity: FileIdentity;
  /**
   * Hashes the open file's whole content (`s`: its fstat now); calls back with whether it still has
   * the ETag's bytes.
   */
  readonly contentMatches: (fd: number, s: BigIntStats, done: (same: boolean) => void) => void;
  /**
   * The file's ctime moved alone and its content still hashes to the ETag: the table, whose version
   * still has the old ctime, should look at the file again (no watcher may have told it), or every
   * later response would hash it again.
   */
  readonly ctimeMoved: () => void;
  /** First and last byte, inclusive. */
  readonly start: number;
  readonly end: number;
  /** HEAD, or an empty body: check the file, send the headers, read nothing. */
  readonly headOnly: boolean;
  /** Writes the status line and headers (called once, only after the file has been checked). */
  readonly writeHead: () => void;
  /**
   * The file is gone or no longer the one the headers describe, and nothing has been sent:
   * the caller rescans and answers again.
   */
  readonly stale: () => void;
  /**
   * ms: a chunk not taken within this long cuts the response; 0, no limit. For node:http2's
   * compatibility API in an app's own server: when its client vanishes while a write waits, Node
   * 20 never closes the stream (no 'close', on it or on its session), and its fd and buffer were
   * held for good. xorigin's own server times every connection itself (connection-timeouts.ts,
   * http2-sessions.ts).
   */
  readonly stallLimit: number;
}

/**
 * Hashes in a row one body may run because its file's ctime moved alone, with no chunk sent between
 * them, before it is cut: a chmod loop faster than the hash would otherwise hold it forever. Counted
 * in a row, not per body: a deploy in five steps a second apart (`cp -al`, `chmod -R`, `chown -R`,
 * an xattr, the old release removed) cut a 16 s download at its fifth step (attack b24b).
 */
const CTIME_RECHECKS = 4;

/** Bytes per read when the pool is empty: each such response allocates its own, smaller buffer. */
const UNPOOLED_CHUNK = 64 * 1024;

/**
 * Bytes one body sends before its next read waits for the event loop's next turn (setImmediate), as
 * nginx's sendfile_max_chunk (2m). A chunk read synchronously and a socket write that completes at
 * once (plain HTTP/1.1 to a client on another core) call back through process.nextTick, which never
 * lets the loop turn: one curl download of a 1 GiB file read 827 chunks (207 MiB) in one turn, and
 * every other connection waited 50-80 ms.
 */
const BYTES_PER_TURN = 2 * 1024 * 1024;

const statBig = (path: string, cb: (err: Error | null, s: BigIntStats) => void): void => stat(path, { bigint: true }, cb);

function fstatOrNull(fd: number): BigIntStats | null {
  try {
    return fstatSync(fd, { bigint: true });
  } catch {
    return null;
  }
}

/**
 * Sends a file's bytes from disk into one response, and releases what it took (its fd, its
 * buffer) exactly once, on whichever comes last of the response's end and the fs call in flight.
 *
 * Callers start it only once the response is at the head of its socket (`res.socket !== null`):
 * a response queued behind another on a pipelining connection gets no `'close'` if the socket
 * closes first, so anything it held would leak. For the head response `'close'` always fires:
 * after `'finish'`, or when the socket closes, errors or times out.
 *
 * A read never lands in a buffer or fd that has been released (the release waits for the pending
 * call), and a body is never ended short of its Content-Length or mixed from two versions of the
 * file: the file's identity is checked after every read (the first before the headers go out; see
 * OpenVersion); a mismatch mid-body cuts the connection.
 */
export class DiskBody {
  private fd = -1;
  private buffer: Buffer | null = null;
  private pooled = false;
  /** An fs call on `fd`/`buffer` is in flight: releasing now could hand them to someone else mid-call. */
  private busy = false;
  /** The response has closed (finished, aborted, socket gone). */
  private closed = false;
  private pos: number;
  /** Bytes written since the loop last turned for this body (see BYTES_PER_TURN). */
  private sinceTurn = 0;
  /**
   * A middleware made write its own (compression does): such a wrapper may never call write's
   * callback, which paces the reads here, and may hold a chunk past it (in a zlib queue). Chunks then
   * go out as copies, paced by write's return value and 'drain' (see writeOut).
   */
  private readonly wrapped: boolean;
  /** Wrapped: waiting for the response's 'drain' (waitForDrain), and whether that listener is on. */
  private draining = false;
  private drainListened = false;
  /** With a stallLimit: when the last chunk was handed to the response, and the timer that checks it. */
  private handedAt = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  /** The version being sent, checked after each chunk read. */
  private readonly version: OpenVersion;
  /** Hashes run in a row for this body because the ctime moved alone (CTIME_RECHECKS). */
  private rechecks = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly send: DiskSend,
    private readonly pool: BufferPool,
    private readonly counters: DiskCounters,
    private readonly blocking: BlockingReads,
  ) {
    this.pos = send.start;
    this.version = new OpenVersion(send.identity);
    this.wrapped = Object.hasOwn(res, 'write');
    res.once('close', () => {
      this.closed = true;
      if (!this.busy) this.release();
    });
  }

  start(): void {
    if (this.send.headOnly) this.checkOnly();
    else this.open();
  }

  /**
   * HEAD or an empty body: one stat by path, no fd. When only the ctime moved (a chmod at a deploy),
   * the file is opened and checked as a GET's first chunk is (hashed: whenNamed, recheck), not sent back
   * to the table: HEAD got 503s under a chmod loop where GET did not (attack b24e).
   */
  private checkOnly(): void {
    this.busy = true;
    statBig(this.send.filePath, (err, s) => {
      if (this.settle()) return;
      if (err === null && this.version.check(s) === OpenState.CtimeOnly) return this.open();
      if (err !== null || !sameIdentity(this.send.identity, s)) return this.send.stale();
      if (this.writeHead()) this.res.end();
    });
  }

  private open(): void {
    this.busy = true;
    this.send.openFile((err, fd) => {
      if (err === null) {
        this.fd = fd;
        this.counters.openFiles++;
      }
      if (this.settle()) return;
      if (err !== null) return this.send.stale(); // vanished since the scan
      this.takeBuffer();
      this.readChunk(true);
    });
  }

  private takeBuffer(): void {
    const b = this.pool.take();
    this.pooled = b !== null;
    // Every pooled buffer is in flight: this response reads with one of its own, so a burst of
    // downloads is still served, only with more allocation. No larger than the body: over HTTP/2,
    // 16 connections x 8 streams of a 1-byte file from disk each took 64 KiB, and that much
    // external memory made V8 run a full GC every ~900 responses (every 0.1 s; --trace-gc).
    // Filled for the same reason as the pool's (buffer-pool.ts).
    this.buffer = b ?? Buffer.allocUnsafeSlow(Math.min(UNPOOLED_CHUNK, this.send.end + 1 - this.pos)).fill(0);
  }

  /**
   * Reads the next chunk at `pos`, on the main thread while blocking reads are fast (see
   * blocking-reads.ts), else on the thread pool; the first one is checked before the headers go out.
   */
  private readChunk(first: boolean): void {
    const buffer = this.buffer as Buffer;
    const n = Math.min(buffer.length, this.send.end + 1 - this.pos);
    if (this.blocking.allowed()) return this.chunkRead(first, n, this.readNow(buffer, n));
    this.busy = true;
    read(this.fd, buffer, 0, n, this.pos, (err, bytesRead) => {
      if (this.settle()) return;
      this.sinceTurn = 0; // the loop turned while the thread pool read
      this.chunkRead(first, n, err === null ? bytesRead : -1);
    });
  }

  /** A timed `readSync`; -1 on an error. */
  private readNow(buffer: Buffer, n: number): number {
    const startedAt = this.blocking.now();
    let bytesRead = -1;
    try {
      bytesRead = readSync(this.fd, buffer, 0, n, this.pos);
    } catch {
      // Treated as a short read below: the file is no longer what the headers describe.
    }
    this.blocking.took(startedAt);
    return bytesRead;
  }

  /**
   * `bytesRead` of the `n` asked for (-1: the read failed), then an fstat: the bytes read belong to
   * the version the headers describe. Synchronous: on an open fd it reads the inode in memory (no
   * disk access on a local file system, as nginx does it too), and on the thread pool it was a second
   * round trip per small file: a 1-byte GET with --memory-budget 0 went from 17,500-20,600 to
   * 23,400-24,400 responses/s (wrk, 32 connections, server on one core).
   */
  private chunkRead(first: boolean, n: number, bytesRead: number): void {
    // Short: truncated since the scan (or since the last chunk), so the headers are no longer true.
    const short = bytesRead !== n;
    this.pos += n;
    const last = this.pos > this.send.end;
    const s = short ? null : fstatOrNull(this.fd);
    const state = s === null ? OpenState.Changed : this.version.check(s);
    if (state === OpenState.Changed) return void this.giveUp(first);
    if (state === OpenState.CtimeOnly) {
      const moved = s as BigIntStats;
      // Before any header, only while the path still names this inode (whenNamed).
      if (first) return void this.whenNamed(moved, () => this.recheck(true, n, moved));
      return void this.recheck(false, n, moved);
    }
    this.rechecks = 0; // a chunk goes out: the next move of the ctime starts a new count
    if (first && !this.writeHead()) return;
    if (this.send.headOnly) return void this.endHeadOnly();
    if (last) this.closeFd();
    this.writeChunk(n, last);
  }

  /**
   * The ctime moved alone since the last chunk (OpenState.CtimeOnly: rare, a deploy renamed a new
   * version over the file or linked it, or a chmod): the chunk just read is not sent. The open content
   * must hash to the ETag, and the file must not have changed while it was hashed (its ctime moved
   * again: hashed again); then the chunk is read again and the body goes on. Else, or after
   * CTIME_RECHECKS such hashes in a row, the body is given up (giveUp).
   */
  private recheck(first: boolean, n: number, s: BigIntStats): void {
    if (++this.rechecks > CTIME_RECHECKS) return void this.giveUp(first);
    this.busy = true;
    this.send.contentMatches(this.fd, s, (same) => {
      if (this.settle()) return;
      const after = fstatOrNull(this.fd);
      if (!same || after === null || this.version.check(after) === OpenState.Changed) return void this.giveUp(first);
      // Moved again while hashed (a deploy's `ln` then `rm` a few ms apart): what was hashed may be stale.
      if (after.ctimeNs !== s.ctimeNs) return void this.recheck(first, n, after);
      if (first) return void this.whenNamed(s, () => this.readAgain(first, n, s));
      this.readAgain(first, n, s);
    });
  }

  /** The content at `s` hashed to the ETag: later chunks are checked against its ctime, from this one on. */
  private readAgain(first: boolean, n: number, s: BigIntStats): void {
    this.version.accept(s);
    this.send.ctimeMoved();
    this.pos -= n;
    this.readChunk(first);
  }

  /**
   * For the first chunk, before any header, when the ctime moved alone since the table read the file
   * (a `chmod -R` or `cp -al` of the tree at a deploy): the content is hashed here (recheck) instead
   * of waiting for the table to read it again, which may be queued behind every other file the deploy
   * touched (b24b: a chmod loop on a 256 MB file gave 503s). Only while the path still names the inode
   * `s` describes: else (renamed over, this fd cached) it is a new version, answered afresh. Asked
   * before the hash and again after it, before the headers: a rename over the path while a 200 MB
   * file was hashed had the old version sent after the rename (attack b24d, 6 of 6).
   */
  private whenNamed(s: BigIntStats, then: () => void): void {
    this.busy = true;
    statBig(this.send.filePath, (err, named) => {
      if (this.settle()) return;
      if (err !== null || named.ino !== s.ino || named.dev !== s.dev) return this.giveUp(true);
      then();
    });
  }

  /** HEAD (or an empty body) opened only to check a moved ctime: the headers are out, no byte follows. */
  private endHeadOnly(): void {
    this.closeFd();
    this.res.end();
  }

  /**
   * The file is no longer the version the headers describe: before they go out, it is looked at again
   * and answered afresh (`stale`); after, the body is cut.
   */
  private giveUp(first: boolean): void {
    if (!first) return void this.cut();
    this.release();
    this.send.stale();
  }

  /** Ends the response short of its body (cutResponse). */
  private cut(): void {
    // Nothing more is read: the fd goes back now, not when the connection, closing lingering, is
    // gone (up to 10 s). The buffer waits for 'close', as a write may still hold it.
    this.closeFd();
    cutResponse(this.res);
  }

  /**
   * The headers, written from an fs callback, where a throw would take the process down: mounted in
   * an app, another middleware may have answered meanwhile (ERR_HTTP_HEADERS_SENT). Then this
   * response is not ours to finish: it is cut, and 'close' releases what it held.
   */
  private writeHead(): boolean {
    try {
      this.send.writeHead();
      return true;
    } catch {
      this.res.destroy();
      return false;
    }
  }

  /**
   * Writes what was read. Mounted in an app, a middleware may have wrapped write or end, and a throw
   * here, in an fs callback, would end the process: it costs this response only (cut).
   */
  private writeChunk(n: number, last: boolean): void {
    try {
      this.writeOut(n, last);
    } catch {
      this.cut();
    }
  }

  /** Writes `n` bytes of the buffer; the next read starts once the response has taken them. */
  private writeOut(n: number, last: boolean): void {
    // Ended by a middleware's wrapper meanwhile: a write after the end would be an 'error' nobody
    // listens to, ending the process. What this body holds goes back at 'close'.
    if (this.res.writableEnded) return void this.closeFd();
    if (this.send.stallLimit > 0) this.watchStall();
    const read = (this.buffer as Buffer).subarray(0, n);
    const chunk = this.wrapped ? Buffer.from(read) : read;
    if (last) {
      // The buffer is given back on 'close', which comes after the socket has taken it.
      this.res.end(chunk);
      return;
    }
    this.sinceTurn += n;
    if (!this.wrapped) {
      this.res.write(chunk, (e) => {
        if (e == null && !this.closed) this.readNext();
      });
      return;
    }
    // false: wait for 'drain'; anything else (true, or nothing from a wrapper that returns nothing) goes on.
    if (this.res.write(chunk) === false) this.waitForDrain();
    else this.readNext();
  }

  /**
   * Reads on at the response's next 'drain'. One listener for the whole body: compression() hands
   * 'drain' listeners to its zlib stream, where a once() wrapper was left behind at every wait.
   */
  private waitForDrain(): void {
    this.draining = true;
    if (this.drainListened) return;
    this.drainListened = true;
    this.res.on('drain', () => {
      if (!this.draining) return;
      this.draining = false;
      if (!this.closed) this.readNext();
    });
  }

  /**
   * A chunk is being handed over: the one before was taken. Past stallLimit without the next, the
   * response is destroyed, which closes its stream, and 'close' releases what this body holds.
   */
  private watchStall(): void {
    this.handedAt = performance.now();
    if (this.stallTimer !== null) return;
    const check = (): void => {
      this.stallTimer = null;
      if (this.closed) return;
      const waited = performance.now() - this.handedAt;
      if (waited >= this.send.stallLimit) return void this.res.destroy();
      this.stallTimer = setTimeout(check, this.send.stallLimit - waited).unref();
    };
    this.stallTimer = setTimeout(check, this.send.stallLimit).unref();
  }

  /** Reads the next chunk, after a turn of the event loop every BYTES_PER_TURN bytes. */
  private readNext(): void {
    if (this.sinceTurn < BYTES_PER_TURN) return this.readChunk(false);
    this.sinceTurn = 0;
    // busy: 'close' meanwhile leaves the release to settle(), as for an fs call.
    this.busy = true;
    setImmediate(() => {
      if (!this.settle()) this.readChunk(false);
    });
  }

  /**
   * Called first in every fs callback: clears `busy`, and when the response closed meanwhile
   * releases everything and returns true (the caller stops).
   */
  private settle(): boolean {
    this.busy = false;
    if (!this.closed) return false;
    this.release();
    return true;
  }

  private closeFd(): void {
    if (this.fd === -1) return;
    this.send.closeFile(this.fd);
    this.fd = -1;
    this.counters.openFiles--;
  }

  /** Idempotent: each resource is given back once, then forgotten. */
  private release(): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const held = this.fd !== -1 || this.buffer !== null;
    this.closeFd();
    const b = this.buffer;
    if (b !== null) {
      this.buffer = null;
      if (this.pooled) this.pool.give(b);
    }
    if (held) this.counters.released();
  }
}
