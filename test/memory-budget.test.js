// The memory budget: bodies held in memory never exceed it, each is held once, and the files held are
// chosen by use (hot in, cold out; a scan of cold files does not flush the hot ones). Unit tests of the
// BodyCache on real files, then a server on 127.0.0.1 whose stats are checked after every request.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { serve } from '../dist/index.js';
import { AssetTable } from '../dist/static/asset-table.js';
import { BodyCache } from '../dist/static/body-cache.js';
import { validate } from '../dist/static/options.js';
import { request } from './helpers.js';

const KIB = 1024;

/** `count` files of `size` bytes, each with its own bytes: f0.bin, f1.bin, ... */
function tree(count, size) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-mem-'));
  const files = [];
  for (let i = 0; i < count; i++) {
    const bytes = Buffer.alloc(size, i + 1);
    writeFileSync(join(root, `f${i}.bin`), bytes);
    files.push(bytes);
  }
  return { root, files };
}

async function tableOf(root) {
  const table = new AssetTable(root, { watch: false }, (info) => info);
  await table.open();
  return table;
}

/** Waits until no read into memory is under way (10 s: a safety net for a slow machine). */
async function settled(slots) {
  for (const end = Date.now() + 10_000; slots.some((s) => s.loading) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
  assert.ok(!slots.some((s) => s.loading), 'reads into memory still under way after 10 s');
}

describe('BodyCache', () => {
  test('fills free room on first use, then admits only what is used more than what it pushes out', async () => {
    const { root, files } = tree(10, 10 * KIB);
    const table = await tableOf(root);
    let stale = 0;
    const cache = new BodyCache({ budget: 30 * KIB, fileLimit: 1024 * KIB, stale: () => stale++ });
    const slots = files.map((_, i) => cache.slotFor(table.info(`/f${i}.bin`)));
    try {
      for (const i of [0, 1, 2]) cache.miss(slots[i]);
      await settled(slots);
      assert.deepEqual([cache.files, cache.bytes], [3, 30 * KIB], 'the first three fill the budget');
      assert.ok(Buffer.from(slots[0].body).equals(files[0]), 'the held body is the file');
      // A scan of cold files, each asked for once: nothing held is pushed out.
      for (let i = 3; i < 9; i++) cache.miss(slots[i]);
      await settled(slots);
      assert.deepEqual([0, 1, 2].map((i) => slots[i].body !== null), [true, true, true], 'a one-off scan flushed the cache');
      // f9 is asked for twice: it is now used more than the held files' one use each.
      cache.miss(slots[9]);
      cache.miss(slots[9]);
      await settled(slots);
      assert.ok(slots[9].body !== null, 'the hot file was not promoted');
      assert.ok(cache.bytes <= 30 * KIB, `${cache.bytes} bytes held over a 30 KiB budget`);
      // Served from memory often, f9 survives the promotion of files used less.
      for (let i = 0; i < 10; i++) cache.hit(slots[9]);
      for (const i of [3, 4, 5, 6, 8]) {
        for (let k = 0; k < 3; k++) cache.miss(slots[i]);
        await settled(slots);
      }
      assert.ok(slots[9].body !== null && slots[8].body !== null, 'hot files held');
      assert.equal(cache.files, 3);
      assert.equal(stale, 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a body is held once, small ones as a latin1 string, and never over the per-file limit', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-mem-'));
    writeFileSync(join(root, 'small.css'), Buffer.from([0, 0xe9, 0xff, 0x41]));
    writeFileSync(join(root, 'big.woff2'), Buffer.alloc(64 * KIB, 3));
    const table = await tableOf(root);
    const cache = new BodyCache({ budget: 1024 * KIB, fileLimit: 32 * KIB, stale: () => {} });
    const small = cache.slotFor(table.info('/small.css'));
    const big = cache.slotFor(table.info('/big.woff2'));
    try {
      cache.miss(small);
      cache.miss(big);
      cache.miss(big);
      await settled([small, big]);
      assert.equal(typeof small.body, 'string');
      assert.ok(Buffer.from(small.body, 'latin1').equals(Buffer.from([0, 0xe9, 0xff, 0x41])));
      assert.equal(big.body, null, 'above the per-file limit');
      assert.deepEqual([cache.files, cache.bytes], [1, 4]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file changed since the scan is never held; a version the table dropped lets go of its bytes', async () => {
    const { root } = tree(2, 8 * KIB);
    const table = await tableOf(root);
    let stale = 0;
    const cache = new BodyCache({ budget: 1024 * KIB, fileLimit: 1024 * KIB, stale: () => stale++ });
    const changed = cache.slotFor(table.info('/f0.bin'));
    const kept = cache.slotFor(table.info('/f1.bin'));
    try {
      writeFileSync(join(root, 'f0.bin'), Buffer.alloc(8 * KIB, 9)); // same size, new bytes and ctime
      cache.miss(changed);
      cache.miss(kept);
      await settled([changed, kept]);
      assert.equal(changed.body, null, 'bytes of another version held');
      assert.equal(stale, 1, 'the table is told to rescan');
      assert.equal(cache.bytes, 8 * KIB);
      // Same identity, other bytes (a write within one timestamp tick): only the hash can tell.
      const sameTick = cache.slotFor({ ...table.info('/f1.bin'), etag: '"another-version"' });
      // Other identity, same bytes: the file is not the version described, whatever its bytes.
      const identity = { ...table.info('/f1.bin').identity, ctimeNs: 1n };
      const otherVersion = cache.slotFor({ ...table.info('/f1.bin'), identity });
      cache.miss(sameTick);
      cache.miss(otherVersion);
      await settled([sameTick, otherVersion]);
      assert.deepEqual([sameTick.body, otherVersion.body, stale], [null, null, 3]);
      cache.retain(() => false);
      assert.deepEqual([cache.files, cache.bytes, kept.body], [0, 0, null]);
      cache.miss(kept);
      await settled([kept]);
      assert.equal(kept.body, null, 'a dropped version is never held again');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('per-file memory', () => {
  test('header blocks are built on first use, kept while the file is unchanged, rebuilt when it changes', async () => {
    const { root } = tree(50, 100);
    // Dated when read (an mtime in a second that is over): a version waiting to be dated gets a new entry once it is.
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, 'f1.bin'), hourAgo, hourAgo);
    let built = 0;
    const table = new AssetTable(root, { watch: false }, (info) => {
      built++;
      return { info };
    });
    try {
      await table.open();
      assert.equal(built, 0, 'a scan builds no entry');
      const first = table.get('/f1.bin');
      assert.equal(table.get('/f1.bin'), first);
      assert.equal(table.get('/missing'), undefined);
      assert.equal(built, 1);
      await table.rescan();
      assert.equal(table.get('/f1.bin'), first, 'an unchanged file keeps its entry');
      writeFileSync(join(root, 'f1.bin'), 'changed');
      await table.rescan();
      assert.notEqual(table.get('/f1.bin'), first);
      assert.equal(built, 2);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a scan does not hold the bytes of the small files it read until it ends (they were 380 MB of a 100,000-file start)', async () => {
    // 1,500 files of 12 KiB (read whole on the main thread, as files up to 16 KiB are) at the root, and
    // a directory listed only once they are all read: there the bytes still held are measured after a
    // full GC. No body cache here (no readWhole), so nothing else keeps them.
    const { root } = tree(1500, 12 * KIB);
    mkdirSync(join(root, 'zz-after'));
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc');
    let held;
    const readDir = async (path) => {
      if (path.endsWith('zz-after')) {
        gc();
        held = process.memoryUsage().arrayBuffers - before;
      }
      return readdir(path, { withFileTypes: true });
    };
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const table = new AssetTable(root, { watch: false, readDir }, (info) => info);
    try {
      await table.open();
      assert.ok(held !== undefined, 'the directory after the files was listed');
      assert.equal(table.get('/f1499.bin')?.size, 12 * KIB);
      // Held until the scan's end, they were all 18 MiB; a few in flight at most now.
      assert.ok(held < 4 * 1024 * KIB, `${(held / 1024 / KIB).toFixed(1)} MiB of file bytes held while the scan walked on`);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('memoryBudget on the server', () => {
  test('bytes in memory never exceed the budget, whatever the pattern, and every body is right', async () => {
    const { root, files } = tree(40, 16 * KIB);
    const budget = 64 * KIB;
    const server = await serve({ root, memoryBudget: '64KiB' });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;
    const hot = [7, 21, 33];
    let maxHeld = 0;
    try {
      // A cold pass over the whole tree, then rounds of the hot files among a stride of cold ones.
      const order = files.map((_, i) => i);
      for (let round = 0; round < 8; round++) order.push(...hot, (round * 7) % 40, (round * 11 + 3) % 40);
      for (const i of order) {
        const res = await request(port, { path: `/f${i}.bin` });
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(files[i]), `f${i}.bin: wrong bytes`);
        maxHeld = Math.max(maxHeld, server.stats.bytesInMemory);
        assert.ok(server.stats.bytesInMemory <= budget, `${server.stats.bytesInMemory} bytes held over ${budget}`);
      }
      assert.ok(maxHeld > 0, 'nothing was ever held in memory');
      assert.ok(server.stats.filesInMemory <= 4);
    } finally {
      await server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('small files the scan read whole are held from the start while there is room, without a second read', async () => {
    const { root, files } = tree(10, 2 * KIB);
    const server = await serve({ root, memoryBudget: 10 * KIB });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      assert.deepEqual([server.stats.filesInMemory, server.stats.bytesInMemory], [5, 10 * KIB], 'the room filled, nothing over it');
      for (let i = 0; i < 10; i++) assert.ok((await request(server.address().port, { path: `/f${i}.bin` })).body.equals(files[i]));
    } finally {
      await server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('memoryBudget 0 holds nothing: every body from disk', async () => {
    const { root, files } = tree(3, 1 * KIB);
    const server = await serve({ root, memoryBudget: 0 });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      for (let k = 0; k < 3; k++) for (let i = 0; i < 3; i++) assert.ok((await request(server.address().port, { path: `/f${i}.bin` })).body.equals(files[i]));
      assert.deepEqual([server.stats.bytesInMemory, server.stats.filesInMemory], [0, 0]);
    } finally {
      await server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('sizes: a number of bytes, or binary units; an ambiguous or bad size is named with its fix', () => {
    const budgetOf = (memoryBudget) => validate({ root: '.', memoryBudget }).memoryBudget;
    assert.equal(budgetOf(undefined), 64 * 1024 * 1024);
    assert.equal(budgetOf(1000), 1000);
    assert.equal(budgetOf('1000'), 1000);
    assert.equal(budgetOf('64MiB'), 64 * 1024 * 1024);
    assert.equal(budgetOf('512 KiB'), 512 * 1024);
    assert.equal(budgetOf('1gib'), 1024 ** 3);
    for (const bad of ['64MB', '1.5GiB', '-1', -1, 'lots', '', 1.5, true, 2 ** 41]) {
      assert.throws(() => validate({ root: '.', memoryBudget: bad }), (e) => {
        assert.equal(e.problems.length, 1, JSON.stringify(bad));
        assert.equal(e.problems[0].option, 'memoryBudget');
        assert.match(e.problems[0].reason, /64MiB/);
        return true;
      });
    }
  });
});
