// The static import graph of emitted ES modules: which files an entry point loads, and their size.
//
//   node scripts/import-graph.mjs [dist/cors/index.js ...]   prints each entry's files and bytes
//
// Reads `import ... from`, `export ... from`, bare `import '...'` and literal `import('...')`
// specifiers with a regular expression. That is enough for tsc's output, and it errs on the safe
// side: a specifier that only appears in a comment or string still counts as reached.
import { readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const STATIC_FORM = /(?:^|[\s;}])(?:import|export)\s*(?:[\w*${}\s,]*?\s*from\s*)?['"]([^'"\n]+)['"]/g;
const DYNAMIC_FORM = /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The specifiers a module's source names, in order of appearance, without duplicates. */
export function specifiersOf(source) {
  const found = new Set();
  for (const re of [STATIC_FORM, DYNAMIC_FORM]) for (const m of source.matchAll(re)) found.add(m[1]);
  return [...found];
}

/**
 * Walks the graph from `entry` (a file path). Returns { files: absolute paths of every reached
 * module, entry first; external: Map of non-relative specifier -> the files that import it;
 * bytes: the files' summed size }.
 */
export function importGraph(entry) {
  const files = [];
  const external = new Map();
  const seen = new Set();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    files.push(file);
    for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('./') || spec.startsWith('../')) queue.push(resolve(dirname(file), spec));
      else external.set(spec, [...(external.get(spec) ?? []), file]);
    }
  }
  const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
  return { files, external, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = process.argv.length > 2 ? process.argv.slice(2) : ['dist/cors/index.js', 'dist/cors/fetch.js', 'dist/cors/fastify.js', 'dist/index.js'];
  for (const entry of entries) {
    const { files, external, bytes } = importGraph(entry);
    console.log(`${entry}: ${files.length} files, ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB); external: ${[...external.keys()].join(', ') || 'none'}`);
    for (const f of files) console.log(`  ${statSync(f).size.toString().padStart(6)}  ${relative(process.cwd(), f)}`);
  }
}
