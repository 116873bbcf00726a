// The three ways the server is reached, for tests that must hold over each: HTTP/1.1, HTTPS/1.1 and
// HTTP/2 (TLS, ALPN). The test certificate is generated at test time with openssl (no key material
// is committed) and trusted by the clients here, not by turning verification off.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';

let material = null;

/**
 * A self-signed P-256 certificate for 127.0.0.1 and localhost, made once per test process:
 * { cert, key (paths), pem (Buffer), spki (base64 SHA-256 of the public key, as Chromium's
 * --ignore-certificate-errors-spki-list wants it) }.
 */
export function testCertificate(name = 'localhost') {
  if (material !== null && name === 'localhost') return material;
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-tls-'));
  // Removed when the test process ends (a server may still read the files until then).
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  const pem = readFileSync(cert);
  const spkiDer = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  const made = { cert, key, pem, spki: createHash('sha256').update(spkiDer).digest('base64') };
  if (name === 'localhost') material = made;
  return made;
}

function collect(res, resolve, reject) {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks), protocol: `HTTP/${res.httpVersion}` }));
  res.on('error', reject);
}

/** node:http or node:https, one connection per request. */
function http1Request(lib, extra) {
  return (port, { method = 'GET', path = '/', headers = {} } = {}) =>
    new Promise((resolve, reject) => {
      const req = lib.request({ host: '127.0.0.1', port, method, path, headers, agent: false, ...extra() }, (res) => collect(res, resolve, reject));
      req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
}

/**
 * One HTTP/2 request on a connection of its own: { status, headers (lowercased, no pseudo-headers),
 * raw, body, protocol: 'HTTP/2.0' }, the same shape as the HTTP/1 helpers.
 */
export function h2Request(port, { method = 'GET', path = '/', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCertificate().pem });
    const fail = (e) => {
      session.destroy();
      reject(e);
    };
    session.on('error', fail);
    const lower = Object.fromEntries(Object.entries(headers).map(([n, v]) => [n.toLowerCase(), v]));
    delete lower.host;
    const stream = session.request({ ':method': method, ':path': path, ...lower });
    stream.setTimeout(5000, () => fail(new Error('request timed out')));
    const chunks = [];
    let head = null;
    stream.on('response', (h) => (head = h));
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      session.close();
      const out = {};
      const raw = [];
      for (const [n, v] of Object.entries(head)) {
        if (n.startsWith(':')) continue;
        out[n] = Array.isArray(v) ? v.join(', ') : String(v);
        raw.push(n, out[n]);
      }
      resolve({ status: head[':status'], headers: out, raw, body: Buffer.concat(chunks), protocol: 'HTTP/2.0', rstCode: stream.rstCode });
    });
    stream.on('error', fail);
    stream.end();
  });
}

const tlsFiles = () => {
  const c = testCertificate();
  return { cert: c.cert, key: c.key };
};

/**
 * Each transport: `name`, `options()` (what serve() needs for it), `request(port, opts)`,
 * `scheme`, and `http1` (raw HTTP/1 bytes can be written to it).
 */
export const TRANSPORTS = [
  { name: 'HTTP/1.1', scheme: 'http', http1: true, options: () => ({}), request: http1Request(http, () => ({})) },
  { name: 'HTTPS/1.1', scheme: 'https', http1: false, options: () => ({ tls: tlsFiles(), http2: false }), request: http1Request(https, () => ({ ca: testCertificate().pem })) },
  { name: 'HTTP/2', scheme: 'https', http1: false, options: () => ({ tls: tlsFiles() }), request: h2Request },
];

/**
 * The ways raw HTTP/1.1 bytes reach the server: cleartext, HTTPS/1.1 (`http2: false`), and TLS with
 * HTTP/2 on, reached by ALPN http/1.1. Each: `name`, `options()` for serve(), `connect(port)`, a
 * socket that may be written at once (TLS buffers writes until its handshake is done), and `ready`,
 * the event it emits once connected (and the handshake done).
 */
export const HTTP1_WIRES = [
  { name: 'HTTP/1.1', options: () => ({}), connect: (port) => net.connect({ host: '127.0.0.1', port }), ready: 'connect' },
  { name: 'HTTPS/1.1', options: () => ({ tls: tlsFiles(), http2: false }), connect: tlsHttp1, ready: 'secureConnect' },
  { name: 'HTTP/1.1 by ALPN on the HTTP/2 server', options: () => ({ tls: tlsFiles() }), connect: tlsHttp1, ready: 'secureConnect' },
];

function tlsHttp1(port) {
  return tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
}

/**
 * A TLS client whose handshake ends when the test says: its ClientHello goes out, what it sends
 * after (its Finished) is held until `release()`. `held` resolves once something is held.
 */
export function heldHandshake(port, alpn = 'http/1.1') {
  const raw = net.connect({ host: '127.0.0.1', port });
  let first = true;
  let holding = [];
  let hold;
  const held = new Promise((resolve) => (hold = resolve));
  const transport = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      if (first || holding === null) {
        first = false;
        raw.write(chunk, callback);
        return;
      }
      holding.push(chunk);
      hold();
      callback();
    },
    final(callback) {
      raw.end(callback);
    },
  });
  raw.on('data', (d) => transport.push(d));
  raw.on('end', () => transport.push(null));
  raw.on('error', (e) => transport.destroy(e));
  raw.on('close', () => transport.destroy());
  const socket = tls.connect({ socket: transport, ca: testCertificate().pem, servername: 'localhost', ALPNProtocols: [alpn] });
  const release = () => {
    for (const chunk of holding) raw.write(chunk);
    holding = null;
  };
  return { socket, held, release };
}

/** The protocol ALPN picks when the client offers h2 and http/1.1. */
export function negotiated(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(socket.alpnProtocol);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** The TLS versions and ALPN protocols a session ticket must resume over (TLS 1.2 sends it in the handshake, 1.3 after). */
export const TLS_RESUMPTIONS = ['TLSv1.2', 'TLSv1.3'].flatMap((version) => ['h2', 'http/1.1'].map((alpn) => ({ version, alpn, name: `${version} ${alpn}` })));

/**
 * One TLS connection offering `session` (a ticket from an earlier connection, or undefined) over
 * `version` and ALPN `alpn`: { reused, ticket (the first one the server sent), alpn }. It ends once
 * the handshake is done and, unless the session was resumed, a ticket has come (TLS 1.3 sends
 * tickets after the handshake); a server that sends none fails it after 5 s.
 */
export function tlsExchange(port, session, { version = 'TLSv1.3', alpn = 'http/1.1' } = {}) {
  return new Promise((resolve, reject) => {
    let ticket;
    let connected = false;
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: [alpn], minVersion: version, maxVersion: version, session }, () => {
      connected = true;
      settle();
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${version} ${alpn}: no session ticket within 5 s of connecting (handshake done: ${String(connected)})`));
    }, 5000);
    function settle() {
      if (!connected || (!socket.isSessionReused() && ticket === undefined)) return;
      clearTimeout(timer);
      resolve({ reused: socket.isSessionReused(), ticket, alpn: socket.alpnProtocol });
      socket.destroy();
    }
    socket.on('session', (s) => {
      ticket ??= s;
      settle();
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** An HTTP/2 frame (RFC 9113 §4.1). */
export function frame(type, flags, id, payload) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}

/**
 * One request on a raw HTTP/2 connection, over TLS (`secure`) or cleartext (node:http2's client
 * refuses to send a field twice): `fields` are [name, value] pairs (lower case, each under 127 bytes),
 * `paused` is called when the stream's first window (`window` bytes, default 65,535; the connection's
 * is opened wide at once when it is larger) is full; it is opened by `grant` bytes (default 0x7f000000)
 * once `paused` returns (or the promise it returns settles), and by `more` once that is used up too
 * (a client that has read what it got). Every `pingEvery` ms a PING is sent (a live client, not reading).
 * Resolves to its
 * answer as frames: DATA bytes, END_STREAM, RST_STREAM's code, and the first byte of the HEADERS
 * block (`statusByte`: 0x88 + n for the static table's :status, RFC 7541 Appendix A: 0x88 200,
 * 0x89 204, 0x8a 206, 0x8b 304, 0x8c 400, 0x8d 404; anything else is a literal).
 */
/** `n` as 4 bytes, big-endian (a window increment, a SETTINGS value). */
export const uint32 = (n) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** A HEADERS block for GET https://localhost`path` (`path` under 127 bytes; RFC 7541 static table and literals). */
export function getBlock(path) {
  const p = Buffer.from(path);
  const authority = Buffer.from('localhost');
  return Buffer.concat([Buffer.from([0x82, 0x87, 0x04, p.length]), p, Buffer.from([0x01, authority.length]), authority]);
}

/**
 * Calls `visit(type, flags, id, payload)` for each whole HTTP/2 frame read from `socket`, after
 * acknowledging a SETTINGS frame of the server's; `visit` returning true stops reading that chunk.
 */
export function onFrames(socket, visit) {
  let buffered = Buffer.alloc(0);
  socket.on('data', (d) => {
    buffered = Buffer.concat([buffered, d]);
    while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
      const length = buffered.readUIntBE(0, 3);
      const [type, flags] = [buffered[3], buffered[4]];
      const id = buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      if (type === 4 && (flags & 1) === 0) socket.write(frame(4, 1, 0, Buffer.alloc(0)));
      if (visit(type, flags, id, payload) === true) return;
    }
  });
}

export function rawH2Request(port, path, { paused, fields = [], method = 'GET', secure = true, window = 65_535, grant = 0x7f000000, more = 0, pingEvery = 0 } = {}) {
  const windowUpdate = (id, increment = 0x7f000000) => frame(8, 0, id, uint32(increment));
  // SETTINGS_INITIAL_WINDOW_SIZE (0x4) when not the default.
  const settings = window === 65_535 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0, 4]), uint32(window)]);
  const p = Buffer.from(path);
  const authority = Buffer.from('localhost');
  // Each extra field a literal without indexing, new name, lengths under 127 (RFC 7541 §6.2.2).
  const literals = fields.map(([name, value]) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]));
  // GET is indexed (0x82); another method a literal with the indexed name :method (0x02).
  const m = method === 'GET' ? Buffer.from([0x82]) : Buffer.concat([Buffer.from([0x02, method.length]), Buffer.from(method)]);
  // :scheme https (0x87) or http (0x86), indexed.
  const block = Buffer.concat([m, Buffer.from([secure ? 0x87 : 0x86, 0x04, p.length]), p, Buffer.from([0x01, authority.length]), authority, ...literals]);
  return new Promise((resolve, reject) => {
    const seen = { data: 0, endStream: false, rstCode: null, statusByte: null };
    // The connection's window: opened wide at once for a larger stream window, else with the stream's.
    const [connectionNow, connectionLater] = window > 65_535 ? [windowUpdate(0), Buffer.alloc(0)] : [Buffer.alloc(0), windowUpdate(0)];
    const start = () => socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, settings), connectionNow, frame(1, 0x05, 1, block)]));
    const socket = secure ? tls.connect({ host: '127.0.0.1', port, ca: testCertificate().pem, ALPNProtocols: ['h2'] }, start) : net.connect(port, '127.0.0.1', start);
    let opened = false;
    const pinging = pingEvery > 0 ? setInterval(() => socket.write(frame(6, 0, 0, Buffer.alloc(8))), pingEvery) : null;
    const done = () => {
      if (pinging !== null) clearInterval(pinging);
      socket.destroy();
      resolve(seen);
    };
    onFrames(socket, (type, flags, id, payload) => {
      if (id !== 1) return false;
      if (type === 1 && seen.statusByte === null) {
        seen.statusByte = payload[0];
        if (flags & 1) {
          seen.endStream = true;
          done();
          return true;
        }
      }
      if (type === 0) {
        seen.data += payload.length;
        if (flags & 1) seen.endStream = true;
        if (!opened && seen.data >= window) {
          opened = true;
          // Opened once `paused` has returned, or its promise settled (a client holding its window shut).
          void Promise.resolve(paused()).then(() => socket.write(Buffer.concat([connectionLater, windowUpdate(1, grant)])));
        }
        if (seen.endStream) {
          done();
          return true;
        }
        if (more > 0 && seen.data === window + grant) socket.write(windowUpdate(1, more));
      }
      if (type === 3) {
        seen.rstCode = payload.readUInt32BE(0);
        done();
        return true;
      }
      return false;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (pinging !== null) clearInterval(pinging);
      resolve(seen);
    });
  });
}
