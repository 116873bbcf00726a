// File names a request cannot name. Linux allows any bytes in a name; Node reads one that is not
// valid UTF-8 with U+FFFD in place of the bad bytes, which opens nothing, and `%E9` in a URL is not
// UTF-8 either. Such a file is not served, and the operator is told which ones, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { AssetTable } from '../dist/static/asset-table.js';
import { request } from './helpers.js';

/** `dir/name` with `name` given as bytes (latin1 'é' = 0xE9, not valid UTF-8 on its own). */
const bytePath = (dir, latin1Name) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(latin1Name, 'latin1')]);

function makeRoot() {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'xorigin-names-')));
  writeFileSync(join(root, 'ok.woff2'), 'fine');
  writeFileSync(join(root, 'café-utf8.woff2'), 'utf-8 name');
  writeFileSync(bytePath(root, 'caf\u00e9.woff2'), 'latin1 name');
  mkdirSync(bytePath(root, 'd\u00e9j\u00e0'));
  writeFileSync(Buffer.concat([bytePath(root, 'd\u00e9j\u00e0'), Buffer.from('/inside.css')]), 'in a latin1 directory');
  return root;
}

test('names that are not UTF-8 are not served, and are named in one warning per walk that finds a different set', async (t) => {
  const root = makeRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const warnings = [];
  const table = new AssetTable(root, { watch: false, warn: (line) => warnings.push(line) }, (info) => info);
  t.after(() => table.close());
  await table.open();
  assert.ok(table.get('/ok.woff2') !== undefined && table.get('/café-utf8.woff2') !== undefined, 'valid names are served');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /2 name\(s\) under .* are not valid UTF-8 and are not served/);
  assert.ok(warnings[0].includes('/caf\uFFFD.woff2') && warnings[0].includes('/d\uFFFDj\uFFFD'), warnings[0]);
  assert.match(warnings[0], /rename them to UTF-8/);
  await table.rescan();
  assert.equal(warnings.length, 1, 'the same names are not warned about again');
  rmSync(bytePath(root, 'caf\u00e9.woff2'));
  await table.rescan();
  assert.equal(warnings.length, 2, 'a different set is said again');
  assert.match(warnings[1], /1 name\(s\)/);
});

test('a request for the latin1 bytes of such a name is refused and the server keeps serving', async (t) => {
  const root = makeRoot();
  const server = await serve({ root, etagCache: 'off', watch: false });
  t.after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  assert.equal((await request(port, { path: '/caf%E9.woff2' })).status, 400);
  assert.equal((await request(port, { path: '/caf%EF%BF%BD.woff2' })).status, 404);
  const ok = await request(port, { path: '/caf%C3%A9-utf8.woff2' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'utf-8 name');
});
