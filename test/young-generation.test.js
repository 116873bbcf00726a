// V8's young generation over the CLI's start-up (src/cli/young-generation.ts): its growth is held
// until the server listens, so start-up alone does not double it, and released then. Read inside the server by a
// preloaded probe when sent SIGWINCH, a signal xorigin leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, stderrMatch, stopCli } from './helpers.js';

// From the second report on, the probe first makes objects that survive scavenges, past what the new space holds
// many times over: V8 grows the young generation for that, unless the growth is still held (factor 1).
const PROBE = "import v8 from'node:v8';let n=0;const keep=[];process.on('SIGWINCH',()=>{if(n++>0){for(let i=0;i<3e6;i++){const o={a:i,b:[i,i+1]};if(i%3===0)keep.push(o);if(keep.length>2e5)keep.length=0}keep.length=0}const s=v8.getHeapSpaceStatistics().find((x)=>x.space_name==='new_space');process.stderr.write(`new_space ${s.space_size}\\n`)})";

/** The CLI started with `nodeArgs` and the probe preloaded. */
async function startProbed(t, nodeArgs) {
  const r = await runCli(['serve', 'example', '--port', '0', '--origin', '*'], { nodeArgs: [`--import=data:text/javascript,${encodeURIComponent(PROBE)}`, ...nodeArgs] });
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  return r;
}

/** The size of the server's new space (bytes) now: its `nth` report. */
async function newSpace(r, nth) {
  r.child.kill('SIGWINCH');
  const pattern = new RegExp(`(?:new_space \\d+\\n[^]*){${String(nth + 1)}}`);
  await stderrMatch(r, pattern);
  return Number([...r.err.matchAll(/new_space (\d+)/g)][nth][1]);
}

/** The size of the server's new space (bytes) once it listens, started with `nodeArgs`. */
async function newSpaceWhenListening(t, nodeArgs) {
  return newSpace(await startProbed(t, nodeArgs), 0);
}

test('CLI: start-up does not grow V8\'s young generation; with a growth factor the operator gave node, it does, as V8 decides', async (t) => {
  const held = await newSpaceWhenListening(t, []);
  // V8's default factor, given explicitly: xorigin leaves an operator's factor alone.
  const operators = await newSpaceWhenListening(t, ['--semi-space-growth-factor=2']);
  assert.ok(held < operators, `new space when listening: ${held} bytes with growth held over start-up, ${operators} with V8's growth`);
});

test('CLI: once listening, V8 grows the young generation again as the process needs (the hold is released)', async (t) => {
  const r = await startProbed(t, []);
  const held = await newSpace(r, 0);
  // Not requests: how much of a request survives a scavenge differs by V8 (on Node 24, 16,000 GETs
  // never grew it, held or not); the probe's survivors would grow it on any V8 that grows it at all.
  const grown = await newSpace(r, 1);
  assert.ok(grown > held, `new space: ${held} bytes when listening, ${grown} after survivors made in the server`);
});
