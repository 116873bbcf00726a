import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/**
 * The bytes the kernel holds for a TCP connection that its peer has not acknowledged: Linux's
 * `tx_queue` (write_seq − snd_una) in /proc/net/tcp and tcp6. It shrinks as the client reads, even
 * while the server can write nothing: once a send buffer is full (autotuned up to tcp_wmem's maximum,
 * 4 MB by default), Linux wakes the writer only when about a third of it has drained, so a client
 * reading steadily at 50 KB/s moved neither bytesWritten nor libuv's queue for 5 s and was cut by
 * the send timeout while it read (README, "A client that stops reading").
 * One read of the tables per sweep, and only when a connection is due to be cut (`clear()` starts a
 * sweep); null where there are none (not Linux), or for a connection not found in them.
 */
export class KernelSendQueues {
  private table: Map<string, number> | null = null;
  private readonly readable = process.platform === 'linux';

  /** Forgets the last reading: the next `bytes()` reads the tables afresh. */
  clear(): void {
    this.table = null;
  }

  bytes(socket: Socket): number | null {
    if (!this.readable) return null;
    const key = connectionKey(socket);
    if (key === null) return null;
    this.table ??= readTables();
    return this.table.get(key) ?? null;
  }
}

/** Each connection's tx_queue, by its local port and remote address, as the tables write them. */
function readTables(): Map<string, number> {
  const table = new Map<string, number>();
  for (const path of TABLES) {
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      continue; // no IPv6, or /proc not mounted: those connections read as unknown
    }
    for (const line of text.split('\n').slice(1)) {
      // "  sl  local_address rem_address   st tx_queue:rx_queue ..."
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5) continue;
      const local = fields[1] as string;
      const queues = fields[4] as string;
      const key = `${local.slice(local.indexOf(':') + 1)}|${fields[2] as string}`;
      table.set(key, Number.parseInt(queues.slice(0, queues.indexOf(':')), 16));
    }
  }
  return table;
}

/** The key readTables files a connection under, or null when the socket does not say its addresses. */
function connectionKey(socket: Socket): string | null {
  const { localPort, remotePort, remoteAddress } = socket;
  if (localPort === undefined || remotePort === undefined || remoteAddress === undefined) return null;
  const address = procAddress(remoteAddress);
  return address === null ? null : `${hex(localPort, 4)}|${address}:${hex(remotePort, 4)}`;
}

/**
 * An IPv4 address as the tables write it: one 32-bit word in host order (little-endian: 127.0.0.1 is
 * 0100007F); an IPv4 peer of a socket listening on `::` is IPv4-mapped, in tcp6. IPv6 peers: null
 * (unknown), their connections timed as where there are no tables.
 */
function procAddress(address: string): string | null {
  const v4 = /^(::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (v4 === null) return null;
  const word = hex(Number(v4[5]), 2) + hex(Number(v4[4]), 2) + hex(Number(v4[3]), 2) + hex(Number(v4[2]), 2);
  return v4[1] === undefined ? word : `0000000000000000FFFF0000${word}`;
}

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');
