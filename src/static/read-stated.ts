import { open } from 'node:fs/promises';
import { READ_BY_PATH } from './read-flags.js';

/**
 * The first `size` bytes of the file at `path` (its size at the scan's stat; fewer if it shrank), by
 * positioned reads with READ_BY_PATH. Never "until EOF" as readFile reads: a small file replaced by
 * a large one between the stat and the read was read whole into memory (a 16 KiB file become 1 GB:
 * 1 GB held, to be thrown away when the stat after the read tells it changed), and a FIFO with a
 * writer was read for as long as the writer wrote. A FIFO rejects (ESPIPE), as on a hashing thread.
 */
export async function readStated(path: string, size: number): Promise<Buffer> {
  const file = await open(path, READ_BY_PATH);
  try {
    const bytes = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (let n; at < size && (n = (await file.read(bytes, at, size - at, at)).bytesRead) > 0; ) at += n;
    return at === size ? bytes : bytes.subarray(0, at);
  } finally {
    await file.close();
  }
}
