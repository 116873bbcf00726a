import { parseArgs } from 'node:util';
import { PolicyError } from '../cors/errors.js';
import { argumentsProblem } from './argument-errors.js';
import { OPTION_SCHEMA, type OptionSpec } from '../static/options.js';

/** The one precedence rule, as --help and the README state it. */
export const PRECEDENCE = 'flags > environment ($PORT) > config file > defaults';

/** The command line, read: what it asks for and the option values its flags set. */
export interface CommandLine {
  readonly help: boolean;
  readonly version: boolean;
  /** The command (`serve`), then the root, then anything else (an error, reported with the rest). */
  readonly positionals: readonly string[];
  /** Option values set by flags, by option name (`cacheControl`, `origins`), typed as the option is. */
  readonly options: Readonly<Record<string, unknown>>;
}

type ParseSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** The flags with a value, and the on/off flags, which also get a `--no-` form. */
const FLAGGED = OPTION_SCHEMA.filter((s): s is OptionSpec & { flag: NonNullable<OptionSpec['flag']> } => s.flag !== undefined);
const isSwitch = (spec: OptionSpec): boolean => spec.flag !== undefined && spec.flag.arg === undefined;

function parseSpec(): ParseSpec {
  const options: ParseSpec = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } };
  for (const { flag } of FLAGGED) {
    const type = flag.arg === undefined ? 'boolean' : 'string';
    options[flag.name] = { type, ...(flag.short === undefined ? {} : { short: flag.short }), ...(flag.multiple === true ? { multiple: true } : {}) };
    if (type === 'boolean') options[`no-${flag.name}`] = { type: 'boolean' };
  }
  return options;
}

/**
 * A flag's text as the option's value. Digits become a number; anything else stays a string, so
 * the check names the option with the value as typed (never NaN).
 */
function flagValue(spec: OptionSpec, text: string | string[]): unknown {
  if (typeof text !== 'string') return text;
  if (spec.flag?.list === true) return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (spec.type === 'integer' && /^\s*-?\d+\s*$/.test(text)) return Number(text);
  return text;
}

/** The long flags that take a value (`--max-age`). */
const VALUED = new Set(FLAGGED.filter((s) => !isSwitch(s)).map(({ flag }) => `--${flag.name}`));

/**
 * `--max-age -1` as `--max-age=-1`: parseArgs (Node 20) reads a value starting with a dash as a
 * flag and refuses it as ambiguous, but a negative number after a flag that takes a value can only
 * be that value.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (VALUED.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Reads argv; an unknown flag or a missing value is a PolicyError naming the arguments. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: ParseSpec; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), allowPositionals: true, strict: true, options: parseSpec(), tokens: true });
  } catch (e) {
    const { reason, meant } = argumentsProblem(e, Object.keys(parseSpec()));
    throw new PolicyError([{ option: 'arguments', value: argv.join(' '), reason, fix: meant === undefined ? 'see xorigin --help' : `did you mean ${meant}? (see xorigin --help)` }]);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const options: Record<string, unknown> = {};
  for (const spec of FLAGGED) {
    const text = values[spec.flag.name];
    if (!isSwitch(spec) && text !== undefined && typeof text !== 'boolean') options[spec.name] = flagValue(spec, text);
  }
  // On/off flags in the order given: the last of `--x` and `--no-x` wins.
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    const negated = token.name.startsWith('no-');
    const spec = FLAGGED.find((s) => isSwitch(s) && s.flag.name === (negated ? token.name.slice(3) : token.name));
    if (spec !== undefined) options[spec.name] = !negated;
  }
  return { help: values.help === true, version: values.version === true, positionals: parsed.positionals, options };
}

/** --help, from the option schema: one line per flag, continuation lines aligned under the text. */
export function helpText(): string {
  const rows: [string, string][] = FLAGGED.map(({ flag, help }) => [`${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}${flag.arg === undefined ? '' : ` ${flag.arg}`}`, help]);
  rows.push(['-h, --help', 'this help'], ['-v, --version', 'print the version']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = ['xorigin serve [root] [options]', '', 'Serves a directory (fonts first) with correct CORS, caching and range headers.', ''];
  for (const [flag, text] of rows) {
    const [first, ...rest] = text.split('\n');
    lines.push(`  ${flag.padEnd(width)}${first ?? ''}`);
    for (const more of rest) lines.push(`  ${''.padEnd(width)}${more}`);
  }
  const negations = FLAGGED.filter(isSwitch).map((s) => `--no-${s.flag.name}`);
  lines.push(
    '',
    `Each on/off flag has an off form (${negations.join(', ')});`,
    'the last one given wins.',
    '',
    `Precedence: ${PRECEDENCE}.`,
    'A flag about a header replaces what the config file said about it (--cache-control over',
    '"immutable": true). A relative "root", "etagCache" or "tls" file in the config file is relative',
    'to that file; the root argument is relative to the working directory. Config values keep their',
    'JSON types: "port": 8080 and "watch": false, not "8080" or "false". Invalid options exit with',
    'status 2 and list every problem.',
    '',
    'SIGTERM or Ctrl-C stops gracefully; a second Ctrl-C exits at once with status 130.',
    'SIGHUP (kill -HUP on the node process, not on npx or npm) re-reads the config file and the',
    'certificate files without dropping connections; if anything is invalid, nothing changes.',
    '',
    'xorigin check URL --origin O [...]: what a browser decides about a cross-origin request, and why',
    '(see xorigin check --help).',
  );
  return lines.join('\n');
}
