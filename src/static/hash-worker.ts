/**
 * The body of one hashing thread (see hash-workers.ts): reads each file it is sent with positioned
 * reads into one reused buffer and answers its SHA-256, or probes a batch of a directory's files
 * (file-probe.ts). Synchronous reads are the fastest here: this thread has nothing else to do, and
 * the main thread stays free.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { newEtagHash } from './etag.js';
import { probe, type ProbeRequest } from './file-probe.js';
import { READ_BY_PATH } from './read-flags.js';

const CHUNK = 1024 * 1024;
const buffer = Buffer.allocUnsafeSlow(CHUNK);

/** Reads up to `size` (the scan's stat; it stats again after), not until EOF: a file appended to forever would hold this thread. */
function sha256(path: string, size: number): { digest: Buffer; bytes: number } {
  const fd = openSync(path, READ_BY_PATH);
  try {
    const hash = newEtagHash();
    let bytes = 0;
    for (let n; bytes < size && (n = readSync(fd, buffer, 0, Math.min(CHUNK, size - bytes), bytes)) > 0; bytes += n) hash.update(buffer.subarray(0, n));
    return { digest: hash.digest(), bytes };
  } finally {
    closeSync(fd);
  }
}

type Message = { id: number; path: string; size: number } | ({ id: number; probe: true } & ProbeRequest);

parentPort?.on('message', (message: Message) => {
  const { id } = message;
  try {
    if ('probe' in message) {
      const { reply, transfer } = probe(message);
      parentPort?.postMessage({ id, probed: reply, bytes: reply.bytes }, transfer);
      return;
    }
    const { digest, bytes } = sha256(message.path, message.size);
    parentPort?.postMessage({ id, digest, bytes });
  } catch (e) {
    // The code too: EMFILE and its kin say nothing about the file (the table keeps what it knew).
    parentPort?.postMessage({ id, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code });
  }
});
