// The published entry points: the exports map, what each one loads (by walking the emitted JS's
// import graph), and the size of the CORS-only graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importGraph, specifiersOf } from '../scripts/import-graph.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => fileURLToPath(new URL(`../dist/${p}`, import.meta.url));
const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
// Raised from 48 KiB when reload (reconfigure) and the explain hook joined the engine, and from 52 KiB
// when the node:http face began keeping Vary: Origin against a handler that replaces Vary (cors/node.ts),
// and from 56 KiB when the origin matcher began keeping its last answers and the request-header set its
// hash table (2026-12-03: 58.8 KiB; CI refused 56.7 KiB on 2026-12-02), and from 60 KiB when the Vary guard
// moved to its own module, shared with the Fastify plugin, and began passing a head's own Vary through
// unchanged when it names Origin already (2026-12-03: 60.3 KiB), and from 61 KiB when the guard began
// keeping the Vary of the policy a response was decorated under, across a reconfigure (2026-12-04: 61.1 KiB),
// and from 62 KiB when policy errors began escaping control characters (a config file's names and values
// reach the operator's terminal) and naming the option a typo most likely meant (2026-12-04: 63.0 KiB),
// and from 64 KiB when `*.` over the most used shared suffixes (github.io, co.uk, ...) began to be
// refused with credentials (2026-12-05: 64.7 KiB), and from 65 KiB when a preflight's answer began
// removing another layer's Access-Control-Allow-Methods, -Allow-Headers and -Max-Age, which the
// browser caches (2026-12-06: 65.1 KiB), and from 66 KiB when a preflight began to be answered header
// by header behind a writeHead another layer wrapped (on-headers before 1.1.0 misread the flat list),
// an async onDenied's rejection to be observed, and handle() after the head to be reported rather
// than throw (2026-12-06: 66.0 KiB), and from 67 KiB when the check of a response's writeHead began to
// be remembered per prototype and to require node's own writeHead on node's prototype (2026-12-07: 67.3 KiB),
// and from 68 KiB when a policy's options began to be read once (a getter read again after the swap) and
// onDenied to be told after the answer (an onDenied that reconfigures changed it half-way; 2026-12-07: 68.2 KiB).
const SIZE_LIMIT = 69 * 1024;

test('the exports map names every face, types first, and every target exists', () => {
  assert.deepEqual(Object.keys(pkg.exports), ['.', './cors', './fetch', './fastify', './static', './check', './package.json']);
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry === './package.json') continue;
    assert.deepEqual(Object.keys(target), ['types', 'default'], entry);
    for (const file of Object.values(target)) assert.ok(existsSync(`${root}/${file}`), `${entry} -> ${file}`);
  }
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
});

test('each subpath resolves by package name to its own face', async () => {
  assert.equal(typeof (await import('xorigin')).serve, 'function');
  assert.equal(typeof (await import('xorigin')).createCors, 'function');
  assert.equal(typeof (await import('xorigin/cors')).createCors, 'function');
  assert.equal(typeof (await import('xorigin/fetch')).withCors, 'function');
  assert.equal(typeof (await import('xorigin/fastify')).default, 'function');
  assert.equal(typeof (await import('xorigin/static')).serve, 'function');
  assert.equal(typeof (await import('xorigin/static')).createStaticHandler, 'function');
  assert.equal(typeof (await import('xorigin/check')).evaluateCors, 'function');
});

test("'xorigin/check' imports no node: module and stays out of 'xorigin/cors'", () => {
  const { files, external } = importGraph(dist('check/index.js'));
  assert.deepEqual([...external.keys()], [], 'pure: no node:http, no node:fs');
  // explainDenied reads a compiled policy with the engine's own primitives (pure modules too).
  assert.ok(files.every((f) => f.startsWith(dist('check/')) || f.startsWith(dist('cors/')) || f.startsWith(dist('http/'))), 'its own folder and the pure engine modules');
  const cors = importGraph(dist('cors/index.js')).files;
  assert.ok(!cors.some((f) => f.startsWith(dist('check/'))), 'xorigin/cors does not load the checker');
});

test("'xorigin/cors' reaches no module of the file server or the CLI", () => {
  const { files } = importGraph(dist('cors/index.js'));
  assert.ok(files.length > 3, 'the walker found the engine');
  // The engine may use the protocol primitives (http/), never the file server or the CLI.
  const outside = files.filter((f) => !f.startsWith(dist('cors/')) && !f.startsWith(dist('http/')));
  assert.deepEqual(outside, []);
});

test('the CORS entry points import nothing outside xorigin but node: built-ins', () => {
  for (const entry of ['cors/index.js', 'cors/fetch.js', 'cors/fastify.js']) {
    const { external } = importGraph(dist(entry));
    const bare = [...external.keys()].filter((s) => !s.startsWith('node:'));
    assert.deepEqual(bare, [], `${entry} must not load a package at run time (fastify is imported for types only)`);
  }
});

test("'xorigin/cors', 'xorigin/fetch' and 'xorigin/fastify' import no node: module at all (Workers, Deno, Bun)", () => {
  assert.deepEqual(specifiersOf(`${'import'} x from 'node:fs'; export * from "./a.js"`), ['node:fs', './a.js'], 'the scanner sees both forms');
  for (const entry of ['cors/index.js', 'cors/fetch.js', 'cors/fastify.js']) {
    const { external } = importGraph(dist(entry));
    assert.deepEqual([...external.keys()], [], entry);
  }
});

test(`the JS reachable from 'xorigin/cors' stays within ${SIZE_LIMIT / 1024} KiB`, (t) => {
  const { files, bytes } = importGraph(dist('cors/index.js'));
  t.diagnostic(`xorigin/cors: ${files.length} files, ${bytes} bytes`);
  assert.ok(bytes <= SIZE_LIMIT, `${bytes} bytes > ${SIZE_LIMIT}; see \`npm run size\``);
});

test('the package ships no source maps pointing at sources it does not ship', () => {
  const maps = importGraph(dist('index.js')).files.filter((f) => readText(f).includes('sourceMappingURL'));
  assert.deepEqual(maps, []);
});

test('every shipped module is Latin-1, so V8 keeps its source one byte a character', () => {
  // One character past U+00FF (an ellipsis in an error text) made V8 hold static/options.js as
  // UTF-16: 42 KB of heap in every process instead of 21.
  const shipped = new Set([...importGraph(dist('index.js')).files, ...importGraph(dist('cli/main.js')).files]);
  const wide = [...shipped].filter((f) => /[^\u0000-\u00ff]/.test(readText(f)));
  assert.deepEqual(wide, []);
});

function readText(file) {
  return readFileSync(file, 'utf8');
}
