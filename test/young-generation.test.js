// V8's young generation over the CLI's start-up (src/cli/young-generation.ts): its growth is held
// until the server listens, so start-up alone does not double it, and released then. Read inside the server by a
// preloaded probe when sent SIGWINCH, a signal xorigin leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { runCli, stderrMatch, stopCli } from './helpers.js';

const PROBE = "import v8 from'node:v8';process.on('SIGWINCH',()=>{const s=v8.getHeapSpaceStatistics().find((x)=>x.space_name==='new_space');process.stderr.write(`new_space ${s.space_size}\\n`)})";

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

test('CLI: once listening, V8 grows the young generation for the load again (the hold is released)', async (t) => {
  const r = await startProbed(t, []);
  const held = await newSpace(r, 0);
  // 16 keep-alive clients, 1,000 GETs each: what survives the scavenges meanwhile exceeds the new
  // space many times over, so V8's default factor grows it; with the hold kept (factor 1) it never would.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.after(() => agent.destroy());
  const get = () => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: r.port, path: '/fonts/xorigin-blocks.ttf', agent, headers: { Origin: 'https://app.example' } }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let i = 0; i < 1000; i++) await get();
  }));
  const loaded = await newSpace(r, 1);
  assert.ok(loaded > held, `new space: ${held} bytes when listening, ${loaded} after 16,000 requests`);
});
