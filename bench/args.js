// Command-line options of the bench scripts: parsed by node:util's parseArgs, with `--help` (the
// script's opening comment, which says how to run it) and, for an option a script does not take or
// a value it cannot use, one line naming it and exit 2 instead of a stack trace.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** A script's opening comment, which says how to run it and what it measures: its --help. */
function leadingComment(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const end = lines.findIndex((line) => !line.startsWith('//'));
  return lines.slice(0, end === -1 ? lines.length : end).map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

/** Ends the script with `message` (what was wrong and how to fix it) and exit code 2. */
export function refuse(message) {
  console.error(`bench/${(process.argv[1] ?? 'bench').split('/').pop()}: ${message}\n(--help for the options)`);
  process.exit(2);
}

/**
 * The script's options (parseArgs' `options`, plus --help), and its positional arguments when it takes
 * `positionals` of them at most. Prints the help and exits 0 for --help.
 */
export function scriptArgs(options, positionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: positionals > 0 });
  } catch (e) {
    refuse(e.message); // node:util's message names the option (unknown, or missing its value)
  }
  if (parsed.values.help) {
    console.log(leadingComment(process.argv[1] ?? ''));
    process.exit(0);
  }
  if (parsed.positionals.length > positionals) refuse(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  return { values: parsed.values, positionals: parsed.positionals };
}

/** `text` as a whole number of at least `min`, or the script ends naming `what` (exit 2). */
export function wholeNumber(text, what, min = 1) {
  if (!/^\d+$/.test(text) || Number(text) < min) refuse(`${what}: ${JSON.stringify(text)} is not a whole number of at least ${min}; e.g. ${what.startsWith('--') ? `${what} ` : ''}${Math.max(min, 3)}`);
  return Number(text);
}

/** `text`, a comma-separated list, as whole numbers of at least `min` each, or the script ends naming `what` (exit 2). */
export function wholeNumbers(text, what, min = 1) {
  return text.split(',').map((item) => wholeNumber(item, what, min));
}
