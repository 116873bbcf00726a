// Writes the README's option tables from the one option schema (src/static/options.ts), so the flags,
// the config keys, --help and the README cannot drift apart. `--check` fails instead of writing when
// the README differs (run by the tests).
//   node scripts/readme-options.mjs [--check]      (after npm run build)
import { readFileSync, writeFileSync } from 'node:fs';
import { OPTION_SCHEMA, rangeText } from '../dist/static/options.js';

const README = new URL('../README.md', import.meta.url);
const PROSE = /^(none|off|on|required|on for .*)?$/;

const code = (s) => (PROSE.test(s) ? s : `\`${s}\``);
const oneLine = (s) => s.replace(/\n/g, ' ');

function flagCell(spec) {
  const f = spec.flag;
  const long = `--${f.name}${f.arg === undefined ? '' : ` ${f.arg}`}`;
  const named = `\`${f.short === undefined ? '' : `-${f.short}, `}${long}\``;
  return spec.type === 'boolean' || spec.configType === 'boolean' ? `${named}, \`--no-${f.name}\`` : named;
}

function cliTable() {
  const rows = ['| flag | default | meaning |', '|---|---|---|', '| `[root]` | | the directory to serve |'];
  for (const spec of OPTION_SCHEMA) {
    if (spec.flag === undefined) continue;
    const range = rangeText(spec);
    rows.push(`| ${flagCell(spec)} | ${spec.default === '' ? '' : code(spec.default)} | ${spec.doc ?? oneLine(spec.help)}${range === '' ? '' : ` (${range})`} |`);
  }
  rows.push('| `-h, --help` | | this help |', '| `-v, --version` | | print the version |');
  return rows.join('\n');
}

function serveTable() {
  const rows = ['| option | default | meaning |', '|---|---|---|'];
  for (const spec of OPTION_SCHEMA) {
    if (spec.scope !== 'server') continue;
    const d = spec.apiDefault ?? spec.default;
    rows.push(`| \`${spec.name}\` | ${d === '' ? '' : code(d)} | ${spec.apiDoc ?? spec.doc ?? oneLine(spec.help)} |`);
  }
  return rows.join('\n');
}

/** Replaces what sits between `<!-- options:NAME -->` and `<!-- /options:NAME -->`. */
function fill(text, name, table) {
  const open = `<!-- options:${name} -->`;
  const close = `<!-- /options:${name} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a === -1 || b < a) throw new Error(`README.md has no ${open} … ${close} section`);
  return `${text.slice(0, a + open.length)}\n${table}\n${text.slice(b)}`;
}

const before = readFileSync(README, 'utf8');
const after = fill(fill(before, 'cli', cliTable()), 'serve', serveTable());
if (process.argv.includes('--check')) {
  if (after !== before) {
    process.stderr.write('README.md option tables differ from the schema: run `npm run build && node scripts/readme-options.mjs`\n');
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(README, after);
  process.stderr.write('README.md option tables updated from the schema\n');
}
