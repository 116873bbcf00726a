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
