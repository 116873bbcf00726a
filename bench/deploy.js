// Downloads in flight across a deploy: N downloads of one large file from disk are started and paused, a new
// version is renamed over the file (the old inode is unlinked: its ctime moves, its bytes do not), then all are
// resumed. Each must finish whole with the old bytes, and the file's content is hashed against its ETag before
// the ends (send-body.ts confirmContent), once per file state, shared by every response (content-checks.ts).
//
//   npm run build && node bench/deploy.js [--downloads 16] [--mb 256] [--rounds 2] [--before DIST]
//
// Prints, per round and build: downloads finished whole, CPU seconds and wall seconds from the deploy until the
// last download ended. Server and clients run in this one process (the clients' share, receiving N × MB, is the
// same for every build). --before DIST (a dist/ directory built from another commit) runs the same against it.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const PROJECT = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: args } = parseArgs({
  options: {
    downloads: { type: 'string', default: '16' },
    mb: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '2' },
    before: { type: 'string' },
  },
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

async function round(dist) {
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
    return { whole, cpuS: (used.user + used.system) / 1e6, wallS: (performance.now() - started) / 1000 };
  } finally {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  }
}

const builds = [['this build', join(PROJECT, 'dist')], ...(args.before === undefined ? [] : [['--before', args.before]])];
for (let r = 1; r <= Number(args.rounds); r++) {
  for (const [label, dist] of builds) {
    const { whole, cpuS, wallS } = await round(dist);
    console.log(`round ${r} ${label.padEnd(10)} ${whole}/${DOWNLOADS} whole, CPU ${cpuS.toFixed(1)} s, wall ${wallS.toFixed(1)} s`);
  }
}
