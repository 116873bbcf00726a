// Origin matching tables, grouped by attack class. Every table runs against both the raw trie
// (which also holds exact origins) and the shipped OriginMatcher (list/Map for exact + trie).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOriginPattern } from '../dist/cors/origin-pattern.js';
import { OriginTrie, NO_MATCH } from '../dist/cors/origin-trie.js';
import { OriginMatcher } from '../dist/cors/origin-matcher.js';

function parseAll(list) {
  return list.map((s) => {
    const r = parseOriginPattern(s);
    if (!r.ok) throw new Error(`${s}: ${r.problem.reason}`);
    return r.pattern;
  });
}

function matchers(list) {
  const patterns = parseAll(list);
  const trie = new OriginTrie();
  patterns.forEach((p, i) => trie.add(p, i));
  const compiled = new OriginTrie();
  patterns.forEach((p, i) => compiled.add(p, i));
  compiled.compile();
  const matcher = new OriginMatcher(patterns);
  return { 'trie (uncompressed)': trie, 'trie (compiled)': compiled, OriginMatcher: matcher };
}

/** Each group: a policy, origins that must match (and which entry), origins that must not. */
const groups = [
  {
    name: 'exact origin',
    policy: ['https://example.com'],
    allow: [['https://example.com', 0]],
    deny: [
      'http://example.com', // other scheme
      'https://example.com:8443', // other port
      'https://example.com:443', // default port written out: not canonical
      'https://example.co', // truncated host
      'https://xample.com',
      'https://example.com.evil.com', // suffix trick
      'https://evilexample.com', // prefix trick
      'https://sub.example.com', // subdomain of an exact origin
      'https://example.com@evil.com', // userinfo trick
      'https://evil.com@example.com',
      'https://example.com/', // trailing slash
      'https://example.com/path',
      'https://EXAMPLE.com', // uppercase
      'HTTPS://example.com',
      'https://example.com, https://example.com', // two values joined by ", "
      'https://example.com ',
      ' https://example.com',
      'https://example.com.', // trailing dot
      'https://example.com:',
      'https://example.com:0443',
      'null',
      '',
      'https://',
      'example.com',
      '*',
    ],
  },
  {
    name: 'sibling exact origins sharing a suffix',
    policy: ['https://foo.com', 'https://bar.com'],
    allow: [
      ['https://foo.com', 0],
      ['https://bar.com', 1],
    ],
    deny: ['https://barfoo.com', 'https://foobar.com', 'https://oo.com', 'https://xfoo.com', 'https://bar.foo.com', 'https://foo.com.bar.com'],
  },
  {
    name: 'subdomain pattern',
    policy: ['https://*.example.com'],
    allow: [
      ['https://a.example.com', 0],
      ['https://deep.er.sub.example.com', 0],
      ['https://x-1.example.com', 0],
      ['https://1.example.com', 0],
    ],
    deny: [
      'https://example.com', // the apex is never a subdomain
      'https://.example.com', // empty label
      'https://a..example.com',
      'http://a.example.com', // other scheme
      'https://a.example.com:8443', // other port
      'https://aexample.com', // no dot: prefix trick
      'https://a.example.com.evil.com',
      'https://a.example.co',
      'https://a.example.com/',
      'https://A.example.com', // uppercase label
      'https://a b.example.com',
      'https://a@b.example.com',
      'https://a.example.com, https://b.example.com',
    ],
  },
  {
    name: 'port patterns',
    policy: ['http://localhost:*', 'https://*.example.com:*'],
    allow: [
      ['http://localhost', 0], // any port, including none
      ['http://localhost:3000', 0],
      ['http://localhost:1', 0],
      ['http://localhost:65535', 0],
      ['https://a.example.com', 1],
      ['https://a.example.com:8443', 1],
    ],
    deny: [
      'http://localhost:80', // default port: not canonical
      'http://localhost:65536',
      'http://localhost:0',
      'http://localhost:03000',
      'http://localhost:',
      'http://localhost:3000:3000',
      'http://localhost:3000/',
      'http://localhost.evil.com',
      'http://evil-localhost:3000',
      'https://localhost:3000',
      'https://example.com:8443', // apex
      'https://a.example.com:443',
    ],
  },
  {
    name: 'exact and subdomain together, most specific wins',
    policy: ['https://example.com', 'https://*.example.com', 'https://*.eu.example.com', 'https://api.eu.example.com:8443'],
    allow: [
      ['https://example.com', 0],
      ['https://a.example.com', 1],
      ['https://a.eu.example.com', 2],
      ['https://eu.example.com', 1],
      ['https://api.eu.example.com:8443', 3],
      ['https://api.eu.example.com', 2],
    ],
    deny: ['https://api.eu.example.com:9443', 'https://evil.com', 'https://example.com.eu'],
  },
  {
    name: 'deeper pattern fails on port, shallower one still matches',
    policy: ['https://*.example.com:*', 'https://*.b.example.com'],
    allow: [
      ['https://x.b.example.com:8080', 0],
      ['https://x.b.example.com', 1],
    ],
    deny: ['https://b.example.org:8080'],
  },
  {
    name: 'IPv4 and IPv6',
    policy: ['http://127.0.0.1:8080', 'http://[::1]:8080', 'https://[2001:db8::1]'],
    allow: [
      ['http://127.0.0.1:8080', 0],
      ['http://[::1]:8080', 1],
      ['https://[2001:db8::1]', 2],
    ],
    deny: [
      'http://127.0.0.1',
      'http://127.0.0.10:8080',
      'http://27.0.0.1:8080',
      'http://127.0.0.1:80800',
      'http://[::1]',
      'http://[::01]:8080',
      'http://[0:0:0:0:0:0:0:1]:8080',
      'http://[::1:8080',
      'http://::1:8080',
      'https://[2001:DB8::1]',
      'https://[2001:db8::1]:443',
    ],
  },
];

for (const group of groups) {
  describe(group.name, () => {
    for (const [kind, m] of Object.entries(matchers(group.policy))) {
      test(`${kind}: allows exactly the listed origins`, () => {
        for (const [origin, id] of group.allow) assert.equal(m.match(origin), id, `${origin} should match entry ${id}`);
        for (const origin of group.deny) assert.equal(m.match(origin), NO_MATCH, `${JSON.stringify(origin)} must not match`);
      });
    }
  });
}

describe('1,000-origin policy', () => {
  const list = [];
  for (let i = 0; i < 500; i++) list.push(`https://app${i}.customer${i % 37}.example.org`);
  for (let i = 0; i < 500; i++) list.push(`https://*.tenant${i}.example.net`);
  for (const [kind, m] of Object.entries(matchers(list))) {
    test(`${kind}: every entry matches itself, near misses do not`, () => {
      for (let i = 0; i < 500; i++) {
        assert.equal(m.match(`https://app${i}.customer${i % 37}.example.org`), i);
        assert.equal(m.match(`https://app${i}.customer${(i + 1) % 37}.example.org`), NO_MATCH);
        assert.equal(m.match(`https://shop.tenant${i}.example.net`), 500 + i);
        assert.equal(m.match(`https://tenant${i}.example.net`), NO_MATCH);
        assert.equal(m.match(`https://shop.tenant${i}.example.nett`), NO_MATCH);
        assert.equal(m.match(`https://shop.xtenant${i}.example.net`), NO_MATCH);
      }
      assert.equal(m.match('https://app500.customer19.example.org'), NO_MATCH);
    });
  }
});

test('a compiled trie refuses further entries', () => {
  const trie = new OriginTrie();
  trie.compile();
  assert.throws(() => trie.add(parseAll(['https://a.com'])[0], 0), /after compile/);
});

test('OriginMatcher answers from its last walks as the trie does, whatever the order origins come in', () => {
  const patterns = parseAll(['https://app.example.com', 'https://*.a.example.org', 'https://*.b.example.org', 'http://localhost:*']);
  const m = new OriginMatcher(patterns);
  const trie = new OriginTrie();
  patterns.forEach((p, id) => trie.add(p, id));
  trie.compile();
  // More origins than the matcher keeps (allowed by each entry, refused), each asked for again
  // after 0 to 6 others, so every answer comes from the walk or from the ring at each place in it.
  const origins = ['https://x.a.example.org', 'https://x.b.example.org', 'https://x.c.example.org', 'http://localhost:8080', 'https://app.example.com', '', 'https://y.a.example.org', 'http://localhost'];
  let asked = 0;
  for (let gap = 0; gap <= 6; gap++) {
    for (let i = 0; i < origins.length * 3; i++) {
      const origin = origins[(i * (gap + 1)) % origins.length];
      assert.equal(m.match(origin), trie.match(origin), `${JSON.stringify(origin)}, gap ${gap}, ask ${i}`);
      asked++;
    }
  }
  assert.equal(asked, 168);
});

test('OriginMatcher walks an origin longer than any browser sends each time, and does not remember it', () => {
  // Remembered, a 16 KB origin would be compared whole with every later one of its length, 4 times
  // a request (a client sending a new one each time paid 1.8-4.6 µs a match instead of 0.2-0.3).
  const patterns = parseAll(['https://*.example.org']);
  const m = new OriginMatcher(patterns);
  const label = 'a'.repeat(63);
  const long = `https://${Array(250).fill(label).join('.')}.example.org`;
  const longRefused = `${long}.evil`;
  const atBound = `https://${'b'.repeat(24)}.${Array(4).fill(label).join('.')}.example.org`;
  assert.equal(atBound.length, 300);
  const trie = new OriginTrie();
  patterns.forEach((p, id) => trie.add(p, id));
  trie.compile();
  const short = 'https://cdn.example.org';
  for (let i = 0; i < 3; i++) {
    for (const origin of [long, longRefused, atBound, short]) assert.equal(m.match(origin), trie.match(origin));
  }
  assert.equal(m.match(short), 0);
  // The ring is private; reading it is the only way to see what it holds without timing.
  const held = m['recentOrigins'];
  assert.ok(!held.includes(long) && !held.includes(longRefused), 'an origin over 300 characters is not remembered');
  assert.ok(held.includes(atBound), 'one of 300 characters is');
});

test('OriginMatcher does not hash an Origin longer than every exact origin', () => {
  // V8 hashes the whole string on a Map lookup: a new 16,000-character Origin cost 24 µs a match
  // with 9 exact origins (hostile review of 6911d84). Counting lookups shows it is not hashed.
  const exact = Array.from({ length: 9 }, (_, i) => `https://app${i}.example.com`);
  const longest = 'capacitor://a-rather-long-app-origin';
  const m = new OriginMatcher(parseAll([...exact, longest, 'https://*.example.org']));
  const looked = [];
  const map = m['exactMap'];
  assert.ok(map instanceof Map, 'more than 8 exact origins are kept in a Map');
  m['exactMap'] = new (class extends Map {
    get(key) {
      looked.push(key);
      return map.get(key);
    }
  })();
  const long = `https://${'a'.repeat(16_000)}.example.org`;
  assert.equal(m.match(long), NO_MATCH);
  assert.equal(m.match(longest), 9);
  assert.equal(m.match(`${longest}x`), NO_MATCH);
  assert.equal(m.match(exact[3]), 3);
  assert.equal(m.match('https://cdn.example.org'), 10);
  assert.deepEqual(looked, [longest, exact[3], 'https://cdn.example.org']);
});

test('an origin whose host is over 253 characters (no DNS name) is refused, and a long one without scanning it', () => {
  const trie = new OriginTrie();
  parseAll(['https://*.example.org', 'http://*.example.org:*']).forEach((p, id) => trie.add(p, id));
  trie.compile();
  const label = 'a'.repeat(60);
  const hostOf = (length) => {
    const base = '.example.org';
    let sub = '';
    while (sub.length + base.length < length) sub += sub.length % 61 === 60 ? '.' : 'b';
    return sub.replace(/\.$/, 'c') + base;
  };
  assert.equal(hostOf(253).length, 253);
  assert.equal(trie.match(`https://${hostOf(253)}`), 0);
  assert.equal(trie.match(`http://${hostOf(253)}:65535`), 1);
  assert.equal(trie.match(`https://${hostOf(254)}`), NO_MATCH);
  assert.equal(trie.match(`http://${hostOf(254)}:1`), NO_MATCH);
  // Counting the characters read: a 16 KB Origin (valid labels) is refused by its length alone.
  class CountingValue extends String {
    work = 0;
    charCodeAt(i) {
      this.work++;
      return super.charCodeAt(i);
    }
  }
  const long = new CountingValue(`https://${Array(250).fill(label).join('.')}.example.org`);
  assert.equal(trie.match(long), NO_MATCH);
  assert.ok(long.work < 20, `${long.work} characters read of ${long.length}`);
  // One a few characters over the bound, with no port, is refused after its host is scanned.
  assert.equal(trie.match(`https://${hostOf(258)}`), NO_MATCH);
});
