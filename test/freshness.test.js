// Freshness: the watcher keeps up with steady writes and survives its own failure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../dist/index.js';
import * as assets from '../dist/assets.js';
import { request } from './helpers.js';

function tempRoot() {
  return mkdtempSync(join(tmpdir(), 'xorigin-fresh-'));
}

/** Calls `probe` every 20 ms until it returns something truthy; fails with `what` after `ms`. */
async function until(what, probe, ms = 3000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function serve(options) {
  const server = await createServer(options);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, close: () => server.shutdown(1000) };
}

/** An AssetTable whose entries are the AssetInfos themselves. */
async function openTable(root, options = {}) {
  const table = new assets.AssetTable(root, { smallFileLimit: 64 * 1024, ...options }, (info) => info);
  await table.open();
  return table;
}

/**
 * Counts the timers set through the globals (as dist/assets.js sets them) that have neither fired
 * nor been cleared, so a test can check that close() leaves none behind.
 */
function trackTimers() {
  const live = new Set();
  const saved = { setTimeout, setInterval, clearTimeout, clearInterval };
  globalThis.setTimeout = (fn, ms, ...args) => {
    const t = saved.setTimeout((...a) => {
      live.delete(t);
      fn(...a);
    }, ms, ...args);
    live.add(t);
    return t;
  };
  globalThis.setInterval = (fn, ms, ...args) => {
    const t = saved.setInterval(fn, ms, ...args);
    live.add(t);
    return t;
  };
  globalThis.clearTimeout = globalThis.clearInterval = (t) => {
    live.delete(t);
    saved.clearTimeout(t);
  };
  return { live: () => live.size, restore: () => Object.assign(globalThis, saved) };
}

/** A watcher that reports nothing until a test makes it fail. */
function fakeWatcher() {
  const w = new EventEmitter();
  w.closed = false;
  w.close = () => (w.closed = true);
  return w;
}

describe('watcher', () => {
  test('a file appended to every 10 ms does not keep another file stale', async () => {
    const root = tempRoot();
    writeFileSync(join(root, 'build.log'), '');
    writeFileSync(join(root, 'app.css'), 'v1');
    const s = await serve({ root });
    const appender = setInterval(() => appendFileSync(join(root, 'build.log'), 'line\n'), 10);
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(root, 'app.css'), 'v2');
      await until('app.css served fresh while build.log grows', async () => (await request(s.port, { path: '/app.css' })).body.toString() === 'v2', 1500);
    } finally {
      clearInterval(appender);
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a failed watcher falls back to periodic rescans, says so once, and close() stops them', async () => {
    const root = tempRoot();
    const file = join(root, 'a.txt');
    writeFileSync(file, 'v1');
    const watcher = fakeWatcher();
    const warnings = [];
    const timers = trackTimers();
    const table = await openTable(root, { watchTree: () => watcher, pollIntervalMs: 50, warn: (line) => warnings.push(line) });
    try {
      watcher.emit('error', new Error('EMFILE: too many open files'));
      watcher.emit('error', new Error('again'));
      assert.deepEqual(warnings, [`xorigin: watching ${root} failed (EMFILE: too many open files); rescanning every 50 ms instead`]);
      assert.equal(watcher.closed, true);
      writeFileSync(file, 'v2');
      await until('a.txt rescanned without a watcher', () => table.info('/a.txt').body.toString() === 'v2');
      table.close();
      assert.equal(timers.live(), 0, 'close() left a timer running');
      writeFileSync(file, 'v3');
      await new Promise((r) => setTimeout(r, 300)); // six poll periods
      assert.equal(table.info('/a.txt').body.toString(), 'v2', 'no rescan after close()');
    } finally {
      timers.restore();
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a watcher that cannot start falls back to periodic rescans too', async () => {
    const root = tempRoot();
    writeFileSync(join(root, 'a.txt'), 'v1');
    const warnings = [];
    const watchTree = () => {
      throw new Error('ENOSPC: System limit for number of file watchers reached');
    };
    const table = await openTable(root, { watchTree, warn: (line) => warnings.push(line) });
    try {
      assert.deepEqual(warnings, [`xorigin: watching ${root} failed (ENOSPC: System limit for number of file watchers reached); rescanning every 2 s instead`]);
      writeFileSync(join(root, 'a.txt'), 'v2');
      await until('a.txt rescanned without a watcher', () => table.info('/a.txt').body.toString() === 'v2');
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
