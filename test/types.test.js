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
// "TS2742: cannot be named without a reference to .../dist/...", which a user publishing types meets.
test('a module exporting values typed by xorigin\'s public members gets its .d.ts: every such type is exported', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'xorigin-types-'));
  try {
    const portable = fileURLToPath(new URL('./types/tsconfig.portable.json', import.meta.url));
    const { code, out } = await new Promise((resolve) => {
      execFile(process.execPath, [tsc, '-p', portable, '--outDir', outDir], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code ?? error.signal), out: stdout + stderr }),
      );
    });
    assert.equal(code, 0, out);
    assert.equal(out, '');
    assert.match(readFileSync(join(outDir, 'portable.d.ts'), 'utf8'), /matcher: import\("xorigin"\)\.OriginMatcher;/);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});
