// TLS session ticket keys (src/static/ticket-keys.ts): shared by every --workers worker through the
// primary's $XORIGIN_TLS_TICKET_KEYS, honoured when the user sets it, refused at start-up when
// malformed, and never printed.
//
// Why killing every worker at once: node:cluster already gives each worker that listens on a port
// the ticket keys of the first one that did (child.js sends _getServerData() with queryServer, the
// primary keeps the first as the handle's data, and each worker's _setServerData calls
// setTicketKeys). So a ticket from one live worker resumes on another even when the primary passes
// nothing. That hand-off dies with the handle, when the last worker on the port is gone: only then do
// the primary's keys make the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runCli, stderrMatch, stopCli } from './helpers.js';
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

test('CLI --workers 2: a ticket resumes on the worker replacing a dead one, and on the replacements after every worker died at once (the primary\'s keys)', async (t) => {
  const root = makeRoot();
  // A fixed port: when every worker has died the primary binds it again (with 0, another one).
  const r = await runCli([...tlsArgs(root, await freePort()), '--workers', '2']);
  t.after(async () => {
    await stopCli(r);
    rmSync(root, { recursive: true, force: true });
  });
  assert.equal(r.code, 'listening', r.err);
  await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
  const { ticket } = await tlsExchange(r.port);
  await resumesFourTimes(r.port, ticket, 'before');
  process.kill(listeningWorkers(r)[0], 'SIGKILL');
  await stderrMatch(r, /(worker \d+ listening[^]*){3}/);
  await resumesFourTimes(r.port, ticket, 'after one worker was replaced');
  const [, b, c] = listeningWorkers(r);
  process.kill(b, 'SIGKILL');
  process.kill(c, 'SIGKILL');
  await stderrMatch(r, /(worker \d+ listening[^]*){5}/);
  await resumesFourTimes(r.port, ticket, 'after both workers were replaced at once');
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

test('a malformed $XORIGIN_TLS_TICKET_KEYS is a start-up error (exit 2) naming the variable and the form, never printing the value', async (t) => {
  const root = makeRoot();
  const runs = [];
  t.after(async () => {
    // Only a server that wrongly started is still running.
    for (const run of runs) await stopCli(run);
    rmSync(root, { recursive: true, force: true });
  });
  const hex = randomBytes(48).toString('hex');
  const cases = [
    { value: hex.slice(0, 95), workers: '1', reason: /has 95 hex digits; session ticket keys are 96/ },
    { value: hex.slice(0, 64), workers: '2', reason: /has 64 hex digits/ },
    { value: `${hex.slice(0, 40)}g${hex.slice(41)}`, workers: '1', reason: /not a hex digit at position 41/ },
  ];
  for (const c of cases) {
    const r = await runCli([...tlsArgs(root), '--workers', c.workers], { env: { XORIGIN_TLS_TICKET_KEYS: c.value } });
    runs.push(r);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /\$XORIGIN_TLS_TICKET_KEYS = "\(\d+ characters, not shown: a secret\)"/);
    assert.match(r.err, c.reason);
    assert.match(r.err, /Fix: set it to 96 hex digits \(openssl rand -hex 48\)/);
    assert.ok(!r.err.includes(c.value.slice(0, 16)), `the value is not printed: ${r.err}`);
  }
  // Without TLS there are no tickets: the variable is not read.
  const plain = await runCli(['serve', root, '--port', '0'], { env: { XORIGIN_TLS_TICKET_KEYS: 'x' } });
  runs.push(plain);
  assert.equal(plain.code, 'listening', plain.err);
});

test('serve() reads $XORIGIN_TLS_TICKET_KEYS once and removes it from process.env (no child process or diagnostic report gets it)', async (t) => {
  const root = makeRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const c = testCertificate();
  const keys = randomBytes(48).toString('hex');
  const script = `
    import { createHash } from 'node:crypto';
    import { serve } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const server = await serve({ root: ${JSON.stringify(root)}, tls: { cert: ${JSON.stringify(c.cert)}, key: ${JSON.stringify(c.key)} } });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    // The keys themselves are not in this script (a report lists the command line): their digest is.
    const inUse = server.getTicketKeys().toString('hex');
    const used = createHash('sha256').update(inUse).digest('hex') === ${JSON.stringify(createHash('sha256').update(keys).digest('hex'))};
    const inReport = JSON.stringify(process.report.getReport()).includes(inUse);
    process.stdout.write(JSON.stringify({ env: process.env.XORIGIN_TLS_TICKET_KEYS ?? null, inReport, used }));
    await server.shutdown(100);
  `;
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, XORIGIN_TLS_TICKET_KEYS: keys }, timeout: 10_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.deepEqual(JSON.parse(out), { env: null, inReport: false, used: true });
});
