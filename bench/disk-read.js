// How fast Node itself can send a 1 MiB file from the page cache, whatever the server around it: a
// minimal node:http server per way of reading (the file written from memory; fs.read of 256 KiB or
// 1 MiB per socket write on libuv's thread pool; fs.readSync of 256 KiB per write, as xorigin reads
// while reads are fast (src/static/blocking-reads.ts), or of the whole file), each pinned to core 0
// and loaded by wrk on core 1 (32 connections, 1 s warm-up, 3 s measured). It bounds what the
// "1 MB GET from disk" scenario of bench/run.js can reach without sendfile. The last way is xorigin
// itself on the same file (`node dist/cli/main.js serve DIR --origin '*' --memory-budget 0`: bodies
// read from disk, none held in memory; build first).
//
//   node bench/disk-read.js [--rounds 2] [--port 0]
//
// Prints req/s per way and round, and the server's CPU per response: the utime + stime of the server
// process (all its threads, from /proc/PID/stat, 10 ms ticks) over the 3 s measured, divided by the
// responses wrk completed in them; then each way's medians, req/s as a share of "memory". --port
// gives every server in turn that port (0: one the system picks). Needs wrk and Linux's /proc.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuse, scriptArgs, wholeNumber } from './args.js';
import { median, pin, pinShell, procStats, PROJECT, which } from './lib.js';

const SERVER = `
import http from 'node:http';
import fs from 'node:fs';
const [file, mode, chunkText, port] = process.argv.slice(2);
const chunk = Number(chunkText);
const whole = fs.readFileSync(file);
const size = whole.length;
const fd = fs.openSync(file, 'r');
const pool = [];
const headers = { 'content-type': 'font/ttf', 'content-length': String(size) };
const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  if (mode === 'memory') return void res.end(whole);
  const buf = pool.pop() ?? Buffer.allocUnsafeSlow(chunk);
  res.once('close', () => pool.push(buf));
  let pos = 0;
  const next = () => {
    const n = Math.min(chunk, size - pos);
    const sent = () => {
      pos += n;
      if (pos >= size) return void res.end(buf.subarray(0, n));
      res.write(buf.subarray(0, n), (e) => e == null && next());
    };
    if (mode === 'readSync') {
      fs.readSync(fd, buf, 0, n, pos);
      sent();
    } else fs.read(fd, buf, 0, n, pos, sent);
  };
  next();
});
server.listen(Number(port), '127.0.0.1', () => console.log(server.address().port));
`;

const WAYS = [
  ['memory', 'memory', 1 << 20],
  ['fs.read 256 KiB', 'read', 256 * 1024],
  ['fs.read 1 MiB', 'read', 1 << 20],
  ['fs.readSync 256 KiB', 'readSync', 256 * 1024],
  ['fs.readSync 1 MiB', 'readSync', 1 << 20],
  ['xorigin --memory-budget 0', 'xorigin', 0],
];

const { values } = scriptArgs({ rounds: { type: 'string', default: '2' }, port: { type: 'string', default: '0' } });
const ROUNDS = wholeNumber(values.rounds, '--rounds');
const PORT = wholeNumber(values.port, '--port', 0);
const XORIGIN = join(PROJECT, 'dist', 'cli', 'main.js');
if (!existsSync(XORIGIN)) refuse(`no ${XORIGIN}: npm run build first`);
const WRK = which('wrk');
if (WRK === null) throw new Error('bench/disk-read.js needs wrk (apt-get install -y wrk)');
const work = mkdtempSync(join(tmpdir(), 'xorigin-disk-read-'));
const file = join(work, 'big.ttf');
writeFileSync(file, randomBytes(1 << 20));
const script = join(work, 'server.mjs');
writeFileSync(script, SERVER);

async function measure(mode, chunk) {
  const serverArgs = mode === 'xorigin'
    ? [XORIGIN, 'serve', work, '--origin', '*', '--memory-budget', '0', '--host', '127.0.0.1', '--port', String(PORT)]
    : [script, file, mode, String(chunk), String(PORT)];
  const [cmd, args] = pin(0, process.execPath, serverArgs);
  // taskset execs into node: child.pid is the server's own process.
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Killed whatever happens: a failing wrk used to leave this server running after the script exited.
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        // The minimal servers print their port; xorigin prints "listening on http://127.0.0.1:PORT (pid N)".
        const m = mode === 'xorigin' ? /listening on http:\/\/[^\s]*:(\d+)/.exec(out) : /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`the ${mode} server exited (${code}) before it listened`)));
    });
    const path = mode === 'xorigin' ? '/big.ttf' : '/';
    const wrk = (seconds) => execFileSync('sh', ['-c', `${pinShell(1)}${WRK} -t1 -c32 -d${seconds}s http://127.0.0.1:${port}${path}`], { encoding: 'utf8' });
    wrk(1);
    const before = procStats(child.pid).cpuMs;
    const out = wrk(3);
    const cpuMs = procStats(child.pid).cpuMs - before;
    const responses = Number(/(\d+) requests in/.exec(out)[1]);
    if (/Non-2xx/.test(out)) throw new Error(`${mode}: wrk saw non-2xx responses\n${out}`);
    return { rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), usPerResponse: (cpuMs * 1000) / responses };
  } finally {
    // Waited for: xorigin finishes the responses in flight, and the next way must not share its core with it.
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill();
    });
  }
}

try {
  const rates = new Map(WAYS.map(([label]) => [label, []]));
  const cpu = new Map(WAYS.map(([label]) => [label, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, mode, chunk] of WAYS) {
      const { rate, usPerResponse } = await measure(mode, chunk);
      rates.get(label).push(rate);
      cpu.get(label).push(usPerResponse);
      console.log(`round ${round} ${label.padEnd(25)} ${rate.toFixed(0)} req/s, server CPU ${usPerResponse.toFixed(0)} µs per response`);
    }
  }
  const memory = median(rates.get('memory'));
  for (const [label, r] of rates) console.log(`${label.padEnd(25)} median ${median(r).toFixed(0)} req/s, ${(median(r) / memory).toFixed(2)} of memory; server CPU median ${median(cpu.get(label)).toFixed(0)} µs per response`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
