import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { PolicyProblem } from '../cors/errors.js';
import { closestName } from '../cors/closest-name.js';
import { OPTION_SCHEMA, rangeText, type OptionSpec } from '../static/options.js';

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
  /** What is wrong with the command line itself (option `arguments`), reported with every other problem. */
  readonly problems: readonly PolicyProblem[];
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

/** An empty list flag (`--allowed-headers=`, or only commas): an error, as an empty `--origin` is. */
function emptyList(spec: OptionSpec): PolicyProblem {
  const flag = `--${spec.flag?.name ?? spec.name}`;
  return { option: flag, value: '', reason: 'names nothing (an empty list)', fix: `name at least one (${flag} ${spec.flag?.arg ?? 'LIST'}), leave the flag out for the default, or set "${spec.name}": [] in a config file's "cors" object for none` };
}

/** A list with an item left out between commas, or before or after them (`PUT,,DELETE`, `PUT,`). */
function hasEmptyItem(text: string): boolean {
  const items = text.split(',');
  return items.length > 1 && items.some((item) => item.trim() === '');
}

/**
 * A list flag with an empty item: `--methods "PUT,$M,DELETE"` with M unset. Dropping it, as was
 * done, started a server without the method meant, unsaid.
 */
function emptyItem(spec: OptionSpec, text: string, items: readonly string[]): PolicyProblem {
  const flag = `--${spec.flag?.name ?? spec.name}`;
  return { option: flag, value: text, reason: 'has an empty item (two commas together, or one at the start or end): a value left out, as when an unset shell variable is in the list', fix: `name every item, or leave the empty one out: ${flag} ${items.join(',')}` };
}

/** The flags that take a value, as typed: `--max-age`, and a short form (`-p`) where there is one. */
const VALUED = new Set(FLAGGED.filter((s) => !isSwitch(s)).flatMap(({ flag }) => (flag.short === undefined ? [`--${flag.name}`] : [`--${flag.name}`, `-${flag.short}`])));

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
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`); // `-p-1`: a short flag's attached value
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** One option as parseArgs (non-strict, with tokens) read it. */
interface OptionToken {
  readonly name: string;
  readonly rawName: string;
  readonly index: number;
  readonly value?: string | undefined;
  readonly inlineValue?: boolean | undefined;
}

const FLAG_NAMES = Object.keys(parseSpec());
const problem = (token: OptionToken, reason: string, fix: string): PolicyProblem => ({ option: 'arguments', value: token.value === undefined ? token.rawName : `${token.rawName}${token.inlineValue === true ? '=' : ' '}${token.value}`, reason, fix });

/**
 * What is wrong with one option as written, or null: what parseArgs' strict mode refuses (it stops
 * at the first; here each is named, so a command line is fixed in one pass).
 */
function optionProblem(token: OptionToken, spec: ParseSpec): PolicyProblem | null {
  const known = Object.hasOwn(spec, token.name) ? spec[token.name] : undefined;
  if (known === undefined) {
    const meant = closestName(token.name, FLAG_NAMES);
    return problem(token, `unknown option ${token.rawName}`, meant === undefined ? 'see xorigin --help' : `did you mean --${meant}? (see xorigin --help)`);
  }
  const placeholder = FLAGGED.find((s) => s.flag.name === token.name)?.flag.arg ?? 'VALUE';
  if (known.type === 'boolean') {
    if (token.value === undefined) return null;
    const switchName = FLAGGED.some((s) => isSwitch(s) && s.flag.name === token.name) ? ` (or --no-${token.name})` : '';
    return problem(token, `${token.rawName} takes no value`, `write ${token.rawName} alone${switchName}`);
  }
  if (token.value === undefined) return problem(token, `${token.rawName} needs a value`, `write ${token.rawName} ${placeholder} (see xorigin --help)`);
  if (token.inlineValue !== true && token.value.startsWith('-')) {
    const isFlag = FLAG_NAMES.includes(token.value.replace(/^-{1,2}/, '').split('=')[0] as string);
    const fix = isFlag ? `give ${token.rawName} its value before ${token.value}` : `write --${token.name}=${token.value} if that is its value`;
    return problem(token, `${token.rawName} is followed by ${token.value}, not by its value`, fix);
  }
  return null;
}

/**
 * The index of the word after a refused option that is that option's value, not a root, or -1: after
 * an unknown one when the flag it most likely meant takes a value (`--prot 8080`); after a flag
 * given no value before another flag that takes one (`--port --host 0.0.0.0`), that flag's value.
 */
function wordTaken(token: OptionToken, spec: ParseSpec): number {
  if (!Object.hasOwn(spec, token.name)) {
    if (token.value !== undefined) return -1;
    const meant = closestName(token.name, FLAG_NAMES);
    return meant !== undefined && FLAGGED.some((s) => s.flag.name === meant && !isSwitch(s)) ? token.index + 1 : -1;
  }
  const next = token.inlineValue === false ? token.value?.replace(/^-{1,2}/, '') : undefined;
  return next !== undefined && FLAGGED.some((s) => s.flag.name === next && !isSwitch(s)) ? token.index + 2 : -1;
}

/** Whether `path` names a directory; any failure to tell (a name too long, a loop, no permission) is no. */
export function isDirectory(path: string): boolean {
  try {
    return path !== '' && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

/** Words that say on or off: after an on/off flag, such a word is meant as its value, not as the root. */
const ON_OFF = /^(true|false|yes|no|on|off|1|0)$/i;

/**
 * The word after an on/off flag that was meant as its value (`--watch false`: parseArgs takes `false`
 * as the root), with the fix, or null; a word that names an existing directory is a root.
 */
function switchWord(token: OptionToken, tokens: readonly { kind: string; index: number; value?: unknown }[]): { index: number; value: string; fix: string } | null {
  const next = tokens.find((t) => t.index === token.index + 1);
  if (next?.kind !== 'positional' || typeof next.value !== 'string' || !ON_OFF.test(next.value) || isDirectory(next.value)) return null;
  const negated = token.name.startsWith('no-');
  const name = negated ? token.name.slice(3) : token.name;
  // `--watch false` and `--no-watch true` both mean off.
  const off = negated !== /^(false|no|off|0)$/i.test(next.value);
  return { index: next.index, value: next.value, fix: off ? `write --no-${name}` : `write --${name} alone` };
}

/**
 * Reads argv. What is wrong with it (an unknown flag, a missing value, a value given to an on/off
 * flag) is in `problems`, each named, beside everything else the command line sets.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const spec = parseSpec();
  const { tokens } = parseArgs({ args: joinNegativeValues(argv), allowPositionals: true, strict: false, options: spec, tokens: true });
  const problems: PolicyProblem[] = [];
  const positionals: string[] = [];
  const texts = new Map<string, string[]>();
  const options: Record<string, unknown> = {};
  let taken = -1; // the index of a word that is a refused option's value (wordTaken)
  let help = false;
  let version = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (token.index !== taken) positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const wrong = optionProblem(token, spec);
    if (wrong !== null) {
      problems.push(wrong);
      taken = wordTaken(token, spec);
      continue;
    }
    if (token.name === 'help') help = true;
    else if (token.name === 'version') version = true;
    else if (token.value !== undefined) texts.set(token.name, [...(texts.get(token.name) ?? []), token.value]);
    else {
      // On/off flags in the order given: the last of `--x` and `--no-x` wins.
      const negated = token.name.startsWith('no-');
      const flagSpec = FLAGGED.find((s) => isSwitch(s) && s.flag.name === (negated ? token.name.slice(3) : token.name));
      const word = flagSpec === undefined ? null : switchWord(token, tokens);
      if (word !== null) {
        // Refused, so not set either: `--credentials no` would else also be told that credentials are on.
        problems.push(problem({ ...token, value: word.value, inlineValue: false }, `${token.rawName} takes no value`, word.fix));
        taken = word.index;
      } else if (flagSpec !== undefined) options[flagSpec.name] = !negated;
    }
  }
  for (const flagSpec of FLAGGED) {
    const given = texts.get(flagSpec.flag.name);
    // A repeatable flag keeps every value; any other, the last (as parseArgs).
    if (given === undefined) continue;
    const value = flagValue(flagSpec, flagSpec.flag.multiple === true ? given : (given.at(-1) as string));
    // `--allowed-headers "$HDRS"` with HDRS unset would otherwise replace the default list by none, unsaid.
    if (Array.isArray(value) && value.length === 0) problems.push(emptyList(flagSpec));
    else if (flagSpec.flag.list === true && hasEmptyItem(given.at(-1) as string)) problems.push(emptyItem(flagSpec, given.at(-1) as string, value as string[]));
    else options[flagSpec.name] = value;
  }
  return { help, version, positionals, options, problems };
}

/** An option's help, with the range it accepts on a line of its own when it has one. */
function withRange(spec: OptionSpec): string {
  const range = rangeText(spec);
  return range === '' ? spec.help : `${spec.help}\n(${range})`;
}

/** --help, from the option schema: one line per flag, continuation lines aligned under the text. */
export function helpText(): string {
  const rows: [string, string][] = FLAGGED.map((spec) => [`${spec.flag.short === undefined ? '    ' : `-${spec.flag.short}, `}--${spec.flag.name}${spec.flag.arg === undefined ? '' : ` ${spec.flag.arg}`}`, withRange(spec)]);
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
    'SIGTERM, SIGQUIT or Ctrl-C stops gracefully; a second Ctrl-C exits at once with status 130.',
    'SIGHUP (kill -HUP on the node process, not on npx or npm) re-reads the config file and the',
    'certificate files without dropping connections; if anything is invalid, nothing changes.',
    'SIGUSR1 and SIGUSR2 are ignored (said on stderr): no log file to reopen, no binary upgrade,',
    'and no debugger opened by a signal once the CLI runs (within ~0.1 s of start).',
    '',
    'xorigin check URL --origin O [...]: what a browser decides about a cross-origin request, and why',
    '(see xorigin check --help).',
  );
  return lines.join('\n');
}
