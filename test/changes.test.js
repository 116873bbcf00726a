// Changes cost what changed: a path the watcher names is stat'ed (and read, if its identity changed) alone,
// a new directory walked alone, a removed one dropped with everything under it; the whole tree is walked
// again only when the watcher cannot say what changed, when a symlink is involved, or when the root moved.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetTable } from '../dist/static/asset-table.js';
import { fakeWatcher, request, statHourAgo } from './helpers.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;

/** 20 directories of 10 files: 220 paths to stat in a walk. */
function makeTree() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 10; f++) writeFileSync(join(root, `d${d}`, `f${f}.txt`), `${d}/${f}`);
  }
  return root;
}

/** A tree and a table whose watcher the test drives. */
async function setup() {
  const root = makeTree();
  let emit;
  const watchTree = (_dir, onChange) => {
    emit = onChange;
    const w = new EventEmitter();
    w.close = () => {};
    return w;
  };
  const table = new AssetTable(root, { watchTree }, (info) => info);
  await table.open();
  return { root, table, emit: (filename) => emit('change', filename), close: () => { table.close(); rmSync(root, { recursive: true, force: true }); } };
}

/**
 * Old timestamps (2020-01-01): no file is racily clean, so nothing but the table's look at files no event reports
 * reads them again. Not 1 s after the epoch: that is a constant stamp (asset-info.ts), dated when read, so every
 * file was rechecked 2.1 s after its read, a scan that read a changed file whatever the test was about.
 */
const OLD_STAMP_NS = 1_577_836_800_000_000_000n;
const longAgo = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: OLD_STAMP_NS, ctimeNs: OLD_STAMP_NS });

/** Waits until `check()` is true (the watcher's debounce is 30 ms). */
async function until(what, check, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('changes cost what changed', () => {
  test('one edited file is stat\'ed and read alone, not the 220 paths of the tree', async () => {
    const t = await setup();
    try {
      assert.equal(t.table.lastScan.stated, 220);
      writeFileSync(join(t.root, 'd7', 'f3.txt'), 'edited');
      t.emit('d7/f3.txt');
      await until('the edit is served', () => t.table.info('/d7/f3.txt').etag === etagOf('edited'));
      assert.deepEqual([t.table.lastScan.stated, t.table.lastScan.hashed], [1, 1]);
      assert.equal(t.table.info('/d7/f4.txt').etag, etagOf('7/4'), 'the rest is kept');
      assert.equal(t.table.size, 200);
    } finally {
      t.close();
    }
  });

  test('a directory removed (rm -rf names only directories) drops everything under it; one added is walked alone', async () => {
    const t = await setup();
    try {
      rmSync(join(t.root, 'd4'), { recursive: true });
      t.emit('d4');
      await until('d4 gone', () => t.table.info('/d4/f1.txt') === undefined);
      assert.equal(t.table.size, 190);
      assert.equal(t.table.lastScan.stated, 1);
      mkdirSync(join(t.root, 'new', 'deep'), { recursive: true });
      writeFileSync(join(t.root, 'new', 'deep', 'index.html'), '<p>new</p>');
      // The watcher names each new directory once it watches it: new/deep is walked as part of new.
      t.emit('new');
      t.emit(join('new', 'deep'));
      await until('new/deep served', () => t.table.info('/new/deep/') !== undefined);
      assert.equal(t.table.info('/new/deep/').etag, etagOf('<p>new</p>'));
      assert.equal(t.table.lastScan.stated, 3, 'new, new/deep, new/deep/index.html, once each');
    } finally {
      t.close();
    }
  });

  test('an event in a dot directory stats nothing; a file replaced by a directory (and back) leaves nothing stale', async () => {
    const t = await setup();
    try {
      t.emit('.git/index');
      await until('a scan ran', () => t.table.lastScan.stated === 0);
      rmSync(join(t.root, 'd2'), { recursive: true });
      writeFileSync(join(t.root, 'd2'), 'now a file');
      t.emit('d2');
      await until('d2 is a file', () => t.table.info('/d2') !== undefined);
      assert.equal(t.table.info('/d2/f0.txt'), undefined);
      assert.equal(t.table.size, 191);
    } finally {
      t.close();
    }
  });

  test('the whole tree is walked again when the watcher names no path, or when a symlink is involved', async () => {
    const t = await setup();
    try {
      t.emit(null);
      await until('a walk', () => t.table.lastScan.stated === 220 && t.table.lastScan !== null);
      symlinkSync(join(t.root, 'd1', 'f1.txt'), join(t.root, 'link.txt'));
      t.emit('link.txt');
      await until('the link served', () => t.table.info('/link.txt') !== undefined);
      assert.equal(t.table.lastScan.stated, 221, 'a symlink named: the tree is walked');
      // From now on a change to d1/f1.txt must reach /link.txt too: every event walks the tree.
      writeFileSync(join(t.root, 'd1', 'f1.txt'), 'through the link');
      t.emit('d1/f1.txt');
      await until('the link follows its target', () => t.table.info('/link.txt').etag === etagOf('through the link'));
      assert.equal(t.table.lastScan.stated, 221);
    } finally {
      t.close();
    }
  });

  test('a tree with a symlink under constant change is walked with pauses of three walks between, not back to back, and ends fresh', async () => {
    // Every event walks such a tree: a file appended to every 20 ms in a 31,000-file tree kept a core
    // walking. Each walk is made to take 300 ms here (a stat held), longer than the 300 ms a burst of
    // events may wait: 3 s of events every 10 ms walked the tree back to back, 9-10 times, and now
    // at most 3 s / (300 ms + 900 ms) + 1. (The start-up walk, which hashes every file, is longer:
    // the events begin once the wait it sets has passed.)
    const root = makeTree();
    symlinkSync(join(root, 'd1', 'f1.txt'), join(root, 'link.txt'));
    const statFile = async (path) => {
      if (path.endsWith(join('d0', 'f0.txt'))) await new Promise((r) => setTimeout(r, 300));
      return stat(path, { bigint: true });
    };
    const { watchTree, emit } = fakeWatcher();
    let walks = 0;
    const table = new AssetTable(root, { watchTree, statFile, published: (dropped) => dropped === null && walks++ }, (info) => info);
    await table.open();
    try {
      await new Promise((r) => setTimeout(r, 3 * table.lastScan.ms));
      walks = 0;
      const log = join(root, 'd5', 'app.log');
      const end = Date.now() + 3000;
      for (let n = 0; Date.now() < end; n++) {
        writeFileSync(log, `line ${n}\n`, { flag: 'a' });
        emit('d5/app.log');
        await new Promise((r) => setTimeout(r, 10));
      }
      const during = walks;
      assert.ok(during >= 1 && during <= 4, `${during} walks in 3 s`);
      const size = (await stat(log)).size;
      await until('the last append served', () => table.info('/d5/app.log')?.size === size, 4000);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('in a linked tree the first change after start is not held back by the start-up walk, and no wait exceeds 3 s however long the last walk took (a large file hashed)', async () => {
    // The start-up walk hashes every file, and a walk that hashed a 3 GiB file took 30 s: waiting three
    // times either held the next change back 17 s and 90 s. Here the start-up walk takes 1.5 s and a later one 2.5 s.
    const root = makeTree();
    symlinkSync(join(root, 'd1', 'f1.txt'), join(root, 'link.txt'));
    let slow = 1500;
    const statFile = async (path) => {
      if (slow > 0 && path.endsWith(join('d0', 'f0.txt'))) await new Promise((r) => setTimeout(r, slow));
      return stat(path, { bigint: true });
    };
    const { watchTree, emit } = fakeWatcher();
    const table = new AssetTable(root, { watchTree, statFile }, (info) => info);
    await table.open();
    try {
      slow = 0;
      let started = Date.now();
      writeFileSync(join(root, 'd2', 'f2.txt'), 'after start');
      emit('d2/f2.txt');
      await until('the first change after start', () => table.info('/d2/f2.txt')?.etag === etagOf('after start'), 5000);
      assert.ok(Date.now() - started < 1200, `${Date.now() - started} ms`);
      slow = 2500; // this walk takes 2.5 s, as one hashing a large new file would
      writeFileSync(join(root, 'd2', 'f3.txt'), 'slow walk');
      emit('d2/f3.txt');
      await until('the slow walk', () => table.info('/d2/f3.txt')?.etag === etagOf('slow walk'), 5000);
      slow = 0;
      started = Date.now();
      writeFileSync(join(root, 'd2', 'f4.txt'), 'after the slow walk');
      emit('d2/f4.txt');
      await until('the change after it', () => table.info('/d2/f4.txt')?.etag === etagOf('after the slow walk'), 10000);
      // 3 x 2.5 s = 7.5 s uncapped; capped, 3 s of it are left at most, plus a walk.
      assert.ok(Date.now() - started < 4500, `${Date.now() - started} ms: waited more than the 3 s cap`);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a tree polled for want of watches, whose walk outlasts the poll period, is walked with pauses of three walks between, not back to back', async () => {
    // Out of inotify watches, a 20,000-directory tree polled every 2 s took more than 2 s a walk: the
    // walks ran back to back, over a core for good. Here a walk takes 200 ms and the period is 50 ms.
    const root = makeTree();
    const statFile = async (path) => {
      if (path.endsWith(join('d0', 'f0.txt'))) await new Promise((r) => setTimeout(r, 200));
      return stat(path, { bigint: true });
    };
    const failing = () => {
      const w = new EventEmitter();
      w.close = () => {};
      setImmediate(() => w.emit('error', new Error('ENOSPC: no watches left (test)')));
      return w;
    };
    let walks = 0;
    const table = new AssetTable(root, { watchTree: failing, statFile, pollIntervalMs: 50, warn: () => {}, published: (dropped) => dropped === null && walks++ }, (info) => info);
    await table.open();
    try {
      await new Promise((r) => setTimeout(r, 3 * table.lastScan.ms + 300));
      walks = 0;
      await new Promise((r) => setTimeout(r, 2400));
      assert.ok(walks >= 1 && walks <= 4, `${walks} walks in 2.4 s`);
      writeFileSync(join(root, 'd3', 'new.txt'), 'polled');
      await until('a new file found by the polling', () => table.info('/d3/new.txt') !== undefined, 3000);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a directory that arrives holding a symlink (mv, cp -a, tar -x: only the directory is named) makes the tree walked, so the link follows its target', async () => {
    const t = await setup();
    try {
      const outside = mkdtempSync(join(tmpdir(), 'xorigin-stage-'));
      mkdirSync(join(outside, 'new'));
      writeFileSync(join(outside, 'new', 'plain.txt'), 'plain');
      symlinkSync('../d1/f1.txt', join(outside, 'new', 'link.txt'));
      symlinkSync('../d1/later.txt', join(outside, 'new', 'dangling.txt'));
      renameSync(join(outside, 'new'), join(t.root, 'new'));
      rmSync(outside, { recursive: true });
      t.emit('new');
      await until('new/ served', () => t.table.info('/new/plain.txt') !== undefined);
      assert.equal(t.table.info('/new/link.txt').etag, etagOf('1/1'));
      writeFileSync(join(t.root, 'd1', 'f1.txt'), 'through the link');
      writeFileSync(join(t.root, 'd1', 'later.txt'), 'later');
      t.emit('d1/f1.txt');
      t.emit('d1/later.txt');
      await until('the link follows its target', () => t.table.info('/new/link.txt').etag === etagOf('through the link'));
      assert.equal(t.table.info('/new/dangling.txt')?.etag, etagOf('later'), 'a link whose target came later is served');
    } finally {
      t.close();
    }
  });
});

test('with the real watcher, an edit in a 200-file tree is served fresh after a look at a few paths', async () => {
  const root = makeTree();
  const table = new AssetTable(root, {}, (info) => info);
  try {
    await table.open();
    writeFileSync(join(root, 'd9', 'f9.txt'), 'fresh');
    await until('fresh', () => table.info('/d9/f9.txt').etag === etagOf('fresh'));
    assert.ok(table.lastScan.stated <= 4, `${table.lastScan.stated} paths stat'ed for one edit`);
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** A table with the real watcher, and each of its scans (lastScan, read once the scan is published). */
async function recordingTable(root) {
  const scans = [];
  const table = new AssetTable(root, { statFile: longAgo, published: () => queueMicrotask(() => scans.push(table.lastScan)) }, (info) => info);
  await table.open();
  return { table, scans };
}

test('a chmod or touch of a directory of 1,200 files walks that directory, not the 2,000 files beside it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  for (const [dir, count] of [['big', 1200], ['rest', 2000]]) {
    mkdirSync(join(root, dir));
    for (let i = 0; i < count; i++) writeFileSync(join(root, dir, `${i}.txt`), `${dir} ${i}`);
  }
  const { table, scans } = await recordingTable(root);
  try {
    const quiet = async () => {
      // inotify says a directory's chmod as its name gone and back: the watcher lists it again, then says it once.
      let seen = -1;
      while (seen !== scans.length) {
        seen = scans.length;
        await new Promise((r) => setTimeout(r, 400));
      }
    };
    await quiet();
    for (const [what, change] of [['chmod', () => chmodSync(join(root, 'big'), 0o750)], ['touch', () => utimesSync(join(root, 'big'), new Date(), new Date())]]) {
      const from = scans.length;
      change();
      await until(`a scan after the ${what}`, () => scans.length > from);
      await quiet();
      const stated = scans.slice(from).map((scan) => scan.stated);
      assert.ok(Math.max(...stated) <= 1210, `${what}: paths stat'ed per scan ${stated.join(', ')} (a walk of the tree: 3,202)`);
      assert.deepEqual(scans.slice(from).map((scan) => scan.hashed), stated.map(() => 0), `${what}: nothing read again`);
      assert.equal(table.info('/big/1199.txt').etag, etagOf('big 1199'));
    }
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a chmod of a directory of 1,100 directories walks that directory, not the tree: the directories named again under it do not count as 1,100 changes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  mkdirSync(join(root, 'rest'));
  for (let i = 0; i < 1500; i++) writeFileSync(join(root, 'rest', `${i}.txt`), `rest ${i}`);
  for (let i = 0; i < 1100; i++) {
    mkdirSync(join(root, 'wide', `d${i}`), { recursive: true });
    writeFileSync(join(root, 'wide', `d${i}`, 'index.html'), `wide ${i}`);
  }
  const { table, scans } = await recordingTable(root);
  try {
    const from = scans.length;
    chmodSync(join(root, 'wide'), 0o750);
    await until('a scan after the chmod', () => scans.length > from);
    await new Promise((r) => setTimeout(r, 1000)); // the watcher's listings of the 1,100 directories, and their scans
    const stated = scans.slice(from).map((scan) => scan.stated);
    assert.ok(Math.max(...stated) <= 2300, `paths stat'ed per scan ${stated.join(', ')} (wide: 2,201; a walk of the tree: 3,702)`);
    assert.equal(table.info('/wide/d1099/').etag, etagOf('wide 1099'));
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * A server that does not watch (`watch: false`, and `options`) over a new root that `fill(root)` writes,
 * listening on 127.0.0.1; shut down and removed after the test.
 */
async function unwatched(t, fill, options = {}) {
  const { serve } = await import('../dist/index.js');
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  fill(root);
  const server = await serve({ root, watch: false, ...options });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  });
  return { root, server, port: server.address().port };
}

test('a file a response finds changed (before any watcher event) is looked at alone, then served fresh', async (t) => {
  const { root, server, port } = await unwatched(t, (root) => {
    for (let f = 0; f < 100; f++) writeFileSync(join(root, `f${f}.woff2`), Buffer.alloc(1000, f));
  }, { memoryBudget: 0 });
  assert.ok((await request(port, { path: '/f5.woff2' })).body.equals(Buffer.alloc(1000, 5)));
  writeFileSync(join(root, 'f5.woff2'), Buffer.alloc(1000, 55));
  const fresh = await request(port, { path: '/f5.woff2' });
  assert.ok(fresh.body.equals(Buffer.alloc(1000, 55)));
  assert.equal(fresh.headers.etag, etagOf(Buffer.alloc(1000, 55)));
  assert.deepEqual([server.stats.lastScan.stated, server.stats.lastScan.hashed], [1, 1]);
  // Changed again at once: its backoff (see read-backoff.ts) would put the read off, but a response is
  // waiting for it, so it is read now.
  writeFileSync(join(root, 'f5.woff2'), Buffer.alloc(1000, 56));
  const again = await request(port, { path: '/f5.woff2' });
  assert.equal(again.status, 200);
  assert.ok(again.body.equals(Buffer.alloc(1000, 56)));
});

test('a large file found changed again moments after its last read is answered in its new version once its backoff\'s floor has passed, not 503', async (t) => {
  // A file read moments ago is read again only after 4 x its last read time (read-backoff.ts): the response waits
  // for that read instead of spinning through its three tries at once to a 503 (attack b24).
  const { closeSync, openSync, writeSync } = await import('node:fs');
  const big = (byte) => Buffer.alloc(64 * 1024 * 1024, byte);
  const v2Bytes = big(2);
  const v3Bytes = Buffer.from(v2Bytes);
  v3Bytes[0] = 3;
  const { root, port } = await unwatched(t, (root) => writeFileSync(join(root, 'big.woff2'), big(1)), { memoryBudget: 0 });
  assert.equal((await request(port, { path: '/big.woff2', method: 'HEAD' })).status, 200);
  writeFileSync(join(root, 'big.woff2'), v2Bytes);
  // HEAD: no body to wait for, so v3 is written within the floor of v2's read (4 x the ~50 ms it takes).
  const v2 = await request(port, { path: '/big.woff2', method: 'HEAD' });
  assert.equal(v2.status, 200);
  assert.equal(v2.headers.etag, etagOf(v2Bytes));
  // Changed again at once (one byte, in place: a write of 64 MiB would outlast the floor): v2's read ended a
  // moment ago, so v3's waits for the floor. Without the wait: 503 within 5 ms.
  const fd = openSync(join(root, 'big.woff2'), 'r+');
  writeSync(fd, Buffer.from([3]), 0, 1, 0);
  closeSync(fd);
  const v3 = await request(port, { path: '/big.woff2' });
  assert.equal(v3.status, 200);
  assert.equal(v3.headers.etag, etagOf(v3Bytes));
  assert.ok(v3.body.equals(v3Bytes));
});

test('a file served from disk whose ctime moved alone (a chmod) is hashed by the response and served, not rescanned; one renamed over is answered in its new version', async (t) => {
  // The response hashes the content itself instead of waiting for the table to read it again, which at a deploy may
  // be queued behind every file a `chmod -R` touched (attack b24b). Only if the path still names that inode: the fd
  // of a file renamed over stays cached and open, and its old bytes would hash to the old tag.
  // It then has the table look at the file, as no watcher does here: later responses neither hash nor wait.
  const { chmodSync, renameSync } = await import('node:fs');
  const { ContentChecks } = await import('../dist/static/content-checks.js');
  const matches = ContentChecks.prototype.matches;
  let instance = null;
  ContentChecks.prototype.matches = function (...args) {
    instance = this;
    return matches.apply(this, args);
  };
  t.after(() => (ContentChecks.prototype.matches = matches));
  const hashes = () => instance?.hashes ?? 0;
  const big = (byte) => Buffer.alloc(4 * 1024 * 1024, byte);
  const { root, server, port } = await unwatched(t, (root) => writeFileSync(join(root, 'big.woff2'), big(1)), { memoryBudget: 0 });
  const first = await request(port, { path: '/big.woff2' });
  assert.equal(first.headers.etag, etagOf(big(1)));
  // A file read within 2 s of its ctime is read again once that is over ("racily clean"): let that pass first.
  await new Promise((r) => setTimeout(r, 2500));
  const scanned = server.stats.lastScan;
  chmodSync(join(root, 'big.woff2'), 0o600);
  // HEAD too: sent back to the table, it got 503s under a chmod loop where GET did not (attack b24e).
  const head = await request(port, { path: '/big.woff2', method: 'HEAD' });
  assert.deepEqual([head.status, head.headers.etag, head.headers['content-length']], [200, etagOf(big(1)), String(big(1).length)]);
  assert.equal(hashes(), 1, 'the HEAD did not hash the file itself');
  const chmodded = await request(port, { path: '/big.woff2' });
  assert.equal(chmodded.status, 200);
  assert.ok(chmodded.body.equals(big(1)));
  assert.equal(hashes(), 1, 'the GET in the same state hashed the file again');
  await until('the table looked at the file again', () => server.stats.lastScan !== scanned);
  // One targeted look (each response that accepted the ctime asked for it; a second finds nothing left to read).
  assert.equal(server.stats.lastScan.stated, 1);
  await new Promise((r) => setTimeout(r, 100));
  const caughtUp = server.stats.lastScan;
  assert.ok((await request(port, { path: '/big.woff2' })).body.equals(big(1)));
  assert.equal(hashes(), 1, 'a response after the table caught up hashed the file again');
  assert.equal(server.stats.lastScan, caughtUp);
  writeFileSync(join(root, '.next'), big(2));
  renameSync(join(root, '.next'), join(root, 'big.woff2'));
  const renamed = await request(port, { path: '/big.woff2' });
  assert.equal(renamed.headers.etag, etagOf(big(2)));
  assert.ok(renamed.body.equals(big(2)));
});

test('a file renamed over while a response hashes it for a chmod is answered in its new version, not the old one', async (t) => {
  // The path is asked again after the hash, before the headers: asked only before it, a rename during the hash of a
  // 200 MB file had the old version sent after the rename (attack b24d, 6 of 6).
  const { chmodSync, linkSync, renameSync } = await import('node:fs');
  const old = Buffer.alloc(128 * 1024 * 1024, 1);
  const { root, port } = await unwatched(t, (root) => writeFileSync(join(root, 'big.woff2'), old), { memoryBudget: 0 });
  // Another name keeps the old inode's content reachable, as a release tree or a pnpm store does.
  linkSync(join(root, 'big.woff2'), `${root}.elsewhere`);
  t.after(() => rmSync(`${root}.elsewhere`, { force: true }));
  assert.equal((await request(port, { path: '/big.woff2', method: 'HEAD' })).status, 200);
  chmodSync(join(root, 'big.woff2'), 0o600);
  const asked = request(port, { path: '/big.woff2', method: 'GET' });
  // 20 ms in, the response is hashing 128 MiB (100 ms and more).
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(root, '.next'), 'the new version');
  renameSync(join(root, '.next'), join(root, 'big.woff2'));
  const res = await asked;
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'the new version', `${res.body.length} bytes of the old version`);
});

test('with watch: false, a body held in memory keeps the bytes it was read with, and the ETag of those bytes', async (t) => {
  // As the README's --no-watch says: the tree as the start-up scan found it, never a mix of versions.
  const { root, server, port } = await unwatched(t, (root) => {
    writeFileSync(join(root, 'a.woff2'), Buffer.alloc(1000, 1));
  });
  assert.ok((await request(port, { path: '/a.woff2' })).body.equals(Buffer.alloc(1000, 1)));
  assert.equal(server.stats.filesInMemory, 1);
  writeFileSync(join(root, 'a.woff2'), Buffer.alloc(1000, 2));
  const kept = await request(port, { path: '/a.woff2' });
  assert.ok(kept.body.equals(Buffer.alloc(1000, 1)));
  assert.equal(kept.headers.etag, etagOf(Buffer.alloc(1000, 1)));
});

test('with watch: false, a file a request found gone is served again once it is put back; a path never served is not looked for (found by a fault run)', async (t) => {
  const { root, server, port } = await unwatched(t, (root) => {
    mkdirSync(join(root, 'fonts'));
    writeFileSync(join(root, 'fonts', 'a b.woff2'), 'one');
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', 'index.html'), 'sub');
  }, { memoryBudget: 0 });
  const path = '/fonts/a%20b.woff2';
  assert.equal((await request(port, { path })).body.toString(), 'one');
  rmSync(join(root, 'fonts', 'a b.woff2'));
  assert.equal((await request(port, { path })).status, 404, 'gone: 404, and the path leaves the table');
  // Still gone: asked for again a second later, no scan runs (a scan of a tree with a symlink is a walk).
  const scanned = server.stats.lastScan;
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await request(port, { path })).status, 404);
  assert.equal(server.stats.lastScan, scanned, 'a look at a path still gone costs no scan');
  writeFileSync(join(root, 'fonts', 'a b.woff2'), 'two');
  await new Promise((r) => setTimeout(r, 1100));
  const back = await request(port, { path });
  assert.deepEqual([back.status, back.body.toString()], [200, 'two'], 'put back: no event says so, the request looks');
  writeFileSync(join(root, 'new.woff2'), 'new');
  assert.equal((await request(port, { path: '/new.woff2' })).status, 404, 'unwatched, a file added after the start is not served');
  // Put back as a directory with an index: the first request is redirected to it.
  rmSync(join(root, 'fonts', 'a b.woff2'));
  assert.equal((await request(port, { path })).status, 404);
  mkdirSync(join(root, 'fonts', 'a b.woff2'));
  writeFileSync(join(root, 'fonts', 'a b.woff2', 'index.html'), 'dir');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await request(port, { path })).status, 308);
  // A directory moved away and back, asked for without its slash (it was dropped as `/sub/`).
  renameSync(join(root, 'sub'), join(root, 'away'));
  assert.equal((await request(port, { path: '/sub/' })).status, 404);
  renameSync(join(root, 'away'), join(root, 'sub'));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await request(port, { path: '/sub' })).status, 308);
});

test('with watch: false, requests have at most 16 dropped paths looked for again a second, all paths together', async (t) => {
  // A client's 404s must not make the table scan back to back (found by an attack on the look again).
  const { root, port } = await unwatched(t, (root) => {
    for (let i = 0; i < 20; i++) writeFileSync(join(root, `f${i}.woff2`), `f${i}`);
  }, { memoryBudget: 0 });
  const all = () => Promise.all(Array.from({ length: 20 }, (_, i) => request(port, { path: `/f${i}.woff2` }).then((r) => r.status)));
  assert.deepEqual(await all(), Array(20).fill(200));
  for (let i = 0; i < 20; i++) rmSync(join(root, `f${i}.woff2`));
  assert.deepEqual(await all(), Array(20).fill(404));
  for (let i = 0; i < 20; i++) writeFileSync(join(root, `f${i}.woff2`), `f${i}`);
  await new Promise((r) => setTimeout(r, 1100));
  const first = await all();
  assert.equal(first.filter((s) => s === 200).length, 16, first.join(' '));
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(await all(), Array(20).fill(200), 'the rest a second later');
});

/** A table driven by a fake watcher, resolving `nextPublish()` after each scan has replaced the table. */
async function driven(root, options = {}) {
  const { watchTree, emit } = fakeWatcher();
  let published = () => {};
  const table = new AssetTable(root, { watchTree, published: () => published(), ...options }, (info, variants) => ({ info, variants }));
  await table.open();
  /** Emits an event naming each path, in one burst (one scan), and resolves once that scan has published. */
  const scanAfter = (...paths) => {
    // The table's timers do not keep the process alive; this one does, and turns a scan that never comes into a failure.
    let timer;
    const done = new Promise((resolve, reject) => {
      published = resolve;
      timer = setTimeout(() => reject(new Error(`no scan within 3 s of events naming ${paths.join(', ')}`)), 3000);
    });
    for (const path of paths) emit(path);
    return done.finally(() => clearTimeout(timer));
  };
  return { table, scanAfter };
}

test('directories named deepest first in one burst (cp -a, rsync -a, tar re-time them so) keep every file under them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  const deep = ['sub/b.txt', 'sub/x/c.txt', 'sub/x/y/d.txt', 'sub/x/y/z/e.txt'];
  mkdirSync(join(root, 'sub', 'x', 'y', 'z'), { recursive: true });
  for (const f of ['a.txt', ...deep]) writeFileSync(join(root, f), f);
  const statFile = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
  const { table, scanAfter } = await driven(root, { statFile });
  const missing = () => deep.filter((f) => table.get(`/${f}`) === undefined);
  try {
    // A targeted scan: the child walked first must be walked again under its parent.
    await scanAfter('sub/x', 'sub');
    assert.deepEqual(missing(), []);
    // A targeted pass given up for a walk (the root itself named): the walk enters what the pass had.
    await scanAfter('sub/x', '');
    assert.deepEqual(missing(), []);
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

for (const withSymlink of [false, true]) {
  // With a symlink in the root every scan walks the tree: the second rewrite was unseen until the lists of
  // files to stat again were made again, 10 s later (7-8 s after the write here).
  test(`a file with another name outside the root, rewritten in place through that name twice (no event here), is read again within ~1 s each time${withSymlink ? ', a symlink in the root' : ''}`, async () => {
    const base = mkdtempSync(join(tmpdir(), 'xorigin-links-'));
    const root = join(base, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    // Walked before sub/: the look at every file in turn (100 a second) would reach sub/font.txt after ~10 s.
    for (let i = 0; i < 1000; i++) writeFileSync(join(root, `${i}.txt`), String(i));
    writeFileSync(join(root, 'sub', 'font.txt'), 'version 1');
    if (withSymlink) symlinkSync(join(root, '0.txt'), join(root, 'alias.txt'));
    linkSync(join(root, 'sub', 'font.txt'), join(base, 'elsewhere.txt'));
    // Each version, written a second after the last, gets its own date (one dated in the second of the one
    // before is looked at again 2.1 s later anyway).
    const { table } = await driven(root, { statFile: statHourAgo() });
    const rewrite = async (text) => {
      await new Promise((r) => setTimeout(r, 1100));
      const before = table.get('/sub/font.txt').info.etag;
      writeFileSync(join(base, 'elsewhere.txt'), text); // the same inode: O_TRUNC, no rename
      await until(`"${text}", read again`, () => table.get('/sub/font.txt').info.etag !== before, 4000);
      assert.equal(table.get('/sub/font.txt').info.size, text.length);
    };
    try {
      assert.equal(table.get('/sub/font.txt').info.links, 2);
      assert.equal(table.get('/0.txt').info.links, 1);
      await rewrite('version 2, longer');
      // Its new version is looked at as soon, not only once the lists are made again (every 10 s).
      await rewrite('version 3');
    } finally {
      table.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
}

test('a file linked elsewhere after it was read (no event), then rewritten through that name, is read again', async () => {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-links-'));
  const root = join(base, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'single.txt'), 'one name');
  const { table } = await driven(root, { statFile: longAgo });
  try {
    const before = table.get('/single.txt').info.etag;
    linkSync(join(root, 'single.txt'), join(base, 'backup.txt'));
    writeFileSync(join(base, 'backup.txt'), 'rewritten through the backup');
    await until('the new version, read again', () => table.get('/single.txt').info.etag !== before, 4000);
  } finally {
    table.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test('the root\'s own events walk the tree only when the root changed, not at each write to a file named as the root', async () => {
  const base = mkdtempSync(join(tmpdir(), 'xorigin-rootname-'));
  const root = join(base, 'site');
  mkdirSync(root);
  for (let i = 0; i < 50; i++) writeFileSync(join(root, `${i}.txt`), String(i));
  writeFileSync(join(root, 'site'), 'named as the root');
  const { table, scanAfter } = await driven(root, { statFile: longAgo });
  try {
    writeFileSync(join(root, 'site'), 'written again');
    // inotify names an event on the root itself by the root's name: the watcher says both.
    await scanAfter('', 'site');
    assert.ok(table.lastScan.stated < 5, `a write to /site stat'ed ${table.lastScan.stated} paths`);
    chmodSync(root, 0o750);
    await scanAfter('', 'site');
    assert.ok(table.lastScan.stated > 50, `a chmod of the root stat'ed ${table.lastScan.stated} paths: no walk`);
  } finally {
    table.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test('the same bytes read again after a chmod keep their Last-Modified, a constant stamp mtime too (it was dated anew)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  writeFileSync(join(root, 'index.js'), 'module.exports = 1;');
  utimesSync(join(root, 'index.js'), new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z')); // npm's stamp
  const { table, scanAfter } = await driven(root);
  try {
    const before = table.get('/index.js').info;
    await new Promise((r) => setTimeout(r, 1100)); // a read now falls in a later second
    chmodSync(join(root, 'index.js'), 0o600);
    await scanAfter('index.js');
    const after = table.get('/index.js').info;
    assert.notEqual(after, before, 'read again (its ctime changed)');
    assert.equal(after.etag, before.etag);
    assert.equal(after.lastModifiedText, before.lastModifiedText);
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a sibling x.br added or removed after start changes what x is served with', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  writeFileSync(join(root, 'a.css'), 'a{}'.repeat(100));
  // Old timestamps: no file is racily clean, so no recheck of the table's own can publish between an event and its scan.
  const statFile = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
  const { table, scanAfter } = await driven(root, { statFile });
  try {
    assert.equal(table.get('/a.css').variants[1], undefined);
    writeFileSync(join(root, 'a.css.br'), 'compressed');
    await scanAfter('a.css.br');
    assert.equal(table.get('/a.css').variants[1]?.urlPath, '/a.css.br', 'the new sibling is a variant of a.css');
    rmSync(join(root, 'a.css.br'));
    await scanAfter('a.css.br');
    assert.equal(table.get('/a.css').variants[1], undefined, 'the removed sibling is no longer one');
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The table's stat and directory listing, failing with `code` for the paths in `failing` (the rest
 * real; stats dated long ago, so no file is racily clean).
 */
function failingReads(code) {
  const failing = new Set();
  const fail = (path) => Object.assign(new Error(`${code}: injected, ${path}`), { code });
  const statFile = async (path) => {
    if (failing.has(path)) throw fail(path);
    return Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
  };
  const readDir = async (path) => {
    if (failing.has(path)) throw fail(path);
    return readdir(path, { withFileTypes: true });
  };
  return { failing, statFile, readDir };
}

test('a disk error (EIO) is not "gone": a file the scan could not stat stays served as last read, is tried again, and said once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  mkdirSync(join(root, 'd'));
  writeFileSync(join(root, 'a.woff2'), 'a'.repeat(100));
  writeFileSync(join(root, 'd', 'b.woff2'), 'b'.repeat(100));
  const { failing, statFile, readDir } = failingReads('EIO');
  const warnings = [];
  // At start-up the directory cannot be listed: its file is missing, then served once a later walk reads it.
  failing.add(join(root, 'd'));
  const { table, scanAfter } = await driven(root, { statFile, readDir, warn: (line) => warnings.push(line) });
  try {
    assert.equal(table.get('/d/b.woff2'), undefined);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /^xorigin: cannot read \/d \(EIO\) under .*; kept as last read .* and tried again; said at most once a minute$/);
    failing.clear();
    const started = Date.now();
    while (table.get('/d/b.woff2') === undefined && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(table.info('/d/b.woff2')?.etag, etagOf('b'.repeat(100)), 'served once the directory lists again');
    // A file the table has, whose stat fails on a later scan: kept (it was dropped, 404 until it next changed), not said again.
    failing.add(join(root, 'a.woff2'));
    await scanAfter('a.woff2');
    assert.equal(table.info('/a.woff2')?.etag, etagOf('a'.repeat(100)));
    assert.equal(warnings.length, 1, 'said at most once a minute');
    // ENOENT is still gone.
    failing.clear();
    rmSync(join(root, 'a.woff2'));
    await scanAfter('a.woff2');
    assert.equal(table.get('/a.woff2'), undefined);
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a path this process may not read (EACCES) is left out (404) and named on stderr once per set; served once readable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  mkdirSync(join(root, 'd'));
  writeFileSync(join(root, 'a.woff2'), 'a'.repeat(100));
  writeFileSync(join(root, 'ok.woff2'), 'ok');
  writeFileSync(join(root, 'd', 'b.woff2'), 'b'.repeat(100));
  const { failing: denied, statFile, readDir } = failingReads('EACCES');
  const warnings = [];
  denied.add(join(root, 'a.woff2'));
  denied.add(join(root, 'd'));
  const { table, scanAfter } = await driven(root, { statFile, readDir, warn: (line) => warnings.push(line) });
  try {
    assert.equal(table.get('/a.woff2'), undefined);
    assert.equal(table.get('/d/b.woff2'), undefined);
    assert.ok(table.get('/ok.woff2') !== undefined);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /^xorigin: 2 path\(s\) under .* may not be read by this process and are not served \(404\): .*; give the user xorigin runs as read permission/);
    assert.ok(warnings[0].includes('/a.woff2') && / \/d\/?[,;]/.test(warnings[0]), warnings[0]);
    await table.rescan();
    assert.equal(warnings.length, 1, 'the same set is not said again');
    denied.delete(join(root, 'a.woff2'));
    await scanAfter('a.woff2');
    assert.equal(table.info('/a.woff2')?.etag, etagOf('a'.repeat(100)), 'served once readable');
    assert.equal(warnings.length, 1, 'a targeted scan says only paths not said before');
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a file read again only because it was racily clean is not held back when it is then edited', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-changes-'));
  writeFileSync(join(root, 'a.txt'), 'v1'); // just written: racily clean, so a scan naming it reads it again
  const { table, scanAfter } = await driven(root);
  try {
    await scanAfter('a.txt');
    assert.equal(table.info('/a.txt').etag, etagOf('v1'));
    writeFileSync(join(root, 'a.txt'), 'v2');
    await scanAfter('a.txt');
    assert.equal(table.info('/a.txt').etag, etagOf('v2'), 'an ordinary edit is read by the scan it causes');
  } finally {
    table.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a table closed while a rescan hashes a file says nothing of reads that failed by being stopped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-close-'));
  writeFileSync(join(root, 'a.txt'), 'a');
  const warnings = [];
  let closed;
  const closing = new Promise((r) => (closed = r));
  let table;
  // The rescan stats the new file, then hashes it: close() comes 30 ms into that (128 MiB take longer).
  const statFile = async (path) => {
    const s = await stat(path, { bigint: true });
    if (path.endsWith('big.bin')) setTimeout(() => closed(table.close()), 30);
    return s;
  };
  table = new AssetTable(root, { statFile, warn: (line) => warnings.push(line) }, (info) => info);
  await table.open();
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(128 * 1024 * 1024, 1));
  await closing;
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(root, { recursive: true, force: true });
  assert.deepEqual(warnings.filter((w) => w.includes('cannot read')), []);
});

