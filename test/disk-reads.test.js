// Bodies read from disk are read on the main thread while those reads are fast (a page-cache copy),
// so they do not wait for libuv's thread pool; after slow reads (a device) they go back to the
// thread pool. Real sockets on 127.0.0.1; the server runs in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { closeSync, ftruncateSync, mkdtempSync, openSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { SLOW_READ_MS } from '../dist/static/blocking-reads.js';
import { request } from './helpers.js';

const MB = 1024 * 1024;
const CHUNK = 256 * 1024;

/** A server with memory budget 0 over a fresh root: font.ttf (1 MiB), and what `more(root)` adds. */
async function start(more = () => {}) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-disk-reads-'));
  const font = Buffer.alloc(MB);
  for (let i = 0; i < MB; i += 4096) font.write(`@${i}`, i);
  writeFileSync(join(root, 'font.ttf'), font);
  more(root);
  const server = await serve({ root, memoryBudget: 0, watch: false });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async () => {
    await server.shutdown();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, font, port: server.address().port, stop };
}

/**
 * The clock blocking-reads.ts times each blocking read on (performance.now), made the test's until it
 * ends: a call of fs.readSync (for the server's modules too) takes no time on it, or exactly what
 * `slowReads(ms)` last set (a slow device). On a busy machine a 256 KiB page-cache read now and then took
 * 3-14 ms (its thread descheduled), and a read made slow by spinning for 12 ms took longer: the guard
 * counted what it saw, and its trips followed the machine's load (two page-cache reads in a row sent
 * the rest to the thread pool, one spin past 25 ms tripped it alone).
 */
function readClock(t) {
  const { readSync } = fs;
  const now = performance.now;
  let offset = 0;
  let readMs = 0;
  performance.now = () => now.call(performance) + offset;
  fs.readSync = (...args) => {
    const start = now.call(performance);
    try {
      return readSync(...args);
    } finally {
      offset += readMs - (now.call(performance) - start);
    }
  };
  syncBuiltinESMExports();
  t.after(() => {
    performance.now = now;
    fs.readSync = readSync;
    syncBuiltinESMExports();
  });
  return { slowReads: (ms) => (readMs = ms) };
}

/**
 * Replaces fs.read and fs.readSync (for the server's modules too) while `fn` runs, counting the
 * 256 KiB chunk reads of each.
 */
async function countReads(fn) {
  const { read, readSync } = fs;
  const counts = { sync: 0, pool: 0 };
  fs.readSync = (fd, buffer, ...rest) => {
    if (buffer.length === CHUNK) counts.sync++;
    return readSync(fd, buffer, ...rest);
  };
  fs.read = (fd, buffer, ...rest) => {
    if (buffer.length === CHUNK) counts.pool++;
    return read(fd, buffer, ...rest);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    Object.assign(fs, { read, readSync });
    syncBuiltinESMExports();
  }
  return counts;
}

/** `promise`'s value, or a failure after `ms` (so that the test still gives the threads back). */
function within(ms, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('a body from disk is served while every thread-pool thread is busy', async (t) => {
  readClock(t);
  const s = await start();
  t.after(s.stop);
  const first = await request(s.port, { path: '/font.ttf' }); // opens the file: its fd is kept
  assert.equal(first.status, 200);
  // Each open of a FIFO with no writer holds one thread-pool thread until a writer comes.
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(s.root, `.fifo${i}`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const held = fifos.map((f) => fs.promises.open(f, 'r'));
  // The pool takes its work in order: a call queued after the opens runs only once a thread is free.
  const probe = fs.promises.stat(s.root).then(() => 'ran');
  try {
    assert.equal(await Promise.race([probe, new Promise((r) => setTimeout(() => r('queued'), 300))]), 'queued', 'every thread-pool thread is held');
    const res = await within(3000, request(s.port, { path: '/font.ttf', headers: { Range: 'bytes=300000-899999' } }));
    assert.equal(res.status, 206);
    assert.ok(res.body.equals(s.font.subarray(300_000, 900_000)), 'the ranged bytes, read on the main thread');
  } finally {
    // O_RDWR: a FIFO so opened never blocks and is a writer, for the readers already waiting and for
    // any whose open has not started yet (a writer's O_NONBLOCK open fails with ENXIO before a reader
    // has come, and the reader that came later held its thread forever: the test process never exited).
    const writers = fifos.map((f) => openSync(f, fs.constants.O_RDWR));
    for (const h of await Promise.all(held)) await h.close();
    for (const w of writers) closeSync(w);
    await probe;
  }
});

test('fast reads stay on the main thread; two slow ones send the rest to the thread pool', async (t) => {
  const clock = readClock(t);
  const s = await start();
  t.after(s.stop);
  await request(s.port, { path: '/font.ttf' });
  const fast = await countReads(async () => {
    const res = await request(s.port, { path: '/font.ttf' });
    assert.ok(res.body.equals(s.font));
  });
  assert.deepEqual(fast, { sync: 4, pool: 0 }, 'a 1 MiB body is four 256 KiB reads on the main thread');
  clock.slowReads(SLOW_READ_MS * 3);
  const slow = await countReads(async () => {
    const res = await request(s.port, { path: '/font.ttf' });
    assert.ok(res.body.equals(s.font), 'the same bytes, however they were read');
    const again = await request(s.port, { path: '/font.ttf' });
    assert.ok(again.body.equals(s.font));
  });
  assert.deepEqual(slow, { sync: 2, pool: 6 }, 'after two slow reads, the rest (and the next body) use the thread pool');
});

test('a large body read on the main thread lets the event loop turn every 2 MiB', async (t) => {
  // Sparse: 64 MiB of page-cache reads without writing them to the disk.
  const s = await start((root) => {
    const fd = openSync(join(root, 'large.ttf'), 'w');
    ftruncateSync(fd, 64 * MB);
    closeSync(fd);
  });
  t.after(s.stop);
  // Chunk reads since the loop last reached its check phase; the most seen in one turn.
  let inTurn = 0;
  let most = 0;
  let on = true;
  const turn = () => {
    most = Math.max(most, inTurn);
    inTurn = 0;
    if (on) setImmediate(turn);
  };
  setImmediate(turn);
  const { readSync } = fs;
  fs.readSync = (fd, buffer, ...rest) => {
    if (buffer.length === CHUNK) inTurn++;
    return readSync(fd, buffer, ...rest);
  };
  syncBuiltinESMExports();
  try {
    // A client in another process reads as fast as it can, so the server's socket writes complete at
    // once: without a yield, each chunk's write callback read the next on process.nextTick.
    const client = spawn(process.execPath, ['-e', `
      require('node:http').get('http://127.0.0.1:${s.port}/large.ttf', (res) => {
        let n = 0;
        res.on('data', (d) => { n += d.length; });
        res.on('end', () => process.stdout.write(res.statusCode + ' ' + n));
      });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.on('data', (d) => { out += d; });
    await new Promise((resolve) => client.on('exit', resolve));
    assert.equal(out, `200 ${64 * MB}`);
  } finally {
    on = false;
    fs.readSync = readSync;
    syncBuiltinESMExports();
  }
  assert.ok(most >= 1, 'the body was read on the main thread');
  assert.ok(most <= (2 * MB) / CHUNK, `at most 2 MiB read between two turns of the event loop, not ${most} chunks`);
});

test('with every pooled buffer lent, a small body from disk is read into a buffer of its size', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-disk-reads-'));
  const fd = openSync(join(root, 'large.ttf'), 'w');
  ftruncateSync(fd, 64 * MB); // sparse: page-cache reads, nothing written to the disk
  closeSync(fd);
  writeFileSync(join(root, 'small.txt'), 'tiny body');
  const server = await serve({ root, memoryBudget: 0, watch: false });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const stalled = [];
  t.after(async () => {
    for (const socket of stalled) socket.destroy();
    await server.shutdown();
    rmSync(root, { recursive: true, force: true });
  });
  // Downloads whose clients never read hold their pooled 256 KiB buffer until they end: 64 of
  // them (handler.ts DISK_BUFFERS) lend the whole pool.
  const { connect } = await import('node:net');
  for (let i = 0; i < 64; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET /large.ttf HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.pause();
    stalled.push(socket);
  }
  const deadline = Date.now() + 10_000;
  while (server.stats.buffersInUse < 64 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.stats.buffersInUse, 64, 'the stalled downloads hold every pooled buffer');
  const { readSync, read, readlinkSync } = fs;
  const sizes = [];
  // The reads of small.txt only: the stalled downloads hold their buffers from their first read, and
  // on a busy machine go on reading 256 KiB chunks until their sockets are full, meanwhile.
  const smallPath = join(realpathSync(root), 'small.txt');
  const small = (fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === smallPath;
    } catch {
      return false;
    }
  };
  fs.readSync = (fd, buffer, ...rest) => {
    if (small(fd)) sizes.push(buffer.length);
    return readSync(fd, buffer, ...rest);
  };
  fs.read = (fd, buffer, ...rest) => {
    if (small(fd)) sizes.push(buffer.length);
    return read(fd, buffer, ...rest);
  };
  syncBuiltinESMExports();
  try {
    const res = await within(3000, request(port, { path: '/small.txt' }));
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'tiny body');
  } finally {
    Object.assign(fs, { read, readSync });
    syncBuiltinESMExports();
  }
  // 64 KiB per such response made V8 run a full GC every ~900 of them over HTTP/2 (send-body.ts).
  assert.deepEqual(sizes, [9], 'one read, into a buffer the size of the body');
});
