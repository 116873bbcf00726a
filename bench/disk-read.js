// How fast Node itself can send a 1 MiB file from the page cache, whatever the server around it: a
// minimal node:http server per way of reading (the file written from memory; fs.read of 256 KiB or
// 1 MiB per socket write on libuv's thread pool; fs.readSync of 256 KiB per write, as xorigin reads
// while reads are fast (src/static/blocking-reads.ts), or of the whole file), each pinned to core 0
// and loaded by wrk on core 1 (32 connections, 1 s warm-up, 3 s measured). It bounds what the
// "1 MB GET from disk" scenario of bench/run.js can reach without sendfile.
//
//   node bench/disk-read.js [--rounds 2]
//
// Prints req/s per way and round, and each way's median as a share of "memory". Needs wrk.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scriptArgs } from './args.js';
import { median, pin, pinShell, which } from './lib.js';

const SERVER = `
import http from 'node:http';
import fs from 'node:fs';
const [file, mode, chunkText] = process.argv.slice(2);
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
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const WAYS = [
  ['memory', 'memory', 1 << 20],
  ['fs.read 256 KiB', 'read', 256 * 1024],
  ['fs.read 1 MiB', 'read', 1 << 20],
  ['fs.readSync 256 KiB', 'readSync', 256 * 1024],
  ['fs.readSync 1 MiB', 'readSync', 1 << 20],
];

const { values } = scriptArgs({ rounds: { type: 'string', default: '2' } });
const WRK = which('wrk');
if (WRK === null) throw new Error('bench/disk-read.js needs wrk (apt-get install -y wrk)');
const work = mkdtempSync(join(tmpdir(), 'xorigin-disk-read-'));
const file = join(work, 'big.ttf');
writeFileSync(file, randomBytes(1 << 20));
const script = join(work, 'server.mjs');
writeFileSync(script, SERVER);

async function measure(mode, chunk) {
  const [cmd, args] = pin(0, process.execPath, [script, file, mode, String(chunk)]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Killed whatever happens: a failing wrk used to leave this server running after the script exited.
  try {
    const port = await new Promise((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`the ${mode} server exited (${code}) before it listened`)));
    });
    const wrk = (seconds) => execFileSync('sh', ['-c', `${pinShell(1)}${WRK} -t1 -c32 -d${seconds}s http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    wrk(1);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk(3))[1]);
  } finally {
    child.kill();
  }
}

try {
  const rates = new Map(WAYS.map(([label]) => [label, []]));
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const [label, mode, chunk] of WAYS) {
      const rate = await measure(mode, chunk);
      rates.get(label).push(rate);
      console.log(`round ${round} ${label.padEnd(18)} ${rate.toFixed(0)} req/s`);
    }
  }
  const memory = median(rates.get('memory'));
  for (const [label, r] of rates) console.log(`${label.padEnd(18)} median ${median(r).toFixed(0)} req/s, ${(median(r) / memory).toFixed(2)} of memory`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
