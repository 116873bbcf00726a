import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { listSync } from './root-location.js';
import { asPolicyError, PolicyError, type PolicyProblem } from '../cors/errors.js';
import { validate, type ResolvedServerOptions, type ServerOptions } from './options.js';

/**
 * validate(options), with the root checked too (rootProblem) unless `checkRoot` says it need not be
 * (a reload keeping the root in force): every problem in one PolicyError. The root comes back
 * absolute, resolved against the current directory.
 * @throws PolicyError listing every problem found.
 */
export function validateServable(options: ServerOptions, checkRoot: (root: string) => boolean = () => true): ResolvedServerOptions {
  const problems: PolicyProblem[] = [];
  let valid: ResolvedServerOptions | null = null;
  try {
    valid = validate(options);
  } catch (e) {
    problems.push(...asPolicyError(e).problems);
  }
  const root = valid?.root ?? givenRoot(options);
  const problem = root !== null && checkRoot(root) ? rootProblem(root) : null;
  if (problem !== null) problems.push(problem);
  if (valid === null || problems.length > 0) throw new PolicyError(problems);
  // Absolute from here: a reload after process.chdir() compares the directory served, not a relative path.
  return { ...valid, root: resolve(valid.root) };
}

/** The root of options validate() refused, when it is a path to check at all (the rest is validate's to report). */
function givenRoot(options: ServerOptions): string | null {
  try {
    const root: unknown = (options as { root?: unknown } | null)?.root;
    return typeof root === 'string' && root !== '' ? root : null;
  } catch {
    return null; // a getter that throws: validate() has said so
  }
}

/**
 * Why `root` cannot be served, or null: not there, not a directory, or one this process may not
 * list or enter (which would start and answer 404 to everything, with nothing said). Checked at
 * start-up, and on a reload that changes the root: a restart with that root would fail.
 */
function rootProblem(root: string): PolicyProblem | null {
  const problem = (reason: string, fix: string): PolicyProblem => ({ option: 'root', value: root, reason, fix });
  try {
    if (!statSync(root).isDirectory()) return problem('not a directory', 'pass the directory that holds the files to serve');
    listSync(root);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      const user = typeof process.getuid === 'function' ? ` (uid ${String(process.getuid())})` : '';
      return problem(`this process${user} may not list it (${code})`, `give the user xorigin runs as read and execute permission on it and on the directories above it (chmod a+rx), or serve another directory`);
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return problem('no such directory', 'pass an existing directory (a relative path is taken from the current directory, in a config file from the file\'s)');
    return problem(`not a readable directory (${code ?? 'error'})`, 'pass an existing directory');
  }
}

