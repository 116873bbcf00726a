/**
 * The body of one hashing thread (see hash-workers.ts): reads each file it is sent with positioned
 * reads into one reused buffer and answers its SHA-256, or probes a batch of a directory's files
 * (file-probe.ts). Synchronous reads are the fastest here: this thread has nothing else to do, and
 * the main thread stays free.
 */
import { parentPort } from 'node:worker_threads';
import { hashUpTo, probe, type ProbeRequest } from './file-probe.js';

type Message = { id: number; path: string; size: number } | ({ id: number; probe: true } & ProbeRequest);

parentPort?.on('message', (message: Message) => {
  const { id } = message;
  try {
    if ('probe' in message) {
      const { reply, transfer } = probe(message);
      parentPort?.postMessage({ id, probed: reply, bytes: reply.bytes }, transfer);
      return;
    }
    const { digest, bytes } = hashUpTo(message.path, message.size);
    parentPort?.postMessage({ id, digest, bytes });
  } catch (e) {
    // The code too: EMFILE and its kin say nothing about the file (the table keeps what it knew).
    parentPort?.postMessage({ id, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code });
  }
});
