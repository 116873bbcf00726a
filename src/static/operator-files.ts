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

/** Runs `read` (synchronous) with the operator files in `files` read from there instead of the disk. */
export function readingFrom<T>(files: ReadonlyMap<string, Buffer>, read: () => T): T {
  const outer = given;
  given = files;
  try {
    return read();
  } finally {
    given = outer;
  }
}

/** Until `start` settles, reads come from `files`: a cluster worker starting from its primary's bytes. */
export async function startingFrom<T>(files: ReadonlyMap<string, Buffer>, start: () => Promise<T>): Promise<T> {
  const outer = given;
  given = files;
  try {
    return await start();
  } finally {
    given = outer;
  }
}

/**
 * The environment variable a cluster primary gives the workers it forks: the operator files in
 * force, so that a worker started later (a replacement for one that died) serves what the others
 * serve, not whatever the files on disk say now (a config rewritten and never reloaded, or a broken
 * one a reload refused: every replacement then exited, and nothing listened).
 */
export const OPERATOR_FILES_ENV = 'XORIGIN_OPERATOR_FILES';

/** Linux caps one environment string at 128 KiB; larger sets of files are read from disk by the worker. */
const ENV_LIMIT = 120 * 1024;

/** `files` as OPERATOR_FILES_ENV's value, or null when over what one environment variable holds. */
export function filesForEnv(files: ReadonlyMap<string, Buffer>): string | null {
  const value = JSON.stringify([...files].map(([path, bytes]) => [path, bytes.toString('base64')]));
  return value.length > ENV_LIMIT ? null : value;
}

/** OPERATOR_FILES_ENV's value read back; null when absent or not what filesForEnv writes. */
export function filesFromEnv(value: string | undefined): Map<string, Buffer> | null {
  if (value === undefined) return null;
  try {
    const pairs = JSON.parse(value) as unknown;
    if (!Array.isArray(pairs)) return null;
    return new Map(pairs.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string').map(([path, b]) => [path, Buffer.from(b, 'base64')]));
  } catch {
    return null;
  }
}
