// The CLI's output when nobody reads it: a log pipeline's reader that exits (`| head`, a restarted
// logger) fails writes with EPIPE, which must not end the server; one that stops reading must not
// make the server queue every access-log line in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, runCli, stderrMatch, stopCli } from './helpers.js';

function tree(t) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-output-'));
  writeFileSync(join(root, 'a.txt'), 'hello');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

for (const workers of [1, 2]) {
  test(`the access log's reader gone (EPIPE on stdout): said once on stderr, and the server keeps serving (--workers ${workers})`, async (t) => {
    const r = await runCli(['serve', tree(t), '--port', '0', '--log', '--etag-cache', 'off', '--workers', String(workers)], { timeoutMs: 15_000 });
    t.after(() => stopCli(r));
    assert.equal(r.code, 'listening', r.err);
    // The read end closed: every later write of the server (or of a worker, which shares the pipe) fails.
    r.child.stdout.destroy();
    for (let i = 0; i < 12; i++) assert.equal((await request(r.port, { path: '/a.txt' })).status, 200);
    await stderrMatch(r, /stdout failed \(EPIPE\): its reader is gone; the access log is not written from now on/);
    assert.equal(r.child.exitCode, null, r.err);
    assert.doesNotMatch(r.err, /Unhandled 'error'|died|at \S+ \(/, 'no crash, no worker replaced, no stack');
  });
}

test('stdout\'s reader not reading: access-log lines are dropped past 16 MiB queued, and counted when it reads again', async () => {
  // Lines of 1 MiB through the CLI's own sink, into a pipe this test does not read at first.
  const script = `
    import { guardOutput, toStdout } from ${JSON.stringify(new URL('../dist/cli/output.js', import.meta.url).href)};
    guardOutput();
    const line = 'x'.repeat(1 << 20);
    for (let i = 0; i < 24; i++) toStdout(line);
    process.stderr.write('queued ' + process.stdout.writableLength + '\\n');
    process.stdout.once('drain', () => toStdout('after'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => (/queued \d+/.test(err) ? resolve() : Date.now() - started > 10_000 ? reject(new Error(err)) : setTimeout(tick, 20));
    tick();
  });
  const queued = Number(/queued (\d+)/.exec(err)[1]);
  assert.ok(queued <= 17 * 1048576 + 17, `at most the limit and one line queued, not all 24 MiB: ${queued}`);
  assert.match(err, /stdout's reader is not reading \(16 MiB queued\): access-log lines are dropped until it does/);
  let out = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.on('exit', resolve));
  const dropped = Number(/reading again; (\d+) access-log lines were dropped/.exec(err)?.[1]);
  assert.ok(dropped >= 7 && dropped <= 9, `24 lines of 1 MiB, 16 MiB let through: ${err}`);
  assert.ok(out.endsWith('after\n'), 'the line after the reader came back is written');
  assert.equal(out.length, (24 - dropped) * ((1 << 20) + 1) + 'after\n'.length);
});
