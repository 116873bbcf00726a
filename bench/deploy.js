// Downloads in flight across a deploy: N downloads of one large file from disk are started and paused, a new
// version is renamed over the file (the old inode is unlinked: its ctime moves, its bytes do not), then all are
// resumed. Each must finish whole with the old bytes: at the first chunk each reads after the deploy, the file's
// content is hashed against its ETag (send-body.ts recheck), once per file state, shared by every response
// (content-checks.ts).
//
//   npm run build && node bench/deploy.js [--downloads 16] [--mb 256] [--rounds 2] [--before DIST]
//
// Prints, per round and build: downloads finished whole, whole-file hashes run (counted where the build has
// content-checks.js; builds before it hashed once per download), CPU seconds and wall seconds from the deploy
// until the last download ended. Server and clients run in this one process (the clients' share, receiving
// N × MB, is the same for every build, and its garbage collection makes the CPU figure vary by ±40% from one
// round to the next: the hash count is the steady figure). --before DIST (a dist/ directory built from another
// commit) runs the same against it.
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scriptArgs } from './args.js';

const PROJECT = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: args } = scriptArgs({
  downloads: { type: 'string', default: '16' },
  mb: { type: 'string', default: '256' },
  rounds: { type: 'string', default: '2' },
  before: { type: 'string' },
});
for (const option of ['downloads', 'mb', 'rounds']) {
  if (!/^[1-9]\d*$/.test(args[option])) {
    console.error(`--${option}: ${JSON.stringify(args[option])} is not a whole number of at least 1; e.g. --${option} 2`);
    process.exit(2);
  }
}
const DOWNLOADS = Number(args.downloads);
const SIZE = Number(args.mb) * 1024 * 1024;

/** Starts `count` downloads of /big.bin and pauses each as soon as its headers are in. */
function startDownloads(port, count) {
  return Promise.all(Array.from({ length: count }, () => new Promise((done, fail) => {
    http.get({ host: '127.0.0.1', port, path: '/big.bin', agent: false }, (res) => {
      res.pause();
      done(res);
    }).on('error', fail);
  })));
}

/** Resumes a paused download; resolves whether it ended complete, whole, with nothing but the old bytes. */
function finish(res) {
  return new Promise((done) => {
    let received = 0;
    let foreign = false;
    res.on('data', (chunk) => {
      received += chunk.length;
      if (chunk[0] !== 5 || chunk[chunk.length - 1] !== 5) foreign = true;
    });
    res.on('end', () => done(res.complete && received === SIZE && !foreign));
    res.on('error', () => done(false));
    res.on('aborted', () => {});
    res.resume();
  });
}

/** Counts the hashes of every ContentChecks the build at `dist` makes, or null when it has none. */
async function hashCounter(dist) {
  const module = join(resolve(dist), 'static/content-checks.js');
  if (!existsSync(module)) return null;
  const { ContentChecks } = await import(pathToFileURL(module).href);
  const made = new Set();
  const matches = ContentChecks.prototype.matches;
  ContentChecks.prototype.matches = function (...args) {
    made.add(this);
    return matches.apply(this, args);
  };
  return () => [...made].reduce((sum, checks) => sum + checks.hashes, 0);
}

const counters = new Map();

async function round(dist) {
  if (!counters.has(dist)) counters.set(dist, await hashCounter(dist));
  const hashes = counters.get(dist);
  const hashedBefore = hashes?.() ?? 0;
  const { serve } = await import(pathToFileURL(join(resolve(dist), 'index.js')).href);
  const root = mkdtempSync(join(tmpdir(), 'xorigin-deploy-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(SIZE, 5));
  const server = await serve({ root, memoryBudget: 0, watch: false });
  try {
    await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
    const downloads = await startDownloads(server.address().port, DOWNLOADS);
    await new Promise((r) => setTimeout(r, 300)); // socket buffers full: each response waits to read on
    writeFileSync(join(root, '.next'), Buffer.alloc(1024, 6));
    renameSync(join(root, '.next'), join(root, 'big.bin'));
    const cpu = process.cpuUsage();
    const started = performance.now();
    const whole = (await Promise.all(downloads.map(finish))).filter(Boolean).length;
    const used = process.cpuUsage(cpu);
    const hashed = hashes === null ? `${DOWNLOADS} (one per download)` : String(hashes() - hashedBefore);
    return { whole, hashed, cpuS: (used.user + used.system) / 1e6, wallS: (performance.now() - started) / 1000 };
  } finally {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  }
}

const builds = [['this build', join(PROJECT, 'dist')], ...(args.before === undefined ? [] : [['--before', args.before]])];
for (let r = 1; r <= Number(args.rounds); r++) {
  for (const [label, dist] of builds) {
    const { whole, hashed, cpuS, wallS } = await round(dist);
    console.log(`round ${r} ${label.padEnd(10)} ${whole}/${DOWNLOADS} whole, ${hashed} hash(es), CPU ${cpuS.toFixed(1)} s, wall ${wallS.toFixed(1)} s`);
  }
}
