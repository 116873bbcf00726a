// Seeded randomized comparison: the shipped OriginMatcher and the raw OriginTrie against a
// deliberately simple reference matcher (string splitting, no cleverness), on thousands of
// generated origins and their near misses. XORIGIN_SEED=<n> varies the run; a failure prints the
// seed, the policy and the origin, so it replays exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOriginPattern, PORT_ANY, PORT_NONE } from '../dist/cors/origin-pattern.js';
import { OriginTrie, NO_MATCH } from '../dist/cors/origin-trie.js';
import { OriginMatcher } from '../dist/cors/origin-matcher.js';

const SEED = Number(process.env.XORIGIN_SEED ?? 20240611) >>> 0;
const POLICIES = 400;

/** mulberry32: a tiny, well-mixed 32-bit PRNG. */
function prng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the reference: split strings, compare pieces ----

const DEFAULT_PORT = { http: '80', https: '443' };

/** { scheme, host, port (string or '') } for a canonical serialised http(s) origin, else null. */
function splitOrigin(origin) {
  const sep = origin.indexOf('://');
  if (sep === -1) return null;
  const scheme = origin.slice(0, sep);
  if (scheme !== 'http' && scheme !== 'https') return null;
  const rest = origin.slice(sep + 3);
  let host;
  let port = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) return null;
    host = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return null;
      port = after.slice(1);
      if (port === '') return null;
    }
    if (!/^\[[0-9a-f:.]+\]$/.test(host)) return null;
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) return null;
    host = parts[0];
    if (parts.length === 2) {
      port = parts[1];
      if (port === '') return null;
    }
    const labels = host.split('.');
    for (const l of labels) if (l.length === 0 || l.length > 63 || !/^[a-z0-9_-]+$/.test(l)) return null;
  }
  if (port !== '') {
    if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535 || port === DEFAULT_PORT[scheme]) return null;
  }
  return { scheme, host, port };
}

/** Does the parsed pattern p allow the origin? Plain string logic. */
function referenceAllows(p, origin) {
  if (p.scheme !== 'http' && p.scheme !== 'https') return origin === p.source; // app origins: exact
  const o = splitOrigin(origin);
  if (o === null || o.scheme !== p.scheme) return false;
  if (p.port === PORT_NONE && o.port !== '') return false;
  if (p.port !== PORT_NONE && p.port !== PORT_ANY && o.port !== String(p.port)) return false;
  if (!p.subdomains) return o.host === p.host;
  const suffix = '.' + p.host;
  return o.host.endsWith(suffix) && o.host.length > suffix.length;
}

// ---- generators ----

function generator(rand) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const int = (n) => Math.floor(rand() * n);
  const LABELS = ['a', 'b', 'x', 'foo', 'bar', 'barfoo', 'foobar', 'app', 'api', 'my_host', 'a-b', 'xn--bcher-kva', 'xn--mnchen-3ya', 'com', 'example', '1', '09'];
  const TLDS = ['com', 'org', 'x.com', 'example.com', 'co.uk', 'localhost'];
  const IPV4 = ['127.0.0.1', '10.0.0.1', '192.168.1.10', '1.2.3.4', '255.255.255.255'];
  const IPV6 = ['[::1]', '[2001:db8::1]', '[fe80::1]', '[::ffff:102:304]'];
  const PORTS = ['', '', ':8080', ':3000', ':1', ':65535', ':8443'];

  const name = (n) => Array.from({ length: n }, () => pick(LABELS)).join('.');
  const host = () => {
    const r = rand();
    if (r < 0.1) return pick(IPV4);
    if (r < 0.18) return pick(IPV6);
    if (r < 0.25) return 'localhost';
    return `${name(int(3))}${int(3) === 0 ? '' : '.'}${pick(TLDS)}`.replace(/^\./, '');
  };
  const scheme = () => (rand() < 0.6 ? 'https' : 'http');

  function pattern() {
    const s = scheme();
    const kind = int(4); // 0 exact, 1 *., 2 :*, 3 *. and :*
    const h = host();
    const sub = kind === 1 || kind === 3;
    const port = kind >= 2 ? ':*' : pick(PORTS);
    return `${s}://${sub ? '*.' : ''}${h}${port}`;
  }

  /** An origin the pattern allows (or, for exact ones, the pattern itself). */
  function instance(p) {
    let host = p.host;
    if (p.subdomains) host = `${name(1 + int(2))}.${host}`;
    let port = '';
    if (p.port === PORT_ANY) port = pick(PORTS);
    else if (p.port !== PORT_NONE) port = `:${p.port}`;
    return `${p.scheme}://${host}${port}`;
  }

  const CHARS = 'abcxyz019-_.:/*@[]AZ %';
  /** Near misses of a matching origin: each one small change away. */
  function nearMisses(origin, p) {
    const out = [];
    const i = int(origin.length);
    out.push(origin.slice(0, i) + pick([...CHARS]) + origin.slice(i + 1)); // one char changed
    out.push(origin.slice(0, i) + origin.slice(i + 1)); // one char dropped
    out.push(origin.slice(0, i) + pick([...CHARS]) + origin.slice(i)); // one char inserted
    const sep = origin.indexOf('://') + 3;
    const rest = origin.slice(sep);
    const s = origin.slice(0, sep);
    out.push(s + pick(LABELS) + '.' + rest); // extra label
    out.push(s + pick(LABELS) + rest); // suffix confusion: barfoo.com vs foo.com
    out.push(s + rest.replace(/^[^.[]*\./, '')); // missing leading label
    out.push((s === 'https://' ? 'http://' : 'https://') + rest); // other scheme
    out.push(origin + pick([':8081', ':80', ':443', ':0', ':080', ':99999', ':']));
    out.push(origin.replace(/:\d+$/, '')); // port dropped
    out.push(origin.replace(/(:\d+)?$/, '.$1')); // trailing dot on the host
    out.push(origin + '/');
    out.push(origin.toUpperCase());
    out.push(s + rest.charAt(0).toUpperCase() + rest.slice(1));
    out.push(`${origin}, ${origin}`);
    out.push(origin.replace('://', ':///'));
    out.push(`${p.scheme}://${p.host}`); // the apex of a *. pattern
    out.push(`${p.scheme}://.${p.host}`);
    out.push(`${p.scheme}://x..${p.host}`);
    out.push(`${p.scheme}://${'a'.repeat(64)}.${p.host}`);
    out.push(`capacitor://${rest}`);
    return out;
  }

  return { pattern, instance, nearMisses, int, pick };
}

function parse(source) {
  const r = parseOriginPattern(source);
  return r.ok ? r.pattern : null;
}

test(`OriginMatcher and OriginTrie agree with a simple reference matcher (seed ${SEED}; set XORIGIN_SEED to vary)`, () => {
  const rand = prng(SEED);
  const g = generator(rand);
  const APP_ORIGINS = ['capacitor://localhost', 'ionic://localhost', 'chrome-extension://abcdefghijklmnopabcdefghijklmnop'];
  let checks = 0;
  let matched = 0;
  for (let n = 0; n < POLICIES; n++) {
    const sources = [];
    const size = 1 + g.int(14); // both sides of the matcher's 8-entry list/Map switch
    while (sources.length < size) {
      const s = g.pattern();
      if (parse(s) !== null) sources.push(s);
    }
    if (g.int(4) === 0) sources.push(g.pick(APP_ORIGINS));
    const patterns = sources.map(parse);
    const matcher = new OriginMatcher(patterns);
    const trie = new OriginTrie();
    patterns.forEach((p, id) => {
      if (p.scheme === 'http' || p.scheme === 'https') trie.add(p, id);
    });
    trie.compile();

    const origins = [...APP_ORIGINS, 'null', '', 'https://', 'http://:80'];
    for (const p of patterns) {
      const hit = g.instance(p);
      origins.push(hit, ...g.nearMisses(hit, p));
    }
    for (const origin of origins) {
      const expected = patterns.some((p) => referenceAllows(p, origin));
      const why = () => `seed ${SEED}, policy ${n} ${JSON.stringify(sources)}, origin ${JSON.stringify(origin)}`;
      const m = matcher.match(origin);
      assert.equal(m !== NO_MATCH, expected, `OriginMatcher: ${why()}`);
      if (m !== NO_MATCH) assert.ok(referenceAllows(patterns[m], origin), `OriginMatcher returned entry ${m}, which does not allow it: ${why()}`);
      const httpOnly = patterns.some((p) => (p.scheme === 'http' || p.scheme === 'https') && referenceAllows(p, origin));
      const t = trie.match(origin);
      assert.equal(t !== NO_MATCH, httpOnly, `OriginTrie: ${why()}`);
      if (t !== NO_MATCH) assert.ok(referenceAllows(patterns[t], origin), `OriginTrie returned entry ${t}, which does not allow it: ${why()}`);
      checks++;
      if (expected) matched++;
    }
    // Asked again, the matcher answers from what it remembers of its walks: the same entry.
    for (const origin of origins) {
      const first = patterns.findIndex((p) => referenceAllows(p, origin));
      const again = matcher.match(origin);
      assert.equal(again !== NO_MATCH, first !== -1, `OriginMatcher, asked again: seed ${SEED}, policy ${n}, origin ${JSON.stringify(origin)}`);
      if (again !== NO_MATCH) assert.ok(referenceAllows(patterns[again], origin), `OriginMatcher, asked again, returned entry ${again}, which does not allow ${JSON.stringify(origin)}`);
    }
  }
  // The generator must produce both outcomes in bulk, or the comparison proves little.
  assert.ok(checks > 20000, `only ${checks} checks`);
  assert.ok(matched > checks / 20 && matched < checks / 2, `${matched} of ${checks} matched`);
});
