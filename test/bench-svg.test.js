// The bench charts (bench/svg.js): startup.svg and memory.svg drawn from a tiny JSON are well-formed
// SVG (every tag closed, attributes quoted, & < > escaped), with one bar and one written value per
// figure and a ceiling mark per budget above 0; a figure that changes changes its bar and its value
// and nothing else. Also `--chart-from` of both scripts, which draws without measuring.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgetMib, esc, heading, memoryChart, scale, startupChart } from '../bench/svg.js';

const BENCH = join(dirname(dirname(fileURLToPath(import.meta.url))), 'bench');
const dir = mkdtempSync(join(tmpdir(), 'xorigin-bench-svg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Throws unless `svg` is one <svg> element whose tags nest and close, attributes quoted, text escaped. */
function assertWellFormed(svg) {
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+(\.\d+)?" height="\d+(\.\d+)?"[^>]*>\n/);
  assert.match(svg, /<\/svg>\n$/);
  const entity = '&(?:amp|lt|gt|quot|#39);';
  const attr = `\\s+[a-z][a-z0-9-]*="(?:[^"<>&]|${entity})*"`;
  const tag = new RegExp(`^<(/?)([a-z]+)((?:${attr})*)\\s*(/?)>$`);
  const textOk = new RegExp(`^(?:[^<>&]|${entity})*$`);
  const stack = [];
  for (const part of svg.split(/(<[^>]*>)/)) {
    if (!part.startsWith('<')) {
      assert.match(part, textOk, `unescaped text: ${JSON.stringify(part)}`);
      continue;
    }
    const m = tag.exec(part);
    assert.ok(m, `malformed tag: ${part}`);
    const [, closing, name, , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes another element`);
    else if (!selfClosing) stack.push(name);
  }
  assert.deepEqual(stack, [], 'every element is closed');
}

const bars = (svg) => [...svg.matchAll(/<rect x="[^"]*" y="([^"]*)" width="([^"]*)"[^>]*data-series="([^"]*)" data-value="([^"]*)"/g)].map((m) => ({ y: m[1], width: Number(m[2]), series: m[3], value: Number(m[4]) }));
const values = (svg) => [...svg.matchAll(/class="value">([^<]*)</g)].map((m) => m[1]);
const markers = (svg) => [...svg.matchAll(/<line x1="([^"]*)"[^>]*data-marker="([^"]*)"/g)].map((m) => ({ x: Number(m[1]), value: Number(m[2]) }));

const STARTUP = {
  date: '2026-12-07T12:00:00.000Z', node: 'v20.0.0', cores: 2, rounds: 3, command: 'node bench/startup.js --files 1000,10000 --label "<a> & b" --out /tmp/x',
  rows: [
    { files: 1000, mib: 37.4, coldMs: 1100, coldRssMb: 90.1, warmMs: 700, warmRssMb: 88.2, sirvMs: 230, sirvRssMb: 53.9, sha256sumAllCoresMbPerS: 150 },
    { files: 10000, mib: 364.3, coldMs: 6800, coldRssMb: 140.2, warmMs: 1900, warmRssMb: 120.5, sirvMs: 260, sirvRssMb: 55.1, sha256sumAllCoresMbPerS: 300 },
  ],
};

test('startup.svg: well-formed; per tree 4 bars of ms (sha256sum: MiB over its MiB/s) and 3 of RSS, each with its value', () => {
  const svg = startupChart(STARTUP);
  assertWellFormed(svg);
  const b = bars(svg);
  assert.equal(b.length, 2 * 4 + 2 * 3);
  assert.equal(values(svg).length, b.length);
  assert.deepEqual(b.filter((x) => x.series.startsWith('sha256sum')).map((x) => Math.round(x.value)), [Math.round((37.4 / 150) * 1000), Math.round((364.3 / 300) * 1000)]);
  assert.ok(values(svg).includes('6,800 ms') && values(svg).includes('140.2 MB'));
  assert.match(svg, /--files 1000,10000 --label &quot;&lt;a&gt; &amp; b&quot;</, 'the command is in the heading, escaped, without --out');
  assert.match(svg, /node v20\.0\.0, 2 cores, 2026-12-07, median of 3 rounds/);
  for (const label of ['1,000 files', '10,000 files', 'ms from spawn to ready (log scale)', 'RSS, MB', 'ETag cache cold', 'ETag cache warm', 'sirv', 'sha256sum']) assert.ok(svg.includes(label), label);
});

test('startup.svg: a figure that changes changes its bar and its written value, and no other bar', () => {
  const before = startupChart(STARTUP);
  const changed = structuredClone(STARTUP);
  changed.rows[1].warmMs = 3000;
  const after = startupChart(changed);
  assert.notEqual(after, before);
  const [b0, b1] = [bars(before), bars(after)];
  const diff = b0.map((x, i) => (x.width !== b1[i].width || x.value !== b1[i].value ? i : -1)).filter((i) => i >= 0);
  assert.equal(diff.length, 1);
  assert.equal(b1[diff[0]].value, 3000);
  assert.ok(b1[diff[0]].width > b0[diff[0]].width, 'a longer time draws a longer bar');
  assert.ok(values(after).includes('3,000 ms') && !values(before).includes('3,000 ms'));
});

test('startup.svg: a JSON without the figures is refused naming what is missing', () => {
  assert.throws(() => startupChart({ rows: [] }), /no "rows"/);
  assert.throws(() => startupChart({ rows: [{ files: 1000 }] }), /row 0 has no number "mib", "coldMs"/);
});

const row = (files, budget, peak, baselinePeak) => ({ files, treeMib: files * 0.037, touchedMib: 1, hotMib: 1, budget, readyRssMib: 60, peakRssMib: peak, endRssMib: peak, aboveBaselineMib: peak - baselinePeak, reqPerS: 1, mbPerS: 1 });
const MEMORY = {
  date: '2026-11-30T18:39:39.166Z', node: 'v20.0.0', duration: 10, rounds: 1,
  rows: [row(1000, '0', 115, 115), row(1000, '64MiB', 116, 115), row(1000, '256MiB', 129, 115), row(10000, '0', 177, 177), row(10000, '64MiB', 251, 177), row(10000, '256MiB', 363, 177)],
};

test('memory.svg: well-formed; a bar per tree and budget, a ceiling (budget + the baseline\'s peak) per budget above 0', () => {
  const svg = memoryChart(MEMORY);
  assertWellFormed(svg);
  assert.equal(bars(svg).length, 6);
  assert.equal(values(svg).length, 6);
  assert.deepEqual(markers(svg).map((m) => m.value), [115 + 64, 115 + 256, 177 + 64, 177 + 256]);
  // 251 > 177 + 64: over, written in red; the others held.
  assert.match(svg, /over 241\.0 by 10\.0/);
  assert.equal((svg.match(/, held</g) ?? []).length, 3);
  for (const label of ['budget 0 (baseline', 'budget 64 MiB', 'budget 256 MiB', 'RSS, MiB', '1,000 files', '10,000 files']) assert.ok(svg.includes(label), label);
});

test('memory.svg: a peak that changes moves its bar, and the held/over verdict with it', () => {
  const changed = structuredClone(MEMORY);
  const r = changed.rows[4];
  r.peakRssMib = 230;
  r.aboveBaselineMib = 230 - 177;
  const [before, after] = [memoryChart(MEMORY), memoryChart(changed)];
  assert.ok(bars(after)[4].width < bars(before)[4].width);
  assert.doesNotMatch(after, /over 241/);
  assert.equal((after.match(/, held</g) ?? []).length, 4);
  assert.deepEqual(markers(after), markers(before), 'the ceiling depends on the baseline, not on this bar');
});

test('budgets and scales', () => {
  assert.deepEqual(['0', '67108864', '512KiB', '64MiB', '1GiB', 'lots'].map(budgetMib), [0, 64, 0.5, 64, 1024, null]);
  const log = scale({ min: 230, max: 61000, from: 0, to: 300, log: true });
  assert.deepEqual([log.lo, log.hi], [100, 100000]);
  assert.equal(log.at(1000), 100);
  assert.deepEqual(scale({ min: 0, max: 564, from: 0, to: 100 }).ticks, [0, 200, 400, 600]);
  assert.equal(esc(`a<b & "c" 'd'>`), 'a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
});

test('the heading drops --out DIR from the command and wraps a long one at spaces', () => {
  const command = `node bench/startup.js --out /tmp/x ${'--files 1000,10000 '.repeat(12)}--out=/tmp/y --rounds 3`;
  const head = heading('T', command, 'details', 400);
  const lines = head.parts.filter((p) => p.includes('monospace')).map((p) => />(.*)</.exec(p)[1]);
  assert.ok(lines.length > 1);
  assert.ok(lines.every((l) => l.length <= Math.floor(380 / 6.6)), lines.join('\n'));
  assert.equal(lines.join(' '), command.replace(' --out /tmp/x', '').replace(' --out=/tmp/y', ''));
});

for (const [script, data, svgName] of [['startup.js', STARTUP, 'startup.svg'], ['memory.js', MEMORY, 'memory.svg']]) {
  test(`${script} --chart-from FILE.json --out DIR draws ${svgName} without measuring; a file that is no results JSON is refused`, () => {
    const from = join(dir, `${script}.json`);
    writeFileSync(from, JSON.stringify(data));
    const out = join(dir, `${script}-out`);
    const r = spawnSync(process.execPath, [join(BENCH, script), '--chart-from', from, '--out', out], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const svg = readFileSync(join(out, svgName), 'utf8');
    assert.equal(svg, script === 'startup.js' ? startupChart(data) : memoryChart(data));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"summary": []}');
    const refused = spawnSync(process.execPath, [join(BENCH, script), '--chart-from', bad], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`^bench/${script.replace('.', '\\.')}: --chart-from .*bad\\.json: .*no "rows"`, 'm'));
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('memory.js --chart-from with --part startup is refused: only the load part has a chart', () => {
  const r = spawnSync(process.execPath, [join(BENCH, 'memory.js'), '--part', 'startup', '--chart-from', join(dir, 'none.json')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^bench\/memory\.js: --chart-from draws the load part's memory\.json; --part startup has no chart$/m);
});

test('characters XML allows nowhere (controls, U+FFFE, lone surrogates) are drawn as U+FFFD, so the SVG still parses (review h56)', () => {
  assert.equal(esc('a\u0000b\u001bc\ufffe\ud800d\tok'), 'a\ufffdb\ufffdc\ufffd\ufffdd\tok');
  assert.equal(esc('\ud83d\ude00'), '\ud83d\ude00', 'a surrogate pair is one character, kept');
  const svg = startupChart({ ...STARTUP, command: 'node bench/startup.js --label \u0001\uffff', node: 'v20\u0000' });
  assertWellFormed(svg);
  assert.doesNotMatch(svg, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);
});

test('a figure no scale can draw (past 1e15, or under 1e-6 on a log scale) is refused in one line, not drawn for ever (review h56: 1.7e308 grew the heap until V8 gave up)', () => {
  // In a child first: without the check the scale never returns (and its heap grows), so only a child can fail.
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, JSON.stringify({ ...STARTUP, rows: [{ ...STARTUP.rows[0], coldMs: 1.7e308 }] }));
  const r = spawnSync(process.execPath, ['--max-old-space-size=128', join(BENCH, 'startup.js'), '--chart-from', huge, '--out', dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^bench\/startup\.js: --chart-from .*huge\.json: cannot draw figures from .* to 1\.7e\+308/m);
  assert.throws(() => scale({ min: 1, max: 1.7e308, from: 0, to: 100, log: true }), RangeError);
  assert.throws(() => scale({ min: 5e-324, max: 100, from: 0, to: 100, log: true }), RangeError);
  assert.throws(() => scale({ min: 0, max: 1.7e308, from: 0, to: 100 }), RangeError);
});
