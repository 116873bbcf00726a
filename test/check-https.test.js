// `xorigin check` over HTTPS: a server on 127.0.0.1 with a certificate made by openssl for the test;
// trusted through NODE_EXTRA_CA_CERTS it is checked like HTTP; untrusted it is one line and exit 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir;
let server;
let url;
let skip = false;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  if (process.env.XORIGIN_BROWSER_TESTS === 'required') throw new Error('openssl is needed for the HTTPS test');
  skip = 'no openssl';
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'xorigin-https-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Origin': 'https://app.example', 'Access-Control-Allow-Methods': 'PUT' });
      return res.end();
    }
    res.writeHead(200, { 'Access-Control-Allow-Origin': 'https://app.example', 'Content-Type': 'text/plain' });
    res.end('ok');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${server.address().port}/items`;
});
after(() => {
  server?.closeAllConnections();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (env, ...args) =>
  new Promise((resolve) => {
    execFile(process.execPath, ['dist/cli/main.js', 'check', ...args], { encoding: 'utf8', timeout: 20000, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ status: error === null ? 0 : error.code, stdout, stderr }),
    );
  });

test('HTTPS: a preflight and the request, checked as over HTTP', { skip }, async () => {
  const r = await cli({ NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, url, '--origin', 'https://app.example', '--method', 'PUT', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.verdict, 'allowed');
  assert.equal(j.preflight, true);
});

test('HTTPS with an untrusted certificate: one line, exit 2', { skip }, async () => {
  const r = await cli({}, url, '--origin', 'https://app.example');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^xorigin check: cannot GET https:\/\/127\.0\.0\.1:\d+\/items: [A-Z_]+/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
