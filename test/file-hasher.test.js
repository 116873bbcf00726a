// Hashing files, on the main thread for a small burst and on worker threads past it: the digests are
// SHA-256 of the files, a file that cannot be read rejects without stopping the others, and close()
// settles everything pending (no hang, no leak of threads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HashWorkers } from '../dist/static/hash-workers.js';
import { FileHasher } from '../dist/static/file-hasher.js';
import { runCli, stderrMatch, stopCli } from './helpers.js';

test('many files hashed on threads give their SHA-256; a missing one rejects alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const hashers = new HashWorkers(2);
  try {
    const files = [];
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.alloc(1000 + i * 70_000, i); // up to 2.7 MB: several reads of the thread's buffer
      writeFileSync(join(root, `f${i}`), bytes);
      files.push(bytes);
    }
    const results = await Promise.allSettled([...files.map((b, i) => hashers.hash(join(root, `f${i}`), b.length)), hashers.hash(join(root, 'missing'), 10)]);
    files.forEach((bytes, i) => assert.deepEqual(results[i].value, createHash('sha256').update(bytes).digest(), `f${i}`));
    assert.equal(results[40].status, 'rejected');
    assert.equal(hashers.bytes, files.reduce((n, b) => n + b.length, 0));
  } finally {
    hashers.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('close() rejects what is pending; the pool starts again when asked', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  writeFileSync(join(root, 'f'), Buffer.alloc(5_000_000, 1));
  const hashers = new HashWorkers(1);
  try {
    const pending = [1, 2, 3, 4].map(() => hashers.hash(join(root, 'f'), 5_000_000));
    hashers.close();
    for (const p of pending) await assert.rejects(p);
    assert.deepEqual(await hashers.hash(join(root, 'f'), 5_000_000), createHash('sha256').update(Buffer.alloc(5_000_000, 1)).digest());
  } finally {
    hashers.close();
    rmSync(root, { recursive: true, force: true });
  }
});

const MiB = 1024 * 1024;

/** `sizes` files of those sizes, each of its own byte; returns their paths and contents. */
function tree(root, sizes) {
  return sizes.map((size, i) => {
    const bytes = Buffer.alloc(size, i + 1);
    const path = join(root, `f${i}`);
    writeFileSync(path, bytes);
    return { path, bytes };
  });
}

/** A temporary directory and a FileHasher (`threads` at most), both gone after the test. */
function mainHasher(t, threads = 1) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const hasher = new FileHasher(threads);
  t.after(() => {
    hasher.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { root, hasher };
}

test('a burst under 16 MiB is hashed on the main thread (no thread started: ~35 ms and ~2.5 MB resident each)', async (t) => {
  const { root, hasher } = mainHasher(t, 2);
  const files = tree(root, [20_000, 300_000, 1_000_000, 5 * MiB, 0, 17]);
  const results = await Promise.allSettled([...files.map((f) => hasher.hash(f.path, f.bytes.length)), hasher.hash(join(root, 'missing'), 10)]);
  files.forEach((f, i) => assert.deepEqual(results[i].value, createHash('sha256').update(f.bytes).digest(), `f${i}`));
  assert.equal(results[files.length].status, 'rejected');
  assert.equal(hasher.bytes, files.reduce((n, f) => n + f.bytes.length, 0));
  assert.equal(hasher.threadsStarted, 0);
  // The burst is over: the next one (6.6 + 10 MiB would be past 16 MiB) is the main thread's again.
  const [next] = tree(mkdtempSync(join(root, 'next-')), [10 * MiB]);
  assert.deepEqual(await hasher.hash(next.path, next.bytes.length), createHash('sha256').update(next.bytes).digest());
  assert.equal(hasher.threadsStarted, 0);
});

test('past 16 MiB in one burst, the rest goes to worker threads; every digest is right', async (t) => {
  const { root, hasher } = mainHasher(t, 2);
  const files = tree(root, Array.from({ length: 24 }, (_, i) => MiB + i));
  const digests = await Promise.all(files.map((f) => hasher.hash(f.path, f.bytes.length)));
  files.forEach((f, i) => assert.deepEqual(digests[i], createHash('sha256').update(f.bytes).digest(), `f${i}`));
  assert.ok(hasher.threadsStarted > 0, 'no worker thread was started for 24 MiB');
  assert.equal(hasher.bytes, files.reduce((n, f) => n + f.bytes.length, 0));
});

test('close() rejects the main thread\'s jobs not yet begun; the hasher works again afterwards', async (t) => {
  const { root, hasher } = mainHasher(t);
  const [f] = tree(root, [2 * MiB]);
  const pending = [1, 2, 3, 4].map(() => hasher.hash(f.path, f.bytes.length));
  hasher.close();
  const settled = await Promise.allSettled(pending);
  // The first may have begun (it finishes); the ones queued behind it never run.
  assert.deepEqual(settled.slice(1).map((s) => s.status), ['rejected', 'rejected', 'rejected']);
  assert.deepEqual(await hasher.hash(f.path, f.bytes.length), createHash('sha256').update(f.bytes).digest());
  assert.equal(hasher.threadsStarted, 0);
});

test('reads stop at the size the scan stat\'d, on both sides: a file appended to faster than it is hashed cannot hold a hash forever', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const main = new FileHasher(2);
  const threads = new HashWorkers(1);
  t.after(() => {
    main.close();
    threads.close();
    rmSync(root, { recursive: true, force: true });
  });
  // Grown since its stat said 1 MiB (the caller stats again after the hash and reads again).
  const [f] = tree(root, [3 * MiB]);
  const prefix = createHash('sha256').update(f.bytes.subarray(0, MiB)).digest();
  assert.deepEqual(await main.hash(f.path, MiB), prefix);
  assert.equal(main.bytes, MiB, 'the main thread read past the size it was given');
  assert.equal(main.threadsStarted, 0);
  assert.deepEqual(await threads.hash(f.path, MiB), prefix);
  assert.equal(threads.bytes, MiB, 'the thread read past the size it was given');
});

test('a path that became a FIFO rejects on the main thread as on a thread (positioned reads), instead of reading it as empty', async (t) => {
  const { root, hasher } = mainHasher(t);
  const fifo = join(root, 'was-a-font');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(hasher.hash(fifo, 100_000), { code: 'ESPIPE' });
  assert.equal(hasher.threadsStarted, 0);
});

test('close() stops the main thread\'s hash under way between two slices; its file is closed', async (t) => {
  const { root, hasher } = mainHasher(t);
  const [f] = tree(root, [12 * MiB]);
  const job = hasher.hash(f.path, f.bytes.length);
  // Wait for its first slice (an event: the byte count moving), then close.
  const started = performance.now();
  while (hasher.bytes === 0) {
    assert.ok(performance.now() - started < 10_000, 'no slice read within 10 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
  hasher.close();
  await assert.rejects(job, /hashing stopped/);
  assert.ok(hasher.bytes < f.bytes.length, `read all ${hasher.bytes} bytes after close()`);
  const open = readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === f.path;
    } catch {
      return false; // closed since it was listed
    }
  });
  assert.deepEqual(open, [], 'the file is still open');
});

test('a thread\'s failure keeps its code (ENOENT): the scan tells a file gone from a transient error by it', async (t) => {
  const hashers = new HashWorkers(1);
  t.after(() => hashers.close());
  await assert.rejects(hashers.hash(join(tmpdir(), 'xorigin-no-such-file'), 100_000), { code: 'ENOENT' });
});

test('out of descriptors while a thread hashes a changed file, the scan keeps the file (EMFILE is transient), instead of dropping it as gone (404)', { skip: process.platform === 'win32' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'served'));
  const big = join(root, 'served', 'big.bin');
  writeFileSync(big, Buffer.alloc(17 * MiB, 1)); // past the main thread's 16 MiB burst: a thread hashes it
  // A child under `ulimit -n 100`: once the rescan has stat'ed the changed file, every descriptor is taken.
  const script = `
    import { openSync, writeFileSync } from 'node:fs';
    import { stat } from 'node:fs/promises';
    import { AssetTable } from ${JSON.stringify(new URL('../dist/static/asset-table.js', import.meta.url).href)};
    let exhaust = false;
    const statFile = async (path) => {
      const s = await stat(path, { bigint: true });
      if (exhaust) try { for (;;) openSync('/dev/null', 'r'); } catch {}
      return s;
    };
    const table = new AssetTable(${JSON.stringify(join(root, 'served'))}, { watch: false, statFile }, (info) => info);
    await table.open();
    writeFileSync(${JSON.stringify(big)}, Buffer.alloc(${17 * MiB}, 2));
    exhaust = true;
    await table.rescan();
    console.log(table.info('/big.bin') === undefined ? 'dropped' : 'kept');
    table.close();`;
  // A file, not --input-type=module -e: the worker thread would inherit that flag and fail to start.
  const main = join(root, 'child.mjs');
  writeFileSync(main, script);
  const out = await new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', 'ulimit -n 100 && exec "$0" "$1"', process.execPath, main], { timeout: 20_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout.trim())));
  });
  assert.equal(out, 'kept');
});

test('a server over a small tree loads nothing a bare node:http server does not: not node:worker_threads on Node 20 (it costs each process about 1 MB of resident memory); a large burst does', () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  writeFileSync(join(root, 'a.woff2'), Buffer.alloc(100_000, 1));
  const probe = (hashBig) => `
    import { serve } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    import { FileHasher } from ${JSON.stringify(new URL('../dist/static/file-hasher.js', import.meta.url).href)};
    import { writeFileSync } from 'node:fs';
    const server = await serve({ root: ${JSON.stringify(root)}, cors: { origins: ['*'] }, etagCache: 'off' });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    // node:http, not fetch: undici loads node:worker_threads itself.
    const { get } = await import('node:http');
    const res = await new Promise((resolve) => get({ host: '127.0.0.1', port: server.address().port, path: '/a.woff2' }, (r) => r.resume().on('end', () => resolve(r))));
    if (${hashBig}) {
      const big = ${JSON.stringify(join(root, 'big.bin'))};
      writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 2));
      const hasher = new FileHasher(1);
      await hasher.hash(big, 17 * 1024 * 1024);
      hasher.close();
    }
    await server.shutdown(100);
    console.log(res.statusCode, process.moduleLoadList.includes('NativeModule worker_threads'));`;
  const bareProbe = `
    import { createServer, get } from 'node:http';
    const server = createServer((req, res) => res.end('x'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const res = await new Promise((resolve) => get({ host: '127.0.0.1', port: server.address().port, path: '/' }, (r) => r.resume().on('end', () => resolve(r))));
    server.close();
    console.log(res.statusCode, process.moduleLoadList.includes('NativeModule worker_threads'));`;
  try {
    // A file, not `-e`: node's evaluation of `--input-type=module -e` loads node:worker_threads itself.
    const run = (hashBig) => {
      writeFileSync(join(root, 'probe.mjs'), probe(hashBig));
      return execFileSync(process.execPath, [join(root, 'probe.mjs')], { encoding: 'utf8' }).trim();
    };
    // Node 22 and later load it for node:http itself: then xorigin must add nothing to what a bare server loads.
    writeFileSync(join(root, 'bare.mjs'), bareProbe);
    const bare = execFileSync(process.execPath, [join(root, 'bare.mjs')], { encoding: 'utf8' }).trim();
    assert.equal(run(false), bare, 'a small tree loads what a bare node:http server loads');
    assert.equal(run(true), '200 true', 'past MAIN_BURST the hash runs on a thread');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no hashing thread can start (its script missing, as in a bundle): every job is hashed on the main thread, and that is said once', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const said = [];
  const hasher = new FileHasher(2, (e) => said.push(e.message), new URL('./no-such-hash-worker.js', import.meta.url));
  t.after(() => {
    hasher.close();
    rmSync(root, { recursive: true, force: true });
  });
  const files = tree(root, Array.from({ length: 24 }, (_, i) => MiB + i)); // past the 16 MiB burst
  const digests = await Promise.all(files.map((f) => hasher.hash(f.path, f.bytes.length)));
  files.forEach((f, i) => assert.deepEqual(digests[i], createHash('sha256').update(f.bytes).digest(), `f${i}`));
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(said[0], /hashing threads unavailable/);
  // A file's own error is still its own: it rejects, and is not hashed again here.
  await assert.rejects(hasher.hash(join(root, 'missing'), 20 * MiB), { code: 'ENOENT' });
});

/** The permission model's flag: experimental in Node 20, `--permission` from Node 22.13 / 23.5 (the old name refused in NODE_OPTIONS by Node 24). */
const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';

test('the server under Node\'s permission model without --allow-worker serves every file of a tree past the hashing burst, and says why its scan is slower', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-perm-'));
  const files = Array.from({ length: 5 }, (_, i) => Buffer.alloc(5 * MiB, i + 1));
  files.forEach((bytes, i) => writeFileSync(join(root, `f${i}.woff2`), bytes));
  const r = await runCli(['serve', root, '--origin', '*', '--port', '0'], { env: { NODE_OPTIONS: `${PERMISSION_FLAG} --allow-fs-read=* --allow-fs-write=*` } });
  try {
    assert.equal(r.code, 'listening', r.err);
    for (const [i, bytes] of files.entries()) {
      const res = await fetch(`http://127.0.0.1:${r.port}/f${i}.woff2`);
      assert.equal(res.status, 200, `f${i}.woff2`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), `f${i}.woff2: other bytes`);
    }
    await stderrMatch(r, /hashed on the main thread only, as hashing threads cannot run here \(Access to this API has been restricted/);
  } finally {
    await stopCli(r);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a hashing thread that exits without an error (process.exit in it) gives its jobs back too: every digest is right, said once', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const script = join(root, 'exits.mjs');
  writeFileSync(script, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(0));\n");
  const said = [];
  const hasher = new FileHasher(2, (e) => said.push(e.message), pathToFileURL(script));
  t.after(() => {
    hasher.close();
    rmSync(root, { recursive: true, force: true });
  });
  const files = tree(mkdtempSync(join(root, 'files-')), Array.from({ length: 20 }, (_, i) => MiB + i));
  const safety = new Promise((resolve) => setTimeout(resolve, 20_000, 'still hashing 20 s later').unref());
  const digests = await Promise.race([Promise.all(files.map((f) => hasher.hash(f.path, f.bytes.length))), safety]);
  assert.ok(Array.isArray(digests), digests);
  files.forEach((f, i) => assert.deepEqual(digests[i], createHash('sha256').update(f.bytes).digest(), `f${i}`));
  assert.deepEqual(said.map((m) => /exited \(code 0\)/.test(m)), [true]);
});

test('jobs waiting only on a hashing thread keep the process alive until they are answered: one that exits then does not end the process with the scan unfinished', async (t) => {
  // Files past the main thread's burst all go to threads. Were the threads unref'd while holding
  // jobs, nothing would be left to keep the event loop alive once this one exited: the process
  // (here the test's) ended before its 'exit' was seen, and the scan never finished.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const script = join(root, 'exits.mjs');
  writeFileSync(script, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(0));\n");
  const hasher = new FileHasher(1, () => {}, pathToFileURL(script));
  t.after(() => {
    hasher.close();
    rmSync(root, { recursive: true, force: true });
  });
  const files = tree(mkdtempSync(join(root, 'files-')), [20 * MiB, MiB]);
  const digests = await Promise.all(files.map((f) => hasher.hash(f.path, f.bytes.length)));
  files.forEach((f, i) => assert.deepEqual(digests[i], createHash('sha256').update(f.bytes).digest(), `f${i}`));
});

test('a hashing thread that could not start for a passing shortage (EMFILE at the descriptor limit) is tried again after the retry delay, not given up on until a restart (found by a fault review); a missing script still is', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const marker = join(root, 'emfile-once');
  writeFileSync(marker, '');
  process.env.XORIGIN_EMFILE_MARKER = marker; // a thread's environment is a copy of this one
  const said = [];
  const hasher = new FileHasher(1, (e) => said.push(e), new URL('./fixtures/hash-worker-emfile-once.js', import.meta.url), 300);
  const gone = new FileHasher(1, (e) => said.push(e), new URL('./no-such-hash-worker.js', import.meta.url), 300);
  t.after(() => {
    hasher.close();
    gone.close();
    delete process.env.XORIGIN_EMFILE_MARKER;
    rmSync(root, { recursive: true, force: true });
  });
  const [f] = tree(root, [20 * MiB]); // past the main thread's burst: a thread is asked for
  const digest = createHash('sha256').update(f.bytes).digest();
  assert.deepEqual(await hasher.hash(f.path, f.bytes.length), digest);
  assert.equal(said.length, 1);
  assert.equal(said[0].passing, true, said[0].message);
  assert.match(said[0].message, /EMFILE/);
  assert.equal(hasher.threadsStarted, 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(await hasher.hash(f.path, f.bytes.length), digest);
  assert.equal(hasher.threadsStarted, 2, 'a thread was started again once the delay had passed');
  assert.equal(said.length, 1, 'the second thread ran: nothing more said');
  // A script that is not there is no passing shortage: given up on for good.
  assert.deepEqual(await gone.hash(f.path, f.bytes.length), digest);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(await gone.hash(f.path, f.bytes.length), digest);
  assert.equal(gone.threadsStarted, 1);
  assert.equal(said.length, 2);
  assert.equal(said[1].passing, false);
});

test('a thread Node could not initialise for want of descriptors (ERR_WORKER_INIT_FAILED naming EMFILE in its message) is a passing shortage too; another initialisation failure is not (found by a review of the retry)', async () => {
  const { ThreadsUnavailable } = await import('../dist/static/hash-workers.js');
  const failure = (message, code) => new ThreadsUnavailable(Object.assign(new Error(message), { code }));
  assert.equal(failure('Worker initialization failure: EMFILE', 'ERR_WORKER_INIT_FAILED').passing, true);
  assert.equal(failure("EMFILE: too many open files, open 'hash-worker.js'", 'EMFILE').passing, true);
  assert.equal(failure('Worker initialization failure: ENOSYS', 'ERR_WORKER_INIT_FAILED').passing, false);
  assert.equal(failure("Cannot find module '/x/hash-worker.js'", 'ERR_MODULE_NOT_FOUND').passing, false);
});
