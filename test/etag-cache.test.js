// The ETag cache: an unchanged tree is ready again after a restart without reading any file; a file
// whose identity changed is read again; a cache file that is corrupt, of another format, of another root
// or with one malformed entry is ignored as a whole; one inside the served root is never used.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetTable } from '../dist/static/asset-table.js';
import { defaultEtagCacheDir, etagCacheFile } from '../dist/static/etag-cache.js';
import { validate } from '../dist/static/options.js';
import { eventually, releaseFifo, request, statGate } from './helpers.js';
import { serve } from '../dist/index.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;

function tree(count) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-etags-'));
  mkdirSync(join(root, 'fonts'));
  for (let i = 0; i < count; i++) writeFileSync(join(root, 'fonts', `f${i}.woff2`), Buffer.alloc(20_000 + i, i)); // hashed on threads
  writeFileSync(join(root, 'small.css'), 'a{}'); // hashed inline
  return root;
}

/**
 * Real identities with the ctime an hour earlier: files written by the test are otherwise racily clean
 * (changed within 2 s of being read), and those are never cached, since a write in the same tick would
 * not change their identity.
 */
async function settledStat(path) {
  const s = await stat(path, { bigint: true });
  return Object.assign(Object.create(Object.getPrototypeOf(s)), s, { ctimeNs: s.ctimeNs - 3_600_000_000_000n });
}

/** Scans `root` once with the ETag cache in `dir`, waits until the cache file is written, and returns the table (closed). */
async function scanOnce(root, dir, warn = () => {}, statFile = settledStat) {
  const table = new AssetTable(root, { watch: false, etagCache: dir, warn, statFile }, (info) => info);
  await table.open();
  // The cache file is written after the scan: wait for it, or a later write of the test could lose to it.
  await table.flush();
  table.close();
  return table;
}

function written(file) {
  assert.ok(existsSync(file), `${file} was not written`);
}

/**
 * A cache file's content as its format line (parsed) and its entry lines (split into fields:
 * path, dev, ino, size, mtime ns, ctime ns, ETag, read at ms, Last-Modified ms), and back.
 */
function readCache(file) {
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a line break');
  return { header: JSON.parse(head), entries: lines.map((line) => line.split('\t')) };
}
const cacheText = ({ header, entries }) => `${JSON.stringify(header)}\n${entries.map((fields) => `${fields.join('\t')}\n`).join('')}`;

/**
 * Scans `root` once to write its cache in `dir`, then gives /small.css the tag of `otherBytes` in that
 * otherwise valid file (its real identity kept). Returns the file and the forged content.
 */
async function forgeTag(root, dir, otherBytes) {
  await scanOnce(root, dir);
  const file = etagCacheFile(dir, realpathSync(root));
  written(file);
  const cache = readCache(file);
  const small = cache.entries.find((fields) => fields[0] === 'small.css');
  small[6] = etagOf(otherBytes);
  const forged = cacheText(cache);
  writeFileSync(file, forged);
  return { file, forged };
}

describe('ETag cache', () => {
  test('an unchanged tree restarts without reading any file; a changed file is read again', async () => {
    const root = tree(20);
    // Dated an hour ago, so that its rewrite below is not read in the second it was dated (a version
    // that cannot be dated after the one before it is not vouched for: see the next test).
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, 'fonts', 'f3.woff2'), hourAgo, hourAgo);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      const cold = await scanOnce(root, dir);
      assert.deepEqual([cold.lastScan.hashed, cold.lastScan.cached], [21, 0]);
      const file = etagCacheFile(dir, realpathSync(root));
      written(file);
      const warm = await scanOnce(root, dir);
      assert.deepEqual([warm.lastScan.hashed, warm.lastScan.cached], [0, 21], 'read files the cache knew');
      assert.equal(warm.info('/fonts/f3.woff2').etag, etagOf(Buffer.alloc(20_003, 3)));
      assert.equal(warm.info('/small.css').etag, etagOf('a{}'));
      // Same size, new bytes: the ctime (and mtime) differ, so the cached tag is not used.
      writeFileSync(join(root, 'fonts', 'f3.woff2'), Buffer.alloc(20_003, 99));
      const after = await scanOnce(root, dir);
      assert.deepEqual([after.lastScan.hashed, after.lastScan.cached], [1, 20]);
      assert.equal(after.info('/fonts/f3.woff2').etag, etagOf(Buffer.alloc(20_003, 99)));
      const newTag = etagOf(Buffer.alloc(20_003, 99));
      assert.ok(readFileSync(file, 'utf8').includes(newTag), 'the cache was rewritten with the new tag');
      const again = await scanOnce(root, dir);
      assert.deepEqual([again.lastScan.hashed, again.lastScan.cached], [0, 21], 'the rewritten cache has the new tag');
      assert.equal(again.info('/fonts/f3.woff2').etag, etagOf(Buffer.alloc(20_003, 99)));
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version that cannot be dated yet is remembered with the date it will get, its tag vouched for by its identity', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    // Both scans within one second (AssetInfo.follows): the second small.css was written in (from the clock
    // read before it was written, a test that crossed into the next second meanwhile dated it: a CI flake).
    const second = Math.floor((await stat(join(root, 'small.css'))).mtimeMs / 1000) * 1000;
    const realNow = Date.now;
    Date.now = () => second + 500;
    try {
      const first = await scanOnce(root, dir);
      // Read in the second it was written: dated once that second is over (RFC 9110 §8.8.2.2).
      assert.deepEqual([first.info('/small.css').undated, first.info('/small.css').lastModified], [true, second]);
      writeFileSync(join(root, 'small.css'), 'b{}');
      const after = await scanOnce(root, dir);
      assert.deepEqual([after.info('/small.css').undated, after.info('/small.css').lastModified], [true, second + 1000]);
      const entry = readCache(etagCacheFile(dir, realpathSync(root))).entries.find((fields) => fields[0] === 'small.css');
      assert.equal(entry[6], etagOf('b{}'));
      const s = await settledStat(join(root, 'small.css'));
      assert.deepEqual(entry.slice(1, 3), [String(s.dev), String(s.ino)], 'vouched for: not racily read (settledStat), only not dated yet');
      assert.equal(Number(entry[8]), second + 1000, 'the date it will get, not the one it shares with the bytes before');
      const restarted = await scanOnce(root, dir);
      assert.deepEqual([restarted.lastScan.hashed, restarted.info('/small.css').undated, restarted.info('/small.css').lastModified], [0, true, second + 1000], 'a restart within that second');
    } finally {
      Date.now = realNow;
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version dated when read (npm\'s stamp) keeps its date across a restart in a later second, dated at once', async () => {
    // Found by an attack: the cached read time was taken for the restart's, so every restart sent it undated for ~2 s.
    const root = tree(0);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const npm = new Date('1985-10-26T08:15:00Z');
    utimesSync(join(root, 'small.css'), npm, npm);
    try {
      const first = await scanOnce(root, dir);
      const date = first.info('/small.css').lastModified;
      assert.equal(first.info('/small.css').undated, true, 'read in the second it is dated with');
      await new Promise((r) => setTimeout(r, date + 1100 - Date.now()));
      const restarted = await scanOnce(root, dir);
      assert.deepEqual([restarted.lastScan.hashed, restarted.info('/small.css').undated, restarted.info('/small.css').lastModified], [0, false, date]);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('paths with a tab, a line break or a leading quote are read back; the root\'s cache of format 1 is deleted', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const names = ['tab\there.woff2', 'line\nbreak.woff2', '"quoted".woff2', 'back\\slash.woff2'];
    for (const name of names) writeFileSync(join(root, 'fonts', name), name);
    try {
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      const legacy = file.replace(/\.tsv$/, '.json');
      writeFileSync(legacy, '{"format": "xorigin-etags/1"}');
      const warm = await scanOnce(root, dir);
      assert.deepEqual([warm.lastScan.hashed, warm.lastScan.cached], [0, 6]);
      for (const name of names) assert.equal(warm.info(`/fonts/${name}`).etag, etagOf(name), name);
      assert.equal(existsSync(legacy), false, 'the format-1 file is gone');
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('after start-up, the changes of a rescan are written to the cache later (once for many edits), at once by flush() or close()', async () => {
    const root = tree(3);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: settledStat }, (info) => info);
    try {
      await table.open();
      await table.flush();
      const file = etagCacheFile(dir, realpathSync(root));
      written(file);
      const tagOf = (text) => etagOf(text);
      writeFileSync(join(root, 'small.css'), 'b{}');
      await table.rescan();
      assert.equal(table.info('/small.css').etag, etagOf('b{}'));
      // A write made right after the rescan would be in the file by now (a few KB): none was.
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!readFileSync(file, 'utf8').includes(tagOf('b{}')), 'the cache was rewritten for one edit at once');
      await table.flush();
      assert.ok(readFileSync(file, 'utf8').includes(tagOf('b{}')), 'flush() wrote the pending change');
      writeFileSync(join(root, 'small.css'), 'c{}');
      await table.rescan();
      table.close();
      for (let i = 0; i < 250 && !readFileSync(file, 'utf8').includes(tagOf('c{}')); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(readFileSync(file, 'utf8').includes(tagOf('c{}')), 'close() started the pending write');
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a rescan that ends after close() writes its changes at once, not 10 s after the table is gone', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    // The rescan's stat of small.css waits until the test has closed the table.
    const gate = statGate('small.css', settledStat);
    const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: gate.statFile }, (info) => info);
    try {
      await table.open();
      await table.flush();
      const file = etagCacheFile(dir, realpathSync(root));
      // The tag's characters, whatever quoting the file's format gives it.
      const tag = etagOf('d{}').slice(1, -1);
      writeFileSync(join(root, 'small.css'), 'd{}');
      const { reached, release } = gate.arm();
      const scanned = table.rescan();
      await reached;
      table.close();
      release();
      await scanned;
      assert.equal(table.info('/small.css').etag, etagOf('d{}'));
      // Bounded well below the 10 s a write scheduled by the rescan would wait: the write is started by now.
      for (let i = 0; i < 250 && !readFileSync(file, 'utf8').includes(tag); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(readFileSync(file, 'utf8').includes(tag), 'the rescan that ended after close() wrote its change within 5 s');
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('temporary files left by a process killed mid-write are deleted; those of a live process are not', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      // A pid that surely ran and ended: a child that has exited.
      const child = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => child.on('exit', r));
      const dead = `${file}.${child.pid}.0123456789ab.tmp`;
      const live = `${file}.${process.pid}.0123456789ab.tmp`;
      const other = join(dir, `unrelated.${child.pid}.tmp`);
      for (const f of [dead, live, other]) writeFileSync(f, '{"format": "xorigin-etags/1", "roo');
      await scanOnce(root, dir);
      assert.deepEqual([existsSync(dead), existsSync(live), existsSync(other)], [false, true, true]);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a cache file that cannot be replaced is warned about and leaves no temporary file behind', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      const file = etagCacheFile(dir, realpathSync(root));
      // A non-empty directory where the file goes: the rename over it fails after the copy is written.
      mkdirSync(join(file, 'in-the-way'), { recursive: true });
      const warnings = [];
      await scanOnce(root, dir, (line) => warnings.push(line));
      assert.ok(warnings.some((line) => line.includes(file)), `warned about the cache file: ${JSON.stringify(warnings)}`);
      const left = readdirSync(join(file, '..')).filter((name) => name.endsWith('.tmp'));
      assert.deepEqual(left, [], 'the temporary copy is deleted');
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt, foreign or partly malformed cache file is ignored as a whole', async () => {
    const root = tree(3);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      written(file);
      const good = readCache(file);
      const [first] = good.entries;
      const withEntry = (fields) => cacheText({ ...good, entries: [...good.entries, fields] });
      const badEntry = (i, v) => cacheText({ ...good, entries: [first.map((x, j) => (j === i ? v : x)), ...good.entries.slice(1)] });
      const text = cacheText(good);
      const variants = {
        'not the format line': '{"format": "xorigin-etags/2", "root"',
        'another format': cacheText({ ...good, header: { ...good.header, format: 'xorigin-etags/1' } }),
        'the JSON of format 1': JSON.stringify({ format: 'xorigin-etags/1', root: good.header.root, files: {} }),
        'another root': cacheText({ ...good, header: { ...good.header, root: '/elsewhere' } }),
        'a path outside the root': withEntry(['../../etc/passwd', ...first.slice(1)]),
        'an absolute path': withEntry(['/etc/passwd', ...first.slice(1)]),
        'a malformed ETag': badEntry(6, '"x"\r\nSet-Cookie: a=b'),
        'a decimal not in canonical form': badEntry(2, `0${first[2]}`),
        'a short entry': cacheText({ ...good, entries: [first.slice(0, 7), ...good.entries.slice(1)] }),
        // save() writes each path once: a second line for it (here with another tag) is not its work.
        'a path twice': withEntry([...first.slice(0, 6), etagOf('other bytes'), ...first.slice(7)]),
        'no Last-Modified (format 2)': cacheText({ ...good, entries: [first.slice(0, 8), ...good.entries.slice(1)] }),
        'a Last-Modified that is no decimal': badEntry(8, '1e12'),
        'CRLF line ends': text.replace(/\n/g, '\r\n'),
        // Longer than any path (PATH_MAX, JSON-escaped), and not at the file's start: it straddles two reads.
        'a line over 64 KiB': withEntry([`fonts/${'x'.repeat(70_000)}`, ...first.slice(1)]),
        'a last line cut short': text.slice(0, -5),
        'an array at the top': '[]',
      };
      for (const [what, text] of Object.entries(variants)) {
        writeFileSync(file, text);
        const table = await scanOnce(root, dir);
        assert.deepEqual([table.lastScan.hashed, table.lastScan.cached], [4, 0], what);
        assert.equal(table.info('/small.css').etag, etagOf('a{}'), what);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dates from the cache far ahead of the clock are said once on stderr (how many, the latest, what to do); a few minutes ahead are not', async () => {
    const root = tree(2);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      const cache = readCache(file);
      const at = (ms) => {
        for (const entry of cache.entries) entry[8] = String(Date.now() + ms);
        writeFileSync(file, cacheText(cache));
      };
      at(2 * 60_000);
      const near = [];
      await scanOnce(root, dir, (line) => near.push(line));
      assert.deepEqual(near.filter((l) => /ahead/.test(l)), [], 'two minutes ahead: nothing said');
      at(86_400_000);
      const far = [];
      const table = await scanOnce(root, dir, (line) => far.push(line));
      const said = far.filter((l) => /ahead/.test(l));
      assert.equal(said.length, 1, far.join('\n'));
      assert.ok(said[0].startsWith(`xorigin: ${table.lastScan.cached} files are dated ahead of this machine's clock, the latest ${new Date(Math.floor(Number(cache.entries[0][8]) / 1000) * 1000).toISOString().slice(0, 10)}`), said[0]);
      assert.match(said[0], /without Last-Modified/);
      assert.ok(said[0].includes(dir), said[0]);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version dated when read (its mtime older than its predecessor\'s) keeps that date after a restart; a kept date ahead of the clock is kept too, the version undated until the clock gets there', async () => {
    // Otherwise a date-only client (curl -z, wget -N) holding that date would be told 304 after the
    // restart for a next version whose mtime lies between the two.
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const css = join(root, 'small.css');
    const day = (d) => new Date(`${d}T00:00:00Z`);
    utimesSync(css, day('2020-01-02'), day('2020-01-02'));
    const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: settledStat }, (info) => info);
    try {
      await table.open();
      assert.equal(table.info('/small.css').lastModified, day('2020-01-02').getTime());
      writeFileSync(css, 'b{}'); // cp -p, rsync -a: new bytes, an older mtime
      utimesSync(css, day('2020-01-01'), day('2020-01-01'));
      await table.rescan();
      const served = table.info('/small.css').lastModified;
      assert.ok(served > day('2026-01-01').getTime(), `dated when read, not ${new Date(served).toUTCString()}`);
      await table.flush();
      table.close();
      const restarted = await scanOnce(root, dir);
      assert.deepEqual([restarted.lastScan.hashed, restarted.lastScan.cached], [0, 2], 'known from the cache');
      assert.equal(restarted.info('/small.css').lastModified, served);
      const font = restarted.info('/fonts/f0.woff2');
      assert.equal(font.lastModified, Math.floor(font.mtimeMs / 1000) * 1000, 'a file dated by its mtime stays so');
      const file = etagCacheFile(dir, realpathSync(root));
      const cache = readCache(file);
      const entry = cache.entries.find((fields) => fields[0] === 'small.css');
      entry[8] = String(Number(entry[7]) + 86_400_000);
      writeFileSync(file, cacheText(cache));
      // A date ahead of the clock (served by a run whose clock was ahead, or one a version was to get):
      // date-only clients may hold it, so it is never given up for an earlier one; undated until then.
      const ahead = await scanOnce(root, dir);
      assert.equal(ahead.lastScan.cached, 2);
      const kept = ahead.info('/small.css');
      assert.deepEqual([kept.lastModified, kept.undated], [Math.floor((Number(entry[7]) + 86_400_000) / 1000) * 1000, true]);
      // A read time in the future too: the date is still the one served, never the mtime before it.
      const readAt = entry[7];
      entry[7] = String(Date.now() + 10 * 86_400_000);
      entry[8] = String(Date.now() + 5 * 86_400_000);
      writeFileSync(file, cacheText(cache));
      const later = (await scanOnce(root, dir)).info('/small.css');
      assert.deepEqual([later.lastModified, later.undated], [Math.floor(Number(entry[8]) / 1000) * 1000, true]);
      // A kept date is whole seconds, as HTTP dates are (else If-Modified-Since, in seconds, never matches it).
      entry[7] = readAt;
      entry[8] = String(Number(readAt) - 1500);
      writeFileSync(file, cacheText(cache));
      assert.equal((await scanOnce(root, dir)).info('/small.css').lastModified, Math.floor((Number(readAt) - 1500) / 1000) * 1000);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version installed while stopped is dated after the one served before it; the same bytes reinstalled keep their date', async () => {
    // The table's rule (other bytes get a later date) knew only the version in memory: after a restart a
    // new version stamped older (cp -p, rsync -a of an old build) was dated by its mtime, and a date-only
    // client holding the old version's date was told 304 (golang/go#9842, caddyserver/caddy#5548 class).
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const css = join(root, 'small.css');
    const day = (d) => new Date(`${d}T00:00:00Z`);
    try {
      utimesSync(css, day('2020-01-02'), day('2020-01-02'));
      assert.equal((await scanOnce(root, dir)).info('/small.css').lastModified, day('2020-01-02').getTime());
      rmSync(css);
      writeFileSync(css, 'b{}'); // other bytes, an older mtime, another inode
      utimesSync(css, day('2020-01-01'), day('2020-01-01'));
      const next = (await scanOnce(root, dir)).info('/small.css');
      assert.equal(next.etag, etagOf('b{}'));
      assert.ok(next.lastModified > day('2026-01-01').getTime(), `dated when read, not ${next.lastModifiedText}`);
      // Reinstalled: the same bytes under a new identity (a later mtime too) keep the date they were served with.
      rmSync(css);
      writeFileSync(css, 'b{}');
      utimesSync(css, day('2021-01-01'), day('2021-01-01'));
      assert.equal((await scanOnce(root, dir)).info('/small.css').lastModified, next.lastModified);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Each way a URL can come to serve other bytes with an older mtime than what it served last, without
  // the table seeing the change happen (attack on e6dcbe1: F2, F4, F5, F7, F8). A date-only client
  // (curl -z, wget -N) holding the last date must not be told 304 for the new bytes.
  describe('what a URL served last is remembered by URL, across a restart', () => {
    const day = (d) => new Date(d.includes('T') ? d : `${d}T00:00:00Z`);
    const stamp = (path, bytes, d) => {
      writeFileSync(path, bytes);
      utimesSync(path, day(d), day(d));
    };
    const nextSecond = async (ms) => {
      while (Date.now() < Math.floor(ms / 1000) * 1000 + 1000) await new Promise((r) => setTimeout(r, 20));
    };
    let root;
    let dir;
    /** A test with a fresh root and cache directory, both removed after it. */
    const inTree = (name, body) =>
      test(name, async () => {
        root = mkdtempSync(join(tmpdir(), 'xorigin-etags-url-'));
        dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
        try {
          await body();
        } finally {
          rmSync(root, { recursive: true, force: true });
          rmSync(dir, { recursive: true, force: true });
        }
      });

    inTree('a version read too recently to cache (racily clean) is still remembered: the next one, even the one before reinstalled, is dated after it', async () => {
      const css = join(root, 'a.css');
      stamp(css, 'v1', '2020-01-02');
      assert.equal((await scanOnce(root, dir)).info('/a.css').lastModified, day('2020-01-02').getTime());
      stamp(css, 'v2', '2020-01-01');
      // A real stat: just written, so racily clean, not cached as a tag.
      const racy = (await scanOnce(root, dir, undefined, (path) => stat(path, { bigint: true }))).info('/a.css');
      assert.ok(racy.lastModified > day('2026-01-01').getTime(), racy.lastModifiedText);
      await nextSecond(racy.lastModified);
      rmSync(css);
      stamp(css, 'v1', '2020-01-02'); // v1 reinstalled: new inode, its old mtime
      const back = (await scanOnce(root, dir)).info('/a.css');
      assert.ok(back.lastModified > racy.lastModified, `${back.lastModifiedText} after ${racy.lastModifiedText}`);
    });

    inTree('a path removed, then put back older: while running, and across a restart in between', async () => {
      const css = join(root, 'a.css');
      stamp(css, 'v1', '2020-01-02');
      const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: settledStat }, (info) => info);
      await table.open();
      try {
        rmSync(css);
        await table.rescan();
        assert.equal(table.info('/a.css'), undefined);
        stamp(css, 'v2', '2020-01-01');
        await table.rescan();
        assert.ok(table.info('/a.css').lastModified > day('2026-01-01').getTime(), table.info('/a.css').lastModifiedText);
        rmSync(css);
        await table.rescan();
        await table.flush();
      } finally {
        table.close();
      }
      const served = Date.now();
      // Stopped without it; started once without it (the cache must keep saying it); then it is back.
      await scanOnce(root, dir);
      await nextSecond(served);
      stamp(css, 'v3', '2020-01-01');
      const back = (await scanOnce(root, dir)).info('/a.css');
      assert.ok(back.lastModified > day('2026-01-01').getTime(), `dated when read, not ${back.lastModifiedText}`);
    });

    inTree('a reinstall of bytes the cache knew is never dated earlier than what the URL served since, in a run that did not write the cache', async () => {
      const js = join(root, 'lib.js');
      stamp(js, 'lib v1', '1985-10-26T08:15:00Z');
      const v1 = (await scanOnce(root, dir)).info('/lib.js');
      await nextSecond(v1.lastModified);
      rmSync(js);
      stamp(js, 'lib v2', '1985-10-26T08:15:00Z');
      // Served by a run with --etag-cache off: the cache still says v1.
      const uncached = new AssetTable(root, { watch: false, statFile: settledStat }, (info) => info);
      await uncached.open();
      const v2 = uncached.info('/lib.js');
      uncached.close();
      assert.ok(v2.lastModified > v1.lastModified, `${v2.lastModifiedText} ${v1.lastModifiedText} ${v2.etag} ${v1.etag}`);
      await nextSecond(v2.lastModified);
      rmSync(js);
      stamp(js, 'lib v1', '1985-10-26T08:15:00Z'); // rolled back
      const back = (await scanOnce(root, dir)).info('/lib.js');
      assert.ok(back.lastModified > v2.lastModified, `${back.lastModifiedText} after ${v2.lastModifiedText}`);
    });

    inTree('a cache holding more removed paths than are remembered is written again with those alone, not read whole at every start', async () => {
      stamp(join(root, 'kept.css'), 'kept', '2020-01-02');
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      const cache = readCache(file);
      const tag = cache.entries[0][6];
      for (let i = 0; i < 10_500; i++) cache.entries.push([`gone/f${i}.css`, '0', '0', '0', '0', '0', tag, '0', String(day('2021-01-01').getTime())]);
      writeFileSync(file, cacheText(cache));
      const table = await scanOnce(root, dir);
      assert.equal(table.lastScan.hashed, 0, 'nothing read: only the removed paths make it write');
      const written = readCache(file).entries;
      assert.equal(written.length, 10_001, 'kept.css and the 10,000 removed paths remembered');
      assert.ok(written.some((fields) => fields[0] === 'kept.css'));
    });

    inTree('a precompressed sibling and its file answer one URL: a new version of either is dated after what the other served; unchanged ones keep their dates', async () => {
      const js = join(root, 'a.js');
      const br = join(root, 'a.js.br');
      stamp(js, 'build 1', '2020-01-01');
      stamp(br, 'build 1, br', '2020-01-03'); // compressed after the build
      const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: settledStat }, (info) => info);
      await table.open();
      try {
        assert.equal(table.info('/a.js.br').lastModified, day('2020-01-03').getTime());
        // Build 2 (made on the 2nd), without its .br: a client holding the br bytes has the 3rd.
        rmSync(br);
        stamp(js, 'build 2, other bytes', '2020-01-02');
        await table.rescan();
        assert.ok(table.info('/a.js').lastModified > day('2026-01-01').getTime(), table.info('/a.js').lastModifiedText);
        const served = table.info('/a.js').lastModified;
        // A .br from an older build added: dated after what /a.js served.
        stamp(br, 'build 0, br', '2019-06-01');
        await table.rescan();
        assert.ok(table.info('/a.js.br').lastModified >= served, table.info('/a.js.br').lastModifiedText);
        // Read in the second /a.js was dated, it is dated a second later, once the clock is there.
        await eventually(() => !table.info('/a.js.br').undated, () => 'a.js.br dated within 10 s');
        await table.flush();
      } finally {
        table.close();
      }
      // Unchanged across a restart: each keeps its own date, the sibling's later one notwithstanding.
      const before = [(await scanOnce(root, dir)).info('/a.js').lastModified];
      const again = await scanOnce(root, dir);
      assert.equal(again.lastScan.hashed, 0);
      assert.deepEqual([again.info('/a.js').lastModified], before);
    });

    inTree('a URL re-pointed by a symlink while stopped is dated after what it served, not as its target', async () => {
      stamp(join(root, 'a.js'), 'a', '2020-01-02');
      stamp(join(root, 'b.js'), 'b', '2020-01-01');
      await scanOnce(root, dir);
      rmSync(join(root, 'a.js'));
      symlinkSync('b.js', join(root, 'a.js'));
      const table = await scanOnce(root, dir);
      assert.equal(table.info('/a.js').etag, table.info('/b.js').etag);
      assert.equal(table.info('/b.js').lastModified, day('2020-01-01').getTime());
      assert.ok(table.info('/a.js').lastModified > day('2026-01-01').getTime(), table.info('/a.js').lastModifiedText);
    });

    inTree('a root symlink switched back to an older release while stopped: its URLs are dated after the newer release', async () => {
      for (const [release, bytes, d] of [['r41', 'old', '2020-01-01'], ['r42', 'new', '2020-01-02']]) {
        mkdirSync(join(root, release));
        stamp(join(root, release, 'x.css'), bytes, d);
      }
      const current = join(root, 'current');
      const point = (release) => {
        rmSync(current, { force: true });
        symlinkSync(release, current);
      };
      point('r41');
      await scanOnce(current, dir);
      point('r42');
      assert.equal((await scanOnce(current, dir)).info('/x.css').lastModified, day('2020-01-02').getTime());
      point('r41'); // rolled back
      const back = (await scanOnce(current, dir)).info('/x.css');
      assert.ok(back.lastModified > day('2026-01-01').getTime(), `dated when read, not ${back.lastModifiedText}`);
    });
  });

  test('a date served before that is past now (a clock set back since, by NTP or between two runs) makes the next version undated until the clock is past it, then dated after it; one no HTTP date can name (a forged line), or before 1970, is not carried (found by a fault review: such a version was dated when read, before what date-only clients held, and told them 304)', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const css = join(root, 'small.css');
    try {
      await scanOnce(root, dir);
      const file = etagCacheFile(dir, realpathSync(root));
      const cache = readCache(file);
      const entry = cache.entries.find((fields) => fields[0] === 'small.css');
      const ahead = Date.now() + 86_400_000;
      for (const future of [String(ahead), '9999999999999999', '-9999999999999999', '-1000']) {
        entry[8] = future;
        writeFileSync(file, cacheText(cache));
        writeFileSync(css, `other bytes ${future}`);
        const info = (await scanOnce(root, dir, undefined, async (path) => settledStat(path))).info('/small.css');
        if (future === String(ahead)) {
          // Sent without Last-Modified (its date conditions ignored) until the clock gets past that date.
          assert.equal(info.undated, true, info.lastModifiedText);
          assert.equal(info.lastModified, Math.floor(ahead / 1000) * 1000 + 1000, info.lastModifiedText);
          continue;
        }
        assert.ok(Number.isFinite(info.lastModified) && info.lastModified <= Date.now() && info.lastModified > 0, `${future}: ${info.lastModifiedText} is past now or before 1970`);
      }
      // The line of the same version (its identity unchanged), npm-stamped, whose served date is believed
      // when it is one (ahead of the clock: kept, undated until then).
      utimesSync(css, new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));
      await scanOnce(root, dir);
      // The last second an HTTP date names (9999-12-31T23:59:59Z) is one; the next is not.
      const last = String(Date.UTC(9999, 11, 31, 23, 59, 59));
      for (const forged of ['-9999999999999999', '-1000', '9999999999999999', String(Number(last) + 1000), last, String(ahead)]) {
        const current = readCache(file);
        current.entries.find((fields) => fields[0] === 'small.css')[8] = forged;
        writeFileSync(file, cacheText(current));
        const same = await scanOnce(root, dir);
        assert.equal(same.lastScan.hashed, 0, 'the same version, known from the cache');
        const info = same.info('/small.css');
        if (forged === String(ahead) || forged === last) assert.deepEqual([info.lastModified, info.undated], [Math.floor(Number(forged) / 1000) * 1000, true], forged);
        else assert.ok(info.lastModified > Date.UTC(2020, 0, 1) && info.lastModified <= Date.now(), `${forged}: ${info.lastModifiedText}`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a FIFO named as the cache file is not waited on (start-up goes on, every file is hashed)', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    const file = etagCacheFile(dir, realpathSync(root));
    execFileSync('mkfifo', ['-m', '600', file]);
    try {
      let timer;
      const stuck = new Promise((resolve) => {
        timer = setTimeout(resolve, 5000, 'stuck');
      });
      const outcome = await Promise.race([scanOnce(root, dir), stuck]);
      clearTimeout(timer);
      if (outcome === 'stuck') {
        // Give the blocked open() its writer, so that this process can end.
        releaseFifo(file);
        assert.fail('the scan still waited for a writer to the FIFO after 5 s');
      }
      assert.deepEqual([outcome.lastScan.hashed, outcome.lastScan.cached], [2, 0]);
      assert.equal(outcome.info('/small.css').etag, etagOf('a{}'));
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('files read within 2 s of a change (racily clean) are not cached: a same-tick write would go unseen', async () => {
    const root = tree(2);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      const real = (path) => stat(path, { bigint: true });
      await scanOnce(root, dir, () => {}, real);
      written(etagCacheFile(dir, realpathSync(root)));
      const again = await scanOnce(root, dir, () => {}, real);
      assert.deepEqual([again.lastScan.hashed, again.lastScan.cached], [3, 0]);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a cache directory inside the served root is not used (said once), and nothing is written there', async () => {
    const root = tree(2);
    const warnings = [];
    try {
      const table = await scanOnce(root, join(root, 'cache'), (line) => warnings.push(line));
      assert.equal(table.lastScan.hashed, 3);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(existsSync(join(root, 'cache')), false);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /inside the root/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a cache directory reached through a symlink into the root is not used either (its file would be served)', async () => {
    const root = tree(2);
    const outside = mkdtempSync(join(tmpdir(), 'xorigin-etag-link-'));
    mkdirSync(join(root, 'pub'));
    symlinkSync(join(root, 'pub'), join(outside, 'cache')); // $XDG_CACHE_HOME/xorigin -> <root>/pub
    const warnings = [];
    try {
      // Not yet existing below the link (mkdir -p at save would create it inside the root) and the link itself.
      for (const dir of [join(outside, 'cache', 'xorigin'), join(outside, 'cache')]) {
        warnings.length = 0;
        const table = await scanOnce(root, dir, (line) => warnings.push(line));
        assert.equal(table.lastScan.hashed, 3);
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(readdirSync(join(root, 'pub')), [], `${dir}: the cache was written inside the root`);
        assert.equal(warnings.length, 1, `${dir}: ${warnings.join(' | ')}`);
        assert.match(warnings[0], /inside the root/);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a cache file another user could have written is not read (a forged tag would be served with other bytes)', async () => {
    const root = tree(1);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      // Someone else's tag for /small.css, in an otherwise valid file with its real identity.
      const { file, forged } = await forgeTag(root, dir, 'the old version a CDN still holds');
      const cases = [
        ['file world-writable', 0o666, 0o700, true],
        ['file group-writable', 0o620, 0o700, true],
        ['directory world-writable', 0o600, 0o777, true],
        ['directory world-writable but sticky (as /tmp)', 0o600, 0o1777, false],
        ['both private', 0o600, 0o700, false],
      ];
      if (process.getuid?.() === 0) cases.push(['file owned by another user', 0o600, 0o700, true, 65534]);
      for (const [what, fileMode, dirMode, ignored, owner] of cases) {
        chmodSync(file, fileMode);
        chmodSync(dir, dirMode);
        if (owner !== undefined) chownSync(file, owner, owner);
        const warnings = [];
        const table = await scanOnce(root, dir, (line) => warnings.push(line));
        if (ignored) {
          assert.deepEqual([table.lastScan.hashed, table.lastScan.cached], [2, 0], what);
          assert.equal(table.info('/small.css').etag, etagOf('a{}'), what);
          assert.match(warnings.join('\n'), /another user/, what);
        } else {
          assert.deepEqual([table.lastScan.hashed, table.lastScan.cached], [0, 2], what);
          assert.deepEqual(warnings, [], what);
        }
        writeFileSync(file, forged); // the scan may have rewritten it
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a tag found wrong when the bytes are read (same identity) is corrected by refresh, not kept', async () => {
    const root = tree(0);
    const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
    try {
      // A wrong tag this user's own cache file can carry (a forgery as this user, a bug, a disk error).
      const { file } = await forgeTag(root, dir, 'another version');
      chmodSync(file, 0o600);
      chmodSync(dir, 0o700);
      const table = new AssetTable(root, { watch: false, etagCache: dir, statFile: settledStat }, (info) => info);
      await table.open();
      assert.equal(table.info('/small.css').etag, etagOf('another version'), 'the cache was used');
      // What the body cache does when the bytes it read do not hash to the tag.
      await table.refresh(table.info('/small.css'));
      assert.equal(table.info('/small.css').etag, etagOf('a{}'));
      table.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('where the cache lives: $XDG_CACHE_HOME/xorigin, else ~/.cache/xorigin; "off" or absent in code: none', () => {
    assert.equal(defaultEtagCacheDir({ XDG_CACHE_HOME: '/var/cache/me' }), '/var/cache/me/xorigin');
    assert.match(defaultEtagCacheDir({ XDG_CACHE_HOME: 'relative' }), /\/\.cache\/xorigin$/, 'a relative XDG_CACHE_HOME is invalid by the spec');
    assert.match(defaultEtagCacheDir({}), /\/\.cache\/xorigin$/);
    assert.equal(validate({ root: '.' }).etagCache, undefined);
    assert.equal(validate({ root: '.', etagCache: 'off' }).etagCache, undefined);
    assert.equal(validate({ root: '.', etagCache: '/tmp/x' }).etagCache, '/tmp/x');
    assert.throws(() => validate({ root: '.', etagCache: '' }), (e) => e.problems[0].option === 'etagCache');
  });
});

test('server.shutdown() resolves once the ETag cache holds the last changes (the write waiting 10 s after a rescan is made then)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-etags-'));
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-etag-dir-'));
  const css = join(root, 'small.css');
  writeFileSync(css, 'a{}');
  // Read 2 s after its last change or later, a file's tag may be kept (else it is racily clean).
  await new Promise((r) => setTimeout(r, 2100));
  const server = await serve({ root, etagCache: dir });
  try {
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    writeFileSync(css, 'b{}');
    const port = server.address().port;
    for (let i = 0; i < 100 && (await request(port, { path: '/small.css' })).body !== 'b{}'; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 2600)); // settled: read again, then kept at the next write
  } finally {
    await server.shutdown(1000);
  }
  try {
    const cache = readCache(etagCacheFile(dir, realpathSync(root)));
    assert.deepEqual(cache.entries.map((fields) => [fields[0], fields[6]]), [['small.css', etagOf('b{}')]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache directory that cannot be made although its parent exists (under /proc) is warned about once, and start-up and shutdown go on', { timeout: 20_000 }, async () => {
  // Node's recursive mkdir retried such a level for ever on a libuv thread, at 100% CPU; shutdown then never ended.
  const root = mkdtempSync(join(tmpdir(), 'xorigin-etags-'));
  writeFileSync(join(root, 'small.css'), 'a{}');
  const warnings = [];
  const table = await scanOnce(root, '/proc/self/xorigin-etags-test', (line) => warnings.push(line));
  try {
    assert.equal(table.info('/small.css').etag, etagOf('a{}'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /cannot write the ETag cache: .*\/proc\/self\/xorigin-etags-test/);
    const server = await serve({ root, etagCache: '/proc/self/xorigin-etags-test' });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const started = Date.now();
    await server.shutdown(5000);
    assert.ok(Date.now() - started < 4000, `shutdown took ${Date.now() - started} ms`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
