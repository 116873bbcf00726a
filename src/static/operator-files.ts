import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { READ_NONBLOCK } from './read-flags.js';

/**
 * Files an operator names (the certificate, its key, the config file): small, read whole and
 * synchronously at start-up and on each reload. A cluster primary records the bytes it validated
 * (recordingReads) and its workers reload from those same bytes (readingFrom), not from the disk
 * again: a file rewritten between the primary's read and a worker's left the workers on two
 * policies until the next reload. A reload reads each file once too: the settings are read (and
 * validated), then the server validates what it puts in force from the bytes read for them.
 */
let recorded: Map<string, Buffer> | null = null;
let given: ReadonlyMap<string, Buffer> | null = null;
let givenValidated = false;

/**
 * The bytes of a small regular file named by an operator (a certificate, a key, the config file),
 * read synchronously at start-up or on a reload. Throws when it is not one: a FIFO (a plain read
 * waited for a writer, with the event loop and so every request stopped) or a device such as
 * /dev/zero (read to the end, it grew the process by 250 MB/s), or a file over `maxBytes`. The
 * message says which (what an `ls -l` would show), for the caller's problem.
 */
export function readSmallRegularFile(path: string, maxBytes: number): Buffer {
  const bytes = given?.get(path) ?? readFromDisk(path, maxBytes);
  recorded?.set(path, bytes);
  return bytes;
}

function readFromDisk(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, READ_NONBLOCK);
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw new Error(`not a regular file (${s.isFIFO() ? 'a FIFO' : s.isDirectory() ? 'a directory' : 'a device or socket'})`);
    if (s.size > maxBytes) throw new Error(`${s.size} bytes, over the ${maxBytes}-byte limit for this file`);
    const bytes = Buffer.alloc(s.size);
    const n = readSync(fd, bytes, 0, s.size, 0);
    return n === s.size ? bytes : bytes.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Runs `read` (synchronous), returning its value and the bytes of every operator file it read, by path. */
export function recordingReads<T>(read: () => T): { value: T; files: Map<string, Buffer> } {
  const files = new Map<string, Buffer>();
  const outer = recorded;
  recorded = files;
  try {
    return { value: read(), files };
  } finally {
    recorded = outer;
  }
}

/**
 * Runs `read` (synchronous) with the operator files in `files` read from there instead of the disk.
 * `validated`: a cluster primary checked these very bytes when it put them in force (a worker
 * starting or reloading from them), so what depends on the time of the check is not checked again
 * (validatedElsewhere): a worker replacing one that died starts with the certificate its siblings
 * present, though it expired since, rather than exit and leave the port unserved.
 */
export function readingFrom<T>(files: ReadonlyMap<string, Buffer>, read: () => T, validated = false): T {
  const outer = given;
  const outerValidated = givenValidated;
  given = files;
  givenValidated = validated;
  try {
    return read();
  } finally {
    given = outer;
    givenValidated = outerValidated;
  }
}

/** True inside readingFrom(files, read, true): see there. */
export function validatedElsewhere(): boolean {
  return given !== null && givenValidated;
}
