// The certificate chain at start-up and on reload: what clients may still accept is started with,
// and said once on stderr (src/static/tls.ts chainNotes): the leaf alone when a CA issued it, blocks
// out of order, an intermediate outside its validity period. A sound chain or a self-signed leaf
// is started with in silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainNotes } from '../dist/static/tls.js';
import { runCli, stderrMatch, stopCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xorigin-chain-'));
const root = mkdtempSync(join(tmpdir(), 'xorigin-chain-root-'));
writeFileSync(join(root, 'a.txt'), 'a');
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const pem = (name) => readFileSync(join(dir, `${name}.pem`), 'latin1');

/** `name`.pem signed by `issuer` for `days` (-1: expired when made); a CA when `ca`. */
function issue(name, issuer, days, ca) {
  openssl('req', ...EC, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), ca ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n' : 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', String(Date.now()), '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

openssl('req', '-x509', ...EC, '-days', '2', '-subj', '/CN=chain test root', '-keyout', 'root.key', '-out', 'root.pem');
issue('intermediate', 'root', 2, true);
issue('leaf', 'intermediate', 2, false);
issue('old-intermediate', 'root', -1, true);
issue('leaf-of-old', 'old-intermediate', 2, false);
openssl('req', '-x509', ...EC, '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', 'self.key', '-out', 'self.pem');
openssl('req', '-x509', ...EC, '-days', '2', '-subj', '/CN=plain', '-addext', 'keyUsage=digitalSignature', '-addext', 'basicConstraints=CA:FALSE', '-keyout', 'plain-self.key', '-out', 'plain-self.pem');
openssl('req', '-x509', '-newkey', 'ed25519', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', 'ed.key', '-out', 'ed.pem');
openssl('req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', 'rsa1024.key', '-out', 'rsa1024.pem');
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', 'rsa2048.key', '-out', 'rsa2048.pem');
openssl('req', '-x509', '-newkey', 'rsa:512', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', 'rsa512.key', '-out', 'rsa512.pem');

const CHAINS = {
  'a full chain': { chain: pem('leaf') + pem('intermediate'), key: 'leaf', note: null },
  'a self-signed certificate': { chain: pem('self'), key: 'self', note: null },
  'the leaf alone (cert.pem)': { chain: pem('leaf'), key: 'leaf', note: /holds only the server's certificate, issued by CN=intermediate: unless that is a root your clients trust themselves .*fullchain\.pem/ },
  'a self-signed certificate without keyCertSign': { chain: pem('plain-self'), key: 'plain-self', note: null },
  'blocks out of order': { chain: pem('leaf') + pem('root') + pem('intermediate'), key: 'leaf', note: /certificate 2 \(chain test root\) did not issue certificate 1 \(leaf\): the chain is out of order/ },
  'an Ed25519 key, which no browser accepts': { chain: pem('ed'), key: 'ed', note: /has an Ed25519 key, which no browser accepts .*ECDSA P-256 or RSA key/ },
  'a 1024-bit RSA key, which Node accepts and Debian\'s OpenSSL refuses': { chain: pem('rsa1024'), key: 'rsa1024', note: /has a 1024-bit RSA key: clients at OpenSSL security level 2 .*refuse keys under 2,048 bits; issue it with a 2048-bit/ },
  'a 2048-bit RSA key': { chain: pem('rsa2048'), key: 'rsa2048', note: null },
  'an expired intermediate': { chain: pem('leaf-of-old') + pem('old-intermediate'), key: 'leaf-of-old', note: /certificate 2 \(old-intermediate\) expired on \d{4}-.*get the current chain from your CA/ },
};

for (const [what, c] of Object.entries(CHAINS)) {
  test(`chainNotes: ${what}`, () => {
    const notes = chainNotes(Buffer.from(c.chain, 'latin1'), 'fullchain.pem');
    if (c.note === null) assert.deepEqual(notes, []);
    else {
      assert.equal(notes.length, 1, JSON.stringify(notes));
      assert.match(notes[0], c.note);
    }
  });
}

test('CLI: an RSA key the TLS library refuses as too small (512 bits; 1,024 passes Node\'s OpenSSL security level 1) is refused with the fix for a weak key, not a chain to complete', async () => {
  const r = await runCli(['serve', root, '--port', '0', '--cert', join(dir, 'rsa512.pem'), '--key', join(dir, 'rsa512.key')]);
  await stopCli(r); // (started: a failure to say, not a hang)
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /tls\.cert = .*the TLS library refuses the chain: .*too small.*Fix: issue a certificate with a 2048-bit \(or larger\) RSA key or an ECDSA P-256 key/);
});

test('CLI: a chain whose first certificate is not the server\'s (the key belongs to a later one) is refused as out of order, not as the wrong key', async () => {
  const cert = join(dir, 'reversed.pem');
  writeFileSync(cert, pem('intermediate') + pem('leaf'));
  const r = await runCli(['serve', root, '--port', '0', '--cert', cert, '--key', join(dir, 'leaf.key')]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /tls\.cert = ".*reversed\.pem": the chain is out of order: the key belongs to certificate 2 \(leaf\), but the first must be the server's\. Fix: put the server's certificate first/);
  assert.doesNotMatch(r.err, /does not belong/);
  // A key of no certificate in the file is still the wrong key, also beside a block that does not parse.
  const other = await runCli(['serve', root, '--port', '0', '--cert', cert, '--key', join(dir, 'self.key')]);
  assert.equal(other.code, 2, other.err);
  assert.match(other.err, /tls\.key = .*this key does not belong to the certificate/);
  // One problem, with its fix: the TLS library's own "key values mismatch" is no chain to complete.
  assert.match(other.err, /\(1 problem\)/);
  assert.doesNotMatch(other.err, /refuses the chain|complete chain/);
  const garbled = join(dir, 'garbled.pem');
  writeFileSync(garbled, `${pem('leaf')}-----BEGIN CERTIFICATE-----\nAAAAgarbage\n-----END CERTIFICATE-----\n`);
  const broken = await runCli(['serve', root, '--port', '0', '--cert', garbled, '--key', join(dir, 'self.key')]);
  assert.equal(broken.code, 2, broken.err);
  assert.match(broken.err, /tls\.key = .*this key does not belong to the certificate in .*garbled\.pem \(CN=leaf\)/);
  // ...and the block that does not parse is said beside it: every problem at once.
  assert.match(broken.err, /tls\.cert = .*garbled\.pem": the TLS library refuses the chain/);
  assert.doesNotMatch(broken.err, /TypeError/);
});

test('CLI: a doubtful chain is started with and said once on stderr, at start-up and after a reload; a sound one in silence', async (t) => {
  const cert = join(dir, 'served.pem');
  writeFileSync(cert, CHAINS['the leaf alone (cert.pem)'].chain);
  for (const workers of ['1', '2']) {
    const r = await runCli(['serve', root, '--port', '0', '--cert', cert, '--key', join(dir, 'leaf.key'), '--workers', workers]);
    t.after(() => stopCli(r));
    assert.equal(r.code, 'listening', r.err);
    if (workers === '2') await stderrMatch(r, /(worker \d+ listening[^]*){2}/);
    assert.equal(r.err.match(/xorigin: warning: .*holds only the server's certificate/g)?.length, 1, r.err);
    // Renewed into a full chain: the reload says nothing of it; back to the leaf alone: said again, once.
    writeFileSync(cert, CHAINS['a full chain'].chain);
    r.child.kill('SIGHUP');
    await stderrMatch(r, workers === '1' ? /reloaded: / : /(worker \d+: reloaded: [^]*){2}/);
    const before = r.err.length;
    writeFileSync(cert, CHAINS['the leaf alone (cert.pem)'].chain);
    r.child.kill('SIGHUP');
    await stderrMatch(r, workers === '1' ? /(reloaded: [^]*){2}/ : /(worker \d+: reloaded: [^]*){4}/);
    assert.equal(r.err.slice(before).match(/xorigin: warning: /g)?.length, 1, r.err.slice(before));
    await stopCli(r);
  }
});

test('a fullchain cut inside its intermediate (a renewal caught mid-write) is named as such, not as a chain the TLS library refuses (found by a review)', async () => {
  const whole = pem('leaf') + pem('intermediate');
  const cut = join(dir, 'fullchain-cut.pem');
  writeFileSync(cut, whole.slice(0, pem('leaf').length + 300), 'latin1');
  const r = await runCli(['serve', root, '--port', '0', '--cert', cut, '--key', join(dir, 'leaf.key')]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /tls\.cert = ".*fullchain-cut\.pem": the file ends inside a PEM block[^\n]*\. Fix: a write may still be under way/);
});

test('a chain over 100 KiB as TLS sends it (a CA bundle appended) is refused at start-up and on SIGHUP, naming its size; one under it is served (found by a fault review: every handshake failed with "excessive message size")', async (t) => {
  const { X509Certificate } = await import('node:crypto');
  // The leaf, its intermediate, then copies of the root until the TLS 1.3 Certificate message passes a size.
  const chainOver = (kib) => {
    const entry = (p) => 5 + new X509Certificate(p).raw.length;
    let chain = pem('leaf') + pem('intermediate');
    let bytes = 4 + entry(pem('leaf')) + entry(pem('intermediate'));
    while (bytes <= kib * 1024) {
      chain += pem('root');
      bytes += entry(pem('root'));
    }
    return chain;
  };
  const big = join(dir, 'bundle.pem');
  writeFileSync(big, chainOver(100));
  const r = await runCli(['serve', root, '--port', '0', '--cert', big, '--key', join(dir, 'leaf.key')]);
  t.after(() => stopCli(r)); // (started: a failure to say, not a hang)
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /tls\.cert = ".*bundle\.pem": its \d+ certificates make a certificate message of 102,\d{3} bytes, over the 102,400 \(100 KiB\) TLS clients take .*excessive message size.*Fix: pass the server's certificate and the intermediates that sign it \(fullchain\.pem\), not a bundle of CA certificates/);
  // Just under the limit: served, and a handshake completes with it.
  const served = join(dir, 'large.pem');
  writeFileSync(served, chainOver(95).replace(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?$/, ''));
  const s = await runCli(['serve', root, '--port', '0', '--cert', served, '--key', join(dir, 'leaf.key')]);
  t.after(() => stopCli(s));
  assert.equal(s.code, 'listening', s.err);
  const { request } = await import('node:https');
  const get = () => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: s.port, path: '/a.txt', rejectUnauthorized: false, agent: false }, (res) => resolve(res.statusCode)).on('error', reject).end();
  });
  assert.equal(await get(), 200);
  // Swapped for the bundle and reloaded: refused, and the chain in force still answers.
  writeFileSync(served, chainOver(100));
  s.child.kill('SIGHUP');
  await stderrMatch(s, /reload refused, the running configuration stays in force: [^]*certificate message of [\d,]+ bytes, over the 102,400/);
  assert.equal(await get(), 200);
  await stopCli(s);
});
