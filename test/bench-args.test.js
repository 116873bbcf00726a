// The benchmarks' --scenarios and --contenders: a list that names nothing the benchmark has, or no id
// at all, ends the run before anything is measured (exit 2, with the known ids), and the fixture made
// for the run is removed; so does a count (--rounds, --duration...) that is no whole number. Nothing here loads a server: a run these options do not stop would start
// with --rounds 0 (run.js, run-h2.js) or without valgrind on the PATH (instructions.js).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = join(dirname(dirname(fileURLToPath(import.meta.url))), 'bench');
const base = mkdtempSync(join(tmpdir(), 'xorigin-bench-args-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Runs a bench script with its own TMPDIR and --out, so what it leaves behind can be seen. */
function bench(script, args, env = {}) {
  const dir = mkdtempSync(join(base, 'run-'));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const out = join(dir, 'out');
  const extra = script === 'instructions.js' ? [] : ['--rounds', '0', '--out', out, '--no-wrk'];
  const r = spawnSync(process.execPath, [join(BENCH, script), ...args, ...extra], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: tmp, ...env },
  });
  return { status: r.status, stderr: r.stderr, left: readdirSync(tmp) };
}

const SCRIPTS = [
  ['run.js', {}],
  ['run-h2.js', {}],
  // An empty directory as the PATH (the script starts node by its own path): no valgrind or h2load,
  // so a run the ids do not stop stops at the tool check, before any load.
  ['instructions.js', { PATH: mkdtempSync(join(base, 'empty-path-')) }],
];

for (const [script, env] of SCRIPTS) {
  test(`${script}: an id the benchmark does not have is refused with the known ids`, () => {
    const r = bench(script, ['--scenarios', 'preflight,get-30kb'], env);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--scenarios: no get-30kb .*known: preflight, .*get-30k\b/);
    assert.deepEqual(r.left, [], 'the fixture is removed');
  });

  for (const args of [['--scenarios', ','], ['--scenarios='], ['--contenders', ',']]) {
    test(`${script} ${args.join(' ')}: a list with no id is refused, not run as an empty benchmark`, () => {
      const r = bench(script, args, env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--(scenarios|contenders): "[,]?" names no id; .*known: /);
      assert.deepEqual(r.left, [], 'the fixture is removed');
    });
  }
}

// A count that is no whole number (NaN from `abc`, 0 from an empty value) is refused before anything
// starts. (run.js and run-h2.js get --rounds 0 from bench(), which wins over an earlier --rounds.)
for (const [script, env] of SCRIPTS) {
  const cases = script === 'instructions.js' ? [['--rounds', 'abc']] : [['--duration', '0'], ['--warmup', '1.5'], ['--connections', 'abc'], ['--duration=']];
  for (const args of cases) {
    test(`${script} ${args.join(' ')}: refused, naming the option`, () => {
      const r = bench(script, args, env);
      assert.equal(r.status, 2, r.stderr);
      const option = args[0].replace(/=$/, '');
      assert.match(r.stderr, new RegExp(`^(bench/${script.replace('.', '\\.')}: )?${option}: ".*" is not a whole number of at least \\d`, 'm'));
      assert.deepEqual(r.left, [], 'no fixture made');
    });
  }
}

for (const value of ['0', 'abc', '']) {
  test(`instructions.js --functions ${JSON.stringify(value)}: refused, naming the option`, () => {
    const r = bench('instructions.js', [`--functions=${value}`], { PATH: mkdtempSync(join(base, 'empty-path-')) });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--functions must be a whole number of at least 1 \(rows per scenario\), not ".*"/);
    assert.deepEqual(r.left, [], 'no fixture made');
  });
}

// The bench commands README.md quotes name ids the scripts have: each list is run with one id added
// that no benchmark has, so the script refuses it before anything starts, and its refusal must name
// that id alone. (README's run-h2.js command once named `bare`, which run-h2.js calls bare-stream.)
const README = readFileSync(join(dirname(BENCH), 'README.md'), 'utf8').replace(/\s*\n\s*/g, ' ');
// bench/TARGETS.md, the run-by-run record the README's Status summarises, quotes them too.
const TARGETS = readFileSync(join(BENCH, 'TARGETS.md'), 'utf8').replace(/\s*\n\s*/g, ' ');
const QUOTED = [...`${README} ${TARGETS}`.matchAll(/`node bench\/((?:run|run-h2|instructions)\.js)([^`]*)`/g)];
test('README quotes bench commands with --scenarios or --contenders', () => {
  assert.ok(QUOTED.some((m) => /--(scenarios|contenders) /.test(m[2])), 'none found: has the README changed form?');
});
for (const [quoted, script, rest] of QUOTED) {
  const args = rest.trim().split(' ').filter((a) => a !== '');
  for (const option of ['--scenarios', '--contenders']) {
    const at = args.indexOf(option);
    if (at < 0) continue;
    test(`README's ${quoted}: its ${option} are known to ${script}`, () => {
      const probe = args.map((a, i) => (i === at + 1 ? `${a},zz-no-such-id` : a)).filter((a, i) => a !== '--out' && args[i - 1] !== '--out');
      const r = spawnSync(process.execPath, [join(BENCH, script), ...probe], {
        encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: mkdtempSync(join(base, 'readme-')) },
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${option}: no zz-no-such-id (in this benchmark|here); known: `), r.stderr);
    });
  }
}

// README's table of ids is what each script knows: a script's refusal lists its ids (nginx only where it is
// installed, so it is left out of the comparison).
const ID_ROWS = [...README.matchAll(/\| `bench\/((?:run|run-h2|instructions)\.js)` \| ([^|]+) \| ([^|]+) \|/g)];
test('README has a table of bench ids for run.js, run-h2.js and instructions.js', () => {
  assert.deepEqual(ID_ROWS.map((m) => m[1]).sort(), ['instructions.js', 'run-h2.js', 'run.js']);
});
for (const [, script, scenarios, contenders] of ID_ROWS) {
  const ids = (cell) => cell.replace(/\(with `--h2`.*\)|\([^)]*installed[^)]*\)/g, '').split(',').map((x) => x.trim()).filter((x) => x !== '' && x !== 'nginx');
  for (const [option, cell] of [['scenarios', scenarios], ['contenders', contenders]]) {
    test(`README's --${option} ids for ${script} are the ones it knows`, () => {
      const r = bench(script, [`--${option}`, 'zz-no-such-id'], script === 'instructions.js' ? { PATH: mkdtempSync(join(base, 'empty-path-')) } : {});
      assert.equal(r.status, 2, r.stderr);
      const known = /known: (.*)/.exec(r.stderr)[1].split(', ').filter((x) => x !== 'nginx');
      assert.deepEqual(ids(cell), known);
    });
  }
}

// --help prints the script's opening comment (how to run it, its options); an option the script
// does not take, or one missing its value, is refused in one line naming it (it was a stack trace).
for (const [script, env] of SCRIPTS) {
  test(`${script} --help prints how to run it; an unknown option is refused by name`, () => {
    const help = spawnSync(process.execPath, [join(BENCH, script), '--help'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`node bench/${script.replace('.', '\\.')} \\[--`));
    assert.doesNotMatch(help.stdout, /^\/\//m);
    for (const args of [['--bogus'], ['--scenarios']]) {
      const r = bench(script, args, env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^bench/${script.replace('.', '\\.')}: .*'${args[0]}[ ']`, 'm'));
      assert.match(r.stderr, /^\(--help for the options\)$/m);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.deepEqual(r.left, [], 'no fixture made');
    }
  });
}

// Every other bench script takes its options the same way (bench/args.js): --help printed a stack
// trace, or ran alloc.js with NaN decisions (review h51).
for (const script of ['alloc.js', 'engine-micro.js', 'origin-matcher.js', 'deploy.js', 'disk-read.js', 'rename.js', 'idle.js', 'memory.js', 'startup.js', 'watch.js', 'gc.js', 'rss.js', 'cpu-split.js']) {
  test(`${script} --help prints its opening comment; an unknown option or a count that is no number is refused in one line`, () => {
    const run = (args) => spawnSync(process.execPath, [join(BENCH, script), ...args], { encoding: 'utf8', timeout: 60_000 });
    const help = run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`bench/${script.replace('.', '\\.')}`));
    assert.doesNotMatch(help.stdout, /^\/\//m);
    const counts = { 'alloc.js': ['abc'], 'engine-micro.js': ['--rounds', 'x'], 'origin-matcher.js': ['1.5'], 'idle.js': ['--connections', 'x'], 'startup.js': ['--files', '1.5'], 'memory.js': ['--files', '1000,x'], 'watch.js': ['--files', '0'], 'rename.js': ['--files', '0'], 'cpu-split.js': ['--spin-us', '1.5'] };
    for (const args of [['--bogus'], ...(script in counts ? [counts[script]] : [])]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^bench/${script.replace('.', '\\.')}: .*(--bogus|not a whole number)`, 'm'));
      assert.match(r.stderr, /^\(--help for the options\)$/m);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
}

test('instructions.js: tls-new and tls-resumed without --https or --h2 are refused saying which flag they need', () => {
  const r = bench('instructions.js', ['--scenarios', 'tls-new,tls-resumed'], { PATH: mkdtempSync(join(base, 'empty-path-')) });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--scenarios: no tls-new, tls-resumed here \(tls-new, tls-resumed: with --https or --h2 only\); known: /);
  const ok = bench('instructions.js', ['--https', '--scenarios', 'tls-new,zz-no-such-id'], { PATH: mkdtempSync(join(base, 'empty-path-')) });
  assert.match(ok.stderr, /--scenarios: no zz-no-such-id here; known: .*tls-new, tls-resumed/);
});
