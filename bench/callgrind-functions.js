// Where a server's instructions go, function by function: callgrind's per-function "self" counts of
// the main thread, with the addresses of V8's compiled JavaScript named from the symbol map that
// `node --perf-basic-prof` writes to /tmp/perf-<pid>.map (callgrind sees JIT code as bare
// addresses). Used by bench/instructions.js --functions.

import { readFileSync } from 'node:fs';

/**
 * The perf map's code ranges, sorted by start: [{ start, end, name }]. A function compiled again (a
 * new tier, or after a deoptimisation) has several ranges under one name, and they are summed.
 */
function readPerfMap(file) {
  const ranges = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first === -1 || second === -1) continue;
    const start = parseInt(line.slice(0, first), 16);
    ranges.push({ start, end: start + parseInt(line.slice(first + 1, second), 16), name: line.slice(second + 1) });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** The name of the JIT code holding `address`, or null (binary search over the sorted ranges). */
function jitName(ranges, address) {
  let lo = 0;
  let hi = ranges.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found !== -1 && address < ranges[found].end ? ranges[found].name : null;
}

/**
 * A readable key for a function: JIT code by its map name with the tier marker (`*` optimised, `^`
 * baseline, `~` interpreted) and the line:column dropped, so one function's code across tiers is one
 * row; native code by callgrind's name.
 */
function keyOf(name, ranges) {
  const hex = /^0x([0-9a-f]+)/.exec(name);
  if (hex === null) return name;
  const jit = jitName(ranges, parseInt(hex[1], 16));
  if (jit === null) return `(JIT, unnamed) ${name}`;
  return jit.replace(/^JS:[*^~]?/, 'JS ').replace(/:\d+:\d+$/, '');
}

/**
 * Self instructions per function in one callgrind output file (the format of valgrind's
 * callgrind_format docs: `fn=(id) name` opens a function, numbers lines carry costs, and the line
 * after `calls=` is the cost of a call, which belongs to the callee's inclusive cost, not here).
 * Returns a Map of key -> instructions.
 */
export function selfCosts(callgrindFile, perfMapFile) {
  const ranges = readPerfMap(perfMapFile);
  const names = new Map();
  const raw = new Map();
  let current = '';
  let callLine = false;
  for (const line of readFileSync(callgrindFile, 'utf8').split('\n')) {
    const c = line.charCodeAt(0);
    if (line.startsWith('fn=') || line.startsWith('cfn=')) {
      const m = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m === null) continue;
      if (m[2] !== undefined) names.set(m[1], m[2]);
      if (line[0] === 'f') current = names.get(m[1]) ?? m[1];
    } else if (line.startsWith('calls=')) {
      callLine = true;
    } else if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      // "<position> <cost>": a digit, or + - * for positions relative to the last.
      if (callLine) callLine = false;
      else {
        const cost = Number(line.split(' ')[1] ?? 0);
        raw.set(current, (raw.get(current) ?? 0) + cost);
      }
    }
  }
  const costs = new Map();
  for (const [name, n] of raw) {
    const key = keyOf(name, ranges);
    costs.set(key, (costs.get(key) ?? 0) + n);
  }
  return costs;
}

/**
 * Rows for the functions whose self count differs most between `x` and the ceiling `bare` (Maps of
 * per-request instructions): the `top` costing xorigin more, and the `top` costing it less.
 */
export function largestDifferences(x, bare, top) {
  const keys = new Set([...x.keys(), ...bare.keys()]);
  const rows = [...keys].map((key) => ({ key, x: x.get(key) ?? 0, bare: bare.get(key) ?? 0 }));
  for (const r of rows) r.diff = r.x - r.bare;
  rows.sort((a, b) => b.diff - a.diff);
  return { more: rows.slice(0, top), less: rows.slice(-top).reverse().filter((r) => r.diff < 0) };
}
