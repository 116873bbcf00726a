// The published declarations, as a TypeScript user meets them: test/types/consumer.ts imports every
// entry point by its package name (package.json "exports" → dist/*.d.ts) and uses each the way the
// README shows, node:http2's compatibility API included; tsc --strict must accept it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
