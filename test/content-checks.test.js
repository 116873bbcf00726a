// The hash a download runs when its file's ctime moved alone (send-body.ts recheck) is run once per file state and
// shared by every response that asks, running or done: a deploy renamed over a 512 MB file with 16 downloads paused
// on it hashed it 16 times (attack b23b F3). A file changed since is hashed again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentChecks } from '../dist/static/content-checks.js';

const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
const verdict = (checks, fd, size, etag) => new Promise((resolve) => checks.matches(fd, fstatSync(fd, { bigint: true }), size, etag, resolve));

test('one hash per file state: shared while it runs and after it ended; a change, a new hash; a wrong tag, false', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-content-checks-'));
  const file = join(root, 'big.woff2');
  const body = Buffer.alloc(3 * 1024 * 1024, 7);
  writeFileSync(file, body);
  // Two fds on the same inode, as two responses without the fd cache would hold.
  const [a, b] = [openSync(file, 'r'), openSync(file, 'r')];
  t.after(() => {
    closeSync(a);
    closeSync(b);
    rmSync(root, { recursive: true, force: true });
  });
  const checks = new ContentChecks();
  const etag = etagOf(body);
  assert.deepEqual(await Promise.all([verdict(checks, a, body.length, etag), verdict(checks, b, body.length, etag), verdict(checks, a, body.length, etag)]), [true, true, true]);
  assert.equal(checks.hashes, 1, 'three responses at once');
  assert.equal(await verdict(checks, b, body.length, etag), true);
  assert.equal(checks.hashes, 1, 'a response after the hash ended');
  assert.equal(await verdict(checks, a, body.length, '"another-tag"'), false);
  assert.equal(checks.hashes, 2, 'another tag is another question');
  // Written in place (the ctime moves): hashed again, and the verdict is the new content's.
  const w = openSync(file, 'r+');
  writeSync(w, Buffer.from([8]), 0, 1, 1024);
  closeSync(w);
  assert.equal(await verdict(checks, a, body.length, etag), false);
  assert.equal(checks.hashes, 3);
});

test('a verdict is not kept when the file changed while it was hashed', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-content-checks-'));
  const file = join(root, 'big.woff2');
  const body = Buffer.alloc(8 * 1024 * 1024, 7);
  writeFileSync(file, body);
  const fd = openSync(file, 'r');
  t.after(() => {
    closeSync(fd);
    rmSync(root, { recursive: true, force: true });
  });
  const checks = new ContentChecks();
  const before = fstatSync(fd, { bigint: true });
  const first = new Promise((resolve) => checks.matches(fd, before, body.length, etagOf(body), resolve));
  // A write to a byte the hash has already read, while it runs: its verdict (true) must not answer for later.
  setImmediate(() => {
    const w = openSync(file, 'r+');
    writeSync(w, Buffer.from([8]), 0, 1, 0);
    closeSync(w);
  });
  await first;
  const later = await new Promise((resolve) => checks.matches(fd, before, body.length, etagOf(body), resolve));
  assert.equal(checks.hashes, 2, 'the state asked about again was hashed again');
  assert.equal(later, false);
});

test('past 256 verdicts the oldest is forgotten, not all of them', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-content-checks-'));
  const file = join(root, 'small.woff2');
  writeFileSync(file, 'x');
  const fd = openSync(file, 'r');
  t.after(() => {
    closeSync(fd);
    rmSync(root, { recursive: true, force: true });
  });
  const checks = new ContentChecks();
  // One file, 257 tags asked about: 257 questions, each hashed once.
  for (let i = 0; i <= 256; i++) assert.equal(await verdict(checks, fd, 1, `"tag-${i}"`), false);
  assert.equal(checks.hashes, 257);
  await verdict(checks, fd, 1, '"tag-1"');
  assert.equal(checks.hashes, 257, 'the second oldest was forgotten too');
  await verdict(checks, fd, 1, '"tag-0"');
  assert.equal(checks.hashes, 258, 'the oldest was kept past 256');
});
