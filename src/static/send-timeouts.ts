import type { Socket } from 'node:net';
import { SlotTable } from './slot-table.js';
import { SweepClock } from './sweep-clock.js';

/** What a connection had queued when a sweep last saw it move, and since when. */
interface Progress {
  queued: number;
  written: number;
  unsent: number;
  /**
   * SweepClock ms, -1 for nothing queued. Monotonic, as the sweep's timer: on the wall clock, a step
   * forward of an hour cut every connection a client paused for one sweep, and a step back kept a
   * stalled one open for the hour. And without the server's own pauses (see sweep-clock.ts).
   */
  since: number;
}

/** A socket's handle; over TLS, a TLSWrap, whose `_parent` is the TCP handle under it. */
interface Handle {
  readonly writeQueueSize?: number;
  readonly _parent?: Handle;
}

/**
 * The bytes libuv still holds for the connection's TCP handle: they shrink with every partial write
 * the kernel takes, while writableLength and bytesWritten move only when a whole chunk is out (a
 * body held in memory, up to smallFileLimit, is one chunk). Node's own socket timeout reads the same count.
 */
export function unsentBytes(socket: Socket): number {
  const h = (socket as unknown as { _handle?: Handle | null })._handle;
  if (h == null) return 0;
  return (h._parent ?? h).writeQueueSize ?? 0;
}

/** The sweep's period: a quarter of the timeout, within [25 ms, 1 s]. */
const periodFor = (timeoutMs: number): number => Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4)));

/**
 * The send timeout of HTTP/1.x connections, as nginx's `send_timeout`: a connection whose queued
 * output has not moved (the client took no byte of it, not even part of a chunk) for the timeout
 * is closed, which closes its responses and releases what they held. A periodic sweep over the connections checks it, instead
 * of node:http's socket timeout, which re-arms a timer on every read and write and makes a new
 * one (a Timeout and a bound function) for every request on a keep-alive connection.
 */
export class SendTimeouts {
  /** Not a Map: a connection per request (`Connection: close`) is churn too (see slot-table.ts). */
  private readonly watched = new SlotTable<Socket, Progress>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly clock: SweepClock;

  constructor(private timeoutMs: number) {
    this.clock = new SweepClock(periodFor(timeoutMs));
  }

  /** Changes the timeout (a reload); connections already open get it from the next sweep. */
  set timeout(ms: number) {
    this.timeoutMs = ms;
    if (this.sweeper === null) return;
    clearInterval(this.sweeper);
    this.sweeper = null;
    this.clock.stopped();
    this.start();
  }

  /** Watches a connection until it closes. */
  add(socket: Socket): void {
    const slot = this.watched.add(socket, { queued: 0, written: 0, unsent: 0, since: -1 });
    socket.once('close', () => this.watched.remove(slot, socket));
    this.start();
  }

  private start(): void {
    if (this.sweeper !== null) return;
    this.clock.periodMs = periodFor(this.timeoutMs);
    this.sweeper = setInterval(() => this.sweep(), this.clock.periodMs);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = this.clock.tick();
    this.watched.forEach((socket, p) => {
      const queued = socket.writableLength;
      if (queued === 0) {
        p.since = -1;
        return;
      }
      const written = socket.bytesWritten;
      const unsent = unsentBytes(socket);
      if (p.since === -1 || queued !== p.queued || written !== p.written || unsent !== p.unsent) {
        p.queued = queued;
        p.written = written;
        p.unsent = unsent;
        p.since = now;
      } else if (now - p.since >= this.timeoutMs) {
        socket.destroy();
      }
    });
    if (this.watched.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      this.clock.stopped();
    }
  }
}
