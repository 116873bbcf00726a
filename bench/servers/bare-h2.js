// The TLS ceiling: node:http2's secure server (ALPN h2 and http/1.1, as xorigin) writing, as
// constants, exactly what xorigin sent for this scenario over HTTP/2. No CORS logic, no file system.
//
// BENCH_H2_API=stream (the default, and the faster: see bench/RESULTS-h2.md) answers HTTP/2 streams
// with `stream.respond` on a precomputed header object; BENCH_H2_API=compat uses the compatibility
// API (`req, res`, as the Node peers do) with a header object; BENCH_H2_API=compat-array the same with
// the flat [name, value, ...] array xorigin passes to writeHead (for profiling). HTTP/1.1 over TLS goes through node:http's
// response either way, as for every Node contender.
//
// BENCH_H2_KEEPALIVE_TIMEOUT=MS sets the server's `keepAliveTimeout` (ms) for its HTTP/1.1 connections, as
// xorigin sets it: node:http2's secure server leaves it unset, so by default this ceiling arms no idle timer
// on a keep-alive socket after each response (and sends no `Keep-Alive: timeout=` header) where xorigin does.
// The README's check that the timer does not explain xorigin's gap to this ceiling over HTTPS/1.1 runs the
// ceiling both ways (bench/run-h2.js passes its environment on to the servers it starts):
//   BENCH_H2_KEEPALIVE_TIMEOUT=5000 node bench/run-h2.js --contenders bare-stream,xorigin --scenarios get-1b --no-handshake
//   node bench/run-h2.js --contenders bare-stream,xorigin --scenarios get-1b --no-handshake
// A value that is no whole number of at least 1 ends the server at start-up. HTTP/2 sessions are not affected.
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import { ready, spinning } from './common.js';

const canned = JSON.parse(readFileSync(process.env.BENCH_CANNED, 'utf8'));
const bytes = Buffer.from(canned.body, 'base64');
const body = bytes.length <= 4096 ? bytes.toString('latin1') : bytes; // as bare.js
const status = canned.status;
const flat = canned.headers; // [name, value, ...], without Date and connection-specific headers
const object = {};
for (let i = 0; i < flat.length; i += 2) object[flat[i].toLowerCase()] = flat[i + 1];
const h2Headers = { ...object, ':status': status };
const tls = { cert: readFileSync(process.env.BENCH_CERT), key: readFileSync(process.env.BENCH_KEY), allowHTTP1: true };

// BENCH_SPIN_US (HTTP/1.1 only): see common.js spinning and bench/cpu-split.js.
const http1 = spinning((req, res) => {
  res.writeHead(status, flat);
  res.end(body, 'latin1');
});
let server;
if (process.env.BENCH_H2_API === 'compat' || process.env.BENCH_H2_API === 'compat-array') {
  const given = process.env.BENCH_H2_API === 'compat' ? object : flat;
  server = createSecureServer(tls, (req, res) => {
    if (req.httpVersionMajor === 1) return http1(req, res);
    res.writeHead(status, given);
    if (bytes.length === 0) res.end();
    else res.end(bytes);
  });
} else {
  server = createSecureServer(tls);
  // A 'request' listener is what HTTP/1.1 connections need, but adding one installs the
  // compatibility layer on every HTTP/2 stream too: take that listener off again.
  server.on('request', http1);
  server.removeAllListeners('stream');
  server.on('stream', (stream) => {
    if (bytes.length === 0) stream.respond(h2Headers, { endStream: true });
    else {
      stream.respond(h2Headers);
      stream.end(bytes);
    }
  });
}
if (process.env.BENCH_H2_KEEPALIVE_TIMEOUT !== undefined) {
  const ms = process.env.BENCH_H2_KEEPALIVE_TIMEOUT;
  if (!/^[1-9]\d*$/.test(ms)) throw new Error(`BENCH_H2_KEEPALIVE_TIMEOUT: ${JSON.stringify(ms)} is not a whole number of ms of at least 1`);
  // Read by node:http's connection handling, which serves the HTTP/1.1 connections (allowHTTP1).
  server.keepAliveTimeout = Number(ms);
}
ready(server);
