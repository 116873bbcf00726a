import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { PolicyProblem } from '../cors/errors.js';
import { readSmallRegularFile, validatedElsewhere } from './operator-files.js';
import { resumptionOptions } from './ticket-keys.js';

/** A certificate chain or key is a few KiB; past this the file is not one. */
const PEM_LIMIT = 1024 * 1024;

/** Where the certificate chain and its private key are (PEM files), as `tls` in the options. */
export interface TlsFiles {
  /** The certificate chain, leaf first (`fullchain.pem`). */
  cert: string;
  /** The leaf certificate's private key (`privkey.pem`), unencrypted. */
  key: string;
}

/**
 * The cipher suites offered: TLS 1.3's (all AEAD), and for TLS 1.2 the ECDHE suites with AEAD only
 * (Mozilla's "intermediate" set, less DHE, which needs parameters this server has none of). Node's
 * default list also has CBC suites, which RFC 9113 §9.2.2 forbids HTTP/2 to use: a TLS 1.2 client
 * that preferred one was served h2 over it. Clients that support none of these (before 2013:
 * Internet Explorer 10, Android 4.3) are refused at the handshake, as by Caddy's defaults.
 */
const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * What a TLS server is given at start-up, and each setSecureContext() of a reload (which replaces
 * the whole context: anything left out goes back to Node's default).
 */
export function secureContextOptions(material: TlsMaterial, ticketKeys: Buffer): { cert: Buffer; key: Buffer; ciphers: string; ticketKeys: Buffer; sessionIdContext: string } {
  return { cert: material.cert, key: material.key, ciphers: CIPHERS, ...resumptionOptions(ticketKeys) };
}

/** A certificate and key read, parsed and checked to belong together: ready for a TLS server. */
export interface TlsMaterial {
  readonly files: TlsFiles;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The leaf certificate's end of validity. */
  readonly validTo: Date;
}

function readPem(path: string, option: string, flag: string, problems: PolicyProblem[]): Buffer | null {
  try {
    return readSmallRegularFile(path, PEM_LIMIT);
  } catch (e) {
    problems.push({ option, value: path, reason: `cannot read the file: ${(e as Error).message}`, fix: `pass a readable PEM file with ${flag} (or "${option}" in the config file)` });
    return null;
  }
}

/**
 * Why a PEM file is incomplete, when it is: empty, or cut inside a block (a BEGIN line without its
 * END line). Both are what a renewal caught mid-write looks like, not a file of the wrong kind.
 */
function unfinishedPem(bytes: Buffer): string | null {
  const text = bytes.toString('latin1');
  if (text.trim() === '') return 'the file is empty';
  const begins = text.match(/^-----BEGIN [^-\r\n]*-----/gm)?.length ?? 0;
  const ends = text.match(/^-----END [^-\r\n]*-----/gm)?.length ?? 0;
  return begins > ends ? 'the file ends inside a PEM block (a "-----BEGIN" line without its "-----END" line)' : null;
}

/** unfinishedPem's problem for `option`, or null when the file is whole. */
function unfinishedProblem(bytes: Buffer, option: string, path: string): PolicyProblem | null {
  const reason = unfinishedPem(bytes);
  return reason === null ? null : { option, value: path, reason, fix: 'a write may still be under way (a renewal writing the file in place): wait for it to finish, then reload (SIGHUP) or start again' };
}

/** The leaf certificate, or null with a problem saying why it is not one. */
function leafOf(cert: Buffer, path: string, problems: PolicyProblem[]): X509Certificate | null {
  try {
    return new X509Certificate(cert);
  } catch (e) {
    const unfinished = unfinishedProblem(cert, 'tls.cert', path);
    if (unfinished !== null) problems.push(unfinished);
    else problems.push({ option: 'tls.cert', value: path, reason: `not a PEM certificate (${(e as Error).message})`, fix: 'pass the certificate chain (fullchain.pem, "-----BEGIN CERTIFICATE-----"), not the key or a DER file' });
    return null;
  }
}

function keyProblem(key: Buffer, path: string): PolicyProblem | null {
  try {
    createPrivateKey(key);
    return null;
  } catch (e) {
    const unfinished = unfinishedProblem(key, 'tls.key', path);
    if (unfinished !== null) return unfinished;
    const encrypted = /encrypted|passphrase|bad decrypt/i.test((e as Error).message) || key.includes('ENCRYPTED');
    return {
      option: 'tls.key',
      value: path,
      reason: encrypted ? 'the private key is encrypted with a passphrase' : `not a PEM private key (${(e as Error).message})`,
      fix: encrypted ? 'decrypt it once (openssl pkey -in key.pem -out key-plain.pem) and keep that file readable by this user only' : 'pass the private key (privkey.pem, "-----BEGIN PRIVATE KEY-----")',
    };
  }
}

/**
 * The files of a `tls` object that is wrong as given (one of the pair missing): each file that is
 * given is read all the same, so that one that cannot be read is reported now with the rest, not
 * after the first problem is fixed.
 */
export function reportUnreadable(files: Partial<Record<'cert' | 'key', unknown>>, problems: PolicyProblem[]): void {
  for (const name of ['cert', 'key'] as const) {
    const path = files[name];
    if (typeof path === 'string' && path !== '') readPem(path, `tls.${name}`, `--${name}`, problems);
  }
}

/**
 * Reads the certificate chain and key, and checks what can be checked before a client connects:
 * both readable and PEM, the key unencrypted, the key belonging to the leaf certificate, the
 * certificate within its validity period (unless a cluster primary checked these bytes already:
 * validatedElsewhere). Every problem goes to `problems`, named by option.
 */
export function loadTls(files: TlsFiles, problems: PolicyProblem[]): TlsMaterial | null {
  const before = problems.length;
  const cert = readPem(files.cert, 'tls.cert', '--cert', problems);
  const key = readPem(files.key, 'tls.key', '--key', problems);
  if (cert === null || key === null) return null;
  const leaf = leafOf(cert, files.cert, problems);
  const bad = keyProblem(key, files.key);
  if (bad !== null) problems.push(bad);
  if (leaf === null || bad !== null) return null;
  const privateKey = createPrivateKey(key);
  const mismatched = !leaf.checkPrivateKey(privateKey);
  if (mismatched) problems.push(keyMismatch(leaf, cert, privateKey, files));
  const refused = contextProblem(cert, key, files.cert, mismatched) ?? sizeProblem(cert, files.cert);
  if (refused !== null) problems.push(refused);
  const validTo = new Date(leaf.validTo);
  if (!validatedElsewhere()) validityProblems(leaf, validTo, files.cert, problems);
  return problems.length === before ? { files, cert, key, validTo } : null;
}

/**
 * The key does not belong to the chain's first certificate: when it belongs to a later one, the
 * chain is out of order (the server's certificate must come first, RFC 8446 §4.4.2), not the key wrong.
 */
function keyMismatch(leaf: X509Certificate, cert: Buffer, key: KeyObject, files: TlsFiles): PolicyProblem {
  // A block that does not parse is the TLS library's to report (contextProblem): [] here, no owner.
  const chain = certificatesIn(cert);
  const owner = chain.findIndex((c) => c.checkPrivateKey(key));
  if (owner > 0) {
    return { option: 'tls.cert', value: files.cert, reason: `the chain is out of order: the key belongs to certificate ${String(owner + 1)} (${named(chain[owner] as X509Certificate)}), but the first must be the server's`, fix: "put the server's certificate first, then the intermediates that sign it (certbot's fullchain.pem is in this order)" };
  }
  return { option: 'tls.key', value: files.key, reason: `this key does not belong to the certificate in ${files.cert} (${leaf.subject.replace(/\n/g, ', ')})`, fix: 'pass the key issued with that certificate (a renewal writes both files; use the pair from the same renewal)' };
}

/** The certificates of a PEM chain, in order; [] when a block does not parse (loadTls says why). */
function certificatesIn(cert: Buffer): X509Certificate[] {
  const chain: X509Certificate[] = [];
  for (const block of cert.toString('latin1').match(PEM_CERTIFICATE) ?? []) {
    try {
      chain.push(new X509Certificate(block));
    } catch {
      return [];
    }
  }
  return chain;
}

/**
 * What the TLS library itself says of the whole chain: only the leaf is parsed above, and a block
 * cut short after it (a renewal's write interrupted) made the secure context throw when the server
 * was built or reloaded, outside any check: a reload then ended the process. node:tls is loaded
 * only here, with TLS configured. `mismatchReported`: the key was found not to be the leaf's.
 */
function contextProblem(cert: Buffer, key: Buffer, path: string, mismatchReported: boolean): PolicyProblem | null {
  try {
    (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).createSecureContext({ cert, key });
    return null;
  } catch (e) {
    // The mismatch, said already with its own fix (the key of the same renewal), not the chain's.
    if (mismatchReported && (e as { code?: unknown }).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return null;
    // A chain whose leaf is whole but whose intermediate was cut mid-write.
    const unfinished = unfinishedProblem(cert, 'tls.cert', path);
    if (unfinished !== null) return unfinished;
    const message = (e as Error).message;
    // OpenSSL's security level (RSA under 2048 bits, a SHA-1 or MD5 signature): another chain will not do.
    const weak = /too small|too weak/.test(message);
    const fix = weak ? 'issue a certificate with a 2048-bit (or larger) RSA key or an ECDSA P-256 key, signed with SHA-256' : 'pass the complete chain as your CA issued it (fullchain.pem: PEM blocks, each from BEGIN to END)';
    return { option: 'tls.cert', value: path, reason: `the TLS library refuses the chain: ${message}`, fix };
  }
}

/**
 * The largest Certificate message body OpenSSL's clients take unless told otherwise (its
 * SSL_CTX_set_max_cert_list default, 100 KiB), which curl, wget, Node and Python keep. Past it every
 * handshake fails ("excessive message size") while the server looks healthy: most often a CA bundle
 * appended to the chain (`cat cert.pem /etc/ssl/certs/ca-certificates.crt`).
 */
const MAX_CERTIFICATE_MESSAGE = 100 * 1024;

/**
 * The chain is too large for clients to take (see MAX_CERTIFICATE_MESSAGE), or null. Counted as TLS 1.3
 * frames it (RFC 8446 §4.4.2): an empty request context (1 byte), the list's length (3), and per
 * certificate its length (3), its DER and its extensions' length (2, none sent); TLS 1.2's is smaller.
 */
function sizeProblem(cert: Buffer, path: string): PolicyProblem | null {
  const chain = certificatesIn(cert);
  const bytes = chain.reduce((sum, c) => sum + 5 + c.raw.length, 4);
  if (bytes <= MAX_CERTIFICATE_MESSAGE) return null;
  return {
    option: 'tls.cert',
    value: path,
    reason: `its ${String(chain.length)} certificates make a certificate message of ${bytes.toLocaleString('en-US')} bytes, over the ${MAX_CERTIFICATE_MESSAGE.toLocaleString('en-US')} (100 KiB) TLS clients take (OpenSSL's limit: curl, wget, Node and Python fail every handshake with "excessive message size")`,
    fix: "pass the server's certificate and the intermediates that sign it (fullchain.pem), not a bundle of CA certificates",
  };
}

/**
 * The leaf outside its validity period (RFC 5280 §4.1.2.5): every client refuses it (RFC 8446
 * §6.2 certificate_expired: "expired or is not currently valid"), so start-up and a reload do too.
 */
function validityProblems(leaf: X509Certificate, validTo: Date, path: string, problems: PolicyProblem[]): void {
  const now = Date.now();
  if (validTo.getTime() < now) {
    problems.push({ option: 'tls.cert', value: path, reason: `the certificate expired on ${validTo.toISOString()}`, fix: 'renew it (certbot renew, or your CA) and point the certificate (--cert, or "cert" in the config file\'s "tls") at the new chain' });
  }
  const validFrom = new Date(leaf.validFrom);
  if (validFrom.getTime() > now) {
    problems.push({ option: 'tls.cert', value: path, reason: `the certificate is not valid before ${validFrom.toISOString()}`, fix: "check this machine's clock, or use the certificate in force until then (clients refuse this one before that date)" });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** How a certificate is named in a note: its subject's CN, else the whole subject. */
function named(c: X509Certificate): string {
  return /^CN=(.*)$/m.exec(c.subject)?.[1] ?? c.subject.replace(/\n/g, ', ');
}

/**
 * What is wrong with a chain that clients may still accept, so start-up goes on (RFC 8446 §4.4.2:
 * the sender's certificate first, each following one certifying the one before it): the leaf alone
 * when a CA issued it (cert.pem instead of fullchain.pem: browsers often fill the gap, curl, Node
 * and Android clients refuse), blocks out of order or from another chain, and an intermediate
 * outside its validity period (clients that build the path through it refuse it; an expired
 * cross-sign they can route around is harmless, hence a note). One line per finding; none for a
 * sound chain or a self-signed leaf. `cert`: the PEM bytes loadTls accepted.
 */
export function chainNotes(cert: Buffer, path: string, now = Date.now()): string[] {
  const chain = certificatesIn(cert);
  const leaf = chain[0];
  if (leaf === undefined) return [];
  const notes: string[] = [];
  const keyType = leaf.publicKey.asymmetricKeyType;
  if (keyType === 'ed25519' || keyType === 'ed448') {
    notes.push(`${path}: the server's certificate has an ${keyType === 'ed25519' ? 'Ed25519' : 'Ed448'} key, which no browser accepts (curl and OpenSSL do): browsers fail the handshake; issue it with an ECDSA P-256 or RSA key`);
  }
  // Node's OpenSSL (security level 1) takes 1,024 bits; Debian's (level 2: curl, wget, python) and the
  // CA/Browser Forum's rules (public CAs since 2014) want 2,048, so some clients refuse the handshake.
  const bits = keyType === 'rsa' || keyType === 'rsa-pss' ? leaf.publicKey.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits !== undefined && bits < 2048) {
    notes.push(`${path}: the server's certificate has a ${String(bits)}-bit RSA key: clients at OpenSSL security level 2 (Debian's curl, wget and Python) refuse keys under 2,048 bits; issue it with a 2048-bit (or larger) RSA key or an ECDSA P-256 key`);
  }
  // Self-issued (subject = issuer; checkIssued would also want keyCertSign, which a self-signed leaf may lack): no chain to add.
  if (chain.length === 1 && leaf.issuer !== leaf.subject) {
    notes.push(`${path} holds only the server's certificate, issued by ${leaf.issuer.replace(/\n/g, ', ')}: unless that is a root your clients trust themselves (a private CA, mkcert), add the intermediate certificates that sign it, since browsers may fill the gap but curl, Node and Android clients refuse the connection (certbot: fullchain.pem, not cert.pem)`);
  }
  let ordered = true;
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i] as X509Certificate;
    const below = chain[i - 1] as X509Certificate;
    // The first break only: past it, every pair is out of step with the one above.
    if (ordered && !below.checkIssued(c)) {
      ordered = false;
      notes.push(`${path}: certificate ${String(i + 1)} (${named(c)}) did not issue certificate ${String(i)} (${named(below)}): the chain is out of order or mixes two chains; pass it as your CA issued it (server certificate first)`);
    }
    if (Date.parse(c.validTo) < now) {
      notes.push(`${path}: certificate ${String(i + 1)} (${named(c)}) expired on ${new Date(c.validTo).toISOString()}: clients that build the path through it refuse the connection; get the current chain from your CA`);
    } else if (Date.parse(c.validFrom) > now) {
      notes.push(`${path}: certificate ${String(i + 1)} (${named(c)}) is not valid before ${new Date(c.validFrom).toISOString()}: check this machine's clock, or the chain your CA gave`);
    }
  }
  return notes;
}
