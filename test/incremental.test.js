// A targeted rescan changes the live table in place (see table-delta.ts) instead of copying and comparing
// it: what a copy got for free must still hold. Siblings (x.br) added or removed next to an unchanged x,
// directory indexes, a directory removed with everything under it (bodies and fds let go), two edits
// racing one scan, and every entry nothing touched kept, built header blocks included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { AssetTable } from '../dist/static/asset-table.js';
import { fakeWatcher, request, statGate } from './helpers.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
// Old timestamps: no file is racily clean, so no recheck of the table's own publishes between an event and its
// scan. An edit must then change the size to change the identity (an inode written in place keeps the rest).
const oldStat = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });

/**
 * `promise`, or a failure saying `what` did not happen within 3 s (the table's own timers are unref'd:
 * this one also keeps the process alive while the test waits on them).
 */
function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within 3 s`)), 3000)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A tree: /a.css, /b.css, /d/index.html, /d/f0.txt … /d/f4.txt. */
function makeTree() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-incr-'));
  writeFileSync(join(root, 'a.css'), 'a{}');
  writeFileSync(join(root, 'b.css'), 'b{}');
  mkdirSync(join(root, 'd'));
  writeFileSync(join(root, 'd', 'index.html'), '<p>d</p>');
  for (let i = 0; i < 5; i++) writeFileSync(join(root, 'd', `f${i}.txt`), `f${i}`);
  return root;
}

/**
 * A table driven by a fake watcher. `scanAfter(...paths)` names the paths in one burst and resolves with
 * what the next publish reported (`dropped`), failing after 3 s.
 */
async function driven(root, options = {}) {
  const { watchTree, emit } = fakeWatcher();
  let published = () => {};
  const table = new AssetTable(root, { watchTree, statFile: oldStat, published: (dropped) => published(dropped), ...options }, (info, variants) => ({ info, variants }));
  await table.open();
  const nextPublish = () => within(new Promise((resolve) => (published = resolve)), 'a scan published');
  const scanAfter = (...paths) => {
    const done = nextPublish();
    for (const path of paths) emit(path);
    return done;
  };
  const close = () => {
    table.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { table, scanAfter, nextPublish, emit, close };
}

test('a sibling x.br added or removed next to an unchanged x: x gets a new entry, nothing else does', async () => {
  const t = await driven(makeTree());
  try {
    const a = t.table.get('/a.css');
    const b = t.table.get('/b.css');
    writeFileSync(join(t.table.root, 'a.css.br'), 'compressed');
    assert.deepEqual(await t.scanAfter('a.css.br'), [], 'nothing dropped: a.css is the same version');
    const a2 = t.table.get('/a.css');
    assert.notEqual(a2, a, 'a.css is built again, with its new sibling');
    assert.equal(a2.info, a.info);
    assert.equal(a2.variants[1]?.urlPath, '/a.css.br');
    assert.equal(t.table.get('/b.css'), b, 'b.css keeps its built entry');
    rmSync(join(t.table.root, 'a.css.br'));
    const dropped = await t.scanAfter('a.css.br');
    assert.deepEqual(dropped.map((info) => info.urlPath), ['/a.css.br']);
    assert.equal(t.table.get('/a.css').variants[1], undefined, 'the removed sibling is no longer one');
    assert.equal(t.table.get('/a.css.br'), undefined);
    assert.equal(t.table.get('/b.css'), b);
  } finally {
    t.close();
  }
});

test('a sibling of a directory index changes the /dir/ entry too', async () => {
  const t = await driven(makeTree());
  try {
    assert.equal(t.table.get('/d/').variants[3], undefined);
    writeFileSync(join(t.table.root, 'd', 'index.html.gz'), 'gzipped');
    await t.scanAfter('d/index.html.gz');
    assert.equal(t.table.get('/d/index.html').variants[3]?.urlPath, '/d/index.html.gz');
    assert.equal(t.table.get('/d/').variants[3]?.urlPath, '/d/index.html.gz', '/d/ serves index.html with its sibling');
  } finally {
    t.close();
  }
});

test('an index.html removed and added again: /dir/ follows, with the new version', async () => {
  const t = await driven(makeTree());
  try {
    const before = t.table.info('/d/');
    assert.equal(before, t.table.info('/d/index.html'));
    rmSync(join(t.table.root, 'd', 'index.html'));
    const dropped = await t.scanAfter('d/index.html');
    assert.deepEqual(dropped, [before], 'the old index version, once (it was served at two URL paths)');
    assert.equal(t.table.get('/d/'), undefined);
    assert.equal(t.table.get('/d/index.html'), undefined);
    writeFileSync(join(t.table.root, 'd', 'index.html'), '<p>new index</p>');
    await t.scanAfter('d/index.html');
    assert.equal(t.table.info('/d/').etag, etagOf('<p>new index</p>'));
    assert.equal(t.table.info('/d/'), t.table.info('/d/index.html'));
    assert.equal(t.table.size, 9);
  } finally {
    t.close();
  }
});

test('a directory removed drops every version under it, and reports each as dropped once', async () => {
  const t = await driven(makeTree());
  try {
    const under = ['/d/index.html', ...[0, 1, 2, 3, 4].map((i) => `/d/f${i}.txt`)].map((p) => t.table.info(p));
    const a = t.table.get('/a.css');
    rmSync(join(t.table.root, 'd'), { recursive: true });
    const dropped = await t.scanAfter('d');
    assert.deepEqual(new Set(dropped), new Set(under));
    assert.equal(dropped.length, under.length);
    assert.deepEqual([t.table.size, t.table.get('/d/'), t.table.get('/d/f0.txt')], [2, undefined, undefined]);
    assert.equal(t.table.get('/a.css'), a, 'the rest keeps its built entries');
  } finally {
    t.close();
  }
});

test('a directory added by targeted scans, then removed, takes everything under it along', async () => {
  const t = await driven(makeTree());
  try {
    mkdirSync(join(t.table.root, 'n', 'm'), { recursive: true });
    writeFileSync(join(t.table.root, 'n', 'm', 'x.txt'), 'x');
    mkdirSync(join(t.table.root, 'q'));
    writeFileSync(join(t.table.root, 'q', 'y.txt'), 'y');
    // n is walked; q/y.txt is named alone, as a watcher may name a file before (or without) its new directory.
    await t.scanAfter('n', 'q/y.txt');
    assert.deepEqual([t.table.info('/n/m/x.txt')?.etag, t.table.info('/q/y.txt')?.etag], [etagOf('x'), etagOf('y')]);
    rmSync(join(t.table.root, 'n'), { recursive: true });
    rmSync(join(t.table.root, 'q'), { recursive: true });
    const dropped = await t.scanAfter('n', 'q'); // rm -rf names only the directories
    assert.deepEqual(dropped.map((info) => info.urlPath).sort(), ['/n/m/x.txt', '/q/y.txt']);
    assert.deepEqual([t.table.info('/n/m/x.txt'), t.table.info('/q/y.txt'), t.table.size], [undefined, undefined, 9]);
  } finally {
    t.close();
  }
});

test('an edited file gets a new entry and its old version is reported dropped; the others are kept', async () => {
  const t = await driven(makeTree());
  try {
    const old = t.table.get('/d/f1.txt');
    const kept = t.table.get('/d/f2.txt');
    writeFileSync(join(t.table.root, 'd', 'f1.txt'), 'edited, and longer');
    assert.deepEqual(await t.scanAfter('d/f1.txt'), [old.info]);
    assert.equal(t.table.info('/d/f1.txt').etag, etagOf('edited, and longer'));
    assert.notEqual(t.table.get('/d/f1.txt'), old);
    assert.equal(t.table.get('/d/f2.txt'), kept);
  } finally {
    t.close();
  }
});

test('two edits racing one scan: a file found changed while the scan runs is served by the scan after it', async () => {
  const root = makeTree();
  // The first stat of f1.txt by a rescan waits until the test has made its second round of edits.
  const gate = statGate('f1.txt', oldStat);
  const drops = [];
  const t = await driven(root, { statFile: gate.statFile, published: (dropped) => drops.push(...(dropped ?? [])) });
  try {
    const [f1, f3] = [t.table.info('/d/f1.txt'), t.table.info('/d/f3.txt')];
    const { reached, release } = gate.arm();
    writeFileSync(join(root, 'd', 'f1.txt'), 'first edit');
    t.emit('d/f1.txt');
    await within(reached, 'the scan the event causes stats f1.txt');
    // While that scan waits, f3 is edited and found changed (as a response reading it would): refresh()
    // then runs no scan of its own but asks the running one for another, and resolves once that is done.
    writeFileSync(join(root, 'd', 'f3.txt'), 'f3 edited');
    const done = t.table.refresh(f3);
    release();
    await within(done, 'the scans asked for are done');
    assert.deepEqual([t.table.info('/d/f1.txt').etag, t.table.info('/d/f3.txt').etag], [etagOf('first edit'), etagOf('f3 edited')]);
    assert.deepEqual(new Set(drops), new Set([f1, f3]), 'each old version dropped');
    assert.equal(t.table.size, 9);
  } finally {
    t.close();
  }
});

test('a directory swapped for a symlink to outside the root, named first through a file under it, serves nothing from outside', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'xorigin-outside-'));
  writeFileSync(join(outside, 'f0.txt'), 'outside the root');
  const t = await driven(makeTree());
  try {
    renameSync(join(t.table.root, 'd'), join(t.table.root, 'd.old'));
    symlinkSync(outside, join(t.table.root, 'd'));
    // The file's event alone: the burst naming d itself may come a scan later (a writer kept d/f0.txt busy).
    await t.scanAfter('d/f0.txt');
    assert.notEqual(t.table.info('/d/f0.txt')?.etag, etagOf('outside the root'), 'bytes from outside the root served');
    assert.equal(t.table.info('/d/f0.txt'), undefined, 'as at start-up, a symlink out of the root is not followed');
    assert.equal(t.table.info('/d.old/f0.txt')?.etag, etagOf('f0'), 'the tree was walked again');
  } finally {
    t.close();
    rmSync(outside, { recursive: true, force: true });
  }
});

test('a file gone between its stat and its read: the other paths of that scan still go in force', async () => {
  const root = makeTree();
  let vanish = false;
  // The stat of b.css succeeds, then b.css is deleted before the scan reads it.
  const statFile = async (path) => {
    const s = await oldStat(path);
    if (vanish && path.endsWith('b.css')) {
      vanish = false;
      unlinkSync(path);
    }
    return s;
  };
  const t = await driven(root, { statFile });
  try {
    writeFileSync(join(root, 'b.css'), 'b{color:red}');
    writeFileSync(join(root, 'a.css'), 'a{color:red}');
    vanish = true;
    await t.scanAfter('b.css', 'a.css');
    assert.equal(t.table.info('/a.css')?.etag, etagOf('a{color:red}'), 'the edit of a.css, named in the same burst, is served');
    assert.equal(t.table.info('/b.css'), undefined, 'b.css is gone');
  } finally {
    t.close();
  }
});

test('directories made and removed one after another are not kept: the table forgets each once it is gone', async () => {
  const t = await driven(makeTree());
  try {
    const before = t.table.knownDirs;
    for (let i = 0; i < 20; i++) {
      mkdirSync(join(t.table.root, `tmp-${i}`, 'sub'), { recursive: true });
      writeFileSync(join(t.table.root, `tmp-${i}`, 'sub', 'f.txt'), `f${i}`);
      await t.scanAfter(`tmp-${i}`);
      assert.equal(t.table.info(`/tmp-${i}/sub/f.txt`)?.etag, etagOf(`f${i}`));
      rmSync(join(t.table.root, `tmp-${i}`), { recursive: true });
      await t.scanAfter(`tmp-${i}`);
      assert.equal(t.table.info(`/tmp-${i}/sub/f.txt`), undefined);
    }
    assert.equal(t.table.knownDirs, before, 'directories kept after 20 made and removed (each made kept 2 until a walk)');
    // A directory removed while another under the same parent stays: the parent is still known.
    mkdirSync(join(t.table.root, 'd', 'e'));
    writeFileSync(join(t.table.root, 'd', 'e', 'g.txt'), 'g');
    await t.scanAfter('d/e');
    rmSync(join(t.table.root, 'd', 'e'), { recursive: true });
    await t.scanAfter('d/e');
    assert.equal(t.table.knownDirs, before);
    rmSync(join(t.table.root, 'd', 'f0.txt'));
    await t.scanAfter('d/f0.txt');
    assert.equal(t.table.info('/d/f1.txt')?.etag, etagOf('f1'), 'the rest of d kept');
    rmSync(join(t.table.root, 'd'), { recursive: true });
    await t.scanAfter('d');
    assert.deepEqual([t.table.size, t.table.knownDirs], [2, 0], 'only a.css and b.css left, under no directory');
  } finally {
    t.close();
  }
});

test('a directory removed under a server: its entries, bodies held and cached fds are all let go', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-incr-'));
  for (const dir of ['gone', 'kept']) {
    mkdirSync(join(root, dir));
    writeFileSync(join(root, dir, 'small.txt'), `small in ${dir}`);
    writeFileSync(join(root, dir, 'big.otf'), Buffer.alloc(512 * 1024, dir.length));
  }
  // Small files held in memory from the scan; the big ones served from disk, through the fd cache.
  const server = await serve({ root, smallFileLimit: 1024, memoryBudget: 1024 * 1024, watch: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    for (const path of ['/gone/big.otf', '/kept/big.otf', '/gone/small.txt', '/kept/small.txt']) assert.equal((await request(port, { path })).status, 200);
    assert.deepEqual([server.stats.filesInMemory, server.stats.cachedFds], [2, 2]);
    rmSync(join(root, 'gone'), { recursive: true });
    // No request meanwhile: only the scans the removal causes can let go of a body or an fd.
    const deadline = Date.now() + 10_000;
    while (server.stats.filesInMemory !== 1 || server.stats.cachedFds !== 1) {
      if (Date.now() > deadline) assert.fail(`10 s after gone/ was removed, still held: ${JSON.stringify(server.stats)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const path of ['/gone/small.txt', '/gone/big.otf', '/gone/']) assert.equal((await request(port, { path })).status, 404, path);
    // The watcher names gone/ and (as they go) its two files; a walk would stat the 6 paths of the tree.
    assert.ok(server.stats.lastScan.stated <= 3, `a targeted scan, not a walk: ${server.stats.lastScan.stated} paths stat'ed`);
    assert.equal((await request(port, { path: '/kept/small.txt' })).body.toString(), 'small in kept');
  } finally {
    await server.shutdown(500);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a scan pass that throws rejects its callers and nothing else: no unhandled rejection ends the process, and the next scan runs (found by a review)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-pass-'));
  writeFileSync(join(root, 'a.css'), 'a{}');
  let passes = 0;
  const table = new AssetTable(root, { watch: false, published: () => {
    if (++passes === 2) throw new Error('boom in pass');
  } }, (info) => info);
  const unhandled = [];
  const listener = (e) => unhandled.push(e);
  process.on('unhandledRejection', listener);
  t.after(() => {
    process.off('unhandledRejection', listener);
    table.close();
    rmSync(root, { recursive: true, force: true });
  });
  await table.open();
  await assert.rejects(table.rescan(), /boom in pass/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(unhandled.map(String), []);
  await table.rescan();
  assert.equal(passes, 3);
});
