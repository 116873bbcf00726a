// TLS session ticket keys (src/static/ticket-keys.ts): shared by every --workers worker through the
// primary's $XORIGIN_TLS_TICKET_KEYS, and honoured when the user sets it.
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
import { randomBytes } from 'node:crypto';
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

test('$XORIGIN_TLS_TICKET_KEYS set by the user is used with and without --workers: a ticket resumes across a restart', async (t) => {
  const root = makeRoot();
  const env = { XORIGIN_TLS_TICKET_KEYS: randomBytes(48).toString('hex') };
  const runs = [];
  t.after(async () => {
    for (const run of runs) await stopCli(run);
    rmSync(root, { recursive: true, force: true });
  });
  const single = await runCli(tlsArgs(root), { env });
  runs.push(single);
  assert.equal(single.code, 'listening', single.err);
  const { ticket } = await tlsExchange(single.port);
  await stopCli(single);
  const cluster = await runCli([...tlsArgs(root), '--workers', '2'], { env });
  runs.push(cluster);
  assert.equal(cluster.code, 'listening', cluster.err);
  await stderrMatch(cluster, /(worker \d+ listening[^]*){2}/);
  await resumesFourTimes(cluster.port, ticket, 'on the restarted server\'s workers');
  assert.ok(!`${single.out}${single.err}${cluster.out}${cluster.err}`.includes(env.XORIGIN_TLS_TICKET_KEYS), 'the keys are never printed');
});
