// Test helpers: real servers on 127.0.0.1 (port 0), requests with node:http or raw bytes with node:net.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Resolves once `check()` is true, polling every 10 ms; fails with `what()` after `ms`. For state a
 * server reaches after the response that caused it (a body loaded into memory behind the first GET).
 */
export async function eventually(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(what());
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A watcher for an AssetTable (its `watchTree` option) that the test drives: `emit(path)` reports a change
 * at `path` (relative to the root; null: somewhere) as the real one would.
 */
export function fakeWatcher() {
  let onChange = () => {
    throw new Error('the table has not started its watcher');
  };
  const watchTree = (_dir, listener) => {
    onChange = listener;
    const w = new EventEmitter();
    w.close = () => {};
    return w;
  };
  return { watchTree, emit: (path) => onChange('change', path) };
}

/**
 * A `statFile` for an AssetTable (wrapping `statFile`) that, once armed, holds the next stat of a path
 * ending in `suffix` until released: `const g = gate.arm(); …; await g.reached; …; g.release()`. The test
 * then acts while a scan is known to be under way.
 */
export function statGate(suffix, statFile) {
  let armed = null;
  const gated = async (path) => {
    if (armed !== null && path.endsWith(suffix)) {
      const g = armed;
      armed = null;
      g.arrive();
      await g.released;
    }
    return statFile(path);
  };
  const arm = () => {
    let arrive;
    let release;
    const reached = new Promise((resolve) => (arrive = resolve));
    const released = new Promise((resolve) => (release = resolve));
    armed = { arrive, released };
    return { reached, release };
  };
  return { statFile: gated, arm };
}

/**
 * A `statFile` for an AssetTable giving real times an hour back: no file is racily clean (read within the
 * second it was written), and each version written a second after the last gets its own date. `slowFor`:
 * a path whose every stat takes `slowMs` more (a read of it, which ends with a stat, then takes that long).
 */
export function statHourAgo({ slowFor = null, slowMs = 0 } = {}) {
  return async (path) => {
    const s = await stat(path, { bigint: true });
    if (path === slowFor) await new Promise((r) => setTimeout(r, slowMs));
    return Object.assign(s, { mtimeNs: s.mtimeNs - 3_600_000_000_000n, ctimeNs: s.ctimeNs - 3_600_000_000_000n });
  };
}

/** Starts a node:http server on 127.0.0.1 with an ephemeral port. */
export async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    server,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Starts an arbitrary listener-capable app (Express) on 127.0.0.1. */
export async function listenApp(app) {
  return listen(app);
}

/**
 * Sends one request with node:http. Resolves { status, headers (lowercased), raw (name/value pairs
 * as sent), body (Buffer) }.
 */
export function request(port, { method = 'GET', path = '/', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends raw bytes over a socket and resolves the first response: { status, headers: [[name, value]],
 * get(name) -> all values joined, text }. Used where node:http's client would normalise the request
 * (duplicate headers, odd whitespace, oversized lists).
 */
export function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw request timed out; received: ${JSON.stringify(data)}`));
    }, 5000);
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.slice(0, end).split('\r\n');
      const headers = head.slice(1).map((line) => {
        const i = line.indexOf(':');
        return [line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()];
      });
      const lengthHeader = headers.find(([n]) => n === 'content-length');
      const bodyLength = lengthHeader ? Number(lengthHeader[1]) : 0;
      if (data.length < end + 4 + bodyLength) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status: Number(head[0].split(' ')[1]),
        statusLine: head[0],
        headers,
        get: (name) => {
          const values = headers.filter(([n]) => n === name).map(([, v]) => v);
          return values.length === 0 ? undefined : values.join(', ');
        },
        text: data,
      });
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(text);
  });
}

/** The Access-Control-* header names present in a node:http response. */
export function acHeaders(res) {
  return Object.keys(res.headers).filter((n) => n.startsWith('access-control-'));
}

const CLI = join(process.cwd(), 'dist/cli/main.js');

let cliCacheHome = null;

/** The CLI keeps ETags under $XDG_CACHE_HOME: for the tests, a directory of their own, removed at exit. */
function cacheHome() {
  if (cliCacheHome === null) {
    cliCacheHome = mkdtempSync(join(tmpdir(), 'xorigin-cli-cache-'));
    process.once('exit', () => rmSync(cliCacheHome, { recursive: true, force: true }));
  }
  return cliCacheHome;
}

/**
 * Runs the CLI; resolves at exit, or once it prints its URL (then with the child still running).
 * `env` is added to a copy of this process's environment without PORT (`PORT: undefined` keeps it out).
 * `nodeArgs` go to node, before the CLI's path.
 */
export function runCli(args, { env = {}, cwd = process.cwd(), timeoutMs = 8000, uid, nodeArgs = [] } = {}) {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, XDG_CACHE_HOME: cacheHome() };
    delete childEnv.PORT;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv, cwd, uid });
    const r = { code: null, out: '', err: '', child };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ ...r, code: 'timeout' });
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      r.out += d;
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(r.out);
      if (m && r.port === undefined) {
        r.port = Number(m[1]);
        clearTimeout(timer);
        resolve({ ...r, code: 'listening', get out() { return r.out; }, get err() { return r.err; } });
      }
    });
    child.stderr.on('data', (d) => (r.err += d));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      r.exited = code ?? signal;
      resolve({ ...r, code: code ?? signal, child: undefined });
    });
  });
}

export async function stopCli(r) {
  if (r.child === undefined || r.child.exitCode !== null || r.child.signalCode !== null) return;
  await new Promise((resolve) => {
    r.child.on('exit', resolve);
    r.child.kill('SIGTERM');
  });
}

/** Resolves with the stderr text once `pattern` appears in it (or rejects after 8 s). */
export function stderrMatch(r, pattern) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const m = pattern.exec(r.err);
      if (m) return resolve(m[0]);
      if (Date.now() - started > 8000) return reject(new Error(`no ${pattern} on stderr; got: ${r.err}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

/** A port on 127.0.0.1 that was free a moment ago (listen on 0, close), for a server that must bind it again. */
export async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Lets go of every open waiting on the FIFO at `path`, then removes it. Opened O_RDWR, which never
 * blocks and counts as a writer: an O_WRONLY | O_NONBLOCK open fails (ENXIO) while no reader has come
 * yet, and a reader that came after it, between that and the removal, held its thread-pool thread
 * forever, so the test process never exited (a CI run hung). The writer stays 1 s, unref'd, for an
 * open that found the path just before it was removed.
 */
export function releaseFifo(path) {
  let writer;
  try {
    writer = openSync(path, constants.O_RDWR);
  } catch {
    return; // gone already
  }
  rmSync(path, { force: true });
  setTimeout(() => closeSync(writer), 1000).unref();
}

/**
 * Steady slow readers beside one that stops: reads each paused socket of `readers` at 400 KB/s (20 KB
 * every 50 ms) and `stopper` until it has 200 KB, then never again, and resolves, `ms` later, to the
 * bytes each reader read. All are destroyed when the test ends.
 */
export async function readSteadilyBesideStopped(t, readers, stopper, ms) {
  const read = readers.map(() => 0);
  const pace = setInterval(() => {
    readers.forEach((reader, i) => {
      const chunk = reader.read(20_000) ?? reader.read();
      if (chunk !== null) read[i] += chunk.length;
    });
  }, 50);
  t.after(() => {
    clearInterval(pace);
    for (const reader of readers) reader.destroy();
    stopper.destroy();
  });
  let stopped = 0;
  while (stopped < 200_000) {
    await new Promise((r) => setTimeout(r, 10));
    for (let chunk; (chunk = stopper.read()) !== null; ) stopped += chunk.length;
  }
  await new Promise((r) => setTimeout(r, ms));
  return read;
}

/**
 * The port a server child prints in its `listening on http://127.0.0.1:PORT` line on stdout; rejects if it
 * exits first (with what it printed). `seen.out` gathers its stdout, then and after.
 */
export function listeningPort(child, seen = { out: '' }) {
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      seen.out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(seen.out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${String(code)}) before listening: ${seen.out}`)));
  });
}

/**
 * A steady stream of requests across a policy change: `loops` keep-alive connections each send `perLoop`
 * requests (`requestOf(i)` gives `{ method, path, headers }`), and `change()` is called once `changeAfter`
 * responses are in. Resolves each response as `{ res, sentAfter }`, where `sentAfter` says the request was
 * sent after change() had returned (so the new policy must answer it). A failed request rejects.
 */
export async function acrossChange(port, { requestOf, change, loops = 4, perLoop = 50, changeAfter = 40 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const seen = [];
  let changed = false;
  const one = (i) => new Promise((resolve, reject) => {
    const { method = 'GET', path = '/', headers = {} } = requestOf(i);
    const sentAfter = changed;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ res: { status: res.statusCode, headers: res.headers }, sentAfter }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
  const loop = async (l) => {
    for (let i = 0; i < perLoop; i++) {
      seen.push(await one(l * perLoop + i));
      if (!changed && seen.length >= changeAfter) {
        change();
        changed = true;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: loops }, (_, l) => loop(l)));
  } finally {
    agent.destroy();
  }
  assert.ok(changed, 'the change was made');
  return seen;
}

/**
 * Two policies that differ in every header they grant, and which of them answered a response: a
 * response mixing them (the old origin without its credentials, say) is neither. `requestOf` alternates
 * an actual GET and a preflight for PUT, both from `ORIGIN`, which each policy allows.
 */
export const POLICY_CHANGE = {
  origin: 'https://a.example',
  old: { origins: ['https://a.example'], credentials: true, methods: ['PUT'], exposedHeaders: ['x-old'] },
  new: { origins: ['*'], methods: ['PUT', 'DELETE'], exposedHeaders: ['x-new'] },
  requestOf(i) {
    const headers = { Origin: this.origin };
    return i % 2 === 0 ? { path: '/items', headers } : { method: 'OPTIONS', path: '/items', headers: { ...headers, 'Access-Control-Request-Method': 'PUT' } };
  },
  generation(res) {
    const h = res.headers;
    const preflight = h['access-control-allow-methods'] !== undefined;
    const own = preflight ? h['access-control-allow-methods'] : h['access-control-expose-headers'];
    const vary = h.vary ?? '';
    if (h['access-control-allow-origin'] === this.origin && h['access-control-allow-credentials'] === 'true' && own === (preflight ? 'PUT' : 'x-old') && vary.includes('Origin')) return 'old';
    if (h['access-control-allow-origin'] === '*' && h['access-control-allow-credentials'] === undefined && own === (preflight ? 'PUT, DELETE' : 'x-new')) return 'new';
    return `mixed: ${JSON.stringify(h)}`;
  },
};

/** Asserts what acrossChange saw: no failure, no mix, both policies, and the new one for every request sent after the change. */
export function assertOneChange(seen) {
  const generations = seen.map(({ res }) => POLICY_CHANGE.generation(res));
  assert.deepEqual(seen.filter(({ res }) => res.status >= 300), [], 'no request failed');
  assert.deepEqual(generations.filter((g) => g !== 'old' && g !== 'new'), [], 'no response mixes the two policies');
  assert.deepEqual(seen.filter(({ sentAfter }, i) => sentAfter && generations[i] !== 'new').length, 0, 'a request sent after the change is answered by the new policy');
  assert.ok(generations.includes('old') && generations.includes('new'), 'both policies answered');
}
