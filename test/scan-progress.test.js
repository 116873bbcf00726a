// Start-up progress: a scan over a second says so on stderr: a live line on a terminal (files, bytes
// hashed, rate, time left), one summary line otherwise; a shorter scan says nothing. Mocked timers and
// clock: nothing here waits for real time.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine, reportScan } from '../dist/static/scan-progress.js';

const MIB = 1024 * 1024;

function run({ isTTY, scanMs }) {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  let clock = 0;
  const writes = [];
  const counts = { files: 0, bytesToHash: 400 * MIB, bytesHashed: 0 };
  try {
    const stop = reportScan(() => counts, { isTTY, write: (t) => writes.push(t) }, () => clock);
    for (let t = 0; t < scanMs; t += 250) {
      clock += 250;
      counts.files += 1000;
      counts.bytesHashed = Math.min(counts.bytesToHash, counts.bytesHashed + 25 * MIB);
      mock.timers.tick(250);
    }
    stop();
  } finally {
    mock.timers.reset();
  }
  return writes;
}

test('a terminal gets a live line after a second, redrawn, then a final line', () => {
  const writes = run({ isTTY: true, scanMs: 2000 });
  const live = writes.filter((w) => w.startsWith('\r\x1b[Kxorigin: scanning'));
  assert.ok(live.length >= 4, `${live.length} live redraws`);
  assert.match(live[0], /scanning 4,000 files, 100\.0 MiB hashed of 400\.0 MiB found so far, 100\.0 MiB\/s, 3\.0 s left$/);
  assert.match(writes.at(-1), /^\r\x1b\[Kxorigin: scanned 8,000 files, 200\.0 MiB hashed in 2\.0 s \(100\.0 MiB\/s\)\n$/);
});

test('a log or a pipe gets one summary line, and a scan under a second nothing', () => {
  assert.deepEqual(run({ isTTY: false, scanMs: 2000 }), ['xorigin: scanned 8,000 files, 200.0 MiB hashed in 2.0 s (100.0 MiB/s)\n']);
  assert.deepEqual(run({ isTTY: true, scanMs: 750 }), []);
  assert.deepEqual(run({ isTTY: false, scanMs: 750 }), []);
});

test('progressLine: GiB past 10 GiB, minutes past 100 s, "?" before any byte is hashed', () => {
  assert.match(progressLine({ files: 1, bytesToHash: 20 * 1024 * MIB, bytesHashed: 0 }, 500, false), /0\.0 MiB hashed of 20\.0 GiB found so far, 0\.0 MiB\/s, \? left/);
  assert.match(progressLine({ files: 1, bytesToHash: 20 * 1024 * MIB, bytesHashed: 10 * MIB }, 1000, false), /34 min left/);
});

test('progressLine groups thousands without toLocaleString (whose ICU data would stay resident, ~8 MB)', (t) => {
  t.mock.method(Number.prototype, 'toLocaleString', () => {
    throw new Error('toLocaleString called');
  });
  const line = (files) => progressLine({ files, bytesToHash: MIB, bytesHashed: MIB }, 2000, true);
  assert.match(line(100_000), /scanned 100,000 files/);
  assert.match(line(1_234_567), /scanned 1,234,567 files/);
  assert.match(line(999), /scanned 999 files/);
  assert.match(line(0), /scanned 0 files/);
});
