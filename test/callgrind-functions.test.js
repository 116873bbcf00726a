// bench/callgrind-functions.js: callgrind's per-function self counts, JIT addresses named from V8's
// perf map (what bench/instructions.js --functions prints).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { largestDifferences, selfCosts } from '../bench/callgrind-functions.js';

test('self counts per function: JIT code named by the perf map and summed across tiers, call costs left to the callee', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-callgrind-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const map = join(dir, 'perf.map');
  // route optimised at 0x1000 and baseline at 0x3000 (one function, two tiers); parseRange at 0x2000.
  writeFileSync(map, ['1000 40 JS:*route file:///x/handler.js:10:3', '2000 20 JS:~parseRange file:///x/range.js:5:1', '3000 10 JS:^route file:///x/handler.js:10:3', ''].join('\n'));
  const out = join(dir, 'callgrind.out');
  writeFileSync(out, [
    'version: 1', 'creator: callgrind', 'events: Ir', 'fl=(1) ???',
    'fn=(1) 0x0000000000001010',
    '0 100',
    'cfn=(2) Builtins_StringAdd',
    'calls=1 0',
    '0 500', // the call's inclusive cost: the callee's, not route's
    '+2 3',
    'fn=(2)',
    '0 50',
    'fn=(3) 0x0000000000002004',
    '0 9',
    'fn=(4) 0x0000000000003002',
    '0 11',
    'fn=(5) 0x0000000000009000', // no range holds it
    '0 4',
    'fn=(1)',
    '* 2',
    'totals: 679', '',
  ].join('\n'));
  const costs = selfCosts(out, map);
  assert.deepEqual(Object.fromEntries(costs), {
    'JS route file:///x/handler.js': 116,
    'Builtins_StringAdd': 50,
    'JS parseRange file:///x/range.js': 9,
    '(JIT, unnamed) 0x0000000000009000': 4,
  });
});

test('largest differences: xorigin\'s extra functions first, then what the ceiling spends more on', () => {
  const x = new Map([['route', 1200], ['writev', 700], ['LoadIC', 2800], ['bare handler', 0]]);
  const bare = new Map([['writev', 700], ['LoadIC', 2400], ['bare handler', 180]]);
  const { more, less } = largestDifferences(x, bare, 2);
  assert.deepEqual(more.map((r) => [r.key, r.diff]), [['route', 1200], ['LoadIC', 400]]);
  assert.deepEqual(less.map((r) => [r.key, r.diff]), [['bare handler', -180]]);
});
