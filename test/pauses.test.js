// The server's own pauses are not the clients' fault. A process stopped (SIGSTOP, a frozen container,
// a VM migrated) or an event loop held cannot read or write; when it resumes, node runs its timers
// before the poll that would read the requests and write the bytes waiting. Here the pause is the
// main thread held with Atomics.wait from an I/O callback; a client in a child process sends its
// request during the pause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../dist/index.js';
import { SweepClock } from '../dist/static/sweep-clock.js';
import { testCertificate } from './transports.js';

/** Holds this process's main thread for `ms`: nothing of it runs meanwhile, as under SIGSTOP. */
const hold = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function start(t, options) {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-pause-'));
  writeFileSync(join(root, 'a.txt'), 'hello');
  const server = await serve({ root, etagCache: 'off', ...options });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await server.shutdown(200);
    rmSync(root, { recursive: true, force: true });
  });
  return { server, port: server.address().port };
}

test('a request sent whole while the server was paused past the head timeout is answered, not 408', async (t) => {
  const { server, port } = await start(t, {});
  server.headersTimeout = 1000;
  server.requestTimeout = 2000;
  // Connects, says so, and 300 ms later (the server held by then) sends its request.
  const client = spawn(process.execPath, ['-e', `
    const s = require('net').connect(${port}, '127.0.0.1', () => {
      console.log('connected');
      setTimeout(() => s.write('GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'), 300);
    });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => console.log('answer: ' + got.split('\\r\\n')[0]));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => client.kill());
  let out = '';
  await new Promise((resolve) => client.stdout.on('data', (d) => ((out += d), out.includes('connected') && resolve())));
  hold(2500); // past headersTimeout, and node checks every second
  await new Promise((resolve) => client.on('exit', resolve));
  assert.match(out, /answer: HTTP\/1\.1 200 OK/);
  // A client that really sends nothing still gets its 408.
  const idle = net.connect(port, '127.0.0.1');
  const answer = await new Promise((resolve) => {
    let got = '';
    idle.on('data', (d) => (got += d));
    idle.on('close', () => resolve(got.split('\r\n')[0]));
  });
  assert.equal(answer, 'HTTP/1.1 408 Request Timeout');
});

test('the sweeps\' clock leaves out a pause of the process: a gap past twice the period counts one period', () => {
  // node runs its timers before the poll that would write, after a SIGSTOP's EINTR: a sweep then
  // sees no byte moved for the whole pause. Not reproducible in-process (a held loop polls first).
  let now = 1000;
  const clock = new SweepClock(100, () => now);
  assert.equal(clock.tick(), 1000);
  now += 100;
  assert.equal(clock.tick(), 1100);
  now += 190; // late, within twice the period: all of it counts
  assert.equal(clock.tick(), 1290);
  now += 12_000; // stopped 12 s: one period of it counts
  assert.equal(clock.tick(), 1390);
  now += 100;
  assert.equal(clock.tick(), 1490);
  // Stopped sweeps (nothing to watch) then started again: the time between is no pause, and not counted.
  clock.stopped();
  now += 60_000;
  assert.equal(clock.tick(), 61_490);
  clock.periodMs = 1000; // a reload's new timeout: 5 s late is a pause of 4 s
  now += 5000;
  assert.equal(clock.tick(), 62_490);
});

for (const secure of [false, true]) {
  test(`a request sent in time on an idle keep-alive connection while the server was paused past the keep-alive timeout is answered, not dropped (${secure ? 'HTTPS/1.1' : 'HTTP/1.1'})`, async (t) => {
    // node's keep-alive timer ran before the poll that would read the request: RST, or a close over
    // TLS (attack s38, its BUG 3).
    const c = testCertificate();
    const { port } = await start(t, { keepAliveTimeout: 500, ...(secure ? { tls: { cert: c.cert, key: c.key }, http2: false } : {}) });
    const connect = secure
      ? `require('tls').connect({ port: ${port}, host: '127.0.0.1', ca: require('fs').readFileSync(${JSON.stringify(c.cert)}), servername: 'localhost' }, ask)`
      : `require('net').connect(${port}, '127.0.0.1', ask)`;
    const client = spawn(process.execPath, ['-e', `
      const ask = () => s.write('GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
      const s = ${connect};
      let got = '';
      let answers = 0;
      s.on('data', (d) => {
        got += d;
        const n = (got.match(/hello/g) || []).length;
        if (n === answers) return;
        answers = n;
        // The second asked during the pause, the third once it is answered: the connection lives on.
        if (n === 1) {
          console.log('answered');
          setTimeout(() => s.write('GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'), 200);
        }
        if (n === 2) s.write('GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n');
      });
      s.on('error', (e) => console.log('error ' + e.code));
      s.on('close', () => console.log('answers: ' + (got.match(/HTTP\\/1\\.1 200 OK/g) || []).length));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => client.kill());
    let out = '';
    await new Promise((resolve) => client.stdout.on('data', (d) => ((out += d), out.includes('answered') && resolve())));
    hold(1500); // the second request comes 0.2 s in, 1.3 s before the timer that had 0.5 s is run
    await new Promise((resolve) => client.on('exit', resolve));
    assert.match(out, /answers: 3/, out);
    // An idle keep-alive connection is still closed at its timeout.
    const idle = secure
      ? tls.connect({ port, host: '127.0.0.1', ca: c.pem, servername: 'localhost' }, () => idle.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'))
      : net.connect(port, '127.0.0.1', () => idle.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'));
    idle.on('error', () => {});
    idle.resume();
    const started = Date.now();
    await new Promise((resolve) => idle.on('close', resolve));
    const after = Date.now() - started;
    assert.ok(after >= 400 && after < 3000, `closed ${after} ms in, with a 0.5 s keep-alive timeout`);
  });
}
