import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { endianness } from 'node:os';

/** The tables, with the width of an address and port in each (tcp: 8 hex digits, tcp6: 32; then `:PORT`). */
const TABLES = [
  ['/proc/net/tcp', 13],
  ['/proc/net/tcp6', 37],
] as const;

/**
 * The bytes the kernel holds for a TCP connection that its peer has not acknowledged: Linux's
 * `tx_queue` (write_seq − snd_una) in /proc/net/tcp and tcp6. It shrinks as the client reads, even
 * while the server can write nothing: once a send buffer is full (autotuned up to tcp_wmem's maximum,
 * 4 MB by default), Linux wakes the writer only when about a third of it has drained, so a client
 * reading steadily at 50 KB/s moved neither bytesWritten nor libuv's queue for 5 s and was cut by
 * the send timeout while it read (README, "A client that stops reading").
 *
 * One reading of the tables for the process, shared by the HTTP/1.x and the HTTP/2 sweep: the
 * tables list every TCP socket of the host, not only the server's, and 10,000 took ~28 ms for the
 * kernel to write and as long again to split into fields (reviews k30, r31; now read at fixed
 * offsets). A reading is made only when a sweep asks for a connection whose output has not moved
 * (HTTP/1.x: for half the send timeout, connection-timeouts.ts; HTTP/2: since the last sweep,
 * http2-sessions.ts), and only once the last is REUSE_MS old; after one of d ms none is made for
 * 10·d ms, at most a tenth of the loop. Until then the last reading answers, with its `generation`:
 * a caller comparing two counts must see a newer generation before it reads "no move" as a stall.
 * Null where there are no tables (not Linux), or for a connection not found in the reading.
 */
class SendQueueReading {
  private table: Map<string, number> | null = null;
  private readAt = Number.NEGATIVE_INFINITY;
  private nextReadAt = 0;
  /** Counts the readings made; 0 before the first. */
  generation = 0;
  // The tables write addresses in host order: read only where that is the little-endian order procAddress writes.
  private readonly readable = process.platform === 'linux' && endianness() === 'LE';

  bytes(socket: Socket): number | null {
    if (!this.readable) return null;
    const key = connectionKey(socket);
    if (key === null) return null;
    const start = performance.now();
    if (start - this.readAt >= REUSE_MS && start >= this.nextReadAt) {
      this.table = readTables();
      this.generation++;
      this.readAt = start;
      this.nextReadAt = start + 10 * (performance.now() - start);
    }
    const bytes = this.table?.get(key);
    // NaN: two live connections under one key, which cannot tell them apart.
    return bytes === undefined || Number.isNaN(bytes) ? null : bytes;
  }
}

/** How old a reading may be and still answer a sweep (sweeps come at most once every 25 ms, and at least once a second). */
const REUSE_MS = 20;

export const kernelSendQueues = new SendQueueReading();

/**
 * The tx_queue of each live connection (LIVE_STATES), by its local and remote address and port as the tables
 * write them. Both ends: a client could else pair a connection that reads nothing with one of its own
 * to another local address from the same source port, and be judged by that one's count.
 */
function readTables(): Map<string, number> {
  const table = new Map<string, number>();
  for (const [path, addressLength] of TABLES) {
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      continue; // no IPv6, /proc not mounted, or not allowed (node's permission model): read as unknown
    }
    fileLines(text, addressLength, table);
  }
  return table;
}

/**
 * The second digit of the states whose lines are read: 01 ESTABLISHED; 08 CLOSE_WAIT, a client
 * that half-closed after its request (FIN) and still reads (it was cut while it read: review r31b);
 * 04 FIN_WAIT1, a connection whose output the server has ended and the client not all read (a
 * lingering close waits for it: lingering-close.ts). Not the states a 4-tuple may linger in after
 * its socket is gone (TIME_WAIT), which could give a live connection's key a second line (a
 * FIN_WAIT1 socket holds its 4-tuple: no new connection can take it meanwhile).
 */
const LIVE_STATES = [0x31, 0x34, 0x38];

/**
 * Files the live lines of one table: "%4d: LOCAL REMOTE ST TX_QUEUE:RX_QUEUE ...", each address
 * hex words and ":PORT", of fixed width (tcp 13, tcp6 37 characters); st as LIVE_STATES.
 * Read at fixed offsets, not split into fields: that took as long as the kernel's writing of them.
 * A line not so shaped is skipped (its connection reads as unknown).
 */
function fileLines(text: string, addressLength: number, table: Map<string, number>): void {
  const keyLength = 2 * addressLength + 1;
  for (let at = text.indexOf('\n') + 1; at > 0 && at < text.length; at = text.indexOf('\n', at) + 1) {
    const local = text.indexOf(':', at) + 2;
    const state = local + keyLength + 1;
    if (local === 1 || text.charCodeAt(state) !== 0x30 || !LIVE_STATES.includes(text.charCodeAt(state + 1)) || text.charCodeAt(state + 2) !== 0x20) continue;
    if (text.charCodeAt(local + addressLength) !== 0x20) continue;
    const key = text.slice(local, local + keyLength);
    const queued = Number.parseInt(text.slice(state + 3, state + 11), 16);
    table.set(key, table.has(key) ? Number.NaN : queued);
  }
}

/** The key readTables files a connection under, or null when the socket does not say its addresses. */
function connectionKey(socket: Socket): string | null {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) return null;
  const local = procAddress(localAddress);
  const remote = procAddress(remoteAddress);
  if (local === null || remote === null) return null;
  return `${local}:${hex(localPort, 4)} ${remote}:${hex(remotePort, 4)}`;
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
