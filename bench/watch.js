// Watching the served tree: Node 20's recursive fs.watch next to xorigin's per-directory TreeWatcher, and the
// work spent on a file that keeps being written.
//
//   npm run build && node bench/watch.js [--files 1000,10000,100000] [--rounds 3] [--out DIR]
//   node bench/watch.js --part growing [--seconds 6] [--before DIST]
//   node bench/watch.js --part rescan [--files 100000] [--before DIST]
//
// Part "tree" (default): trees of N files, 100 per directory (made once under the temp directory, kept:
// xorigin-watch-N). For each contender, in a fresh process per measurement:
//   - start: ms from the call until every directory is watched (recursive fs.watch: until it returns);
//   - block: the longest the event loop was held while starting (a 1 ms interval probe);
//   - RSS: resident memory added once watching (MB, after a GC);
//   - write → fresh: an AssetTable using that watcher; one file rewritten, ms until the table serves its new
//     ETag (its `published` callback), and the paths the rescan stat'ed; median of 5 writes.
// Contenders: `node-recursive` (fs.watch(root, { recursive: true })), `tree-walk` (TreeWatcher walking the tree
// itself), `tree-fed` (TreeWatcher handed the directories of a walk already made, as the table does).
//
// Part "growing": a file appended with 512 KiB every 20 ms for --seconds s (some 150 MB over 6 s by default);
// counts the reads (hashing jobs) and bytes the table read for it while it grew, and the ms from the last write
// until the final bytes are served. --before DIST (a dist/ directory built from another commit) runs the same
// against that build, for a before/after figure.
//
// Part "rescan": what one changed file costs the main thread in a tree of N files (the tree of part "tree"). An
// AssetTable with the TreeWatcher; 7 files edited one after the other (each then reverted), 7 new files added and
// removed; for each change, the ms from the write until the table serves it, the ms spent in the table's publish
// (the one synchronous step that puts a scan in force: no request is answered meanwhile) and the longest the event
// loop was held from write to fresh (a 1 ms interval probe). Medians. --before DIST runs the same against another
// build, for a before/after figure.
//
// Results: a Markdown table on stdout and DIR/watch.json (DIR defaults to bench/partial/).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync, mkdtempSync, watch } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scriptArgs, wholeNumber, wholeNumbers } from './args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = dirname(HERE);
const { values: args } = scriptArgs({
  part: { type: 'string', default: 'tree' },
  files: { type: 'string', default: '1000,10000,100000' },
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '6' },
  before: { type: 'string' },
  out: { type: 'string', default: join(HERE, 'partial') },
  child: { type: 'string' },
  contender: { type: 'string' },
  dist: { type: 'string', default: join(PROJECT, 'dist') },
});
// Checked before anything is made: `--files 1.5` made a tree named for it, then threw.
wholeNumbers(args.files, '--files');
wholeNumber(args.rounds, '--rounds', 0);
wholeNumber(args.seconds, '--seconds');
const PER_DIR = 100;
const CONTENDERS = ['node-recursive', 'tree-walk', 'tree-fed'];
const etagOf = (bytes) => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The tree of `count` files, 100 per directory, in directories of up to 10 subdirectories (made once). */
function tree(count) {
  const root = join(os.tmpdir(), `xorigin-watch-${count}`);
  if (existsSync(join(root, '.complete'))) return root;
  rmSync(root, { recursive: true, force: true });
  for (let f = 0; f < count; f++) {
    const d = Math.floor(f / PER_DIR);
    const dir = join(root, `g${Math.floor(d / 10)}`, `d${d % 10}`);
    if (f % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${f}.woff2`), `font ${f}`);
  }
  writeFileSync(join(root, '.complete'), '');
  return root;
}

/** Every directory under root, relative to it ('' for root), as the table's walk hands them over. */
function dirsOf(root) {
  const out = execFileSync('find', [root, '-type', 'd', '-not', '-path', '*/.*'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return out.split('\n').filter(Boolean).map((d) => relative(root, d));
}

/** Tracks the longest gap between ticks of a 1 ms interval: how long the event loop was held. */
function blockProbe() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return () => {
    clearInterval(timer);
    return Math.max(longest, performance.now() - last);
  };
}

async function startWatching(contender, root, dirs, onChange) {
  const { TreeWatcher } = await import(pathToFileURL(join(args.dist, 'static/tree-watcher.js')).href);
  if (contender === 'node-recursive') return watch(root, { recursive: true }, onChange);
  const w = new TreeWatcher(root, onChange, { dirs: contender === 'tree-fed' ? dirs : undefined, ignore: (name) => name.startsWith('.') });
  await w.ready();
  return w;
}

/** Child: start one contender on one tree; print start ms, longest block, RSS added. */
async function childStart(count, contender) {
  const root = tree(count);
  const dirs = contender === 'tree-fed' ? dirsOf(root) : undefined;
  const { TreeWatcher } = await import(pathToFileURL(join(args.dist, 'static/tree-watcher.js')).href);
  void TreeWatcher; // loaded before the RSS baseline
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const stopProbe = blockProbe();
  await new Promise((r) => setTimeout(r, 5)); // the probe ticks once before the start
  const t0 = performance.now();
  const w = await startWatching(contender, root, dirs, () => {});
  const startMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  const blockMs = stopProbe();
  globalThis.gc?.();
  const rssMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  w.close();
  return { startMs, blockMs, rssMb };
}

/** Child: an AssetTable using one contender; median ms from a write to its new ETag served, and paths stat'ed. */
async function childFresh(count, contender) {
  const root = tree(count);
  const { AssetTable } = await import(pathToFileURL(join(args.dist, 'static/asset-table.js')).href);
  const { TreeWatcher } = await import(pathToFileURL(join(args.dist, 'static/tree-watcher.js')).href);
  let published = () => {};
  const watchTree = contender === 'node-recursive'
    ? (dir, onChange) => watch(dir, { recursive: true }, onChange)
    : (dir, onChange, dirs) => new TreeWatcher(dir, onChange, { dirs: contender === 'tree-fed' ? dirs : undefined, ignore: (name) => name.startsWith('.') });
  const table = new AssetTable(root, { watchTree, published: () => published() }, (info) => info);
  await table.open();
  const times = [];
  const stated = [];
  // Five files edited once each (an ordinary save), one after the other.
  for (let i = 0; i < 5; i++) {
    const f = 350 + i * 101;
    const file = join(root, 'g0', `d${Math.floor(f / PER_DIR)}`, `f${f}.woff2`);
    const urlPath = `/g0/d${Math.floor(f / PER_DIR)}/f${f}.woff2`;
    const bytes = `edit ${i} ${Date.now()}`;
    const fresh = new Promise((r) => (published = () => table.info(urlPath)?.etag === etagOf(bytes) && r()));
    const t0 = performance.now();
    writeFileSync(file, bytes);
    await fresh;
    times.push(performance.now() - t0);
    stated.push(table.lastScan.stated);
    writeFileSync(file, `font ${f}`);
    await new Promise((r) => setTimeout(r, 600)); // the revert is read too, and its backoff (see read-backoff.ts) over
  }
  table.close();
  return { freshMs: median(times), stated: median(stated) };
}

/**
 * Child: an AssetTable on the tree of `count` files; for each kind of change (a file edited, a new file, a file
 * removed), medians over 7 files of: write → fresh ms, ms in publish, longest block, paths stat'ed.
 */
async function childRescan(count) {
  const root = tree(count);
  const { AssetTable } = await import(pathToFileURL(join(args.dist, 'static/asset-table.js')).href);
  let published = () => {};
  const table = new AssetTable(root, { published: () => published() }, (info) => info);
  await table.open();
  const publish = table.publish;
  let publishMs = 0;
  table.publish = function (...rest) {
    const t0 = performance.now();
    try {
      return publish.apply(this, rest);
    } finally {
      publishMs += performance.now() - t0;
    }
  };
  /** Makes one change; resolves with its costs once `isFresh()` holds after a publish. */
  const measure = async (change, isFresh) => {
    const fresh = new Promise((r) => (published = () => isFresh() && r()));
    publishMs = 0;
    const stopProbe = blockProbe();
    await new Promise((r) => setTimeout(r, 5)); // the probe ticks once before the change
    const t0 = performance.now();
    change();
    await fresh;
    const freshMs = performance.now() - t0;
    const row = { freshMs, publishMs, blockMs: stopProbe(), stated: table.lastScan.stated };
    await new Promise((r) => setTimeout(r, 600)); // any backoff (see read-backoff.ts) over before the next change
    return row;
  };
  const rows = { edit: [], new: [], removed: [] };
  for (let i = 0; i < 7; i++) {
    const f = 250 + i * 113;
    const dir = `g${Math.floor(f / PER_DIR / 10)}/d${Math.floor(f / PER_DIR) % 10}`;
    const [file, urlPath] = [join(root, dir, `f${f}.woff2`), `/${dir}/f${f}.woff2`];
    const bytes = `edit ${i} ${Date.now()}`;
    rows.edit.push(await measure(() => writeFileSync(file, bytes), () => table.info(urlPath)?.etag === etagOf(bytes)));
    await measure(() => writeFileSync(file, `font ${f}`), () => table.info(urlPath)?.etag === etagOf(`font ${f}`));
    const [added, addedUrl] = [join(root, dir, `new${i}.woff2`), `/${dir}/new${i}.woff2`];
    rows.new.push(await measure(() => writeFileSync(added, bytes), () => table.info(addedUrl) !== undefined));
    rows.removed.push(await measure(() => rmSync(added), () => table.info(addedUrl) === undefined));
  }
  table.close();
  const med = (list, key) => median(list.map((r) => r[key]));
  return Object.entries(rows).map(([change, list]) => ({ change, files: table.size, freshMs: med(list, 'freshMs'), publishMs: med(list, 'publishMs'), blockMs: med(list, 'blockMs'), stated: med(list, 'stated') }));
}

/** Child: append to one file for `seconds`; reads and bytes the table spent on it, and ms from the last write to fresh. */
async function childGrowing(seconds) {
  const { AssetTable } = await import(pathToFileURL(join(args.dist, 'static/asset-table.js')).href);
  const root = mkdtempSync(join(os.tmpdir(), 'xorigin-growing-'));
  const file = join(root, 'growing.bin');
  writeFileSync(file, '');
  const table = new AssetTable(root, {}, (info) => info);
  await table.open();
  // The table's own counters (every read attempt of the one file, and the bytes read to hash it).
  const readsBefore = table.reads;
  const bytesBefore = table.bytesRead;
  const chunk = Buffer.alloc(512 * 1024, 7);
  const full = createHash('sha256');
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    appendFileSync(file, chunk);
    full.update(chunk);
    await new Promise((r) => setTimeout(r, 20));
  }
  const last = performance.now();
  const readsWhileGrowing = table.reads - readsBefore;
  const etag = `"${full.digest('base64url').slice(0, 27)}"`;
  while (table.info('/growing.bin')?.etag !== etag) await new Promise((r) => setTimeout(r, 5));
  const finalMs = performance.now() - last;
  const result = { seconds, sizeMb: table.info('/growing.bin').size / 1e6, reads: readsWhileGrowing, readsTotal: table.reads - readsBefore, gbRead: (table.bytesRead - bytesBefore) / 1e9, finalMs };
  table.close();
  rmSync(root, { recursive: true, force: true });
  return result;
}

function runChild(extra, dist = args.dist) {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--dist', dist, ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

function partTree() {
  const rows = [];
  for (const count of args.files.split(',').map(Number)) {
    tree(count);
    for (const contender of CONTENDERS) {
      const starts = [];
      for (let r = 0; r < Number(args.rounds); r++) starts.push(runChild(['--child', 'start', '--files', String(count), '--contender', contender]));
      const fresh = runChild(['--child', 'fresh', '--files', String(count), '--contender', contender]);
      const row = { files: count, dirs: dirsOf(tree(count)).length, contender, startMs: median(starts.map((s) => s.startMs)), blockMs: median(starts.map((s) => s.blockMs)), rssMb: median(starts.map((s) => s.rssMb)), ...fresh };
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  console.log('| files | dirs | watcher | start ms | longest block ms | RSS added MB | write → fresh ms | paths stat\'ed |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.files} | ${r.dirs} | ${r.contender} | ${r.startMs.toFixed(0)} | ${r.blockMs.toFixed(0)} | ${r.rssMb.toFixed(1)} | ${r.freshMs.toFixed(0)} | ${r.stated} |`);
  return rows;
}

function partRescan() {
  const builds = [['this build', args.dist], ...(args.before !== undefined ? [['before', resolve(args.before)]] : [])];
  const rows = [];
  for (const count of args.files.split(',').map(Number)) {
    tree(count);
    for (const [name, dist] of builds) for (const r of runChild(['--child', 'rescan', '--files', String(count)], dist)) rows.push({ build: name, ...r });
  }
  console.log('| build | files | change | write → fresh ms | publish ms | longest block ms | paths stat\'ed |');
  console.log('|---|---:|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.build} | ${r.files} | ${r.change} | ${r.freshMs.toFixed(1)} | ${r.publishMs.toFixed(2)} | ${r.blockMs.toFixed(1)} | ${r.stated} |`);
  return rows;
}

function partGrowing() {
  const builds = [['this build', args.dist], ...(args.before !== undefined ? [['before', resolve(args.before)]] : [])];
  const rows = builds.map(([name, dist]) => ({ build: name, ...runChild(['--child', 'growing', '--seconds', args.seconds], dist) }));
  console.log('| build | appended for s | final MB | reads while growing | GB read (total) | last write → final bytes served, ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.build} | ${r.seconds} | ${r.sizeMb.toFixed(0)} | ${r.reads} | ${r.gbRead.toFixed(2)} | ${r.finalMs.toFixed(0)} |`);
  return rows;
}

if (args.child !== undefined) {
  const count = Number(args.files);
  const result = args.child === 'start' ? await childStart(count, args.contender)
    : args.child === 'fresh' ? await childFresh(count, args.contender)
    : args.child === 'rescan' ? await childRescan(count)
    : await childGrowing(Number(args.seconds));
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  const rows = args.part === 'growing' ? partGrowing() : args.part === 'rescan' ? partRescan() : partTree();
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, `watch-${args.part}.json`), JSON.stringify(rows, null, 2));
}
