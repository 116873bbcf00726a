import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOriginPattern, PORT_ANY, PORT_NONE } from '../dist/cors/origin-pattern.js';

const valid = [
  // source, scheme, host, subdomains, port, loopback
  ['https://example.com', 'https', 'example.com', false, PORT_NONE, false],
  ['https://app.example.com:8443', 'https', 'app.example.com', false, 8443, false],
  ['http://localhost:3000', 'http', 'localhost', false, 3000, true],
  ['http://localhost:*', 'http', 'localhost', false, PORT_ANY, true],
  ['https://*.example.com', 'https', 'example.com', true, PORT_NONE, false],
  ['https://*.example.com:*', 'https', 'example.com', true, PORT_ANY, false],
  ['http://*.localhost', 'http', 'localhost', true, PORT_NONE, true],
  ['http://127.0.0.1:8080', 'http', '127.0.0.1', false, 8080, true],
  ['http://192.168.1.10', 'http', '192.168.1.10', false, PORT_NONE, false],
  ['http://[::1]:8080', 'http', '[::1]', false, 8080, true],
  ['https://[2001:db8::1]', 'https', '[2001:db8::1]', false, PORT_NONE, false],
  ['https://xn--bcher-kva.de', 'https', 'xn--bcher-kva.de', false, PORT_NONE, false],
  ['https://my_host.example.com', 'https', 'my_host.example.com', false, PORT_NONE, false],
  ['https://example.com:65535', 'https', 'example.com', false, 65535, false],
  // the longest hosts: 253 characters, and a "*." base of 251 (its subdomains have 253 and up)
  ...[[`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, false], [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(59)}`, true]].map(
    ([host, subdomains]) => [`https://${subdomains ? '*.' : ''}${host}`, 'https', host, subdomains, PORT_NONE, false],
  ),
  // app origins: exact only, host kept byte-for-byte (Safari extension ids are uppercase UUIDs)
  ['capacitor://localhost', 'capacitor', 'localhost', false, PORT_NONE, false],
  ['ionic://localhost', 'ionic', 'localhost', false, PORT_NONE, false],
  ['chrome-extension://abcdefghijklmnopabcdefghijklmnop', 'chrome-extension', 'abcdefghijklmnopabcdefghijklmnop', false, PORT_NONE, false],
  ['moz-extension://0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b', 'moz-extension', '0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b', false, PORT_NONE, false],
  ['safari-web-extension://3DB8E3C9-1A2B-4C5D-8E9F-0A1B2C3D4E5F', 'safari-web-extension', '3DB8E3C9-1A2B-4C5D-8E9F-0A1B2C3D4E5F', false, PORT_NONE, false],
  ['tauri://localhost', 'tauri', 'localhost', false, PORT_NONE, false],
  ['app+x.y-z://my.app', 'app+x.y-z', 'my.app', false, PORT_NONE, false],
  ['capacitor://localhost:8100', 'capacitor', 'localhost', false, 8100, false],
];

for (const [source, scheme, host, subdomains, port, loopback] of valid) {
  test(`parses ${source}`, () => {
    const r = parseOriginPattern(source);
    assert.equal(r.ok, true, r.ok ? '' : r.problem.reason);
    assert.deepEqual(r.pattern, { source, scheme, host, subdomains, port, loopback });
  });
}

// source, a fragment the reason must contain, the fix it must suggest (or a fragment of it)
const invalid = [
  ['null', 'null', 'remove'],
  ['NULL', 'null', 'remove'],
  ['example.com', 'expected scheme://host', '"https://example.com"'],
  ['ftp://example.com', 'no longer load ftp', 'http'],
  ['HTTPS://example.com', 'scheme in lowercase', '"https://example.com"'],
  ['https://example.com/', 'trailing slash', '"https://example.com"'],
  ['https://example.com/app', 'path, query or fragment', '"https://example.com"'],
  ['https://example.com?x=1', 'path, query or fragment', '"https://example.com"'],
  ['https://example.com#top', 'path, query or fragment', '"https://example.com"'],
  ['https://user:pw@example.com', 'userinfo', '"https://example.com"'],
  ['https://example.com:443', 'default port', '"https://example.com"'],
  ['http://example.com:80', 'default port', '"http://example.com"'],
  ['https://example.com:0443', 'leading zeros', '"https://example.com"'],
  // Non-ASCII hosts beside URL delimiters: refused, never "corrected" by the URL parser's reading.
  ['https://ü:1:8080', 'not a valid internationalised domain name', 'punycode'],
  ['https://\\ü', 'not a valid internationalised domain name', 'punycode'],
  ['https://ü\\x', 'not a valid internationalised domain name', 'punycode'],
  // Port 0 (and its zero-padded forms) once sent the parser into endless re-suggestion.
  ['https://example.com:0', 'port 0', 'port from 1 to 65535'],
  ['https://example.com:00', 'port 0', 'port from 1 to 65535'],
  ['http://localhost:0', 'port 0', 'port from 1 to 65535'],
  ['http://[::1]:000', 'port 0', 'port from 1 to 65535'],
  ['https://example.com:99999', 'port', 'port'],
  ['https://example.com:', 'port', 'port'],
  ['https://example.com:8x', 'port', 'port'],
  ['https://Example.com', 'lowercase', '"https://example.com"'],
  ['https://*.Example.com', 'lowercase', '"https://*.example.com"'],
  ['https://bücher.de', 'punycode', '"https://xn--bcher-kva.de"'],
  ['http://[0:0:0:0:0:0:0:1]', 'compressed', '"http://[::1]"'],
  ['http://[::FFFF:1]', 'compressed', '"http://[::ffff:1]"'],
  ['http://[::1', 'unterminated', ']'],
  ['http://[zz::1]', 'not a valid IPv6', 'IPv6'],
  ['http://127.1', 'four plain decimal', '"http://127.0.0.1"'],
  ['http://0x7f.0.0.1', 'decimal', '"http://127.0.0.1"'],
  // a last label in hex is a number too (URL Standard, "ends in a number checker")
  ['http://0x7f000001:3000', 'four plain decimal', '"http://127.0.0.1:3000"'],
  ['https://app.0xff', 'ends in a number', 'last label is not a number'],
  ['https://*.example.0x1f', 'ends in a number', 'last label is not a number'],
  ['https://app.0x', 'ends in a number', 'last label is not a number'],
  ['https://*.com', 'top-level domain', '*.example.com'],
  ['https://*', 'only allowed as a leading', '*.example.com'],
  ['https://a.*.example.com', 'only allowed as a leading', '*.example.com'],
  ['https://*example.com', 'only allowed as a leading', '*.example.com'],
  ['https://*.*.example.com', 'only allowed as a leading', '*.example.com'],
  ['https://*.10.0.0.1', 'IP address', 'exact origin'],
  ['https://example.com.', 'a trailing dot names another origin than the host without it (one a browser sends only from a page loaded by the dotted name)', '"https://example.com"'],
  ['https://exa mple.com', 'not a valid host', 'host'],
  ['https://a..example.com', 'not a valid host', 'host'],
  // a host has at most 253 characters, and "*." adds at least two to its base
  [`https://${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, 'at most 253 characters', 'host'],
  [`https://*.${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}`, '251 after "*."', 'host'],
  [' https://example.com', 'whitespace', '"https://example.com"'],
  ['', 'empty', '"https://app.example.com", or remove the entry'],
  [' ', 'empty', '"https://app.example.com", or remove the entry'],
  [' HTTPS://Example.com', 'whitespace', '"https://example.com"'],
  // several origins in one entry (a header value or a shell list pasted in): each named, never a "port" fix
  ['https://a.example, https://b.example', 'several origins in one entry', 'list them separately: "https://a.example", "https://b.example"'],
  ['https://a.example,https://b.example:8443', 'several origins in one entry', '"https://a.example", "https://b.example:8443"'],
  ['https://a.example https://b.example', 'several origins in one entry', '"https://a.example", "https://b.example"'],
  ['https://*.a.example;capacitor://localhost', 'several origins in one entry', '"https://*.a.example", "capacitor://localhost"'],
  // a mistyped "://": the fix is the origin meant, not "https://" glued in front of the typo
  ['https:/example.com', 'expected scheme://host', '"https://example.com"'],
  ['https:example.com', 'expected scheme://host', '"https://example.com"'],
  ['http//localhost:3000', 'expected scheme://host', '"http://localhost:3000"'],
  ['HTTPS:/Example.com', 'expected scheme://host', '"https://example.com"'],
  ['//example.com', 'expected scheme://host', '"https://example.com"'],
  ['localhost:3000', 'expected scheme://host', '"https://localhost:3000"'],
  ['HTTPS://App.Example.com:443/', 'trailing slash', '"https://app.example.com"'],
  // schemes a browser never sends in Origin, each with its reason
  ['file://', 'Origin: null', 'localhost'],
  ['file:///home/me/index.html', 'Origin: null', 'localhost'],
  ['FILE://x', 'Origin: null', 'localhost'],
  ['data:text/html,hi', 'opaque origin', 'real origin'],
  ['javascript:alert(1)', 'no origin of its own', 'origin of that page'],
  ['blob:https://app.example.com/0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b', 'blob:', '"https://app.example.com"'],
  ['blob:nonsense', 'blob:', 'origin of the page'],
  ['about:blank', 'about:blank', 'origin of that page'],
  ['wss://app.example.com', 'WebSocket', '"https://app.example.com"'],
  ['ws://localhost:3000', 'WebSocket', '"http://localhost:3000"'],
  // app origins: strict scheme grammar (RFC 3986 §3.1), lowercase, exact only
  ['Capacitor://localhost', 'scheme in lowercase', '"capacitor://localhost"'],
  ['1app://localhost', 'RFC 3986', 'capacitor://localhost'],
  ['my_app://localhost', 'RFC 3986', 'capacitor://localhost'],
  ['-app://localhost', 'RFC 3986', 'capacitor://localhost'],
  ['capacitor://', 'empty', '"capacitor://localhost"'],
  ['capacitor://*.localhost', 'only be listed exactly', 'exactly'],
  ['capacitor://localhost:*', 'only be listed exactly', 'exactly'],
  ['capacitor://*', 'only be listed exactly', 'exactly'],
  ['capacitor://localhost/', 'trailing slash', '"capacitor://localhost"'],
  ['capacitor://localhost/app', 'path, query or fragment', '"capacitor://localhost"'],
  ['capacitor://localhost?x', 'path, query or fragment', '"capacitor://localhost"'],
  ['capacitor://localhost#x', 'path, query or fragment', '"capacitor://localhost"'],
  ['capacitor://user@localhost', 'userinfo', '"capacitor://localhost"'],
  ['capacitor://localhost:', 'port', 'capacitor://localhost'],
  ['capacitor://localhost:080', 'port', 'capacitor://localhost'],
  ['capacitor://localhost:70000', 'port', 'capacitor://localhost'],
  ['capacitor://local host', 'not a valid app host', 'capacitor://localhost'],
  ['capacitor://localhost.', 'not a valid app host', 'capacitor://localhost'],
  ['capacitor://a..b', 'not a valid app host', 'capacitor://localhost'],
  ['capacitor://[::1]', 'not a valid app host', 'capacitor://localhost'],
  ['capacitor://lökalhost', 'not a valid app host', 'capacitor://localhost'],
  ['chrome-extension://abcdefghijklmnopabcdefghijklmnoq', 'Chrome extension id', 'chrome://extensions'],
  ['chrome-extension://abcdefghijklmnop', 'Chrome extension id', 'chrome://extensions'],
  ['chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP', 'Chrome extension id', 'chrome://extensions'],
  ['chrome-extension://abcdefghijklmnopabcdefghijklmnop:1', 'Chrome extension id', 'chrome://extensions'],
  ['moz-extension://0F8E3B2A-1C4D-4E5F-8A9B-0C1D2E3F4A5B', 'lowercase UUID', 'about:debugging'],
  ['moz-extension://0f8e3b2a1c4d4e5f8a9b0c1d2e3f4a5b', 'lowercase UUID', 'about:debugging'],
];

for (const [source, reason, fix] of invalid) {
  test(`rejects ${JSON.stringify(source)}`, () => {
    const r = parseOriginPattern(source);
    assert.equal(r.ok, false, `${source} was accepted`);
    assert.match(r.problem.reason, new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'));
    assert.ok(r.problem.fix.includes(fix), `fix ${JSON.stringify(r.problem.fix)} lacks ${fix}`);
  });
}
