// The open-fd cache: files served from disk are opened once, not per request; the cache is bounded; and
// a file replaced, rewritten in place, truncated or deleted while its fd is cached is never served from
// that fd (a new version's bytes, never a mix, never a stale body). Real sockets on 127.0.0.1.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { mkdtempSync, readdirSync, renameSync, rmSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { FdCache } from '../dist/static/fd-cache.js';
import { request } from './helpers.js';

const MB = 1024 * 1024;
const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
const fdCount = () => readdirSync('/proc/self/fd').length;

/** A server that reads every body from disk (no memory budget) and never rescans by itself. */
async function start(root, extra = {}) {
  const server = await serve({ root, memoryBudget: 0, watch: false, ...extra });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

/** Counts fs.open calls on `path` while `fn` runs (the server's modules import open from node:fs). */
async function countOpens(path, fn) {
  const original = fs.open;
  let opens = 0;
  fs.open = (p, ...rest) => {
    if (p === path) opens++;
    return original(p, ...rest);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fs.open = original;
    syncBuiltinESMExports();
  }
  return opens;
}

/** Polls until `check()` holds, or fails with `describe()`. */
async function eventually(check, describe, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(describe());
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('open-fd cache', () => {
  test('Range requests and GETs of a 1 MB font open it once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
    const font = Buffer.alloc(MB, 7);
    font.write('head', 0);
    writeFileSync(join(root, 'font.woff2'), font);
    const s = await start(root);
    try {
      const opens = await countOpens(join(root, 'font.woff2'), async () => {
        for (let i = 0; i < 10; i++) {
          const part = await request(s.port, { path: '/font.woff2', headers: { Range: `bytes=${i * 1000}-${i * 1000 + 999}` } });
          assert.equal(part.status, 206);
          assert.ok(part.body.equals(font.subarray(i * 1000, i * 1000 + 1000)));
          assert.ok((await request(s.port, { path: '/font.woff2' })).body.equals(font));
        }
      });
      assert.equal(opens, 1, `${opens} opens for 20 responses`);
      assert.equal(s.server.stats.openFiles, 0, 'no response holds it');
      assert.equal(s.server.stats.cachedFds, 1);
    } finally {
      await s.server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('the number of fds kept is bounded, and shutdown closes them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
    for (let i = 0; i < 300; i++) writeFileSync(join(root, `f${i}.otf`), `font ${i}`);
    const baseline = fdCount();
    const s = await start(root);
    try {
      for (let i = 0; i < 300; i++) assert.equal((await request(s.port, { path: `/f${i}.otf` })).body.toString(), `font ${i}`);
      await eventually(() => s.server.stats.openFiles === 0, () => JSON.stringify(s.server.stats));
      assert.equal(s.server.stats.cachedFds, 128);
      // The 128 kept, the listening socket and the root directory's own fd (asset-table.ts rootFd), once
      // the last request's sockets and the fds evicted (closed on the thread pool) are gone: counted at
      // once, a socket still open made it one too many (on a busy machine, or with this test run alone).
      await eventually(() => fdCount() <= baseline + 128 + 2, () => `fds: ${fdCount()}, baseline ${baseline}`);
    } finally {
      await s.server.shutdown(500);
    }
    try {
      await eventually(() => fdCount() <= baseline, () => `fds after shutdown: ${fdCount()}, baseline ${baseline}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('an fd evicted while a download still reads from it stays open until that download ends', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
    const big = Buffer.alloc(16 * MB);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    writeFileSync(join(root, 'big.otf'), big);
    for (let i = 0; i < 200; i++) writeFileSync(join(root, `f${i}.otf`), `font ${i}`);
    const s = await start(root);
    try {
      const received = [];
      let resume;
      const done = new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: s.port, path: '/big.otf', agent: false }, (res) => {
          res.on('data', (c) => received.push(c));
          res.on('end', resolve);
          res.on('error', reject);
          res.pause(); // the download stalls with the fd held
          resume = () => res.resume();
        });
        req.on('error', reject);
      });
      await eventually(() => resume !== undefined && s.server.stats.openFiles === 1, () => JSON.stringify(s.server.stats));
      // 200 other files push big.otf's fd out of the cache (and reuse freed fd numbers, if it were closed).
      for (let i = 0; i < 200; i++) assert.equal((await request(s.port, { path: `/f${i}.otf` })).body.toString(), `font ${i}`);
      resume();
      await done;
      assert.ok(Buffer.concat(received).equals(big), 'the download was cut or mixed with another file');
    } finally {
      await s.server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  // Each way a file can change while its fd is cached; no watcher, so only the fd's own check can tell.
  const changes = [
    ['replaced by a rename (deploy)', (file, v2) => {
      writeFileSync(`${file}.tmp`, v2);
      renameSync(`${file}.tmp`, file);
    }],
    ['rewritten in place with the same size and mtime', (file, v2) => {
      writeFileSync(file, v2);
      utimesSync(file, new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));
    }],
    ['truncated, then rewritten', (file, v2) => {
      truncateSync(file, 0);
      writeFileSync(file, v2);
    }],
  ];
  for (const [name, change] of changes) {
    test(`a file ${name} while its fd is cached is served with its new bytes only`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
      const file = join(root, 'font.woff2');
      const v1 = Buffer.alloc(MB, 1);
      const v2 = Buffer.alloc(MB, 2);
      writeFileSync(file, v1);
      utimesSync(file, new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));
      const s = await start(root);
      try {
        assert.ok((await request(s.port, { path: '/font.woff2' })).body.equals(v1));
        assert.equal(s.server.stats.cachedFds, 1);
        change(file, v2);
        const whole = await request(s.port, { path: '/font.woff2' });
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(v2), 'old or mixed bytes from the cached fd');
        assert.equal(whole.headers.etag, etagOf(v2), 'new bytes under the old version\'s ETag');
        const part = await request(s.port, { path: '/font.woff2', headers: { Range: 'bytes=0-999' } });
        assert.ok(part.body.equals(v2.subarray(0, 1000)));
      } finally {
        await s.server.shutdown(500);
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  test('a deleted file is 404 (not served from its cached fd), and its fd is closed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
    writeFileSync(join(root, 'gone.otf'), Buffer.alloc(MB, 4));
    const s = await start(root);
    try {
      assert.equal((await request(s.port, { path: '/gone.otf' })).status, 200);
      assert.equal(s.server.stats.cachedFds, 1);
      unlinkSync(join(root, 'gone.otf'));
      assert.equal((await request(s.port, { path: '/gone.otf' })).status, 404);
      await eventually(() => s.server.stats.cachedFds === 0, () => `cached fds: ${s.server.stats.cachedFds}`);
    } finally {
      await s.server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('with the watcher on, a rescan closes the fds of files it dropped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-'));
    writeFileSync(join(root, 'a.otf'), Buffer.alloc(MB, 5));
    writeFileSync(join(root, 'b.otf'), Buffer.alloc(MB, 6));
    const s = await start(root, { watch: true });
    try {
      for (const p of ['/a.otf', '/b.otf']) assert.equal((await request(s.port, { path: p })).status, 200);
      assert.equal(s.server.stats.cachedFds, 2);
      unlinkSync(join(root, 'a.otf'));
      await eventually(() => s.server.stats.cachedFds === 1, () => `cached fds: ${s.server.stats.cachedFds}`);
    } finally {
      await s.server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('open-fd cache under descriptor pressure and idleness (found by a fault run)', () => {
  const versionOf = (filePath) => ({ filePath });
  const acquire = (cache, info) => new Promise((resolve) => cache.acquire(info, (err, fd) => resolve(err ?? fd)));
  /** Whether `fd` is open on `path`'s file (a closed fd's number may be reused by the next open). */
  const isOpen = (fd, path) => {
    try {
      return fs.fstatSync(fd).ino === fs.statSync(path).ino;
    } catch {
      return false;
    }
  };

  test('out of descriptors (EMFILE), an open closes the idle cached fds and tries again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fdcache-'));
    for (const name of ['a', 'b', 'c']) writeFileSync(join(root, name), name);
    const cache = new FdCache(8);
    const original = fs.open;
    try {
      const a = await acquire(cache, versionOf(join(root, 'a')));
      cache.release(a); // idle, kept
      const c = await acquire(cache, versionOf(join(root, 'c')));
      let failures = 1;
      fs.open = (path, ...rest) => {
        const done = rest.at(-1);
        if (failures-- > 0) return process.nextTick(done, Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }), -1);
        return original(path, ...rest);
      };
      syncBuiltinESMExports();
      const b = await acquire(cache, versionOf(join(root, 'b')));
      assert.equal(typeof b, 'number', `an fd, not ${b}`);
      assert.deepEqual([isOpen(a, join(root, 'a')), isOpen(c, join(root, 'c'))], [false, true], 'the idle one closed, the one a response holds kept');
      // Nothing idle to close: the error is the response's (503).
      failures = 1;
      assert.equal((await acquire(cache, versionOf(join(root, 'a')))).code, 'EMFILE');
      cache.release(b);
      cache.release(c);
    } finally {
      fs.open = original;
      syncBuiltinESMExports();
      cache.clear();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a retried open of a version a scan dropped meanwhile is not cached (closed once released)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fdcache-'));
    for (const name of ['idle', 'gone']) writeFileSync(join(root, name), name);
    const cache = new FdCache(8);
    const original = fs.open;
    try {
      cache.release(await acquire(cache, versionOf(join(root, 'idle')))); // something idle to close
      const gone = versionOf(join(root, 'gone'));
      let failures = 1;
      fs.open = (path, ...rest) => {
        const done = rest.at(-1);
        if (failures-- > 0) {
          cache.drop([gone]); // a scan drops the version while its first open is failing
          return process.nextTick(done, Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }), -1);
        }
        return original(path, ...rest);
      };
      syncBuiltinESMExports();
      const fd = await acquire(cache, gone);
      assert.equal(typeof fd, 'number');
      cache.release(fd);
      assert.equal(cache.size, 0, 'not kept: the version is no longer the table\'s');
    } finally {
      fs.open = original;
      syncBuiltinESMExports();
      cache.clear();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a cached fd no response used for a whole sweep is closed (a deleted file\'s space freed with --no-watch)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-fdcache-'));
    writeFileSync(join(root, 'old'), 'old');
    writeFileSync(join(root, 'hot'), 'hot');
    const cache = new FdCache(8, 100);
    try {
      const old = await acquire(cache, versionOf(join(root, 'old')));
      cache.release(old);
      const oldIno = fs.fstatSync(old).ino;
      unlinkSync(join(root, 'old'));
      const hot = versionOf(join(root, 'hot'));
      const fd = await acquire(cache, hot);
      cache.release(fd);
      const until = Date.now() + 350;
      while (Date.now() < until) {
        cache.release(await acquire(cache, hot)); // used in every sweep
        await new Promise((r) => setTimeout(r, 20));
      }
      const stillOld = (() => {
        try {
          return fs.fstatSync(old).ino === oldIno && fs.fstatSync(old).nlink === 0;
        } catch {
          return false;
        }
      })();
      assert.deepEqual([stillOld, isOpen(fd, join(root, 'hot')), cache.size], [false, true, 1]);
    } finally {
      cache.clear();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

test('out of file descriptors, the server says so on stderr once, names its limit, and serves again once they are free (found by a fault review: resets and 503s with a clean log)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { runCli, stderrMatch, stopCli } = await import('./helpers.js');
  const root = mkdtempSync(join(tmpdir(), 'xorigin-fd-limit-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // Sparse, and larger than what the sockets' buffers take: a download stays unfinished while its client waits.
  for (let i = 0; i < 4; i++) {
    writeFileSync(join(root, `f${i}.woff2`), String(i));
    truncateSync(join(root, `f${i}.woff2`), 64 * MB);
  }
  // Bodies from disk: every download holds an open file while its client does not read.
  const r = await runCli(['serve', root, '--origin', '*', '--port', '0', '--memory-budget', '0', '--no-watch', '--etag-cache', 'off']);
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  const held = [];
  t.after(() => held.forEach((req) => req.destroy()));
  const answered = (path) => new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: r.port, path, agent: false }, (res) => {
      res.pause(); // its file stays open while the client does not read
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    held.push(req);
  });
  for (let i = 0; i < 3; i++) assert.equal(await answered(`/f${i}.woff2`), 200);
  // One descriptor left: the next connection takes it, and its file cannot be opened. The limit is
  // one above the highest descriptor number a process may get, so free numbers below it are taken
  // first, by bare connections the server accepts and holds.
  const numbers = () => readdirSync(`/proc/${r.child.pid}/fd`).map(Number);
  const limit = Math.max(...numbers()) + 2;
  execFileSync('prlimit', ['--pid', String(r.child.pid), `--nofile=${limit}:${limit}`]);
  const free = limit - numbers().filter((n) => n < limit).length;
  for (let i = 0; i < free - 1; i++) held.push(net.connect(r.port, '127.0.0.1').on('error', () => {}));
  for (let i = 0; i < 100 && limit - numbers().filter((n) => n < limit).length > 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await answered('/f3.woff2'), 503);
  // The limit now, not the one at start (/proc/self/limits cannot be opened out of descriptors).
  await stderrMatch(r, new RegExp(`xorigin: out of file descriptors \\(EMFILE: this process may open ${limit}\\): files read from disk answer 503, changes to the tree wait, and new connections are closed at once until some are free; raise the limit \\(systemd LimitNOFILE=, ulimit -n\\)`));
  held.splice(0).forEach((req) => req.destroy());
  // Free again: served, and said only once.
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = (await request(r.port, { method: 'HEAD', path: '/f0.woff2' }).catch(() => ({ status: 0 }))).status;
  }
  assert.equal(status, 200);
  assert.equal(r.err.match(/out of file descriptors/g).length, 1, r.err);
});
