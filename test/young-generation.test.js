// V8's young generation over the CLI's start-up (src/cli/young-generation.ts): its growth is held
// until the server listens, so start-up alone does not double it. Read inside the server by a
// preloaded probe when sent SIGWINCH, a signal xorigin leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, stderrMatch, stopCli } from './helpers.js';

const PROBE = "import v8 from'node:v8';process.on('SIGWINCH',()=>{const s=v8.getHeapSpaceStatistics().find((x)=>x.space_name==='new_space');process.stderr.write(`new_space ${s.space_size}\\n`)})";

/** The size of the server's new space (bytes) once it listens, started with `nodeArgs`. */
async function newSpaceWhenListening(t, nodeArgs) {
  const r = await runCli(['serve', 'example', '--port', '0', '--origin', '*'], { nodeArgs: [`--import=data:text/javascript,${encodeURIComponent(PROBE)}`, ...nodeArgs] });
  t.after(() => stopCli(r));
  assert.equal(r.code, 'listening', r.err);
  r.child.kill('SIGWINCH');
  return Number((await stderrMatch(r, /new_space \d+/)).slice('new_space '.length));
}

test('CLI: start-up does not grow V8\'s young generation; with a growth factor the operator gave node, it does, as V8 decides', async (t) => {
  const held = await newSpaceWhenListening(t, []);
  // V8's default factor, given explicitly: xorigin leaves an operator's factor alone.
  const operators = await newSpaceWhenListening(t, ['--semi-space-growth-factor=2']);
  assert.ok(held < operators, `new space when listening: ${held} bytes with growth held over start-up, ${operators} with V8's growth`);
});
