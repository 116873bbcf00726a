// Origin matching: the trie against a Map and a regex alternation, on exact and pattern cases.
//
//   npm run bench:origins            (or: node bench/origin-matcher.js [rounds])
//
// Each request Origin is a fresh string made from a Buffer, as Node's HTTP parser makes it, so
// V8 has no cached hash for it: a Map is not flattered by re-using the same string object.
// Contenders run interleaved, several rounds; the table shows the median ns per lookup.
import { parseOriginPattern } from '../dist/cors/origin-pattern.js';
import { OriginTrie } from '../dist/cors/origin-trie.js';
import { OriginMatcher } from '../dist/cors/origin-matcher.js';
import { scriptArgs, wholeNumber } from './args.js';

const ROUNDS = wholeNumber(scriptArgs({}, 1).positionals[0] ?? '7', 'rounds');
const COPIES = 100_000;

function parse(list) {
  return list.map((s) => {
    const r = parseOriginPattern(s);
    if (!r.ok) throw new Error(`${s}: ${r.problem.reason}`);
    return r.pattern;
  });
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The best regex a careful author would write: one anchored alternation.
function buildRegex(patterns) {
  const alts = patterns.map((p) => {
    const host = (p.subdomains ? '(?:[a-z0-9_-]+\\.)+' : '') + escape(p.host);
    const port = p.port === -2 ? '(?::[1-9][0-9]{0,4})?' : p.port === -1 ? '' : `:${p.port}`;
    return `${p.scheme}://${host}${port}`;
  });
  return new RegExp(`^(?:${alts.join('|')})$`);
}

const small = ['https://app.example.com', 'https://admin.example.com', 'http://localhost:3000'];
const eight = Array.from({ length: 8 }, (_, i) => `https://app${i}.example.com`);
const sixteen = Array.from({ length: 16 }, (_, i) => `https://app${i}.example.com`);
const many = Array.from({ length: 1000 }, (_, i) => `https://app${i}.customer${i % 37}.example.org`);
const smallPatterns = ['https://*.example.com', 'http://localhost:*'];
const manyPatterns = Array.from({ length: 1000 }, (_, i) => `https://*.tenant${i}.example.net`);

const policies = {
  'exact, 3 origins': small,
  'exact, 8 origins': eight,
  'exact, 16 origins': sixteen,
  'exact, 1,000 origins': many,
  'patterns, 2': smallPatterns,
  'patterns, 1,000': manyPatterns,
};

const cases = [
  ['exact, 3 origins', 'hit', 'https://admin.example.com'],
  ['exact, 3 origins', 'miss', 'https://admin.example.co'],
  ['exact, 8 origins', 'hit', 'https://app7.example.com'],
  ['exact, 8 origins', 'miss', 'https://app9.example.com'],
  ['exact, 16 origins', 'hit', 'https://app15.example.com'],
  ['exact, 16 origins', 'miss', 'https://app17.example.com'],
  ['exact, 1,000 origins', 'hit', 'https://app777.customer0.example.org'],
  ['exact, 1,000 origins', 'miss', 'https://app777.customer1.example.org'],
  ['patterns, 2', 'hit', 'https://cdn.eu.example.com'],
  ['patterns, 2', 'miss', 'https://cdn.eu.example.com.evil.io'],
  ['patterns, 1,000', 'hit', 'https://shop.tenant512.example.net'],
  ['patterns, 1,000', 'miss', 'https://shop.tenant512.example.nett'],
  // The shipped matcher remembers its last 1,024 walks; here no origin comes twice.
  ['patterns, 2', 'hit, every origin new', (i) => `https://cdn${i}.eu.example.com`],
  ['patterns, 1,000', 'hit, every origin new', (i) => `https://shop${i}.tenant512.example.net`],
];

function contenders(list) {
  const patterns = parse(list);
  const trie = new OriginTrie();
  patterns.forEach((p, i) => trie.add(p, i));
  trie.compile();
  const out = { trie: (o) => trie.match(o) };
  const exactOnly = patterns.every((p) => !p.subdomains && p.port !== -2);
  if (exactOnly) {
    const map = new Map(patterns.map((p, i) => [p.source, i]));
    out.map = (o) => map.get(o) ?? -1;
    const list = patterns.map((p) => p.source);
    out.linear = (o) => {
      for (let i = 0; i < list.length; i++) if (list[i] === o) return i;
      return -1;
    };
  }
  const re = buildRegex(patterns);
  out.regex = (o) => (re.test(o) ? 0 : -1);
  const matcher = new OriginMatcher(patterns);
  out['OriginMatcher (shipped)'] = (o) => matcher.match(o);
  return out;
}

/** COPIES fresh strings of `origin`, or of `origin(i)` when it is a function (every one different). */
function copies(origin) {
  if (typeof origin === 'function') return Array.from({ length: COPIES }, (_, i) => Buffer.from(origin(i), 'latin1').toString('latin1'));
  const buf = Buffer.from(origin, 'latin1');
  return Array.from({ length: COPIES }, () => buf.toString('latin1'));
}

function time(fn, inputs, expectHit) {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < inputs.length; i++) if (fn(inputs[i]) !== -1) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / inputs.length;
  if ((hits === inputs.length) !== expectHit || (hits !== 0 && hits !== inputs.length)) {
    throw new Error('a contender answered wrongly; refusing to time it');
  }
  return ns;
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
for (const [policy, kind, origin] of cases) {
  const cs = contenders(policies[policy]);
  const samples = Object.fromEntries(Object.keys(cs).map((k) => [k, []]));
  // Warm up; a contender slower than 2 µs per lookup (the regex over 1,000 patterns) is timed on
  // fewer inputs so the run stays short. Its figure is still a median of the same rounds.
  const inputs = {};
  for (const [name, fn] of Object.entries(cs)) {
    const slow = time(fn, copies(origin).slice(0, 200), kind.startsWith('hit')) > 2000;
    inputs[name] = slow ? 2000 : COPIES;
    if (!slow) time(fn, copies(origin), kind.startsWith('hit'));
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(cs)) {
      samples[name].push(time(fn, copies(origin).slice(0, inputs[name]), kind.startsWith('hit')));
    }
  }
  for (const [name, xs] of Object.entries(samples)) rows.push({ policy, kind, name, ns: median(xs) });
}

console.log(`# origin matching, median of ${ROUNDS} rounds x ${COPIES} fresh strings, ns per lookup`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
console.log('| policy | request | trie | Map | linear === | regex | OriginMatcher (shipped) |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const [policy, kind] of cases) {
  const get = (n) => {
    const row = rows.find((x) => x.policy === policy && x.kind === kind && x.name === n);
    return row ? row.ns.toFixed(1) : 'n/a';
  };
  console.log(`| ${policy} | ${kind} | ${get('trie')} | ${get('map')} | ${get('linear')} | ${get('regex')} | ${get('OriginMatcher (shipped)')} |`);
}
