// When bodies from disk may be read on the main thread: while blocking reads are fast (page cache),
// and not for a cool-down after two slow ones in a row (a device), growing while the device stays slow,
// nor once slow reads, however interleaved with fast ones, take more than their share of the thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockingReads, SLOW_MS_PER_SECOND, SLOW_READ_MS } from '../dist/static/blocking-reads.js';

/** A guard on a clock the test moves; `read(ms)` records a blocking read that took `ms`. */
function guard() {
  let now = 10_000;
  const g = new BlockingReads(() => now);
  return {
    g,
    read(ms) {
      const started = now;
      now += ms;
      g.took(started);
    },
    wait(ms) {
      now += ms;
    },
  };
}

const FAST = 0.05;
const SLOW = SLOW_READ_MS + 4;

test('fast reads, and a slow one alone, keep reads on the main thread', () => {
  const { g, read } = guard();
  assert.equal(g.allowed(), true);
  for (let i = 0; i < 100; i++) read(FAST);
  assert.equal(g.allowed(), true);
  read(SLOW); // descheduled mid-read, say
  assert.equal(g.allowed(), true);
  read(FAST);
  read(SLOW);
  assert.equal(g.allowed(), true, 'slow reads not in a row never trip');
});

test('two slow reads in a row send reads to the thread pool for a second', () => {
  const { g, read, wait } = guard();
  read(SLOW);
  read(SLOW);
  assert.equal(g.allowed(), false);
  wait(999);
  assert.equal(g.allowed(), false);
  wait(1);
  assert.equal(g.allowed(), true);
});

test('a device still slow after each cool-down doubles it, up to a minute; a fast read resets it', () => {
  const { g, read, wait } = guard();
  const coolDowns = [];
  for (let trip = 0; trip < 9; trip++) {
    read(SLOW);
    read(SLOW);
    let waited = 0;
    while (!g.allowed()) {
      wait(250);
      waited += 250;
    }
    coolDowns.push(waited);
  }
  assert.deepEqual(coolDowns, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  read(FAST);
  read(SLOW);
  read(SLOW);
  assert.equal(g.allowed(), false);
  wait(1000);
  assert.equal(g.allowed(), true, 'back to a 1 s cool-down after a fast read');
});

test('slow reads interleaved with fast ones trip too: their time on the main thread is bounded', () => {
  // A client alternating Range requests to cold parts of a large file with cached bytes.
  const { g, read, wait } = guard();
  let blocked = 0;
  const seconds = 10;
  for (let t = 0; t < seconds * 1000; t += 10) {
    // Each read blocks only when the guard allows it (else it goes to the thread pool, untimed).
    if (g.allowed()) {
      read(SLOW);
      blocked += SLOW;
    }
    if (g.allowed()) read(FAST);
    wait(10);
  }
  assert.ok(blocked <= seconds * SLOW_MS_PER_SECOND + SLOW_MS_PER_SECOND + SLOW,
    `slow reads held the main thread ${blocked} ms in ${seconds} s`);
  assert.ok(blocked >= seconds * 2 * SLOW, 'reads are allowed again after each cool-down');
});

test('one read slower than the whole budget trips alone', () => {
  const { g, read } = guard();
  read(SLOW_MS_PER_SECOND + 1); // a network file system, say
  assert.equal(g.allowed(), false);
});

test('slow reads longer than the budget, each after a fast one, still hold the main thread only the budget\'s share', () => {
  // A fast read after each cool-down sets it back to 1 s: the wait must also cover the time the
  // slow reads took, or one read per second goes through however long it blocks (a network file
  // system, a saturated disk).
  for (const slow of [100, 1000]) {
    const { g, read, wait } = guard();
    let blocked = 0;
    const seconds = 60;
    for (let t = 0; t < seconds * 1000; t += 10) {
      if (g.allowed()) read(FAST);
      if (g.allowed()) {
        read(slow);
        blocked += slow;
        t += slow;
      }
      wait(10);
    }
    assert.ok(blocked <= seconds * SLOW_MS_PER_SECOND + SLOW_MS_PER_SECOND + slow,
      `reads of ${slow} ms held the main thread ${blocked} ms in ${seconds} s`);
    assert.ok(blocked >= slow, 'the first slow read was made on the main thread');
  }
});
