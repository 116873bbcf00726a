// A font catalogue on disk for the scale benchmarks (startup.js, memory.js): directories of 12 files,
// sizes drawn from a log-normal like a web-font catalogue (median 20 KiB, most between 5 and 80 KiB, a
// tail of CJK-sized files up to 8 MiB), seeded, so every run has the same tree. Made once under the
// temp directory (xorigin-startup-N) and reused while its marker says it is complete.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export const PER_DIR = 12;
export const MIB = 1024 * 1024;

/** mulberry32: a small seeded generator, so every run builds the same tree. */
export function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal font sizes: median 20 KiB, sigma 1.1, between 1 KiB and 8 MiB. */
export function sizes(count) {
  const next = random(count);
  const out = [];
  for (let i = 0; i < count; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    out.push(Math.round(Math.min(8 * MIB, Math.max(1024, 20 * 1024 * Math.exp(1.1 * z)))));
  }
  return out;
}

/** The URL path of file `i` of a tree. */
export const fontPath = (i) => `/family-${Math.floor(i / PER_DIR)}/font-${i}.woff2`;

/** The tree of `count` files: { root, count, bytes }. `fresh`: make it again even if complete. */
export function fontTree(count, fresh = false) {
  const root = join(os.tmpdir(), `xorigin-startup-${count}`);
  const marker = join(root, '.complete');
  if (!fresh && existsSync(marker)) return { root, ...JSON.parse(readFileSync(marker, 'utf8')) };
  rmSync(root, { recursive: true, force: true });
  const block = Buffer.alloc(9 * MIB);
  const next = random(7);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((next() * 2 ** 32) >>> 0, i);
  let bytes = 0;
  sizes(count).forEach((size, i) => {
    const dir = join(root, `family-${Math.floor(i / PER_DIR)}`);
    if (i % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    const body = Buffer.from(block.subarray(i % 997, (i % 997) + size));
    body.writeUInt32LE(i, 0); // every file its own bytes, so its own hash
    writeFileSync(join(root, fontPath(i)), body);
    bytes += size;
  });
  writeFileSync(marker, JSON.stringify({ count, bytes }));
  return { root, count, bytes };
}
