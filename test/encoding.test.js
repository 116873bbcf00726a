// Accept-Encoding negotiation (RFC 9110 §12.5.3) against the siblings a file has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENCODING_BR, ENCODING_GZIP, ENCODING_IDENTITY, ENCODING_ZSTD, negotiateEncoding } from '../dist/http/encoding.js';

const ALL = (1 << ENCODING_BR) | (1 << ENCODING_ZSTD) | (1 << ENCODING_GZIP);
const GZ = 1 << ENCODING_GZIP;
const BR_GZ = (1 << ENCODING_BR) | (1 << ENCODING_GZIP);
const names = { [ENCODING_IDENTITY]: 'identity', [ENCODING_BR]: 'br', [ENCODING_ZSTD]: 'zstd', [ENCODING_GZIP]: 'gzip' };

const cases = [
  // header, available, expected
  [undefined, ALL, 'identity'], // no header: old clients may not decode
  ['', ALL, 'identity'],
  ['gzip, deflate, br, zstd', ALL, 'br'], // Chromium's header: ties go to br
  ['gzip, deflate, br, zstd', GZ, 'gzip'],
  ['gzip, deflate', BR_GZ, 'gzip'],
  ['br;q=0.5, gzip;q=0.8', BR_GZ, 'gzip'], // higher q wins over our preference
  ['br;q=0, gzip', BR_GZ, 'gzip'], // q=0 excludes
  ['br;q=0, gzip;q=0', BR_GZ, 'identity'],
  ['BR, GZIP', BR_GZ, 'br'], // codings are case-insensitive
  ['x-gzip', GZ, 'gzip'],
  ['*', BR_GZ, 'br'],
  ['*;q=0', BR_GZ, 'identity'],
  ['*;q=0, gzip', BR_GZ, 'gzip'], // a specific entry beats *
  ['gzip;q=0, *', BR_GZ, 'br'],
  ['identity', BR_GZ, 'identity'],
  ['identity;q=1, gzip;q=0.5', GZ, 'identity'], // identity listed higher
  ['identity;q=0.1, gzip;q=0.5', GZ, 'gzip'],
  ['gzip;q=0.001', GZ, 'gzip'],
  ['gzip ; q=0.5', GZ, 'gzip'], // OWS around ';'
  ['gzip;Q=0.5', GZ, 'gzip'],
  ['gzip;q=1.000', GZ, 'gzip'],
  ['gzip;q=2', GZ, 'identity'], // malformed q: element ignored
  ['gzip;q=0.5000', GZ, 'identity'],
  ['gzip;q=1.5', GZ, 'identity'],
  ['gzip;q=abc', GZ, 'identity'],
  ['gzip;level=9;q=0.3', GZ, 'gzip'], // other parameters skipped
  ['gzipx, xgzip, gzi', GZ, 'identity'], // no prefix or suffix matches
  ['br', GZ, 'identity'], // asked for a coding the file lacks
  ['zstd, br;q=0.9', ALL, 'zstd'],
  [',,, gzip ,,', GZ, 'gzip'],
];

for (const [header, available, expected] of cases) {
  test(`Accept-Encoding ${JSON.stringify(header)} with ${available.toString(2)} -> ${expected}`, () => {
    assert.equal(names[negotiateEncoding(header, available)], expected);
  });
}

test('no siblings: always identity, whatever the header says', () => {
  assert.equal(negotiateEncoding('br, gzip', 0), ENCODING_IDENTITY);
});

// Edge cases of the scan itself: case folding touches A-Z only, OWS is SP/HTAB, nothing past the end.
const edges = [
  ['x\rgzip', GZ, 'identity'], // "\r" | 0x20 is "-": must not read as x-gzip
  ['X-GZIP', GZ, 'gzip'],
  ['gzip;q=0.5;q=0', GZ, 'identity'], // the last q parameter counts
  ['gzip;q=', GZ, 'identity'], // empty q-value is malformed
  ['gzip;q', GZ, 'gzip'], // a parameter without "=" is skipped
  ['gzip;q=0.', GZ, 'identity'], // "0." is allowed by the grammar: q=0
  ['gzip;q=1.', GZ, 'gzip'],
  ['gzip\t;\tq=0.5', GZ, 'gzip'],
  ['gzip;q=0.5 , br;q=0.6', BR_GZ, 'br'],
  ['\u0130dentity, gzip', GZ, 'gzip'], // non-ASCII never folds to an ASCII coding name
  ['identity;q=0', GZ, 'identity'], // no acceptable sibling either: identity is the fallback
  ['gzip;qq=0', GZ, 'gzip'], // only a parameter named exactly q is the weight
  ['br;q=0, *', BR_GZ, 'gzip'], // an explicit q=0 is not overridden by *
  ['gzip ;q=0', GZ, 'identity'], // OWS before the parameters: still read
  ['gzip\t;q=0, br', BR_GZ, 'br'],
];
for (const [header, available, expected] of edges) {
  test(`Accept-Encoding edge ${JSON.stringify(header)} -> ${expected}`, () => {
    assert.equal(names[negotiateEncoding(header, available)], expected);
  });
}
