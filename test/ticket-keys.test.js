// TLS session ticket keys (src/static/ticket-keys.ts): shared by every --workers worker through the
// primary's $XORIGIN_TLS_TICKET_KEYS.
//
// Why killing every worker at once: node:cluster already gives each worker that listens on a port
// the ticket keys of the first one that did (child.js sends _getServerData() with queryServer, the
// primary keeps the first as the handle's data, and each worker's _setServerData calls
// setTicketKeys). So a ticket from one live worker resumes on another even when the primary passes
// nothing. That hand-off dies with the handle, when the last worker on the port is gone: only then do
// the primary's keys make the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { runCli, stderrMatch, stopCli } from './helpers.js';
import { testCertificate, tlsExchange } from './transports.js';

function makeRoot() {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-tickets-'));
  writeFileSync(join(root, 'a.woff2'), Buffer.from('wOF2' + 'x'.repeat(96)));
  return root;
}

function tlsArgs(root, port = 0) {
  const c = testCertificate();
  return ['serve', root, '--port', String(port), '--cert', c.cert, '--key', c.key];
}

/** The pids of the workers that printed "listening", in order. */
function listeningWorkers(r) {
  return [...r.err.matchAll(/worker (\d+) listening/g)].map((m) => Number(m[1]));
}

async function resumesFourTimes(port, ticket, when) {
  for (let i = 0; i < 4; i++) assert.equal((await tlsExchange(port, ticket)).reused, true, `resumption ${String(i + 1)} of 4 ${when}`);
}

/** A port free right now: when every worker has died, the primary binds the port again (with 0, another one). */
async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test('CLI --workers 2: a ticket issued before every worker died at once resumes on their replacements (the primary\'s keys)', async (t) => {
  const root = makeRoot();
  const r = await runCli([...tlsArgs(root, await freePort()), '--workers', '2']);
  t.after(async () => {
    await stopCli(r);
    rmSync(root, { recursive: true, force: true });
  });
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  const { ticket } = await tlsExchange(r.port);
  await resumesFourTimes(r.port, ticket, 'before');
  const [a, b] = listeningWorkers(r);
  process.kill(a, 'SIGKILL');
  process.kill(b, 'SIGKILL');
  await stderrMatch(r, /(worker \d+ listening[^]*){4}/);
  assert.deepEqual(listeningWorkers(r).length, 4, r.err);
  await resumesFourTimes(r.port, ticket, 'after both workers were replaced');
});
