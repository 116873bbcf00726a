// The ceiling: node:http writing, as constants, exactly what xorigin sent for this scenario
// (status, headers, body captured by the harness). No CORS logic, no file system.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { ready, spinning } from './common.js';

const canned = JSON.parse(readFileSync(process.env.BENCH_CANNED, 'utf8'));
const headers = canned.headers;
const bytes = Buffer.from(canned.body, 'base64');
// A small body as a latin1 string, as xorigin sends it: node:http then writes it together with
// the headers, which is measurably faster than a Buffer. The ceiling must be the fastest way.
const body = bytes.length <= 4096 ? bytes.toString('latin1') : bytes;
const status = canned.status;
ready(createServer(spinning((req, res) => {
  res.writeHead(status, headers);
  res.end(body, 'latin1');
})));
