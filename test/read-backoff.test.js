// A file that keeps being written is not read (and hashed) over and over: each read after the first waits
// longer, up to a cap; an ordinary save is read at once; once the writes stop, the final bytes are served;
// and no response ever carries bytes that do not match its ETag and Content-Length meanwhile.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { AssetTable } from '../dist/static/asset-table.js';
import { ReadBackoff } from '../dist/static/read-backoff.js';
import { request, statHourAgo } from './helpers.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;

/**
 * Waits until `check()` holds (each check follows a scan the writes caused); the bound only turns a hang into a
 * message. On the monotonic clock: one test sets Date.now back.
 */
async function until(what, check, ms = 5000) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The most reads the backoff allows for a file written for `ms`: the first look (up to 3 attempts while it
 * changes under the read), then one read per wait (base, doubling to the cap), then the final read.
 */
function mostReads(ms, { base, cap }) {
  let reads = 3;
  for (let at = 0, wait = base; at + wait <= ms; at += wait, wait = Math.min(cap, wait * 2)) reads++;
  return reads + 1;
}

/** Appends `chunk` every 10 ms for `ms`; resolves with everything written. */
async function append(file, ms, chunk) {
  const all = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    appendFileSync(file, chunk);
    all.push(chunk);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Buffer.concat(all);
}

describe('read backoff', () => {
  test('first read at once; each further change waits base, then twice as long, up to the cap; a quiet file starts over', () => {
    const b = new ReadBackoff({ base: 250, cap: 1000, readFactor: 4 });
    assert.equal(b.delay('f', 0), 0);
    b.read('f', 0, 1);
    assert.equal(b.delay('f', 10), 240);
    const waits = [];
    for (let at = 250, i = 0; i < 5; i++) {
      b.read('f', at, 1);
      const wait = b.delay('f', at);
      waits.push(wait);
      at += wait;
    }
    assert.deepEqual(waits, [500, 1000, 1000, 1000, 1000]);
    // The last read was at 3750, with a wait of 1000.
    assert.equal(b.isHot('f', 3750 + 1999), true);
    assert.equal(b.delay('f', 3750 + 2000), 0, 'not read for twice its wait: read at once again');
    b.read('f', 10_000, 1);
    assert.equal(b.delay('f', 10_000), 250, 'and its wait starts over at base');
  });

  test('a file whose read takes long waits readFactor times as long; prune forgets quiet files', () => {
    const b = new ReadBackoff({ base: 250, cap: 1000, readFactor: 4 });
    b.read('big', 0, 600);
    assert.equal(b.delay('big', 0), 2400);
    b.read('small', 0, 1);
    b.prune(499);
    assert.equal(b.size, 2);
    b.prune(500);
    assert.equal(b.size, 1, 'small: not read for twice its wait of 250');
    b.prune(4800);
    assert.equal(b.size, 0);
  });

  test('rescan() reads a file changed again at once, whatever its backoff', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-growing-'));
    writeFileSync(join(root, 'a.txt'), 'v1');
    const table = new AssetTable(root, { watch: false }, (info) => info);
    try {
      await table.open();
      for (const v of ['v2', 'v3', 'v4']) {
        writeFileSync(join(root, 'a.txt'), v);
        await table.rescan();
        assert.equal(table.info('/a.txt').etag, etagOf(v));
      }
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file with no version served meanwhile waits only for the floor: readFactor times its last read', () => {
    const b = new ReadBackoff({ base: 250, cap: 1000, readFactor: 4 });
    b.read('f', 0, 50);
    assert.equal(b.delay('f', 10), 240, 'served meanwhile: the whole wait');
    assert.equal(b.delay('f', 10, false), 190, 'nothing served meanwhile: 4 x 50 ms');
    // A read that failed at once (the file was gone) does not lower the floor while the file keeps changing;
    // one that read a smaller version does (a 2 KB file after a 400 MB one is not held back for seconds).
    b.read('f', 300, 0, true);
    assert.equal(b.delay('f', 310, false), 190);
    b.read('f', 600, 2);
    assert.equal(b.delay('f', 610, false), 0);
    b.read('g', 0, 1);
    assert.equal(b.delay('g', 10, false), 0);
  });

  test('a file put off by its backoff is still read in time when the wall clock is set back an hour', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-clock-'));
    const file = join(root, 'a.txt');
    writeFileSync(file, 'v1');
    // Ancient file times: no file is racily clean, so only the put-off read can bring v3 in.
    const statFile = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
    const table = new AssetTable(root, { statFile }, (info) => info);
    const realNow = Date.now;
    try {
      await table.open();
      writeFileSync(file, 'v2, read at once');
      await until('v2 served', () => table.info('/a.txt')?.etag === etagOf('v2, read at once'));
      // Changed again at once: put off by the backoff (250 ms). The clock steps back an hour meanwhile
      // (NTP, an operator): the put-off read must still come, not an hour later.
      writeFileSync(file, 'v3, put off');
      const back = realNow() - 3_600_000;
      const from = realNow();
      Date.now = () => back + (realNow() - from);
      await until('v3 served after the clock was set back', () => table.info('/a.txt')?.etag === etagOf('v3, put off'));
    } finally {
      Date.now = realNow;
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file put off by its backoff is not read early by the look for changes no event reports (each second)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-unseen-'));
    const file = join(root, 'a.txt');
    writeFileSync(file, 'v1');
    const statFile = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
    // A 3 s wait after each read, so that the once-a-second look (revalidation.ts) comes twice while v3 waits.
    const table = new AssetTable(root, { statFile, readBackoff: { base: 3000, cap: 3000 } }, (info) => info);
    try {
      await table.open();
      writeFileSync(file, 'v2, read at once');
      await until('v2 served', () => table.info('/a.txt')?.etag === etagOf('v2, read at once'));
      const reads = table.reads;
      const putOffAt = performance.now();
      writeFileSync(file, 'v3, put off for 3 s');
      await new Promise((r) => setTimeout(r, 2200));
      // Its read is due 3 s after v2's began, a little before putOffAt: asserted only while well before that
      // (a stalled event loop may overshoot the 2.2 s; the wait for v3 below still runs).
      if (performance.now() - putOffAt < 2500) {
        assert.equal(table.reads, reads, 'the file was read again before its backoff had passed');
        assert.equal(table.info('/a.txt').etag, etagOf('v2, read at once'));
      }
      await until('v3 served once its backoff has passed', () => table.info('/a.txt')?.etag === etagOf('v3, put off for 3 s'));
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file removed and put back while its backoff runs is served at once: it has no version to keep serving, so no 404 meanwhile', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-putback-'));
    const file = join(root, 'a.txt');
    writeFileSync(file, 'v1');
    // A 3 s wait after each read makes the difference plain.
    const table = new AssetTable(root, { statFile: statHourAgo(), readBackoff: { base: 3000, cap: 3000 } }, (info) => info);
    try {
      await table.open();
      writeFileSync(file, 'v2, read at once');
      await until('v2 served', () => table.info('/a.txt')?.etag === etagOf('v2, read at once'));
      rmSync(file);
      await until('a.txt gone', () => table.info('/a.txt') === undefined);
      writeFileSync(join(root, '.staged'), 'v3, put back whole');
      renameSync(join(root, '.staged'), file);
      const back = performance.now();
      await until('v3 served', () => table.info('/a.txt')?.etag === etagOf('v3, put back whole'));
      const ms = performance.now() - back;
      assert.ok(ms < 1500, `the file put back was not served for ${Math.round(ms)} ms (its backoff: 3,000 ms)`);
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file removed and put back over and over is read at most once per floor (4 x its read time), not at each put-back', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-putbacks-'));
    const file = join(root, 'a.txt');
    writeFileSync(file, 'v0');
    // Each read of a.txt takes 60 ms or more (its stat after the read is slowed): the floor is 240 ms or more.
    const table = new AssetTable(root, { statFile: statHourAgo({ slowFor: file, slowMs: 60 }) }, (info) => info);
    try {
      await table.open();
      const before = table.reads;
      const started = performance.now();
      let last = '';
      for (let i = 1; performance.now() - started < 3000; i++) {
        rmSync(file);
        await new Promise((r) => setTimeout(r, 40)); // a scan sees it gone: no version left to serve
        last = `v${i}, put back`;
        writeFileSync(join(root, '.staged'), last);
        renameSync(join(root, '.staged'), file);
        await new Promise((r) => setTimeout(r, 40));
      }
      const reads = table.reads - before;
      // 3 s at one read per 240 ms or more, the first at once, and what the first look may take (3 attempts): 16.
      // Read at each put-back it was 20 and more.
      assert.ok(reads <= 16, `${reads} reads of a file put back every 80 ms for 3 s`);
      await until('the last version served', () => table.info('/a.txt')?.etag === etagOf(last));
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file that keeps growing, found changed by response after response, is read at most once per floor (4 x its read time), not once per response', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-polled-'));
    const file = join(root, 'g.bin');
    writeFileSync(file, 'v0');
    // Each read of g.bin takes 60 ms or more (its stat after the read is slowed): with a read factor of 20 the
    // floor is 1.2 s or more. The doubling waits are 3 s, so any read past the first look comes from refresh().
    const table = new AssetTable(root, { statFile: statHourAgo({ slowFor: file, slowMs: 60 }), readBackoff: { base: 3000, cap: 3000, readFactor: 20 } }, (info) => info);
    try {
      await table.open();
      const before = table.reads;
      let polling = true;
      // What the disk path does for each response that finds the file changed since the scan (handler.ts).
      const poll = (async () => {
        while (polling) {
          await table.refresh(table.info('/g.bin'));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const written = Buffer.concat([Buffer.from('v0'), await append(file, 3000, Buffer.alloc(1024, 7))]);
      polling = false;
      await poll;
      const reads = table.reads - before;
      // The first look's 3 attempts, then 3 s at one read per 1.2 s or more, and one more: 7. Read at once for
      // each response (each look is two slowed stats, 120 ms or more), it was 16.
      assert.ok(reads <= 7, `${reads} reads of a file appended to for 3 s while responses kept finding it changed`);
      await table.refresh(table.info('/g.bin'));
      await until('the final bytes served', () => table.info('/g.bin').etag === etagOf(written));
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a file appended to for 4 s is read a bounded number of times, and its final bytes are served once writing stops', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-growing-'));
    const file = join(root, 'growing.bin');
    writeFileSync(file, '');
    writeFileSync(join(root, 'other.css'), 'v1');
    // Timestamps from long ago: no file is "racily clean" (asset-table.ts re-reads those 2.1 s later whatever
    // happens), so the final bytes can only come from the read the backoff put off. The size still changes.
    const statFile = async (path) => Object.assign(await stat(path, { bigint: true }), { mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n });
    const table = new AssetTable(root, { statFile }, (info) => info);
    try {
      await table.open();
      const before = table.reads;
      const written = await append(file, 4000, Buffer.alloc(64 * 1024, 7));
      const whileGrowing = table.reads - before;
      const bound = mostReads(4000, new ReadBackoff());
      assert.ok(whileGrowing <= bound, `${whileGrowing} reads of a file appended to for 4 s; the backoff allows ${bound}`);
      await until('the final bytes served', () => table.info('/growing.bin').etag === etagOf(written));
      assert.equal(table.info('/growing.bin').size, written.length);
      // An ordinary save elsewhere meanwhile is read at once, not held back by the growing file.
      writeFileSync(join(root, 'other.css'), 'v2, longer');
      await until('other.css fresh', () => table.info('/other.css').etag === etagOf('v2, longer'));
    } finally {
      table.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('while a file grows, every response\'s bytes match the ETag and Content-Length it was sent with (memory and disk)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xorigin-growing-'));
    writeFileSync(join(root, 'small.log'), '');
    writeFileSync(join(root, 'large.bin'), '');
    const server = await serve({ root, smallFileLimit: 16 * 1024 });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;
    let growing = true;
    let checked = 0;
    const check = async (path) => {
      while (growing) {
        // A file found changed while its body is sent is cut (the client sees an aborted response), never
        // ended with bytes of two versions: allowed, as is a 503 when it changed under every try.
        const res = await request(port, { path }).catch((e) => (e.code === 'ECONNRESET' ? null : Promise.reject(e)));
        if (res === null || res.status !== 200) continue;
        assert.equal(Number(res.headers['content-length']), res.body.length, `${path}: Content-Length`);
        assert.equal(res.headers.etag, etagOf(res.body), `${path}: ETag of other bytes`);
        checked++;
      }
    };
    try {
      const checkers = [check('/small.log'), check('/large.bin')];
      await Promise.all([append(join(root, 'small.log'), 1500, Buffer.from('line\n')), append(join(root, 'large.bin'), 1500, Buffer.alloc(32 * 1024, 1))]);
      growing = false;
      await Promise.all(checkers);
      assert.ok(checked >= 5, `only ${checked} complete responses to check`);
    } finally {
      growing = false;
      await server.shutdown(500);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
