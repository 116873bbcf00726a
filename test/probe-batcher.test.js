// The walk's probes gather the files of several directories into one message to a hashing thread
// (probe-batcher.ts): one message per directory cost a tree of 12-file directories 8,333 round trips
// for 100,000 files. Each directory still gets its own files' answers, and what a probe reads is decided
// when it is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROBE_BATCH, ProbeBatcher } from '../dist/static/probe-batcher.js';
import { TaskLimit } from '../dist/static/task-limit.js';

/** A probe that answers each path's index in `states` (its reply shape: file-probe.ts), and records the requests. */
function fakeProbe(sent, answer = true) {
  return async (request) => {
    sent.push(request);
    return answer ? { states: Uint8Array.from(request.paths, (_, i) => i % 256), paths: request.paths } : null;
  };
}

test(`directories listed in one turn go in one probe up to ${PROBE_BATCH} files; each visits its own files' answers`, async () => {
  const sent = [];
  const batcher = new ProbeBatcher(fakeProbe(sent), new TaskLimit(4), 16384);
  const seen = new Map();
  const dirs = Array.from({ length: 60 }, (_, d) => Array.from({ length: 5 }, (_, f) => `/d${d}/f${f}`));
  await Promise.all(dirs.map((paths, d) => batcher.run(paths, () => Uint8Array.from(paths, () => d % 2), async (reply, at) => {
    seen.set(d, paths.map((_, i) => reply.paths[at + i]));
  })));
  // 300 files: the first probe leaves once 256 or more wait, the rest at the end of the turn.
  assert.deepEqual(sent.map((r) => r.paths.length), [260, 40]);
  for (const [d, paths] of dirs.entries()) assert.deepEqual(seen.get(d), paths, `directory ${d}`);
  assert.deepEqual([...sent[0].read.subarray(0, 10)], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
});

test('what a probe reads is decided when it is sent, after the probes before it were visited; a probe no thread takes gives null', async () => {
  const sent = [];
  const batcher = new ProbeBatcher(fakeProbe(sent, false), new TaskLimit(1), 16384);
  let stale = false;
  const first = batcher.run(['/a/1'], () => Uint8Array.of(stale ? 1 : 0), async (reply) => {
    assert.equal(reply, null);
    await new Promise((resolve) => setTimeout(resolve, 20));
    stale = true; // what visiting the first directory found
  });
  await new Promise((resolve) => setImmediate(resolve));
  const second = batcher.run(['/b/1'], () => Uint8Array.of(stale ? 1 : 0), async () => {});
  await Promise.all([first, second]);
  assert.deepEqual(sent.map((r) => [...r.read]), [[0], [1]], 'the second waited for the first one\'s slot, and read what it then knew');
});

test('a visit that throws rejects its own run only', async () => {
  const batcher = new ProbeBatcher(fakeProbe([]), new TaskLimit(2), 16384);
  const failing = batcher.run(['/a'], () => Uint8Array.of(0), async () => {
    throw new Error('visit failed');
  });
  const fine = batcher.run(['/b'], () => Uint8Array.of(0), async () => {});
  await assert.rejects(failing, /visit failed/);
  await fine;
});

test('a batch that fails before its visits (what to read could not be decided) rejects every directory of it: none is left waiting', { timeout: 5000 }, async () => {
  const batcher = new ProbeBatcher(fakeProbe([]), new TaskLimit(1), 16384);
  const runs = ['/a', '/b'].map((path, i) => batcher.run([path], () => {
    if (i === 1) throw new Error('cannot decide');
    return Uint8Array.of(0);
  }, async () => {}));
  for (const run of runs) await assert.rejects(run, /cannot decide/);
});
