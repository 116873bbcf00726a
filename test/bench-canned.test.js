// The ceilings replay a sample of xorigin's answer; a run must refuse to compare xorigin with a
// ceiling that writes other fields (bench/lib.js cannedDifferences), and the fixture's files must be
// dated, so that the sample carries the Last-Modified xorigin sends for the rest of the run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannedDifferences, makeFixture, writeCanned } from '../bench/lib.js';

const work = mkdtempSync(join(tmpdir(), 'xorigin-canned-'));
after(() => rmSync(work, { recursive: true, force: true }));

const sample = {
  status: 200,
  raw: ['Content-Type', 'text/plain', 'ETag', '"t"', 'Date', 'Tue, 08 Dec 2026 01:00:00 GMT', 'Connection', 'keep-alive', 'Vary', 'Origin'],
  body: Buffer.from('x'),
};

test('the same fields, in another order and case, with another Date and connection fields: no difference', () => {
  const file = join(work, 'same.json');
  writeCanned(file, sample);
  const res = { raw: ['vary', 'Origin', 'etag', '"t"', 'content-type', 'text/plain', 'date', 'Tue, 08 Dec 2026 02:00:00 GMT', 'keep-alive', 'timeout=5'] };
  assert.deepEqual(cannedDifferences(file, res), []);
});

test('a field more, a field fewer or another value: each named', () => {
  const file = join(work, 'other.json');
  writeCanned(file, sample);
  const more = { raw: [...sample.raw, 'Last-Modified', 'Mon, 07 Dec 2026 01:00:00 GMT'] };
  assert.deepEqual(cannedDifferences(file, more), ['sends last-modified: Mon, 07 Dec 2026 01:00:00 GMT, which the replay lacks']);
  assert.deepEqual(cannedDifferences(file, { raw: sample.raw.slice(2) }), ['lacks the replayed content-type: text/plain']);
  const other = { raw: sample.raw.map((v) => (v === '"t"' ? '"u"' : v)) };
  assert.deepEqual(cannedDifferences(file, other), ['lacks the replayed etag: "t"', 'sends etag: "u", which the replay lacks']);
});

test('the fixture\'s files are dated at least a day back, in whole seconds', () => {
  const fixture = makeFixture();
  try {
    for (const name of ['one.txt', 'font.woff2', 'big.ttf']) {
      const mtime = statSync(join(fixture.root, name)).mtimeMs;
      assert.ok(Date.now() - mtime >= 86_400_000, `${name}: ${new Date(mtime).toISOString()}`);
      assert.equal(mtime % 1000, 0, name);
    }
  } finally {
    fixture.cleanUp();
  }
});
