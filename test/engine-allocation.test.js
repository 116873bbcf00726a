// The engine allocates nothing per decision (README, "Inside the engine"): bench/alloc.js runs each
// outcome through `handle` with a response stub that does nothing, and counts the collections that
// happen meanwhile. A count, not a time: one small object per decision already gives several (the
// control row), and a closure's context allocated on every actual request gave 11 (review h50).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

test('no CORS outcome triggers more than one garbage collection over 500,000 decisions (the control row, one object per decision, does)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', 'bench/alloc.js', '500000'], { timeout: 120_000 });
  const rows = [...stdout.matchAll(/^\| ([^|]+?) \| [\d.]+ \| (\d+) \| [\d.]+ \|$/gm)].map(([, name, gcs]) => [name, Number(gcs)]);
  const control = rows.find(([name]) => name.startsWith('control'));
  assert.ok(control !== undefined && control[1] > 0, `the control row must collect, or the count says nothing:\n${stdout}`);
  const engine = rows.filter(([name]) => !name.startsWith('control') && !name.startsWith('baseline'));
  assert.ok(engine.length >= 10, stdout);
  // One collection is let pass (a deoptimisation materialises objects; the rows run a second each):
  // the closure review h50 found gave 5-6 per 500,000.
  assert.deepEqual(engine.filter(([, gcs]) => gcs > 1), [], stdout);
});
