// When bodies from disk may be read on the main thread: while blocking reads are fast (page cache),
// and not for a cool-down after two slow ones in a row (a device), growing while the device stays slow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockingReads, SLOW_READ_MS } from '../dist/static/blocking-reads.js';

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
