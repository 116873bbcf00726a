// The tree watcher: one inotify watch per directory (never per file), directories found without blocking,
// new ones watched (and reported once watched, so what was written in them before is walked), removed or renamed
// ones released, and out of watches reported as an error that names the kernel limit. Real files, real inotify.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { watch, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { AssetTable } from '../dist/static/asset-table.js';
import { TreeWatcher } from '../dist/static/tree-watcher.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
const rel = (...names) => names.join(sep);

/** 5 directories of 3 files each, one of them with a subdirectory, and a dot directory: 8 directories watched. */
function makeTree() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-tree-'));
  for (let d = 0; d < 5; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 3; f++) writeFileSync(join(root, `d${d}`, `f${f}.txt`), `${d}/${f}`);
  }
  mkdirSync(join(root, 'd0', 'sub'));
  writeFileSync(join(root, 'd0', 'sub', 'deep.txt'), 'deep');
  mkdirSync(join(root, '.git'));
  return root;
}

/**
 * Waits until `check()` holds. Each check follows a file-system event the watcher handles; the bound is
 * only there to fail with a message instead of hanging.
 */
async function until(what, check, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A table using a real TreeWatcher it lets the test see (and, optionally, a watchDir of the test's). */
async function openTable(root, watchDir) {
  const seen = { watcher: null };
  const watchTree = (dir, onChange, dirs) => (seen.watcher = new TreeWatcher(dir, onChange, { dirs, watchDir, ignore: (name) => name.startsWith('.') }));
  const warnings = [];
  const table = new AssetTable(root, { watchTree, pollIntervalMs: 50, warn: (line) => warnings.push(line) }, (info) => info);
  await table.open();
  return { table, seen, warnings, close: () => { table.close(); rmSync(root, { recursive: true, force: true }); } };
}

describe('tree watcher', () => {
  test('walking the tree itself, it watches each directory once (no file, no ignored directory) and reports nothing', async () => {
    const root = makeTree();
    const events = [];
    const w = new TreeWatcher(root, (event, path) => events.push(path), { ignore: (name) => name.startsWith('.') });
    try {
      await w.ready();
      assert.equal(w.size, 7, 'root, d0..d4, d0/sub: 7 directories for 16 files');
      assert.deepEqual(events, []);
      writeFileSync(join(root, 'd0', 'sub', 'deep.txt'), 'edited');
      await until('the nested edit is reported', () => events.includes(rel('d0', 'sub', 'deep.txt')));
    } finally {
      w.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a new directory is reported once it is watched, each one under it too, not path by path', async () => {
    const root = makeTree();
    const events = new Set();
    const w = new TreeWatcher(root, (event, path) => events.add(path), { dirs: ['', 'd0', 'd1', 'd2', 'd3', 'd4', rel('d0', 'sub')] });
    try {
      await w.ready();
      // Synchronous: every file exists before the watcher has even heard of `new`.
      mkdirSync(join(root, 'new', 'a', 'b'), { recursive: true });
      for (let i = 0; i < 20; i++) writeFileSync(join(root, 'new', 'a', 'b', `f${i}.txt`), `n${i}`);
      await until('new/a/b reported', () => events.has(rel('new', 'a', 'b')));
      assert.deepEqual([...events].filter((p) => p.startsWith('new')).sort(), ['new', rel('new', 'a'), rel('new', 'a', 'b')]);
      assert.equal(w.size, 10);
    } finally {
      w.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('closed by its listener on the report of a new directory, it stops: nothing left queued, no turn spent', async () => {
    const root = makeTree();
    // Closed on n's second mention: the report once it is listed, with n/sub still to be queued.
    let mentions = 0;
    const w = new TreeWatcher(root, (event, path) => {
      if (path === 'n' && ++mentions === 2) w.close();
    }, { dirs: ['', 'd0', 'd1', 'd2', 'd3', 'd4', rel('d0', 'sub')] });
    try {
      await w.ready();
      mkdirSync(join(root, 'n', 'sub'), { recursive: true });
      await new Promise((r) => setTimeout(r, 300));
      const before = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 500));
      const used = process.cpuUsage(before);
      assert.ok((used.user + used.system) / 1000 < 150, `${Math.round((used.user + used.system) / 1000)} ms of CPU in 500 ms after the close`);
      assert.equal(w.size, 0);
    } finally {
      w.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file created, changed and removed in a nested directory is served fresh', async () => {
    const t = await openTable(makeTree());
    try {
      const file = join(t.table.root, 'd0', 'sub', 'new.txt');
      writeFileSync(file, 'created');
      await until('created', () => t.table.info('/d0/sub/new.txt')?.etag === etagOf('created'));
      writeFileSync(file, 'changed');
      await until('changed', () => t.table.info('/d0/sub/new.txt')?.etag === etagOf('changed'));
      rmSync(file);
      await until('removed', () => t.table.info('/d0/sub/new.txt') === undefined);
      assert.equal(t.table.info('/d0/sub/deep.txt').etag, etagOf('deep'), 'its neighbour is kept');
    } finally {
      t.close();
    }
  });

  test('what is written while the start-up walk runs is served: a file in a directory already listed, a new directory and what is written in it later', async () => {
    // Watches opened only after the walk missed whatever was made in a directory between its listing
    // and its watch: such a file stayed 404 until a restart. The stat of d4/f2.txt (its directory
    // listed by then, like the root and d0) is where the walk is held while the tree changes.
    const root = makeTree();
    let changedDuringWalk = false;
    const statFile = async (path) => {
      if (path === join(root, 'd4', 'f2.txt') && !changedDuringWalk) {
        changedDuringWalk = true;
        writeFileSync(join(root, 'late.txt'), 'late');
        writeFileSync(join(root, 'd0', 'late.txt'), 'late in d0');
        mkdirSync(join(root, 'made'));
        writeFileSync(join(root, 'made', 'x.txt'), 'x');
        await new Promise((r) => setTimeout(r, 50));
      }
      return stat(path, { bigint: true });
    };
    const table = new AssetTable(root, { statFile, pollIntervalMs: 50 }, (info) => info);
    try {
      await table.open();
      assert.ok(changedDuringWalk);
      await until('written during the walk', () => table.info('/late.txt')?.etag === etagOf('late') && table.info('/d0/late.txt')?.etag === etagOf('late in d0') && table.info('/made/x.txt')?.etag === etagOf('x'));
      writeFileSync(join(root, 'made', 'y.txt'), 'y');
      await until('written later in the directory made during the walk', () => table.info('/made/y.txt')?.etag === etagOf('y'));
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a new nested directory, written into before its watch can exist, is served whole, and watched', async () => {
    const t = await openTable(makeTree());
    try {
      const before = t.seen.watcher.size;
      const deep = join(t.table.root, 'new', 'a', 'b');
      mkdirSync(deep, { recursive: true });
      for (let i = 0; i < 20; i++) writeFileSync(join(deep, `f${i}.txt`), `n${i}`);
      writeFileSync(join(t.table.root, 'new', 'top.txt'), 'top');
      await until('all 21 new files served', () => t.table.info('/new/top.txt') !== undefined && [...Array(20).keys()].every((i) => t.table.info(`/new/a/b/f${i}.txt`)?.etag === etagOf(`n${i}`)));
      await until('new, new/a, new/a/b watched', () => t.seen.watcher.size === before + 3);
      writeFileSync(join(deep, 'later.txt'), 'later');
      await until('a file written after the watch exists', () => t.table.info('/new/a/b/later.txt')?.etag === etagOf('later'));
    } finally {
      t.close();
    }
  });

  test('a removed directory releases its watches and those of every directory under it', async () => {
    const t = await openTable(makeTree());
    try {
      assert.equal(t.seen.watcher.size, 7);
      rmSync(join(t.table.root, 'd0'), { recursive: true });
      await until('d0 and d0/sub released', () => t.seen.watcher.size === 5);
      await until('d0 no longer served', () => t.table.info('/d0/f0.txt') === undefined && t.table.info('/d0/sub/deep.txt') === undefined);
      for (let i = 0; i < 3; i++) {
        mkdirSync(join(t.table.root, 'tmp', 'x'), { recursive: true });
        await until('tmp, tmp/x watched', () => t.seen.watcher.size === 7);
        rmSync(join(t.table.root, 'tmp'), { recursive: true });
        await until('tmp, tmp/x released', () => t.seen.watcher.size === 5);
      }
    } finally {
      t.close();
    }
  });

  test('a directory removed and made again under the same name is watched again: a file written in it later is served', async () => {
    const t = await openTable(makeTree());
    try {
      // Three times: the new directory most often gets the inode number of the one it replaces.
      for (let round = 0; round < 3; round++) {
        // Both before the watcher hears of either: its look at d1 finds a directory there, but not the one it watched.
        rmSync(join(t.table.root, 'd1'), { recursive: true });
        mkdirSync(join(t.table.root, 'd1'));
        const before = round === 0 ? '/d1/f0.txt' : `/d1/later${round - 1}.txt`;
        await until(`round ${round}: the old d1 no longer served`, () => t.table.info(before) === undefined);
        writeFileSync(join(t.table.root, 'd1', `later${round}.txt`), 'later');
        await until(`round ${round}: a file written in the new d1`, () => t.table.info(`/d1/later${round}.txt`)?.etag === etagOf('later'));
      }
      await until('one watch for d1, as before: 7 in all', () => t.seen.watcher.size === 7);
    } finally {
      t.close();
    }
  });

  test('the root removed and made again at the same path: what is written in the new one is served, then and later', async () => {
    const t = await openTable(makeTree());
    try {
      const root = t.table.root;
      // Synchronous: the new root exists before any event is handled, and may get the old one's inode number.
      rmSync(root, { recursive: true });
      mkdirSync(root);
      writeFileSync(join(root, 'first.txt'), 'first');
      await until('a file of the new root', () => t.table.info('/first.txt')?.etag === etagOf('first'), 10_000);
      assert.equal(t.table.info('/d0/f0.txt'), undefined, 'nothing of the old root');
      writeFileSync(join(root, 'later.txt'), 'later');
      await until('a file written in the new root later', () => t.table.info('/later.txt')?.etag === etagOf('later'), 10_000);
    } finally {
      t.close();
    }
  });

  test('the root moved away is said once on stderr (every request is 404 until it is back), and its return too (found by a fault review: a failed deploy left a silent server answering 404)', async () => {
    const t = await openTable(makeTree());
    const root = t.table.root;
    const away = `${root}-away`;
    try {
      renameSync(root, away);
      await until('the root said gone', () => t.warnings.some((l) => /the root .* is gone \(ENOENT\): every request is answered 404 until a directory is there again/.test(l)), 10_000);
      await until('nothing served', () => t.table.info('/d0/f0.txt') === undefined, 10_000);
      renameSync(away, root);
      await until('the root said back', () => t.warnings.some((l) => /the root .* is back: serving it again/.test(l)), 10_000);
      await until('served again', () => t.table.info('/d0/f0.txt') !== undefined, 10_000);
      assert.equal(t.warnings.filter((l) => /is gone/.test(l)).length, 1, t.warnings.join('\n'));
      // A file put in its place serves nothing either: gone, not back.
      renameSync(root, away);
      writeFileSync(root, 'not a directory');
      await until('a file in its place said gone', () => t.warnings.some((l) => /the root .* is gone \(ENOTDIR\)/.test(l)), 10_000);
      assert.equal(t.warnings.filter((l) => /is back/.test(l)).length, 1, t.warnings.join('\n'));
      rmSync(root);
      renameSync(away, root);
      await until('served once more', () => t.table.info('/d0/f0.txt') !== undefined, 10_000);
    } finally {
      rmSync(away, { recursive: true, force: true });
      t.close();
    }
  });

  test('a symlinked root re-pointed at a release that is not there: the release found before is still served, and that is what stderr says', async () => {
    const base = mkdtempSync(join(tmpdir(), 'xorigin-releases-'));
    const release = makeTree();
    const current = join(base, 'current');
    symlinkSync(release, current);
    const t = await openTable(current);
    try {
      rmSync(current);
      symlinkSync(join(base, 'missing'), current);
      await until('said', () => t.warnings.some((l) => l.includes(`the root ${current} no longer leads to a directory (ENOENT): ${release}, where it led before, is still served until it does again`)), 10_000);
      assert.notEqual(t.table.info('/d0/f0.txt'), undefined);
      assert.ok(!t.warnings.some((l) => /404/.test(l)), t.warnings.join('\n'));
    } finally {
      t.close();
      rmSync(base, { recursive: true, force: true });
      rmSync(release, { recursive: true, force: true });
    }
  });

  test('a renamed directory is served at its new path only, and edits in it are reported there', async () => {
    const t = await openTable(makeTree());
    try {
      renameSync(join(t.table.root, 'd0'), join(t.table.root, 'moved'));
      await until('served at the new path', () => t.table.info('/moved/sub/deep.txt')?.etag === etagOf('deep'));
      await until('not at the old one', () => t.table.info('/d0/sub/deep.txt') === undefined);
      await until('as many watches as before', () => t.seen.watcher.size === 7);
      writeFileSync(join(t.table.root, 'moved', 'sub', 'deep.txt'), 'edited after the move');
      await until('the edit served at the new path', () => t.table.info('/moved/sub/deep.txt')?.etag === etagOf('edited after the move'));
      assert.equal(t.table.info('/d0/sub/deep.txt'), undefined);
    } finally {
      t.close();
    }
  });

  const limits = [
    ['ENOSPC', 'after 4 directories', 4, /watching .* failed \(ENOSPC: .*fs\.inotify\.max_user_watches.*sysctl.*\); rescanning every 50 ms instead/],
    ['ENOSPC', 'at the root', 0, /watching .* failed \(ENOSPC: .*fs\.inotify\.max_user_watches.*sysctl.*\); rescanning every 50 ms instead/],
    // inotify_init1 fails so when the user's instances (or the process's fds) are used up: not the watches' limit.
    ['EMFILE', 'at the root', 0, /watching .* failed \(EMFILE: .*fs\.inotify\.max_user_instances.*ulimit -n.*\); rescanning every 50 ms instead/],
  ];
  for (const [code, when, allowed, said] of limits) test(`out of inotify resources (${code}) ${when}: the table says so once, naming the limit, and polls instead`, async () => {
    let opened = 0;
    const watchDir = (path, listener) => {
      if (++opened > allowed) throw Object.assign(new Error(`${code}: refused, watch '${path}'`), { code });
      return watch(path, listener);
    };
    const t = await openTable(makeTree(), watchDir);
    try {
      await until('the warning', () => t.warnings.length > 0);
      assert.equal(t.warnings.length, 1);
      assert.match(t.warnings[0], said);
      if (code === 'EMFILE') assert.doesNotMatch(t.warnings[0], /max_user_watches/);
      assert.equal(t.seen.watcher?.size ?? 0, 0, 'every watch already opened is closed');
      writeFileSync(join(t.table.root, 'd4', 'f2.txt'), 'seen by polling');
      await until('served by polling', () => t.table.info('/d4/f2.txt').etag === etagOf('seen by polling'));
      assert.equal(t.warnings.length, 1, 'said once');
    } finally {
      t.close();
    }
  });
});

test('a storm of rename events on a few names costs one lstat at a time per name, each answer acted on', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-storm-'));
  let listener;
  const watchDir = (path, l) => {
    if (path === root) listener = l;
    return { on() {}, close() {} };
  };
  const calls = [];
  const lstatOf = (path) => new Promise((resolve, reject) => calls.push({ path, resolve, reject }));
  const watcher = new TreeWatcher(root, () => {}, { dirs: [], watchDir, lstat: lstatOf });
  const enoent = () => Object.assign(new Error('gone'), { code: 'ENOENT' });
  try {
    // 10,000 renames back and forth (mv f g; mv g f): two names, 20,000 events.
    for (let i = 0; i < 10_000; i++) {
      listener('rename', 'f');
      listener('rename', 'g');
    }
    assert.equal(calls.length, 2, 'one lstat under way per name');
    // The first answers: `g` is a directory. It is watched now, though events came meanwhile (a storm that
    // never pauses is followed, not waited out), and each name is looked at once more.
    mkdirSync(join(root, 'g'));
    const dir = await stat(join(root, 'g'));
    for (const c of calls.splice(0)) (c.path.endsWith('g') ? c.resolve(dir) : c.reject(enoent()));
    await new Promise((r) => setImmediate(r));
    await watcher.ready();
    assert.equal(watcher.size, 2, 'the root and g watched');
    assert.deepEqual(calls.map((c) => c.path).sort(), [join(root, 'f'), join(root, 'g')]);
    // The second answers say the same: nothing is watched twice, and nothing is looked at again without a new event.
    for (const c of calls.splice(0)) (c.path.endsWith('g') ? c.resolve(dir) : c.reject(enoent()));
    await new Promise((r) => setImmediate(r));
    await watcher.ready();
    assert.equal(calls.length, 0);
    assert.equal(watcher.size, 2);
  } finally {
    watcher.close();
    rmSync(root, { recursive: true, force: true });
  }
});
