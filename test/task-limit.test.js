// TaskLimit: at most `max` tasks under way, every task runs, they start in the order given, and a
// task that throws frees its slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskLimit } from '../dist/static/task-limit.js';

test('at most max at once, all run, in order, and a failing task frees its slot', async () => {
  const limit = new TaskLimit(3);
  let running = 0;
  let most = 0;
  const started = [];
  const results = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) =>
      limit.run(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise((r) => setImmediate(r));
        running--;
        if (i % 7 === 0) throw new Error(`task ${i}`);
        return i;
      }),
    ),
  );
  assert.equal(most, 3);
  assert.deepEqual(started, Array.from({ length: 200 }, (_, i) => i));
  assert.equal(results.filter((r) => r.status === 'rejected').length, 29);
  assert.equal(results[5].value, 5);
  // Drained: the next task starts at once.
  assert.equal(await limit.run(async () => 'again'), 'again');
});

test('halved while full, a limit lets the tasks under way finish and starts none until fewer than the new limit run', async () => {
  const limit = new TaskLimit(4);
  let running = 0;
  let halved = false;
  const startedAt = []; // how many ran, this one included, when each task started after the halving
  const releases = [];
  const all = Array.from({ length: 10 }, () => limit.run(async () => {
    running++;
    if (halved) startedAt.push(running);
    await new Promise((resolve) => releases.push(resolve));
    running--;
  }));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(running, 4);
  limit.halve(1);
  halved = true;
  while (releases.length > 0) {
    releases.shift()();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(all);
  assert.equal(startedAt.length, 6, 'every task ran');
  assert.ok(startedAt.every((n) => n <= 2), `started with ${startedAt.join(', ')} running`);
});
