import { withoutTrailing } from '../http/whitespace.js';
import { closestName } from '../cors/closest-name.js';

/**
 * What parseArgs refused, on one line without its trailing period (the message adds one), and for
 * an unknown flag the known one it most likely meant (`--prot`: `--port`). `flags`: the long flag
 * names, without their dashes.
 */
export function argumentsProblem(e: unknown, flags: readonly string[]): { reason: string; meant: string | undefined } {
  const message = e instanceof Error ? e.message : String(e);
  const unknown = /^Unknown option '(-{1,2})([^'=]*)/.exec(message);
  if ((e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
    const meant = closestName(unknown[2] as string, flags);
    return { reason: `unknown option ${unknown[1]}${unknown[2]}`, meant: meant === undefined ? undefined : `--${meant}` };
  }
  // Line by line, not /\s*\n\s*/ (quadratic in a run of spaces); the period is the message's to add.
  const oneLine = message.split('\n').map((line) => line.trim()).join(' ');
  return { reason: withoutTrailing(oneLine, (c) => c === 0x2e /* . */), meant: undefined };
}
