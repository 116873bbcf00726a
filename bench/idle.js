// Idle keep-alive connections: what each costs the server, and whether new clients are still served.
//
//   npm run build && node bench/idle.js [--connections 10000] [--servers xorigin,bare] [--out DIR]
//
// For each server (xorigin's `serve()`, the server `xorigin serve` runs; and a bare node:http server
// with the same timeouts, for comparison), in its own process pinned to core 0 (taskset, when there
// are two cores): N connections from this process (core 1) each send one request, read the answer,
// and stay open, idle. The server's RSS and V8 heap (after two full GCs) are taken before and with
// the N connections open; their difference over N is the cost of one idle connection. A new client
// must still be answered while they are held. Socket buffers live in the kernel and are not in RSS.
//
// Each connection costs an fd in the server and one here, so the fd limit must exceed N. Node raises
// its soft limit to the hard limit by itself; when even that is too low, this script runs itself again
// under `ulimit -n N+1024` (which needs root past the hard limit) and says so on stderr.
// Both servers keep idle connections 120 s here (xorigin's default is 5 s, `--keep-alive-timeout`),
// so that all N are still open when measured.
//
// Prints a table and a JSON line; --out DIR also writes DIR/idle.json. Nothing here is published
// automatically: the README quotes the figures with the command.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptArgs, wholeNumber } from './args.js';

const PROJECT = dirname(dirname(fileURLToPath(import.meta.url)));
const KEEP_ALIVE_MS = 120_000;
const APP = 'https://app.example.com';

// ------------------------------------------------------------------------------------------------
// The server process: `node bench/idle.js --serve xorigin|bare ROOT`. Reports its port and, on each
// "measure" message, its memory after two full GCs.
if (process.argv[2] === '--serve') {
  const [, , , kind, root] = process.argv;
  let server;
  if (kind === 'xorigin') {
    const { serve } = await import(join(PROJECT, 'dist/index.js'));
    server = await serve({ root, cors: { origins: [APP] }, keepAliveTimeout: KEEP_ALIVE_MS });
  } else {
    // The same timeouts as xorigin's server, so only the request handling differs.
    const body = readFileSync(join(root, 'font.woff2'));
    server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      res.writeHead(200, { 'content-type': 'font/woff2', 'access-control-allow-origin': APP, vary: 'Origin', 'content-length': body.length });
      res.end(body);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    server.timeout = 60_000;
  }
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (m) => {
    if (m !== 'measure') return;
    globalThis.gc();
    globalThis.gc();
    const mem = process.memoryUsage();
    server.getConnections((err, connections) => process.send({ mem, connections: err ? null : connections }));
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const { values: args } = scriptArgs({
    connections: { type: 'string', default: '10000' },
    servers: { type: 'string', default: 'xorigin,bare' },
    out: { type: 'string' },
    'fd-raised': { type: 'boolean', default: false },
  });
  const N = wholeNumber(args.connections, '--connections');
  const need = N + 1024;
  // Node raises its own soft fd limit to the hard limit at start, so the hard limit is what counts.
  const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  if (soft < need) {
    if (args['fd-raised']) {
      console.error(`idle bench: could not raise the fd limit to ${need} (it is ${soft}): run as root, raise the hard limit (ulimit -Hn, prlimit), or use fewer --connections`);
      process.exit(2);
    }
    // Only a new process gets a new limit: run this script again under `ulimit -n` (root may raise the hard limit).
    console.error(`idle bench: raising the fd limit from ${soft} to ${need} (ulimit -n ${need}) for this run`);
    const argv = process.argv.slice(1).map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('sh', ['-c', `ulimit -n ${need} && exec '${process.execPath}' ${argv} --fd-raised`], { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));
    return;
  }

  const TASKSET = which('taskset') && os.availableParallelism() >= 2;
  if (TASKSET) execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
  const work = mkdtempSync(join(os.tmpdir(), 'xorigin-idle-'));
  const root = join(work, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'font.woff2'), Buffer.alloc(2048, 7));

  const results = [];
  try {
    for (const kind of args.servers.split(',')) results.push(await measure(kind, root, N, TASKSET));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  console.log(`\n${N.toLocaleString('en')} idle keep-alive connections, one request each (Node ${process.versions.node}, fd limit ${soft}, taskset ${TASKSET ? 'on' : 'off'})\n`);
  console.log('| server | RSS before | RSS with them | RSS per connection | heap per connection | new client served | open at the server |');
  console.log('|---|--:|--:|--:|--:|---|--:|');
  for (const r of results) {
    console.log(`| ${r.server} | ${mib(r.before.rss)} | ${mib(r.after.rss)} | ${kib(r.rssPerConnection)} | ${kib(r.heapPerConnection)} | ${r.newClient} | ${r.connections} |`);
  }
  const json = { date: new Date().toISOString(), node: process.versions.node, connections: N, fdLimit: soft, results };
  console.log(`\n${JSON.stringify(json)}`);
  if (args.out !== undefined) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'idle.json'), `${JSON.stringify(json, null, 2)}\n`);
  }
}

async function measure(kind, root, N, taskset) {
  const argv = ['--expose-gc', fileURLToPath(import.meta.url), '--serve', kind, root];
  const [cmd, cmdArgs] = taskset ? ['taskset', ['-c', '0', process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage(child);
  const ask = async () => {
    child.send('measure');
    return nextMessage(child);
  };
  // Warm up on short-lived connections first, so start-up allocation and JIT are in the baseline.
  for (let i = 0; i < 500; i++) await oneShot(port);
  await new Promise((r) => setTimeout(r, 500));
  const before = await ask();

  const sockets = [];
  const BATCH = 256; // below the listen backlog (511), so no SYN waits on a full queue
  for (let i = 0; i < N; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) batch.push(keepAliveRequest(port));
    sockets.push(...(await Promise.all(batch)));
  }
  const newClient = await oneShot(port);
  const after = await ask();
  const stillOpen = sockets.filter((s) => !s.destroyed).length;
  for (const s of sockets) s.destroy();
  child.disconnect();
  await new Promise((r) => child.once('exit', r));

  const row = {
    server: kind === 'xorigin' ? 'xorigin serve()' : 'bare node:http',
    before: before.mem,
    after: after.mem,
    rssPerConnection: (after.mem.rss - before.mem.rss) / N,
    heapPerConnection: (after.mem.heapUsed + after.mem.external - before.mem.heapUsed - before.mem.external) / N,
    newClient: newClient ? 'yes' : 'NO',
    connections: after.connections,
    clientSideStillOpen: stillOpen,
  };
  console.error(`${row.server}: ${N} held (${stillOpen} still open here, ${after.connections} at the server), new client ${row.newClient}`);
  return row;
}

/** One request on a connection that then stays open; resolves the socket once the answer is read. */
function keepAliveRequest(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (d) => {
      got += d;
      const head = got.indexOf('\r\n\r\n');
      if (head === -1) return;
      const length = Number(/content-length: *(\d+)/i.exec(got.slice(0, head))?.[1] ?? 0);
      if (got.length < head + 4 + length) return;
      if (!got.startsWith('HTTP/1.1 200')) reject(new Error(`unexpected answer: ${got.slice(0, 80)}`));
      socket.removeAllListeners('data');
      socket.on('data', () => {});
      resolve(socket);
    });
    socket.write(`GET /font.woff2 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\n\r\n`);
  });
}

/** A request on a fresh connection that is then closed; resolves true on a 200 with the 2 KiB body. */
function oneShot(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/font.woff2', agent: false, headers: { origin: APP } }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => resolve(res.statusCode === 200 && n === 2048));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function nextMessage(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}
