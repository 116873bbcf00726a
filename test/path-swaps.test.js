// A path the scan found a regular file at may be something else by the time it is opened: a symlink to
// outside the root, or a FIFO. Neither may be read through: the symlink's target is never served (the
// start-up rule: a symlink is followed only inside the root), and a FIFO never holds a scan or a request
// waiting for a writer. Real files, FIFOs made with mkfifo, real sockets on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { AssetTable } from '../dist/static/asset-table.js';
import { eventually, listeningPort, releaseFifo, request } from './helpers.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;

/** `promise`, or a failure saying `what` did not happen within `ms`. */
function within(promise, what, ms = 5000) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Bytes read inline on the main thread (small) or on a hashing thread (over 16 KiB). */
const SIZES = [['small', (fill) => Buffer.from(`file ${fill}`)], ['large', (fill) => Buffer.alloc(20_000 + fill, fill)]];

/**
 * A table (no watcher) over a root holding a.bin, whose stat by the next rescan is followed at once by
 * `swap(path)`: the path changes between the scan's stat and its read, as a hostile writer can make it.
 */
async function swappedDuringRescan(bytes, swap) {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-swap-')));
  const file = join(root, 'a.bin');
  writeFileSync(file, bytes(1));
  let armed = false;
  const statFile = async (path) => {
    const s = await stat(path, { bigint: true });
    if (armed && path === file) {
      armed = false;
      swap(file);
    }
    return s;
  };
  const table = new AssetTable(root, { watch: false, statFile }, (info) => info);
  await table.open();
  writeFileSync(file, bytes(2));
  armed = true;
  return { table, file, close: () => { table.close(); releaseFifo(file); rmSync(root, { recursive: true, force: true }); } };
}

for (const [size, bytes] of SIZES) {
  test(`a ${size} file swapped for a symlink out of the root between the scan's stat and its read: the target's bytes are not served`, async () => {
    const outside = mkdtempSync(join(tmpdir(), 'xorigin-outside-'));
    const secret = Buffer.concat([bytes(3), Buffer.from(' outside the root')]);
    writeFileSync(join(outside, 'secret'), secret);
    const t = await swappedDuringRescan(bytes, (path) => {
      rmSync(path);
      symlinkSync(join(outside, 'secret'), path);
    });
    try {
      await within(t.table.rescan(), 'the rescan');
      assert.notEqual(t.table.info('/a.bin')?.etag, etagOf(secret), 'the bytes of a file outside the root are served');
      assert.equal(t.table.info('/a.bin'), undefined, 'a symlink out of the root is not served, as at start-up');
    } finally {
      t.close();
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test(`a ${size} file swapped for a FIFO between the scan's stat and its read: the scan ends, and serves no FIFO`, async () => {
    const t = await swappedDuringRescan(bytes, (path) => {
      rmSync(path);
      execFileSync('mkfifo', [path]);
    });
    try {
      await within(t.table.rescan(), 'the rescan (an open of the FIFO waiting for a writer holds it)');
      assert.notEqual(t.table.info('/a.bin')?.etag, etagOf(Buffer.alloc(0)), 'the FIFO is served as an empty file');
      assert.notEqual(t.table.info('/a.bin')?.etag, etagOf(bytes(2)), 'the version never read is served');
    } finally {
      t.close();
    }
  });
}

test('a small file replaced by a large one between the scan\'s stat and its read is read up to the stat\'d size, not whole into memory', async (t) => {
  const big = Buffer.alloc(32 * 1024 * 1024, 7);
  const { table, file, close } = await swappedDuringRescan((fill) => Buffer.from(`file ${fill}`), (path) => writeFileSync(path, big));
  t.after(close);
  const before = table.bytesRead;
  await within(table.rescan(), 'the rescan');
  // The small read finds the file changed (its stat after), and the retry hashes the large one once.
  assert.ok(table.bytesRead - before <= big.length + 16 * 1024, `${table.bytesRead - before} bytes read for a ${big.length}-byte file`);
  assert.equal(table.info('/a.bin')?.etag, etagOf(big), file);
});

test('a file served from disk, replaced by a FIFO (no watcher): requests for it hold no thread, and other files are still served', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-swap-'));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(300 * 1024, 1));
  writeFileSync(join(root, 'other.bin'), Buffer.alloc(300 * 1024, 2));
  // Nothing held in memory: every body is read from disk through the fd cache.
  const server = await serve({ root, smallFileLimit: 1024, memoryBudget: 0, watch: false });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    rmSync(join(root, 'big.bin'));
    execFileSync('mkfifo', [join(root, 'big.bin')]);
    // More than libuv's 4 threads: each open left waiting for a writer would hold one.
    const answers = await within(Promise.all([...Array(6)].map(() => request(port, { path: '/big.bin' }))), 'six requests for the FIFO answered');
    for (const r of answers) assert.notEqual(r.status, 200, 'a FIFO served');
    const other = await within(request(port, { path: '/other.bin' }), 'another file served after them');
    assert.equal(other.status, 200);
    assert.equal(other.body.length, 300 * 1024);
  } finally {
    releaseFifo(join(root, 'big.bin'));
    await server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a response that looks at its file again waits for one pass of the scans, not for a stream of changes to end (found by a review: 10.7 s, a name flipping between a file and a FIFO in a tree a symlink makes walked at every event)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-swap-'));
  for (let i = 0; i < 2000; i++) writeFileSync(join(root, `x${i}.txt`), `x${i}`);
  symlinkSync(join(root, 'x1.txt'), join(root, 'link.txt'));
  writeFileSync(join(root, 'flip.bin'), 'flip');
  const server = await serve({ root, memoryBudget: 0 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const FLIP_MS = 12_000;
  const flipper = spawn(process.execPath, ['-e', `
    const fs = require('node:fs'), { execFileSync } = require('node:child_process');
    const f = ${JSON.stringify(join(root, 'flip.bin'))}, others = ${JSON.stringify(join(root, 'x'))};
    for (let n = 0, end = Date.now() + ${FLIP_MS}; Date.now() < end; n++) {
      fs.rmSync(f, { force: true }); execFileSync('mkfifo', [f]);
      for (let i = 0; i < 20; i++) fs.writeFileSync(others + i + '.txt', 'x' + i + ' ' + n);
      fs.rmSync(f, { force: true }); fs.writeFileSync(f, 'flip ' + n);
    }`], { stdio: 'ignore', detached: true });
  const flipperExit = new Promise((resolve) => flipper.on('exit', resolve));
  t.after(async () => {
    // Its group: a mkfifo it started would still make its FIFO while the tree is removed.
    try {
      process.kill(-flipper.pid, 'SIGKILL');
    } catch {}
    await flipperExit;
    releaseFifo(join(root, 'flip.bin'));
    await server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  const started = Date.now();
  let longest = 0;
  let answered = 0;
  while (Date.now() - started < FLIP_MS / 2) {
    const sent = Date.now();
    const r = await request(port, { path: '/flip.bin' });
    assert.ok([200, 404, 503].includes(r.status), String(r.status));
    longest = Math.max(longest, Date.now() - sent);
    answered++;
  }
  if (process.env.SHOW) console.log({ longest, answered });
  assert.ok(longest < FLIP_MS / 2, `a request waited ${longest} ms (the flips ran ${FLIP_MS} ms); ${answered} answered`);
});

/**
 * A root holding a.txt and a directory x (x/1.txt, x/2.txt), and beside it an outside directory with
 * the same names; `swapAt` is the path whose stat swaps x for a symlink to outside, during the start-up walk.
 */
async function directorySwappedDuringWalk(t, swapAt) {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-dirswap-')));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  execFileSync('mkdir', ['-p', join(root, 'x'), outside]);
  writeFileSync(join(root, 'a.txt'), 'a');
  for (const name of ['1.txt', '2.txt']) {
    writeFileSync(join(root, 'x', name), `inside ${name}`);
    writeFileSync(join(outside, name), `SECRET ${name}`);
  }
  t.after(() => rmSync(base, { recursive: true, force: true }));
  let swapped = false;
  const statFile = async (path) => {
    if (!swapped && path === join(root, swapAt)) {
      swapped = true;
      execFileSync('mv', [join(root, 'x'), join(base, 'x-away')]);
      symlinkSync(outside, join(root, 'x'));
    }
    return stat(path, { bigint: true });
  };
  const table = new AssetTable(root, { statFile, watch: false }, (info) => info);
  await table.open();
  t.after(() => table.close());
  assert.ok(swapped);
  return table;
}

test('a directory swapped for a symlink out of the root after its parent was listed, before its own listing: nothing of the target is served', async (t) => {
  const table = await directorySwappedDuringWalk(t, 'a.txt');
  assert.equal(table.info('/x/1.txt'), undefined);
  assert.equal(table.info('/x/2.txt'), undefined);
  assert.equal(table.info('/a.txt')?.etag, etagOf('a'));
});

test('a directory swapped for a symlink out of the root while its files are read: none of them is served, not even those read before', async (t) => {
  const table = await directorySwappedDuringWalk(t, join('x', '1.txt'));
  assert.equal(table.info('/x/1.txt'), undefined);
  assert.equal(table.info('/x/2.txt'), undefined);
  assert.equal(table.info('/a.txt')?.etag, etagOf('a'));
});

test('a directory swapped for a new one while a walk reads it (a deploy\'s atomic swap): its files stay served as they were, then as they are', async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-deployswap-')));
  const root = join(base, 'root');
  execFileSync('mkdir', ['-p', join(root, 'current'), join(base, 'next')]);
  for (const name of ['1.txt', '2.txt']) {
    writeFileSync(join(root, 'current', name), `v1 ${name}`);
    writeFileSync(join(base, 'next', name), `v2 ${name}`);
  }
  t.after(() => rmSync(base, { recursive: true, force: true }));
  let armed = false;
  const statFile = async (path) => {
    if (armed && path === join(root, 'current', '1.txt')) {
      armed = false;
      execFileSync('mv', [join(root, 'current'), join(base, 'previous')]);
      execFileSync('mv', [join(base, 'next'), join(root, 'current')]);
    }
    return stat(path, { bigint: true });
  };
  const table = new AssetTable(root, { statFile, watch: false }, (info) => info);
  await table.open();
  t.after(() => table.close());
  armed = true;
  await table.rescan();
  // Left as they were by the walk that saw the swap, never 404 (a deploy's swap made them so for seconds)...
  assert.equal(table.info('/current/2.txt')?.etag, etagOf('v1 2.txt'));
  // ...and the new ones once the tree is looked at again, soon.
  await within((async () => {
    while (table.info('/current/2.txt')?.etag !== etagOf('v2 2.txt')) await new Promise((r) => setTimeout(r, 20));
  })(), 'the new version served');
  assert.equal(table.info('/current/1.txt')?.etag, etagOf('v2 1.txt'));
});

/**
 * One try of the race below: zlink -> current/1.txt is stat'ed (and held) first; the walk of current/
 * then finds it swapped for a symlink out of the root, reads the outside files, and current/ is a real
 * directory again before zlink's stat goes on. Returns the tags zlink was published with, or null when
 * the walk of current/ came before zlink's stat this time (the order is the scheduler's), which is
 * then let through so that nothing waits.
 */
async function sharedReadRace(t) {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-sharedread-')));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  for (const dir of ['root/current', 'v3', 'outside']) execFileSync('mkdir', ['-p', join(base, dir)]);
  for (const name of ['1.txt', '2.txt']) {
    writeFileSync(join(root, 'current', name), `v1 ${name}`);
    writeFileSync(join(base, 'v3', name), `v3 ${name}`);
    writeFileSync(join(base, 'outside', name), SECRET);
  }
  symlinkSync('current/1.txt', join(root, 'zlink'));
  const one = join(root, 'current', '1.txt');
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  let firstStatSeen;
  const firstStat = new Promise((resolve) => (firstStatSeen = resolve));
  let oneStats = -1; // armed (0) once the table is open: the race is in a rescan
  let swappedOut = false;
  let raced = false; // the walk of current/ has come: swapped (exercised) or let through
  let exercised = false;
  const outsideStats = new Map();
  const statFile = async (path) => {
    if (path === one && oneStats >= 0 && ++oneStats === 1) {
      firstStatSeen();
      await gate; // the first stat of it waits
    }
    const s = await stat(path, { bigint: true });
    if (swappedOut) outsideStats.set(path, (outsideStats.get(path) ?? 0) + 1);
    // Each outside file stat'ed before and after its read (the read settled): current/ is real again.
    if (swappedOut && outsideStats.get(one) === 2 && outsideStats.get(join(root, 'current', '2.txt')) === 2) {
      swappedOut = false;
      execFileSync('rm', [join(root, 'current')]);
      execFileSync('mv', [join(base, 'v3'), join(root, 'current')]);
      setTimeout(release, 20);
    }
    return s;
  };
  const readDir = async (path) => {
    if (path === join(root, 'current') && oneStats >= 0 && !raced && !swappedOut) {
      // zlink's stat first, if the scan issues it before this walk; if it does not come, no race this time.
      const first = await Promise.race([firstStat.then(() => true), new Promise((r) => setTimeout(r, 1000, false))]);
      raced = true;
      if (first && oneStats === 1) {
        exercised = swappedOut = true;
        execFileSync('mv', [join(root, 'current'), join(base, 'v1')]);
        symlinkSync(join(base, 'outside'), join(root, 'current'));
        // Should the walk not stat both outside files twice (another order again), no wait either: a new try.
        setTimeout(() => {
          if (!swappedOut) return;
          exercised = swappedOut = false;
          release();
        }, 2000).unref();
      } else {
        release();
      }
    }
    return readdir(path, { withFileTypes: true });
  };
  const published = [];
  const table = new AssetTable(root, { statFile, readDir, watch: false, published: () => published.push(table.info('/zlink')?.etag) }, (info) => info);
  t.after(() => table.close());
  await table.open();
  published.length = 0;
  oneStats = 0;
  await within(table.rescan(), 'the rescan ended');
  if (!exercised) return null;
  assert.equal(oneStats >= 2, true, 'both paths stat\'ed current/1.txt');
  return published;
}

const SECRET = 'SECRET outside the root';

test('a symlink whose file another path of the walk read is not given that read when the file changed in between (a directory swapped out of the root and back)', async (t) => {
  // zlink -> current/1.txt is stat'ed after the walk of current/ read 1.txt while current/ was a symlink
  // to a directory outside the root; current/ is a real directory again when zlink's stat runs, so
  // zlink's path is inside the root: it took the outside file's read (its tag and size, and before
  // ed1fbd1 its bytes) as its own. Tried until the scheduler gives that order (a few tries at most).
  let published = null;
  for (let attempt = 0; attempt < 6 && published === null; attempt++) published = await sharedReadRace(t);
  assert.notEqual(published, null, 'the race never happened in 6 tries: the walk of current/ always came before zlink\'s stat');
  assert.ok(published.length > 0 && !published.includes(etagOf(SECRET)), `the link took the outside file's read (${published.join(', ')})`);
});

/**
 * A directory deep/ of `count` files renamed away right after the walk lists it, a symlink to an outside
 * directory with the same names (their bytes SECRET) put in its place, and deep/ renamed back (its inode
 * unchanged; with a new entry if `addEntry`, which moves its mtime) when the walk lists deep/zz, before
 * its check after its last file: a table over it, and the bytes it offered to be held in memory.
 */
async function swappedOutAndBack(t, count, { addEntry, statFile }) {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-swap-')));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const [root, outside] = [join(base, 'root'), join(base, 'outside')];
  const deep = join(root, 'deep');
  mkdirSync(join(deep, 'zz'), { recursive: true });
  mkdirSync(join(outside, 'zz'), { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(join(deep, `f${i}.txt`), `inside ${i}`);
    writeFileSync(join(outside, `f${i}.txt`), `${SECRET} ${i}`);
  }
  let state = 'listing';
  const readDir = async (dir) => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (dir === deep && state === 'listing') {
      state = 'out';
      renameSync(deep, `${deep}.away`);
      symlinkSync(outside, deep);
    } else if (dir === join(deep, 'zz') && state === 'out') {
      state = 'back';
      unlinkSync(deep);
      if (addEntry) writeFileSync(join(`${deep}.away`, 'new.txt'), 'new');
      renameSync(`${deep}.away`, deep);
    }
    return entries;
  };
  const held = [];
  const table = new AssetTable(root, { watch: false, readDir, statFile, readWhole: (info, bytes) => held.push(bytes.toString()) }, (info) => info);
  t.after(() => table.close());
  await table.open();
  assert.equal(state, 'back', 'the swap and the swap back were made during the walk');
  return { table, held };
}

for (const [how, count, options] of [
  ['file by file, the directory held open: a new entry too', 5, { addEntry: true }],
  ['probed in batches, the directory held open: a new entry too', 1200, { addEntry: true }],
  ['file by file by path (a statFile of the caller\'s): its ctime moved alone', 5, { addEntry: false, statFile: (path) => stat(path, { bigint: true }) }],
]) {
  test(`a directory renamed away, a symlink out of the root in its place, then renamed back during its walk: no outside file's tag is kept, nor (held open) is one read (${how}; found by a review)`, async (t) => {
    const { table, held } = await swappedOutAndBack(t, count, options);
    const leaked = () => [...Array(count).keys()].filter((i) => table.info(`/deep/f${i}.txt`)?.etag === etagOf(Buffer.from(`${SECRET} ${i}`)));
    assert.deepEqual(leaked(), []);
    // By path, the outside bytes were read (and offered) before the check after the walk let none of it go in force.
    if (options.statFile === undefined) assert.deepEqual(held.filter((bytes) => bytes.startsWith(SECRET)), [], 'an outside file was read at all');
    // Walked again (what the walk found there did not go in force): then served as it is.
    await eventually(() => table.info(`/deep/f${count - 1}.txt`)?.etag === etagOf(Buffer.from(`inside ${count - 1}`)), () => 'deep/ never served after the swap back');
    assert.deepEqual(leaked(), []);
  });
}

/**
 * A root holding a.txt and a directory x (x/1.txt, x/2.txt); once the walk has listed the root (x listed
 * as a directory), x is replaced by `replace(x)` before its own walk opens it. The walk's own stats (the
 * directory held open, opened as one: no stat of x first): a table over it, and the bytes it read whole.
 */
async function replacedAfterListing(t, replace) {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-listed-')));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const [root, outside] = [join(base, 'root'), join(base, 'outside')];
  mkdirSync(join(root, 'x'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'a.txt'), 'a');
  for (const name of ['1.txt', '2.txt']) {
    writeFileSync(join(root, 'x', name), `inside ${name}`);
    writeFileSync(join(outside, name), `${SECRET} ${name}`);
  }
  let replaced = false;
  const readDir = async (dir) => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (dir === root && !replaced) {
      replaced = true;
      renameSync(join(root, 'x'), join(base, 'x-away'));
      replace(join(root, 'x'), outside);
    }
    return entries;
  };
  const held = [];
  const table = new AssetTable(root, { watch: false, readDir, readWhole: (info, bytes) => held.push(bytes.toString()) }, (info) => info);
  t.after(() => table.close());
  await table.open();
  assert.ok(replaced);
  return { table, held };
}

test('a directory its parent listed, swapped for a symlink out of the root before its own walk: nothing of the target is read or served (the walk opens it as a directory, no stat first)', async (t) => {
  const { table, held } = await replacedAfterListing(t, (x, outside) => symlinkSync(outside, x));
  assert.equal(table.info('/x/1.txt'), undefined);
  assert.equal(table.info('/x/2.txt'), undefined);
  assert.equal(table.info('/a.txt')?.etag, etagOf('a'));
  assert.deepEqual(held.filter((bytes) => bytes.startsWith(SECRET)), [], 'an outside file was read');
});

test('a directory its parent listed, replaced by a file or another directory before its own walk: what is there then is served', async (t) => {
  const asFile = await replacedAfterListing(t, (x) => writeFileSync(x, 'a file now'));
  assert.equal(asFile.table.info('/x')?.etag, etagOf('a file now'));
  assert.equal(asFile.table.info('/x/1.txt'), undefined);
  const asDirectory = await replacedAfterListing(t, (x) => {
    mkdirSync(x);
    writeFileSync(join(x, '3.txt'), 'new directory');
  });
  assert.equal(asDirectory.table.info('/x/3.txt')?.etag, etagOf('new directory'));
  assert.equal(asDirectory.table.info('/x/1.txt'), undefined);
});

const unshared = spawnSync('unshare', ['-Urm', 'sh', '-c', 'mount -t tmpfs none /proc'], { stdio: 'ignore' }).status === 0;

test('with no /proc mounted (a chroot, a minimal container), files are reached by path: served, not 404 (found by a review)', { skip: unshared ? false : 'needs unshare -Urm (user and mount namespaces)' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-noproc-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'a.txt'), 'top');
  writeFileSync(join(root, 'sub', 'b.txt'), 'below');
  const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
  // Its own mount namespace, /proc covered by an empty tmpfs: the server's only view of it.
  const child = spawn('unshare', ['-Urm', 'sh', '-c', `mount -t tmpfs none /proc && exec "${process.execPath}" "${cli}" serve "${root}" --origin '*' --port 0`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.after(async () => {
    child.kill();
    await exited;
  });
  const port = await listeningPort(child);
  for (const [path, body] of [['/a.txt', 'top'], ['/sub/b.txt', 'below']]) {
    const r = await request(port, { path });
    assert.deepEqual([r.status, r.body.toString()], [200, body], path);
  }
});
