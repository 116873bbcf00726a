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
 * An address as the tables write it. IPv4 (tcp): one 32-bit word in host order (little-endian:
 * 127.0.0.1 is 0100007F). IPv6 (tcp6): four such words (::1 is 00000000000000000000000001000000);
 * on a socket listening on `::` an IPv4 client's is IPv4-mapped (::ffff:127.0.0.1). Null for a form
 * not understood: those connections are timed as where there are no tables.
 */
function procAddress(address: string): string | null {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4 !== null) return wordHex([Number(v4[1]), Number(v4[2]), Number(v4[3]), Number(v4[4])]);
  const bytes = ipv6Bytes(address);
  if (bytes === null) return null;
  let text = '';
  for (let i = 0; i < 16; i += 4) text += wordHex(bytes.slice(i, i + 4));
  return text;
}

/** The 16 bytes of an IPv6 address as node writes one (RFC 5952; a dotted IPv4 tail; a `%zone`), or null. */
function ipv6Bytes(address: string): number[] | null {
  let text = address.replace(/%.*$/, '');
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = [dotted[2], dotted[3], dotted[4], dotted[5]].map(Number) as [number, number, number, number];
    text = `${dotted[1] as string}${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 1 || halves[1] === '' ? [] : (halves[1] as string).split(':');
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return null;
  const groups = [...head, ...new Array<string>(zeros).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** Four bytes in network order as the tables write the word they make: in host (little-endian) order. */
const wordHex = (bytes: readonly number[]): string => bytes.map((b) => hex(b, 2)).reverse().join('');

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');
