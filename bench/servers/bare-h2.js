// The TLS ceiling: node:http2's secure server (ALPN h2 and http/1.1, as xorigin) writing, as
// constants, exactly what xorigin sent for this scenario over HTTP/2. No CORS logic, no file system.
//
// BENCH_H2_API=stream (the default, and the faster: see bench/RESULTS-h2.md) answers HTTP/2 streams
// with `stream.respond` on a precomputed header object; BENCH_H2_API=compat uses the compatibility
// API (`req, res`, as the Node peers do) with a header object; BENCH_H2_API=compat-array the same with
// the flat [name, value, ...] array xorigin passes to writeHead (for profiling). HTTP/1.1 over TLS goes through node:http's
// response either way, as for every Node contender.
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import { ready } from './common.js';

const canned = JSON.parse(readFileSync(process.env.BENCH_CANNED, 'utf8'));
const bytes = Buffer.from(canned.body, 'base64');
const body = bytes.length <= 4096 ? bytes.toString('latin1') : bytes; // as bare.js
const status = canned.status;
const flat = canned.headers; // [name, value, ...], without Date and connection-specific headers
const object = {};
for (let i = 0; i < flat.length; i += 2) object[flat[i].toLowerCase()] = flat[i + 1];
const h2Headers = { ...object, ':status': status };
const tls = { cert: readFileSync(process.env.BENCH_CERT), key: readFileSync(process.env.BENCH_KEY), allowHTTP1: true };

const http1 = (req, res) => {
  res.writeHead(status, flat);
  res.end(body, 'latin1');
};
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
ready(server);
