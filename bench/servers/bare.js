// The ceiling: node:http writing, as constants, exactly what xorigin sent for this scenario
// (status, headers, body captured by the harness). No CORS logic, no file system.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { ready } from './common.js';

const canned = JSON.parse(readFileSync(process.env.BENCH_CANNED, 'utf8'));
const headers = canned.headers;
const body = Buffer.from(canned.body, 'base64');
const status = canned.status;
ready(createServer((req, res) => {
  res.writeHead(status, headers);
  res.end(body);
}));
