// The published declarations, as a TypeScript user meets them: test/types/consumer.ts imports every
// entry point by its package name (package.json "exports" → dist/*.d.ts) and uses each the way the
// README shows, node:http2's compatibility API included; tsc --strict must accept it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));

test('a strict TypeScript consumer of every entry point compiles against dist/*.d.ts', async () => {
  const { code, out } = await new Promise((resolve) => {
    execFile(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code ?? error.signal), out: stdout + stderr }),
    );
  });
  assert.equal(code, 0, out);
  assert.equal(out, '');
});

// Declaration emit names each type a public member is declared with: one no entry point exports is
// "TS2742: cannot be named without a reference to .../dist/..." in a user's project. Compiled here,
// inside the package, tsc names it by a relative path into dist/ instead, so that is what is refused.
// portable.ts imports 'xorigin'; portable-sub.ts only the sub-entries, each of which must export them.
for (const name of ['portable', 'portable-sub']) {
  test(`a module exporting values typed by xorigin's public members gets its .d.ts, every type named through an entry point (${name}.ts)`, async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'xorigin-types-'));
    try {
      const project = fileURLToPath(new URL(`./types/tsconfig.${name}.json`, import.meta.url));
      const { code, out } = await new Promise((resolve) => {
        execFile(process.execPath, [tsc, '-p', project, '--outDir', outDir], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : (error.code ?? error.signal), out: stdout + stderr }),
        );
      });
      assert.equal(code, 0, out);
      assert.equal(out, '');
      const emitted = readFileSync(join(outDir, `${name}.d.ts`), 'utf8');
      assert.doesNotMatch(emitted, /import\("\.{1,2}\//, `a type named by a path into dist/, not by an entry point:\n${emitted}`);
      assert.match(emitted, /import\("xorigin(\/\w+)?"\)\.HeaderNameSet/);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
}

// TypeScript's older resolution (`moduleResolution: node10`, still the default of `module: commonjs`)
// reads no "exports": the subpaths resolve through package.json "typesVersions" (found by the newcomer
// walkthrough nc25: TS2307 for each subpath). A project in a temp directory with xorigin installed as
// a link to this package, as `npm install` of a folder would.
test('every entry point resolves, with its types, under moduleResolution node10 (package.json typesVersions)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xorigin-node10-'));
  try {
    const root = fileURLToPath(new URL('..', import.meta.url));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'xorigin'));
    for (const dep of ['@types', 'fastify']) symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
    writeFileSync(join(dir, 'a.ts'), [
      "import { createCors, type CorsOptions } from 'xorigin/cors';",
      "import { withCors } from 'xorigin/fetch';",
      "import xoriginCors from 'xorigin/fastify';",
      "import { createStaticHandler } from 'xorigin/static';",
      "import { evaluateCors } from 'xorigin/check';",
      "import { serve } from 'xorigin';",
      "const options: CorsOptions = { origins: ['https://app.example.com'] };",
      'export const all = [createCors(options), withCors, xoriginCors, createStaticHandler, evaluateCors, serve];',
    ].join('\n'));
    const args = [tsc, '--strict', '--noEmit', '--module', 'esnext', '--moduleResolution', 'node10', '--target', 'es2022', '--types', 'node', '--esModuleInterop', join(dir, 'a.ts')];
    const { code, out } = await new Promise((resolve) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000, cwd: dir }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code ?? error.signal), out: stdout + stderr }),
      );
    });
    assert.equal(code, 0, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
