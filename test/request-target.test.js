// Request targets, RFC 9112 §3.2 (src/http/request-target.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorityValid, decodedPath, hasEncodedSlash, hostLinesValid, mergeSlashes, removeDotSegments, targetPath } from '../dist/http/request-target.js';

const targets = [
  // origin-form (§3.2.1): the path, still encoded, without the query
  ['/a/b?q=1', '/a/b'],
  ['/', '/'],
  ['/?', '/'],
  ['/a%20b', '/a%20b'],
  ['//a/b', '//a/b'], // empty segments are path, not authority, in origin-form
  ['/a?b?c', '/a'],
  // a backslash in the path is no URI character, and a browser reads it as "/": invalid
  ['/\\evil.com/../dir', null],
  ['/a\\b', null],
  ['http://x/a\\b', null],
  ['/a?q=\\', '/a'],
  ['/a%5Cb', '/a%5Cb'],
  // absolute-form (§3.2.2): the scheme is case-insensitive (RFC 9110 §4.2.3)
  ['http://localhost/font.woff2', '/font.woff2'],
  ['HTTPS://Example.com:8443/a%20b.css?x', '/a%20b.css'],
  ['Http://x/a', '/a'],
  ['http://localhost', '/'],
  ['http://localhost?x=/y', '/'],
  ['http://localhost:8080', '/'],
  // userinfo is treated as an error (RFC 9110 §4.2.4): it disguises the authority
  ['http://user@localhost/a', null],
  ['http://u:p@localhost', null],
  ['http://localhost/a@b', '/a@b'],
  // an http(s) URI with an empty host is invalid and must be rejected (RFC 9110 §4.2.1, §4.2.2)
  ['http:///a', null],
  ['https://', null],
  ['http://?x', null],
  ['http://:80/a', null],
  // an authority that is no host [":" port] is no http(s) URI either, as a Host value (RFC 3986 §3.2.2-3)
  ['http://x:abc/a', null],
  ['https://x:1:2/a', null],
  ['http://[::1/a', null],
  ['http://::1/a', null],
  ['http://a b/c', null],
  ['http://[::1]:8080/a', '/a'],
  ['http://[v1.x]/a?q', '/a'],
  ['http://ex%41mple:/a', '/a'],
  // asterisk-form, authority-form, other schemes, relative references: no path to serve
  ['*', null],
  ['localhost:80', null],
  ['ftp://x/y', null],
  ['http:/a', null],
  ['http:a', null],
  ['a/b', null],
  ['?x', null],
  ['', null],
  // a fragment is no part of a request target (RFC 9112 §3.2): invalid, whether in the path or the query
  ['/a.woff2#x', null],
  ['/a.woff2?q#x', null],
  ['http://x/a#b', null],
];
for (const [target, expected] of targets) {
  test(`targetPath(${JSON.stringify(target)}) is ${JSON.stringify(expected)}`, () => assert.equal(targetPath(target), expected));
}

const slashes = [
  ['/a%2Fb', true],
  ['/a%2fb', true],
  ['/%2F', true],
  ['/a/b%2F', true],
  ['/a%252Fb', false], // an encoded "%" followed by "2F": decodes to "%2F", not a slash
  ['/a%20b', false],
  ['/a%2', false],
  ['/a%', false],
  ['/a%%2F', true],
  ['/a/b', false],
  ['/a%5Cb', false], // an encoded backslash is the file server's business, not this check's
];
for (const [path, expected] of slashes) {
  test(`hasEncodedSlash(${JSON.stringify(path)}) is ${expected}`, () => assert.equal(hasEncodedSlash(path), expected));
}

// RFC 9112 §3.2: one Host line with a valid value; none only in HTTP/1.0.
const hosts = [
  [['Host', 'a.example'], true, true],
  [['host', 'a.example:8080'], true, true],
  [['HOST', '[::1]:443'], true, true],
  [['Host', ''], true, true], // empty: a target URI without authority (RFC 9110 §7.2)
  [['Accept', '*/*'], true, false],
  [['Accept', '*/*'], false, true],
  [['Host', 'a', 'Host', 'a'], true, false],
  [['Host', 'a', 'hOsT', 'b'], false, false],
  [['Host', 'a/b'], true, false],
  [['Host', 'u@a'], true, false],
  [['Host', 'a b'], true, false],
  [['Host', 'a\\b'], true, false],
  [['Host', 'a?'], true, false],
  [['Host', 'bücher.example'], true, false],
  [['Hosts', 'x', 'Host', 'a'], true, true],
];
for (const [raw, http11, expected] of hosts) {
  test(`hostLinesValid(${JSON.stringify(raw)}, ${http11 ? '1.1' : '1.0'}) is ${expected}`, () => assert.equal(hostLinesValid(raw, http11), expected));
}

// HTTP/2 (RFC 9113 §8.3.1): [:authority, host, :scheme] -> acceptable
const authorities = [
  [['x.example', undefined, 'https'], true],
  [['x.example:8443', undefined, 'https'], true],
  [[undefined, 'x.example', 'https'], true],
  [['x.example', 'x.example', 'https'], true],
  [['X.Example', 'x.example', 'https'], true],
  [['x.example:443', 'x.example', 'https'], true], // the scheme's default port
  [['x.example', 'x.example:80', 'http'], true],
  [['u@x.example', undefined, 'https'], false], // userinfo: MUST NOT
  [['x.example', 'u@x.example', 'https'], false],
  [['x.example', 'y.example', 'https'], false], // a Host naming another entity: SHOULD be malformed
  [['x.example:8443', 'x.example', 'https'], false],
  [['x.example', 'x.example:80', 'https'], false],
  [['x.example/a', undefined, 'https'], false],
];
for (const [[authority, host, scheme], expected] of authorities) {
  test(`authorityValid(${authority}, ${host}, ${scheme}) is ${expected}`, () => assert.equal(authorityValid(authority, host, scheme), expected));
}

// Every code point a reg-name may hold (RFC 9110 §7.2, RFC 3986 §3.2.2), and none other, checked
// one by one at the start, the middle and the end of a value.
test('a Host reg-name is unreserved, sub-delims and pct-encoded characters only: each of the 128 ASCII code points and some beyond', () => {
  const allowed = new Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=");
  for (let c = 0; c < 0x180; c++) {
    const ch = String.fromCharCode(c);
    for (const value of [`${ch}a`, `a${ch}a`, `a${ch}`]) {
      // ":" is the port's separator: "a:" is a host with an empty port, the other two are not.
      const expected = allowed.has(ch) || (ch === ':' && value === 'a:');
      assert.equal(hostLinesValid(['Host', value], true), expected, `Host ${JSON.stringify(value)}`);
      assert.equal(authorityValid(value, undefined, 'https'), expected, `:authority ${JSON.stringify(value)}`);
    }
  }
  assert.equal(hostLinesValid(['Host', 'a.example\n'], true), false);
});

// The structure of host [":" port]: one ":" outside brackets, digits after it, "[" "]" only around
// an IPv6 address or IPvFuture (RFC 3986 §3.2.2, §3.2.3), "%" only as %HH.
const structures = [
  ['x:', true], ['x:99999', true], [':80', false], [':', false], ['1.2.3.4:80', true], ['ex%41mple', true], ['[::1]', true],
  ['[::1]:8080', true], ['[2001:db8::7]:', true], ['[::ffff:1.2.3.4]', true], ['[v1.a:b]', true], ['[V7F.x!]', true],
  ['x:abc', false], ['x:80:80', false], ['::1', false], ['[::1', false], ['::1]', false], ['[::1]x', false],
  ['[::1]:8a', false], ['[]', false], ['[x]', false], ['[1::2::3]', false], ['[fe80::1%eth0]', false],
  ['[fe80::1%25eth0]', false], ['[v.x]', false], ['[v1.]', false], ['[vg.x]', false], ['[v1.a/b]', false],
  ['a[b', false], ['a]', false], ['%zz', false], ['a%4', false], ['a%', false], ['x: 80', false],
];
for (const [value, expected] of structures) {
  test(`Host ${JSON.stringify(value)} is ${expected ? 'a host [":" port]' : 'no Host value'}, as :authority too`, () => {
    assert.equal(hostLinesValid(['Host', value], true), expected);
    assert.equal(authorityValid(value, undefined, 'https'), expected);
  });
}

// isHostValue keeps the last value it accepted: a value that differs from it by one character, or
// one refused before, is still checked in full.
test('the Host value accepted last is remembered, and nothing near it is taken for it', () => {
  const sequence = [
    ['fonts.example:8443', true], ['fonts.example:8443', true], ['fonts.example:844x', false], ['fonts.example:8443 ', false],
    ['fonts.example:844x', false], ['fonts.example:8443', true], ['[::1]:8443', true], ['fonts.example:8443', true], ['', true], [' ', false], ['', true],
  ];
  for (const [value, expected] of sequence) {
    assert.equal(hostLinesValid(['Host', value], true), expected, `Host ${JSON.stringify(value)}`);
    assert.equal(authorityValid(value, undefined, 'https'), expected, `:authority ${JSON.stringify(value)}`);
  }
});

const decoded = [
  ['/a.woff2', '/a.woff2'],
  ['/fonts/a.woff2?v=1&x=/y', '/fonts/a.woff2'],
  ['/', '/'],
  ['/?', '/'],
  ['/a%20b.woff2', '/a b.woff2'],
  ['//fonts///a.woff2', '/fonts/a.woff2'],
  ['/a/?q=//x', '/a/'],
  ['/a%2Fb', 404],
  ['/a%2fb?x', 404],
  ['/a%zz', 400],
  ['/a#b', 400],
  ['/a?q#b', 400],
  ['/a?q%zz', '/a'],
  ['*', 400],
  ['', 400],
  ['http://x//a%41', '/aA'],
  // Dot segments (RFC 3986 §5.2.4), encoded ones too; above the root, 400 as nginx.
  ['/fonts/../app.js', '/app.js'],
  ['/a/./b', '/a/b'],
  ['/dir/.', '/dir/'],
  ['/dir/..', '/'],
  ['/./', '/'],
  ['/a/b/../../c?x=/../', '/c'],
  ['/fonts/%2e%2e/app.js', '/app.js'],
  ['/a/%2E/b', '/a/b'],
  ['/..', 400],
  ['/../a', 400],
  ['/a/../../b', 400],
  ['/%2e%2e/a', 400],
  ['/.well-known/x', '/.well-known/x'],
  ['/a/.../b', '/a/.../b'],
  ['/.env', '/.env'],
];
for (const [target, expected] of decoded) {
  test(`decodedPath(${JSON.stringify(target)}) is ${JSON.stringify(expected)}`, () => assert.equal(decodedPath(target), expected));
}

// decodedPath answers most targets from a one-pass shortcut (plainPath); this is what its steps,
// each in its own function, give. Every target up to 6 characters from the characters the steps
// act on must get the same answer both ways.
function stepByStep(target) {
  const path = targetPath(target);
  if (path === null) return 400;
  const merged = mergeSlashes(path);
  const resolved = (p) => (p.includes('/.') ? (removeDotSegments(p) ?? 400) : p);
  if (!merged.includes('%')) return resolved(merged);
  if (hasEncodedSlash(merged)) return 404;
  try {
    return resolved(decodeURIComponent(merged));
  } catch {
    return 400;
  }
}

test('decodedPath gives what its steps give, for every short target over / . % 2 f ? # \\ a', () => {
  const alphabet = ['/', '.', '%', '2', 'f', '?', '#', '\\', 'a'];
  let targets = [''];
  let compared = 0;
  for (let length = 1; length <= 6; length++) {
    targets = targets.flatMap((t) => alphabet.map((c) => t + c));
    for (const target of targets) {
      const want = stepByStep(target);
      if (decodedPath(target) !== want) assert.fail(`decodedPath(${JSON.stringify(target)}) is ${JSON.stringify(decodedPath(target))}, its steps give ${JSON.stringify(want)}`);
      compared++;
    }
  }
  assert.equal(compared, 597870);
});
