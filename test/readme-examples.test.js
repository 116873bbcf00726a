// The README's Library examples, run as they are: each ```js block whose first line names a file
// (`// server.mjs: ...`) is written under test-artifacts/, its `from 'xorigin...'` imports pointed at
// this build through the exports map, and started in a child process with PORT=0 (it reports the port
// it got). A block with a `export default { fetch }` (a Workers/Bun-style module) is served through
// @hono/node-server.
// Then one preflight and one GET must carry the CORS headers.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}test-artifacts/readme`;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const APP = 'https://app.example.com';

/** The Library section's runnable blocks: [{ name, code }]. */
function examples() {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const library = readme.slice(readme.indexOf('\n## Library\n'), readme.indexOf('\n### API\n'));
  return [...library.matchAll(/```js\n(\/\/ (\S+\.mjs):[^\n]*\n[\s\S]*?)```/g)].map((m) => ({ name: m[2], code: m[1] }));
}

/** Points `from 'xorigin'` and `from 'xorigin/x'` at the file the exports map gives, in this build. */
function localImports(code) {
  return code.replace(/from '(xorigin(?:\/[\w-]+)?)'/g, (_, spec) => {
    const target = pkg.exports[spec === 'xorigin' ? '.' : `.${spec.slice('xorigin'.length)}`];
    assert.ok(target, `${spec} is not in the exports map`);
    return `from '${pathToFileURL(`${root}${target.default}`).href}'`;
  });
}

const FETCH_HOST = `
import { serve } from '@hono/node-server';
const { default: mod } = await import(process.env.EXAMPLE);
serve({ fetch: mod.fetch, port: Number(process.env.PORT) });
`;

/**
 * Loaded into each example (--import): tells the test, over the IPC channel, the port its server
 * listens on. The example is started with PORT=0, so no port has to be guessed free beforehand (one
 * picked and released here could be taken by another test before the example bound it).
 */
const REPORT_PORT = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => process.send({ port: this.address().port }));
  return listen.apply(this, args);
};
`;

/** The ports the kernel picks from for a listen on port 0. */
const EPHEMERAL = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);

/** The port the example reports once it listens; fails if it exits first or is silent for 30 s. */
function listening(child, output) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example not listening after 30 s: ${output()}`)), 30_000);
    child.once('message', ({ port }) => {
      clearTimeout(timer);
      resolve(port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`example exited ${code} before listening: ${output()}`));
    });
  });
}

describe('README Library examples', () => {
  const children = [];
  after(() => {
    for (const child of children) child.kill();
  });
  mkdirSync(dir, { recursive: true });
  const reporter = `${dir}/report-port.mjs`;
  writeFileSync(reporter, REPORT_PORT);
  const blocks = examples();

  test('there is one example per face', () => {
    assert.deepEqual(blocks.map((b) => b.name), ['server.mjs', 'express.mjs', 'fastify.mjs', 'hono.mjs', 'worker.mjs']);
  });

  for (const { name, code } of blocks) {
    test(`${name} answers a preflight and a GET with the CORS headers`, async () => {
      const file = `${dir}/${name}`;
      writeFileSync(file, localImports(code));
      let script = file;
      if (/^export default \{ fetch/m.test(code)) {
        script = `${dir}/host-${name}`;
        writeFileSync(script, FETCH_HOST);
      }
      const child = spawn(process.execPath, ['--import', pathToFileURL(reporter).href, script], {
        env: { ...process.env, PORT: '0', EXAMPLE: pathToFileURL(file).href },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      children.push(child);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      try {
        const port = await listening(child, () => out);
        // PORT=0 was obeyed: the kernel chose the port (one of its ephemeral ones), not the example.
        assert.ok(port >= EPHEMERAL[0] && port <= EPHEMERAL[1], `listening on ${port}, not on the port PORT=0 asked for`);
        const pre = await request(port, {
          method: 'OPTIONS',
          path: '/items/1',
          headers: { Origin: APP, 'Access-Control-Request-Method': 'PUT' },
        });
        assert.equal(pre.status, 204, out);
        assert.equal(pre.headers['access-control-allow-origin'], APP);
        assert.match(pre.headers['access-control-allow-methods'], /\bPUT\b/);
        assert.equal(pre.body.length, 0);
        const got = await request(port, { path: '/items', headers: { Origin: APP } });
        assert.equal(got.status, 200, out);
        assert.deepEqual(JSON.parse(got.body), { items: [] });
        assert.equal(got.headers['access-control-allow-origin'], APP);
        assert.match(got.headers.vary, /\bOrigin\b/);
        const refused = await request(port, { method: 'OPTIONS', path: '/items/1', headers: { Origin: 'https://evil.test', 'Access-Control-Request-Method': 'PUT' } });
        assert.equal(refused.status, 403);
        // What the example does not serve is a 404 that script can read: CORS headers on every status.
        const missing = await request(port, { path: '/nothing', headers: { Origin: APP } });
        assert.equal(missing.status, 404, out);
        assert.equal(missing.headers['access-control-allow-origin'], APP);
      } finally {
        child.kill();
      }
    });
  }
});

/** GitHub's heading anchor: lower case, inline markup and punctuation dropped, spaces to hyphens. */
function slug(heading) {
  return heading.replace(/<[^>]*>/g, '').trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

test('README: every link to a section (#anchor) names a heading or an <a id> of the README', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const anchors = new Set();
  let fenced = false;
  for (const line of readme.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    // A `#` line inside a code block is a shell comment, not a heading.
    else if (!fenced && /^#{1,6} /.test(line)) anchors.add(slug(line.replace(/^#+ /, '')));
    for (const m of line.matchAll(/<a id="([^"]+)">/g)) anchors.add(m[1]);
  }
  const links = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 20, `only ${String(links.length)} section links found`);
  const broken = [...new Set(links.filter((l) => !anchors.has(l)))];
  assert.deepEqual(broken, [], `links to no section; the anchors are: ${[...anchors].join(' ')}`);
});

test('README: the source layout names every module under src/ (a reader finds each from the file list)', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const modules = readdirSync(`${root}src`, { recursive: true }).filter((f) => f.endsWith('.ts'));
  assert.ok(modules.length > 50, `only ${String(modules.length)} modules found`);
  const unnamed = modules.filter((f) => !readme.includes(basename(f)));
  assert.deepEqual(unnamed, [], 'modules the README\'s layout does not name');
});
