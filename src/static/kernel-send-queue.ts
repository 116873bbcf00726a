import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { endianness } from 'node:os';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/**
 * The bytes the kernel holds for a TCP connection that its peer has not acknowledged: Linux's
 * `tx_queue` (write_seq − snd_una) in /proc/net/tcp and tcp6. It shrinks as the client reads, even
 * while the server can write nothing: once a send buffer is full (autotuned up to tcp_wmem's maximum,
 * 4 MB by default), Linux wakes the writer only when about a third of it has drained, so a client
 * reading steadily at 50 KB/s moved neither bytesWritten nor libuv's queue for 5 s and was cut by
 * the send timeout while it read (README, "A client that stops reading").
 * At most one read of the tables per sweep (`clear()` starts a sweep), and only for a connection
 * whose output has not moved (HTTP/1.x: for half the send timeout, connection-timeouts.ts; HTTP/2:
 * since the last sweep, http2-sessions.ts); null where there are none (not Linux), or for a
 * connection not found in them.
 */
export class KernelSendQueues {
  private table: Map<string, number> | null = null;
  // The tables write addresses in host order: read only where that is the little-endian order procAddress writes.
  private readonly readable = process.platform === 'linux' && endianness() === 'LE';
  /**
   * The tables list every TCP socket of the host, not only the server's: 5,192 took 26 ms to read
   * and parse (review k30). After a read of d ms none is made for 10·d ms (at most a tenth of the
   * loop, on a host with tens of thousands of sockets); connections looked at meanwhile read as unknown.
   */
  private nextReadAt = 0;

  /** Forgets the last reading: the next `bytes()` reads the tables afresh. */
  clear(): void {
    this.table = null;
  }

  bytes(socket: Socket): number | null {
    if (!this.readable) return null;
    const key = connectionKey(socket);
    if (key === null) return null;
    if (this.table === null) {
      const start = performance.now();
      if (start < this.nextReadAt) return null;
      this.table = readTables();
      this.nextReadAt = start + 10 * (performance.now() - start);
    }
    const bytes = this.table.get(key);
    // NaN: two established connections under one key, which cannot tell them apart.
    return bytes === undefined || Number.isNaN(bytes) ? null : bytes;
  }
}

/**
 * Each established connection's tx_queue, by its local and remote address and port as the tables
 * write them. Both ends: a client could else pair a connection that reads nothing with one of its own
 * to another local address from the same source port, and be judged by that one's count.
 */
function readTables(): Map<string, number> {
  const table = new Map<string, number>();
  for (const path of TABLES) {
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      continue; // no IPv6, /proc not mounted, or not allowed (node's permission model): read as unknown
    }
    for (const line of text.split('\n').slice(1)) {
      // "  sl  local_address rem_address   st tx_queue:rx_queue ..."; st 01 is ESTABLISHED.
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || fields[3] !== '01') continue;
      const key = `${fields[1] as string}|${fields[2] as string}`;
      const queues = fields[4] as string;
      table.set(key, table.has(key) ? Number.NaN : Number.parseInt(queues.slice(0, queues.indexOf(':')), 16));
    }
  }
  return table;
}

/** The key readTables files a connection under, or null when the socket does not say its addresses. */
function connectionKey(socket: Socket): string | null {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) return null;
  const local = procAddress(localAddress);
  const remote = procAddress(remoteAddress);
  if (local === null || remote === null) return null;
  return `${local}:${hex(localPort, 4)}|${remote}:${hex(remotePort, 4)}`;
}

/**
 * An IPv4 address as the tables write it: one 32-bit word in host order (little-endian: 127.0.0.1 is
 * 0100007F); on a socket listening on `::` both ends are IPv4-mapped, in tcp6. IPv6: null (unknown),
 * those connections timed as where there are no tables.
 */
function procAddress(address: string): string | null {
  const v4 = /^(::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (v4 === null) return null;
  const word = hex(Number(v4[5]), 2) + hex(Number(v4[4]), 2) + hex(Number(v4[3]), 2) + hex(Number(v4[2]), 2);
  return v4[1] === undefined ? word : `0000000000000000FFFF0000${word}`;
}

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');
