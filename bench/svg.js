// Hand-written SVG for the bench charts, no dependency: escaping, text/rect/line elements, scales with
// ticks (linear or log), a legend, and panels of horizontal grouped bars. bench/lib.js (chart.svg),
// bench/startup.js (startup.svg) and bench/memory.js (memory.svg) draw with it; the last two's charts
// are the functions at the end, so they can be drawn again from a JSON file (--chart-from) and tested.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { refuse } from './args.js';

/**
 * `value` with the five XML specials escaped, for text content and attribute values, and the
 * characters XML 1.0 allows nowhere, not even as references (controls other than tab, newline and
 * return; lone surrogates; U+FFFE, U+FFFF), written as U+FFFD: a JSON string holding one made an
 * SVG no parser reads (review h56).
 */
export const esc = (value) => String(value).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** ` name="value"` for each entry whose value is not undefined, in order. */
const attrs = (extra) => Object.entries(extra).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');

export const text = (x, y, content, extra = {}) => `<text x="${x}" y="${y}"${attrs(extra)}>${esc(content)}</text>`;
export const rect = (x, y, width, height, fill, extra = {}) => `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="${esc(fill)}"${attrs(extra)}/>`;
export const line = (x1, y1, x2, y2, extra = {}) => `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"${attrs(extra)}/>`;

/** The document around `parts`: a white background, the charts' font. */
export function svgDocument(width, height, parts) {
  return `${[`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`, `<rect width="100%" height="100%" fill="#fff"/>`, ...parts, '</svg>'].join('\n')}\n`;
}

/** A coordinate rounded to 0.1 px. */
const px = (n) => Math.round(n * 10) / 10;

/** 12,345 / 1,234.5 / 0.42: a value as written beside a bar. */
export const figure = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The largest figure a scale takes, and the least on a log scale (ms, MiB: a bench's are far inside). */
const MAX_FIGURE = 1e15;
const MIN_LOG = 1e-6;

/**
 * Maps [min, max] onto [from, to] px, linearly or on a log scale, and gives the ticks to draw:
 * 1-2-5 steps on a linear scale, powers of ten (and 2× and 5× them while there are few) on a log one.
 */
export function scale({ min, max, from, to, log = false }) {
  // Past these the bounds overflow to Infinity (or a log's low one to 0) and the tick loops never end:
  // a JSON with 1.7e308 in it grew the heap until V8 gave up (review h56).
  if (!(Number.isFinite(min) && Number.isFinite(max) && Math.abs(min) <= MAX_FIGURE && Math.abs(max) <= MAX_FIGURE) || (log && !(min >= MIN_LOG && max >= min))) {
    throw new RangeError(`cannot draw figures from ${min} to ${max}: each must be a finite number up to ${MAX_FIGURE}${log ? `, and at least ${MIN_LOG} on a log scale` : ''}`);
  }
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(min));
    const hi = 10 ** Math.ceil(Math.log10(max));
    const at = (v) => from + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (to - from);
    const decades = Math.round(Math.log10(hi / lo));
    const ticks = [];
    for (let p = lo; p <= hi * 1.0001; p *= 10) for (const m of decades <= 3 ? [1, 2, 5] : [1]) if (p * m <= hi * 1.0001) ticks.push(p * m);
    return { at, ticks, lo, hi };
  }
  const span = max - min || 1;
  const raw = span / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 1e6; v += step) ticks.push(Math.round(v / step) * step);
  const at = (v) => from + ((v - lo) / (hi - lo || 1)) * (to - from);
  return { at, ticks, lo, hi };
}

/**
 * Legend entries in rows from (x, y), a new row past `maxWidth`: a swatch (bar colour, or a tick for a
 * marker) and its label. Returns { parts, bottom } (the last row's baseline).
 */
export function legend(x, y, items, { charWidth = 6, maxWidth = Infinity } = {}) {
  const out = [];
  let at = x;
  for (const item of items) {
    const w = 16 + item.label.length * charWidth;
    if (at > x && at + w > x + maxWidth) {
      at = x;
      y += 16;
    }
    if (item.marker) out.push(line(at, y - 9, at + 12, y - 9, { stroke: item.color, 'stroke-width': 2, 'stroke-dasharray': '3,2' }), line(at + 6, y - 14, at + 6, y - 4, { stroke: item.color, 'stroke-width': 2 }));
    else out.push(rect(at, y - 13, 12, 9, item.color));
    out.push(text(at + 16, y - 4, item.label));
    at += w + 18;
  }
  return { parts: out, bottom: y };
}

/**
 * One panel of horizontal grouped bars in the box (x, y, width): per group (a row label, two lines at
 * most), one bar per series with its value written after it; the value axis below with ticks and
 * `axisLabel`, `title` above. `series[i].values[g]` is a number or null (drawn as "no figure").
 * `markers[g][i]`, when given, is a value drawn as a dashed tick across that bar (a ceiling), and
 * `note(g, i)` may add text after the bar's value ({ text, color }). Returns { parts, height }.
 */
export function barPanel({ x, y, width, title, axisLabel, groups, series, log = false, digits = () => 0, unit = '', markers = [], note = () => null, labelWidth = 92, valueRoom = 60, barH = 13 }) {
  const parts = [text(x, y + 12, title, { 'font-size': 12, 'font-weight': 'bold' })];
  const plotX = x + labelWidth;
  const plotW = width - labelWidth - valueRoom;
  const values = series.flatMap((s) => s.values).concat(markers.flat()).filter((v) => typeof v === 'number' && Number.isFinite(v) && (!log || v > 0));
  if (values.length === 0) values.push(log ? 1 : 0);
  const s = scale({ min: log ? Math.min(...values) : 0, max: Math.max(...values, log ? 10 : 1), from: plotX, to: plotX + plotW, log });
  const groupH = series.length * barH + 14;
  const top = y + 24;
  const bottom = top + groups.length * groupH;
  // A log axis labels its 2× and 5× ticks only when a decade is wide enough for three labels.
  const decadeW = log ? plotW / Math.log10(s.hi / s.lo) : Infinity;
  for (const t of s.ticks) {
    const tx = px(s.at(t));
    const major = !log || decadeW >= 120 || Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
    parts.push(line(tx, top - 4, tx, bottom, { stroke: major ? '#dee2e6' : '#f1f3f5' }));
    if (major) parts.push(text(tx, bottom + 13, figure(t, t > 0 && t < 1 ? 1 : 0), { 'text-anchor': 'middle', fill: '#495057', 'font-size': 10 }));
  }
  parts.push(line(plotX, bottom, plotX + plotW, bottom, { stroke: '#495057' }), line(plotX, top - 4, plotX, bottom, { stroke: '#495057' }));
  parts.push(text(px(plotX + plotW / 2), bottom + 28, `${axisLabel}${log ? ' (log scale)' : ''}`, { 'text-anchor': 'middle', fill: '#212529' }));
  groups.forEach((group, g) => {
    const gy = top + g * groupH + 7;
    const labelLines = Array.isArray(group) ? group : [group];
    const mid = gy + (series.length * barH) / 2;
    labelLines.forEach((l, k) => parts.push(text(plotX - 8, px(mid + 4 + (k - (labelLines.length - 1) / 2) * 13), l, { 'text-anchor': 'end', 'font-weight': k === 0 ? 'bold' : undefined, fill: k === 0 ? undefined : '#495057' })));
    series.forEach((ser, i) => {
      const by = gy + i * barH;
      const v = ser.values[g];
      if (typeof v !== 'number' || !Number.isFinite(v) || (log && v <= 0)) {
        parts.push(text(plotX + 4, by + barH - 3, 'no figure', { fill: '#c92a2a', 'font-size': 10 }));
        return;
      }
      const w = Math.max(1, s.at(v) - plotX);
      parts.push(rect(plotX, by + 1, px(w), barH - 2, ser.color, { 'data-series': ser.label, 'data-value': v }));
      const m = markers[g]?.[i];
      let end = plotX + w;
      if (typeof m === 'number' && Number.isFinite(m)) {
        const mx = px(s.at(m));
        if (mx > plotX + w) parts.push(line(px(plotX + w), by + barH / 2, mx, by + barH / 2, { stroke: ser.color, 'stroke-dasharray': '1,2' }));
        parts.push(line(mx, by - 1, mx, by + barH + 1, { stroke: '#212529', 'stroke-width': 2, 'data-marker': m }));
        end = Math.max(end, mx);
      }
      const extra = note(g, i);
      const label = `${figure(v, digits(i, g))}${unit}`;
      parts.push(text(px(end + 4), by + barH - 3, label, { 'font-size': 10, class: 'value' }));
      if (extra) parts.push(text(px(end + 8 + label.length * 5.6), by + barH - 3, extra.text, { 'font-size': 10, fill: extra.color ?? '#495057' }));
    });
  });
  return { parts, height: bottom + 34 - y };
}

/**
 * A chart's heading: `title` in bold, then the command that measured (without --out, which says
 * nothing of the figures; wrapped at spaces to the width) and `details`. Returns { parts, bottom }.
 */
export function heading(title, command, details, width) {
  const parts = [text(10, 18, title, { 'font-size': 13, 'font-weight': 'bold' })];
  const words = String(command).replace(/\s--out(?:=|\s+)\S+/g, '').split(' ');
  const perLine = Math.floor((width - 20) / 6.6);
  const lines = [''];
  for (const w of words) {
    if (lines.at(-1) !== '' && lines.at(-1).length + 1 + w.length > perLine) lines.push('');
    lines[lines.length - 1] += `${lines.at(-1) === '' ? '' : ' '}${w}`;
  }
  let y = 18;
  for (const l of lines) parts.push(text(10, (y += 16), l, { 'font-family': 'ui-monospace, monospace', 'font-size': 11 }));
  parts.push(text(10, (y += 16), details, { fill: '#495057' }));
  return { parts, bottom: y + 10 };
}

const SERIES_COLORS = { cold: '#d9480f', warm: '#f08c00', sirv: '#1971c2', sha: '#868e96' };
const files = (n) => `${figure(n)} files`;
const size = (mib) => (mib >= 1024 ? `${figure(mib / 1024, 1)} GiB` : `${figure(mib)} MiB`);

/** The JSON's rows, or an error naming what a chart needs and is missing. */
function rowsOf(data, keys, what) {
  if (data === null || typeof data !== 'object' || !Array.isArray(data.rows) || data.rows.length === 0) throw new Error(`${what}: no "rows" (an array of results) in it`);
  for (const [i, r] of data.rows.entries()) {
    const missing = keys.filter((k) => typeof r?.[k] !== 'number');
    if (missing.length > 0) throw new Error(`${what}: row ${i} has no number ${missing.map((k) => `"${k}"`).join(', ')}`);
  }
  return data.rows;
}

export const STARTUP_KEYS = ['files', 'mib', 'coldMs', 'coldRssMb', 'warmMs', 'warmRssMb', 'sirvMs', 'sirvRssMb', 'sha256sumAllCoresMbPerS'];

/**
 * bench/startup.js's startup.json as two panels: ms until ready per tree (log scale) for xorigin cold,
 * warm, sirv and sha256sum on all cores over the same bytes (the tree's MiB over its MiB/s: a floor
 * for hashing), and RSS at ready for the three servers.
 */
export function startupChart(data) {
  const rows = rowsOf(data, STARTUP_KEYS, 'startup.json');
  const width = 900;
  const half = (width - 30) / 2;
  const groups = rows.map((r) => [files(r.files), size(r.mib)]);
  const cores = data.cores ? `, ${data.cores} cores` : '';
  const head = heading('Start-up of xorigin serve: ms until it answers and RSS then, per tree', data.command ?? 'node bench/startup.js',
    `node ${data.node ?? '?'}${cores}, ${String(data.date ?? '?').slice(0, 10)}, median of ${data.rounds ?? '?'} round${data.rounds === 1 ? '' : 's'}; files in the page cache (cold = ETag cache cold, not the disk)`, width);
  const shaMs = rows.map((r) => (r.sha256sumAllCoresMbPerS > 0 ? (r.mib / r.sha256sumAllCoresMbPerS) * 1000 : null));
  const time = barPanel({
    x: 10, y: head.bottom, width: half, title: '(a) until ready', axisLabel: 'ms from spawn to ready', log: true, unit: ' ms', groups,
    series: [
      { label: 'xorigin, ETag cache cold', color: SERIES_COLORS.cold, values: rows.map((r) => r.coldMs) },
      { label: 'xorigin, ETag cache warm', color: SERIES_COLORS.warm, values: rows.map((r) => r.warmMs) },
      { label: 'sirv', color: SERIES_COLORS.sirv, values: rows.map((r) => r.sirvMs) },
      { label: `sha256sum, all cores`, color: SERIES_COLORS.sha, values: shaMs },
    ],
  });
  const rss = barPanel({
    x: 20 + half, y: head.bottom, width: half, title: '(b) resident memory at ready', axisLabel: 'RSS, MB', unit: ' MB', groups, digits: () => 1,
    series: [
      { label: 'xorigin, ETag cache cold', color: SERIES_COLORS.cold, values: rows.map((r) => r.coldRssMb) },
      { label: 'xorigin, ETag cache warm', color: SERIES_COLORS.warm, values: rows.map((r) => r.warmRssMb) },
      { label: 'sirv', color: SERIES_COLORS.sirv, values: rows.map((r) => r.sirvRssMb) },
    ],
  });
  const bottom = head.bottom + Math.max(time.height, rss.height);
  const key = legend(10, bottom + 14, [
    { label: 'xorigin serve, ETag cache cold', color: SERIES_COLORS.cold },
    { label: 'xorigin serve, ETag cache warm', color: SERIES_COLORS.warm },
    { label: 'sirv (reads no contents)', color: SERIES_COLORS.sirv },
    { label: 'sha256sum over the same bytes, all cores (a floor for hashing)', color: SERIES_COLORS.sha },
  ], { maxWidth: width - 20 });
  const parts = [
    ...head.parts,
    ...time.parts,
    ...rss.parts,
    ...key.parts,
  ];
  return svgDocument(width, key.bottom + 10, parts);
}

/** A --memory-budget value ("0", "67108864", "64MiB", "512KiB", "1GiB") in MiB, or null. */
export function budgetMib(budget) {
  const m = /^(\d+(?:\.\d+)?)(KiB|MiB|GiB)?$/.exec(String(budget).trim());
  if (m === null) return null;
  return m[2] === undefined ? Number(m[1]) / 2 ** 20 : Number(m[1]) * { KiB: 1 / 1024, MiB: 1, GiB: 1024 }[m[2]];
}

export const MEMORY_KEYS = ['files', 'treeMib', 'peakRssMib', 'aboveBaselineMib'];

/**
 * bench/memory.js's memory.json (the load part) as one panel: RSS peak under load per tree and budget,
 * and for each budget above the first its ceiling as memory.js's table defines it: the budget + the
 * first budget's (the baseline's) peak, i.e. peak − baseline peak ≤ budget; over it is written in red.
 */
export function memoryChart(data) {
  const all = rowsOf(data, MEMORY_KEYS, 'memory.json');
  const budgets = [...new Set(all.map((r) => String(r.budget)))];
  const counts = [...new Set(all.map((r) => r.files))];
  const at = (files, budget) => all.find((r) => r.files === files && String(r.budget) === budget);
  const palette = ['#868e96', '#d9480f', '#1971c2', '#2f9e44', '#ae3ec9'];
  const label = (b) => (budgetMib(b) === 0 ? 'budget 0 (baseline: every body from disk)' : `budget ${b.replace(/(\d)([KMG]iB)/, '$1 $2')}`);
  // The table's own figures: its baseline is the first budget's peak, peakRssMib − aboveBaselineMib.
  const ceiling = (r) => (r === undefined || budgetMib(r.budget) === null || budgetMib(r.budget) === 0 ? null : r.peakRssMib - r.aboveBaselineMib + budgetMib(r.budget));
  const series = budgets.map((b, i) => ({ label: label(b), color: palette[i % palette.length], values: counts.map((n) => at(n, b)?.peakRssMib ?? null) }));
  const markers = counts.map((n) => budgets.map((b) => ceiling(at(n, b))));
  const width = 900;
  const head = heading('Memory of xorigin serve under load, per tree and --memory-budget', data.command ?? 'node bench/memory.js',
    `node ${data.node ?? '?'}, ${String(data.date ?? '?').slice(0, 10)}, ${data.rounds ?? '?'} round${data.rounds === 1 ? '' : 's'} of ${data.duration ?? '?'} s under wrk (Zipf requests); RSS sampled every 250 ms, median over rounds`, width);
  const panel = barPanel({
    x: 10, y: head.bottom, width, title: 'RSS peak under load (bars); the budget + the baseline\'s peak, what must hold (black ticks)', axisLabel: 'RSS, MiB', unit: ' MiB',
    groups: counts.map((n) => [files(n), `${size(all.find((r) => r.files === n).treeMib)} tree`]),
    series, markers, digits: () => 1, valueRoom: 230, labelWidth: 100,
    note: (g, i) => {
      const r = at(counts[g], budgets[i]);
      const c = ceiling(r);
      if (c === null) return r && i === 0 ? { text: 'baseline' } : null;
      const over = r.peakRssMib - c;
      return over > 0 ? { text: `over ${figure(c, 1)} by ${figure(over, 1)}`, color: '#c92a2a' } : { text: `≤ ${figure(c, 1)}, held`, color: '#2b8a3e' };
    },
  });
  const bottom = head.bottom + panel.height;
  const key = legend(10, bottom + 14, [...series.map((s) => ({ label: s.label, color: s.color })), { label: 'budget + baseline peak', color: '#212529', marker: true }], { maxWidth: width - 20 });
  const parts = [
    ...head.parts,
    ...panel.parts,
    ...key.parts,
  ];
  return svgDocument(width, key.bottom + 10, parts);
}

/**
 * `--chart-from FILE.json [--out DIR]`: draws `name` (an .svg) from a results JSON with `draw`, without
 * measuring, into DIR (beside the JSON by default), then ends the process. A file that cannot be read or
 * drawn is refused in one line (exit 2).
 */
export function redrawFrom(file, outDir, name, draw) {
  const from = resolve(file);
  let svg;
  try {
    svg = draw(JSON.parse(readFileSync(from, 'utf8')));
  } catch (e) {
    refuse(`--chart-from ${file}: ${e.message}`);
  }
  const dir = outDir ?? dirname(from);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), svg);
  console.error(`wrote ${join(dir, name)}`);
  process.exit(0);
}
