// A deploy that renames every file under a running server, as rsync does: each file's new bytes are written to
// a temporary name beside it (`.NAME.XXXXXX`) and renamed over it, one file after the other. A rename changes a
// file's ctime, so xorigin reads every file again (its ETag follows the content).
//
//   npm run build && node bench/rename.js [--files 20000] [--per-dir 100] [--delay-updates] [--port 0]
//
// A tree of --files files of 64 bytes (--per-dir to a directory) is made in a temp directory; `xorigin serve`
// (`node dist/cli/main.js serve ROOT --origin '*'`, its ETag cache in the temp directory) is started pinned to
// core 0 by taskset when there is one, and asked for the last file until it serves it. Then every file gets new
// bytes of the same length, written and renamed over it in order (with --delay-updates, as rsync --delay-updates:
// every new file written under its temporary name first, untimed, then all renamed in one loop, closer to
// "renamed at once"); the last file renamed is then asked for every
// 50 ms (a keep-alive GET) until its new bytes come back. Prints the seconds the renames took, the seconds from
// the last rename until the last file's new bytes were served, and the server's CPU seconds (utime + stime of its
// process, all threads, /proc/PID/stat) from the last rename until then and from the first rename until then;
// then how many of 1,000 files spread over the tree still served their old bytes at that moment (0 expected:
// the last file is not published before the others). --port gives the server that port (0: one the system
// picks). The script runs itself again pinned to core 1 when taskset is there. Linux only (/proc). The README's
// figure is for --files 100000 (a few minutes: on a VM where a write and a rename cost ~200 µs, the renames
// alone take ~20 s).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuse, scriptArgs, wholeNumber } from './args.js';
import { pin, procStats, PROJECT, TASKSET } from './lib.js';

const { values } = scriptArgs({
  files: { type: 'string', default: '20000' },
  'per-dir': { type: 'string', default: '100' },
  port: { type: 'string', default: '0' },
  'delay-updates': { type: 'boolean', default: false },
});
const FILES = wholeNumber(values.files, '--files');
const PER_DIR = wholeNumber(values['per-dir'], '--per-dir');
const PORT = wholeNumber(values.port, '--port', 0);
const XORIGIN = join(PROJECT, 'dist', 'cli', 'main.js');
if (!existsSync(XORIGIN)) refuse(`no ${XORIGIN}: npm run build first`);
if (TASKSET && process.env.XORIGIN_RENAME_PINNED !== '1') {
  const r = spawnSync('taskset', ['-c', '1', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, XORIGIN_RENAME_PINNED: '1' } });
  process.exit(r.status ?? 1);
}

const work = mkdtempSync(join(tmpdir(), 'xorigin-rename-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
const root = join(work, 'root');
const dirOf = (i) => `d${String(Math.floor(i / PER_DIR)).padStart(5, '0')}`;
const nameOf = (i) => `f${String(i).padStart(7, '0')}.txt`;
const pathOf = (i) => join(root, dirOf(i), nameOf(i));
const urlOf = (i) => `/${dirOf(i)}/${nameOf(i)}`;
/** 64 bytes: the version and the file's number, padded; both versions of a file have one length. */
const bytesOf = (version, i) => `${version} ${i}`.padEnd(63, '.') + '\n';

for (let i = 0; i < FILES; i++) {
  if (i % PER_DIR === 0) mkdirSync(join(root, dirOf(i)), { recursive: true });
  writeFileSync(pathOf(i), bytesOf('old', i));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let port = 0;
/** GET of `path` on a kept-alive connection; again on a new one when the server had just closed it (idle). */
function get(path, tries = 3) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('latin1') }));
    }).on('error', (e) => (tries > 1 && e.code === 'ECONNRESET' ? resolve(get(path, tries - 1)) : reject(e)));
  });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const [cmd, args] = pin(0, process.execPath, [XORIGIN, 'serve', root, '--origin', '*', '--host', '127.0.0.1', '--port', String(PORT), '--etag-cache', join(work, 'etag-cache')]);
const server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }); // taskset execs into node: server.pid is xorigin's
let stderr = '';
server.stderr.on('data', (d) => (stderr += d));
try {
  const started = Date.now();
  port = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`xorigin exited (${code}) before it listened: ${stderr}`)));
  });
  const last = FILES - 1;
  while ((await get(urlOf(last))).body !== bytesOf('old', last)) await sleep(50);
  console.log(`${FILES.toLocaleString('en')} files, ${PER_DIR} to a directory: served in ${((Date.now() - started) / 1000).toFixed(1)} s from start`);
  await sleep(1000); // let the start-up's work (the ETag cache written) end before measuring

  const tmpOf = (i) => join(root, dirOf(i), `.${nameOf(i)}.${randomBytes(3).toString('hex')}`);
  const staged = [];
  if (values['delay-updates']) {
    for (let i = 0; i < FILES; i++) {
      staged.push(tmpOf(i));
      writeFileSync(staged[i], bytesOf('new', i));
    }
    await sleep(1000);
  }
  const cpuFirst = procStats(server.pid).cpuMs;
  const t0 = performance.now();
  if (values['delay-updates']) for (let i = 0; i < FILES; i++) renameSync(staged[i], pathOf(i));
  else {
    for (let i = 0; i < FILES; i++) {
      const tmp = tmpOf(i);
      writeFileSync(tmp, bytesOf('new', i));
      renameSync(tmp, pathOf(i));
    }
  }
  const tLast = performance.now();
  const cpuLast = procStats(server.pid).cpuMs;
  let polls = 0;
  for (;;) {
    polls++;
    const { body } = await get(urlOf(last));
    if (body === bytesOf('new', last)) break;
    await sleep(50);
  }
  const tServed = performance.now();
  const cpuServed = procStats(server.pid).cpuMs;
  let stale = 0;
  let missing = 0;
  const sample = Math.min(1000, FILES);
  for (let k = 0; k < sample; k++) {
    const i = Math.floor((k * FILES) / sample);
    const { status, body } = await get(urlOf(i));
    if (status !== 200) missing++;
    else if (body !== bytesOf('new', i)) stale++;
  }
  console.log(`renames (${values['delay-updates'] ? 'all written first, then renamed in one loop' : 'write + rename, one file after the other'}): ${((tLast - t0) / 1000).toFixed(1)} s`);
  console.log(`last rename → last file's new bytes served: ${((tServed - tLast) / 1000).toFixed(2)} s (${polls} polls, 50 ms apart)`);
  console.log(`server CPU from the last rename until then: ${((cpuServed - cpuLast) / 1000).toFixed(2)} s; from the first rename: ${((cpuServed - cpuFirst) / 1000).toFixed(2)} s`);
  console.log(`then, of ${sample.toLocaleString('en')} files spread over the tree: ${stale} served old bytes, ${missing} not 200`);
} finally {
  agent.destroy();
  if (server.exitCode === null && server.signalCode === null) await new Promise((resolve) => {
    server.once('exit', resolve);
    server.kill('SIGKILL');
  });
}
