// The walk of a large tree stats its files, and reads and hashes the small ones, in batches on the
// hashing threads (file-probe.ts): what it finds is what the file-by-file walk finds (the same tags,
// the same bytes served), a file it cannot read is looked at again the usual way, and a file the table
// or the ETag cache knows is not read ahead (a small warm start probes nothing) unless the scan found
// many of those changed (a deploy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AssetTable } from '../dist/static/asset-table.js';
import { FileHasher } from '../dist/static/file-hasher.js';
import { probedAt } from '../dist/static/file-probe.js';
import { PROBE_AFTER, PROBE_STATS_AFTER } from '../dist/static/tree-reader.js';
import { request, runCli, stopCli } from './helpers.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest();

function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-probe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A tree past PROBE_AFTER files in a few directories: small files of various sizes (empty too), and
 * some past the size read whole (16 KiB), hashed on the threads; returns URL path → bytes.
 */
function largeTree(root) {
  const files = new Map();
  for (let d = 0; d < 4; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let i = 0; i < PROBE_AFTER / 2; i++) {
      const size = i % 97 === 0 ? 20_000 + i : i % 50 === 0 ? 0 : 1 + ((i * 37) % 3000);
      const bytes = Buffer.alloc(size, `${d}:${i};`);
      writeFileSync(join(root, `d${d}`, `f${i}.txt`), bytes);
      files.set(`/d${d}/f${i}.txt`, bytes);
    }
  }
  return files;
}

function openTable(t, root, options = {}) {
  const table = new AssetTable(root, { watch: false, ...options }, (info) => info);
  t.after(() => table.close());
  return table;
}

test('a probe answers each name\'s stat, and reads and hashes just the small regular files asked for', async (t) => {
  const dir = tempDir(t);
  const outside = tempDir(t);
  const small = Buffer.from('small font bytes');
  writeFileSync(join(dir, 'small'), small);
  writeFileSync(join(dir, 'not-asked'), small);
  writeFileSync(join(dir, 'large'), Buffer.alloc(5000, 1));
  writeFileSync(join(dir, 'empty'), '');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(outside, 'secret'), 'outside the root');
  symlinkSync(join(outside, 'secret'), join(dir, 'link')); // a name a file was, replaced by a symlink since the listing
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const names = ['small', 'not-asked', 'large', 'empty', 'sub', 'gone', 'link', 'fifo'];
  const hasher = new FileHasher(1);
  t.after(() => hasher.close());
  const reply = await hasher.probe({ paths: names.map((name) => join(dir, name)), read: Uint8Array.from([1, 0, 1, 1, 1, 1, 1, 1]), readUpTo: 4096 });
  assert.notEqual(reply, null, 'the thread answered');
  const at = (name) => probedAt(reply, names.indexOf(name));

  const s = statSync(join(dir, 'small'), { bigint: true });
  const probed = at('small');
  for (const field of ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs', 'nlink']) assert.equal(probed.stats[field], s[field], field);
  assert.deepEqual([probed.stats.isFile(), probed.stats.isDirectory()], [true, false]);
  assert.deepEqual(probed.read.digest, sha256(small));
  assert.equal(probed.read.after.ino, s.ino);
  assert.ok(Math.abs(probed.read.readAtMs - Date.now()) < 10_000, 'read at: ms since the epoch');

  assert.equal(at('not-asked').read, undefined, 'stat only');
  assert.equal(at('not-asked').stats.size, BigInt(small.length));
  assert.equal(at('large').read, undefined, 'past readUpTo');
  assert.equal(at('large').stats.size, 5000n);
  assert.deepEqual(at('empty').read.digest, sha256(Buffer.alloc(0)));
  assert.deepEqual([at('sub').stats.isDirectory(), at('sub').read], [true, undefined]);
  assert.equal(at('gone'), null, 'a failed stat: the walk stats it again and sees why');
  assert.equal(at('link').read, undefined, 'never read through a symlink (O_NOFOLLOW): the walk reads it the usual way and sees ELOOP');
  assert.deepEqual([at('fifo').stats.isFile(), at('fifo').read], [false, undefined]);
});

test('a probe no thread can take (its thread exits) answers null, for the walk to go file by file; said once', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a'), 'a');
  const script = join(dir, 'exits.mjs');
  writeFileSync(script, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(0));\n");
  const said = [];
  const hasher = new FileHasher(1, (e) => said.push(e.message), pathToFileURL(script));
  t.after(() => hasher.close());
  const request = { paths: [join(dir, 'a')], read: Uint8Array.of(1), readUpTo: 10 };
  assert.equal(await hasher.probe(request), null);
  assert.equal(await hasher.probe(request), null, 'and at once while threads are unavailable');
  assert.deepEqual(said.map((m) => /exited \(code 0\)/.test(m)), [true]);
});

test(`a walk past ${PROBE_AFTER} files probes them in batches: every tag and every body served is the file's; a small tree and an injected statFile go file by file`, async (t) => {
  const root = tempDir(t);
  const files = largeTree(root);
  const table = openTable(t, root);
  await table.open();
  assert.equal(table.size >= files.size, true);
  for (const [path, bytes] of files) assert.equal(table.info(path)?.etag, etagOf(bytes), path);
  const report = table.lastScan;
  assert.ok(report.probed >= files.size - PROBE_AFTER, `only ${report.probed} of ${files.size} files probed`);
  assert.equal(report.hashed, files.size);

  // The injected statFile must see every stat (tests land writers between a read and its stat with it).
  const seen = [];
  const injected = openTable(t, root, { statFile: (path) => (seen.push(path), stat(path, { bigint: true })) });
  await injected.open();
  assert.equal(injected.lastScan.probed, 0);
  assert.ok(seen.length >= 2 * files.size, `${seen.length} stats seen for ${files.size} files read`);
  for (const [path, bytes] of files) assert.equal(injected.info(path)?.etag, etagOf(bytes), path);

  const smallRoot = tempDir(t);
  writeFileSync(join(smallRoot, 'a.css'), 'a{}');
  const smallTable = openTable(t, smallRoot);
  await smallTable.open();
  assert.equal(smallTable.lastScan.probed, 0, 'a small tree starts no thread');
});

test('the server serves a probed tree: each body, small or large, is the file\'s, with its tag', async (t) => {
  const root = tempDir(t);
  const files = largeTree(root);
  const r = await runCli(['serve', root, '--origin', '*', '--port', '0'], { timeoutMs: 30_000 });
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  const port = r.port;
  const paths = [...files.keys()].filter((_, i) => i % 7 === 0);
  for (const path of paths) {
    const res = await request(port, { path });
    assert.equal(res.status, 200, path);
    assert.deepEqual(res.body, files.get(path), path);
    assert.equal(res.headers.etag, etagOf(files.get(path)), path);
  }
});

test(`a warm start of a tree of fewer than ${PROBE_STATS_AFTER} files reads nothing ahead and probes nothing (threads for stats alone cost more than they save there): every file the ETag cache knows is stat'ed only; a file changed since is read`, async (t) => {
  const root = tempDir(t);
  const cache = tempDir(t);
  const files = largeTree(root);
  // Read more than 2 s after their last change, or they are racily clean and not cached (file-identity.ts).
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const first = openTable(t, root, { etagCache: cache });
  await first.open();
  await first.flush();
  first.close();
  const changed = Buffer.from('changed while the server was stopped');
  writeFileSync(join(root, 'd1', 'f3.txt'), changed);

  const warm = openTable(t, root, { etagCache: cache });
  await warm.open();
  assert.equal(warm.lastScan.hashed, 1, 'the changed file only');
  assert.equal(warm.lastScan.cached, files.size - 1);
  assert.equal(warm.lastScan.probed, 0);
  assert.equal(warm.bytesRead, changed.length, 'bytes read: the changed file\'s, nothing ahead');
  assert.equal(warm.info('/d1/f3.txt').etag, etagOf(changed));
  assert.equal(warm.info('/d2/f5.txt').etag, etagOf(files.get('/d2/f5.txt')));
  await warm.flush(); // its cache write, before the directory goes
});

/** Opens a table over `root` with the ETag cache `cache`, lets it write the cache, and closes it. */
async function cacheTree(t, root, cache) {
  // Read more than 2 s after their last change, or they are racily clean and not cached (file-identity.ts).
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const first = openTable(t, root, { etagCache: cache });
  await first.open();
  await first.flush();
  first.close();
}

test('a restart after a deploy replaced the tree reads the changed files ahead in the probes (one by one, it took 23 s for 100,000 files where a cold start takes 3): every tag is the new bytes\'', async (t) => {
  const root = tempDir(t);
  const cache = tempDir(t);
  const files = largeTree(root);
  await cacheTree(t, root, cache);
  for (const [path, bytes] of files) {
    const deployed = Buffer.concat([bytes, Buffer.from(' v2')]);
    writeFileSync(join(root, `${path}.tmp`), deployed);
    renameSync(join(root, `${path}.tmp`), join(root, path));
    files.set(path, deployed);
  }
  const restarted = openTable(t, root, { etagCache: cache });
  await restarted.open();
  const report = restarted.lastScan;
  assert.equal(report.hashed, files.size);
  assert.equal(report.cached, 0);
  const small = [...files.values()].filter((bytes) => bytes.length <= 16 * 1024).length;
  // The first PROBE_AFTER files go one by one, then a few per directory until the changes are seen.
  assert.ok(report.readAhead >= small - PROBE_AFTER - 4 * 64, `${report.readAhead} of ${small} small files read ahead`);
  for (const [path, bytes] of files) assert.equal(restarted.info(path)?.etag, etagOf(bytes), path);
  await restarted.flush();
});

test(`a warm start of a tree past ${PROBE_STATS_AFTER} files probes the stats of those it lists past that, and reads nothing ahead but a file changed since`, async (t) => {
  const root = tempDir(t);
  const cache = tempDir(t);
  const count = PROBE_STATS_AFTER + 2000;
  for (let d = 0; d < 6; d++) mkdirSync(join(root, `d${d}`));
  for (let i = 0; i < count; i++) writeFileSync(join(root, `d${i % 6}`, `f${i}`), `${i}`);
  await cacheTree(t, root, cache);
  writeFileSync(join(root, 'd5', 'f11999'), 'changed');
  const warm = openTable(t, root, { etagCache: cache });
  await warm.open();
  const report = warm.lastScan;
  assert.equal(report.hashed, 1);
  assert.equal(report.cached, count - 1);
  assert.ok(report.probed >= count - PROBE_STATS_AFTER, `${report.probed} probed`);
  assert.equal(report.readAhead, 0);
  assert.equal(warm.info('/d5/f11999').etag, etagOf(Buffer.from('changed')));
  await warm.flush();
});

/**
 * A directory of `count` files whose names at `swapped` become directories (each holding inner.txt) right
 * after the walk lists it (an injected readDir makes the race certain), and a table over it.
 */
async function swappedAfterListing(t, count, swapped) {
  const root = tempDir(t);
  const big = join(root, 'big');
  mkdirSync(big);
  const name = (i) => `f${String(i).padStart(5, '0')}`;
  for (let i = 0; i < count; i++) writeFileSync(join(big, name(i)), `x${i}`);
  let listed = false;
  const readDir = async (dir) => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (dir.endsWith('/big') && !listed) {
      listed = true;
      for (const i of swapped) {
        unlinkSync(join(big, name(i)));
        mkdirSync(join(big, name(i)));
        writeFileSync(join(big, name(i), 'inner.txt'), 'inner');
      }
    }
    return entries;
  };
  const table = openTable(t, root, { readDir });
  const opened = await Promise.race([table.open().then(() => 'ready'), new Promise((resolve) => setTimeout(resolve, 15_000, 'still scanning 15 s later').unref())]);
  return { table, opened, name };
}

test('names listed as files that are directories by the time they are visited are walked: the scan ends (found by a review: four such names in the probes\' slots, or 64 in the file slots, each waiting for a slot for its own files, stopped it for good)', async (t) => {
  const probed = await swappedAfterListing(t, PROBE_AFTER + 4 * 256, [0, 256, 512, 768]);
  assert.equal(probed.opened, 'ready');
  assert.ok(probed.table.lastScan.probed > 0);
  assert.equal(probed.table.info(`/big/${probed.name(256)}/inner.txt`)?.etag, etagOf(Buffer.from('inner')));
  assert.equal(probed.table.info(`/big/${probed.name(256)}`), undefined);
  assert.equal(probed.table.info(`/big/${probed.name(1)}`)?.etag, etagOf(Buffer.from('x1')));

  const oneByOne = await swappedAfterListing(t, 300, Array.from({ length: 70 }, (_, i) => i));
  assert.equal(oneByOne.opened, 'ready');
  assert.equal(oneByOne.table.lastScan.probed, 0);
  assert.equal(oneByOne.table.info(`/big/${oneByOne.name(69)}/inner.txt`)?.etag, etagOf(Buffer.from('inner')));
  assert.equal(oneByOne.table.info(`/big/${oneByOne.name(70)}`)?.etag, etagOf(Buffer.from('x70')));
});
