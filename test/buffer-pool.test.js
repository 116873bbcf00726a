import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../dist/static/buffer-pool.js';

test('BufferPool: reuses given-back buffers and refuses past max', () => {
  const pool = new BufferPool(16, 3);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.ok(a && b && c);
  assert.equal(a.length, 16);
  assert.notEqual(a.buffer, b.buffer, 'each buffer has its own memory');
  assert.equal(pool.take(), null, 'a fourth is refused while three are out');
  pool.give(a);
  assert.equal(pool.take(), a, 'a given-back buffer is reused');
  pool.give(a);
  pool.give(b);
  assert.equal(pool.inUse, 1);
  assert.deepEqual(new Set([pool.take(), pool.take()]), new Set([a, b]));
  assert.equal(pool.take(), null, 'still three at most');
});
