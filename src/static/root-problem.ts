import { accessSync, constants, statSync } from 'node:fs';
import type { PolicyProblem } from '../cors/errors.js';

/**
 * Why `root` cannot be served, or null: not there, not a directory, or one this process may not
 * list or enter (which would start and answer 404 to everything, with nothing said). Checked at
 * start-up, and on a reload that changes the root: a restart with that root would fail.
 */
export function rootProblem(root: string): PolicyProblem | null {
  const problem = (reason: string, fix: string): PolicyProblem => ({ option: 'root', value: root, reason, fix });
  try {
    if (!statSync(root).isDirectory()) return problem('not a directory', 'pass the directory that holds the files to serve');
    accessSync(root, constants.R_OK | constants.X_OK);
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
