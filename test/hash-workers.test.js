// Hashing on worker threads: the digests are SHA-256 of the files, a file that cannot be read rejects
// without stopping the others, and close() settles everything pending (no hang, no leak of threads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashWorkers } from '../dist/static/hash-workers.js';

test('many files hashed on threads give their SHA-256; a missing one rejects alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  const hashers = new HashWorkers(2);
  try {
    const files = [];
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.alloc(1000 + i * 70_000, i); // up to 2.7 MB: several reads of the thread's buffer
      writeFileSync(join(root, `f${i}`), bytes);
      files.push(bytes);
    }
    const results = await Promise.allSettled([...files.map((_, i) => hashers.hash(join(root, `f${i}`))), hashers.hash(join(root, 'missing'))]);
    files.forEach((bytes, i) => assert.deepEqual(results[i].value, createHash('sha256').update(bytes).digest(), `f${i}`));
    assert.equal(results[40].status, 'rejected');
    assert.equal(hashers.bytes, files.reduce((n, b) => n + b.length, 0));
  } finally {
    hashers.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('close() rejects what is pending; the pool starts again when asked', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-hash-'));
  writeFileSync(join(root, 'f'), Buffer.alloc(5_000_000, 1));
  const hashers = new HashWorkers(1);
  try {
    const pending = [1, 2, 3, 4].map(() => hashers.hash(join(root, 'f')));
    hashers.close();
    for (const p of pending) await assert.rejects(p);
    assert.deepEqual(await hashers.hash(join(root, 'f')), createHash('sha256').update(Buffer.alloc(5_000_000, 1)).digest());
  } finally {
    hashers.close();
    rmSync(root, { recursive: true, force: true });
  }
});
