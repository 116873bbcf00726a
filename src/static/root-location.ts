import { closeSync, open as openFd, opendirSync, statSync } from 'node:fs';
import { opendir, readFile, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { DENIED, errorCode } from './path-errors.js';

/**
 * Where the served root really is, and the changes to it that no event inside it reports: a
 * symlinked root switched to another release, the root directory replaced, a file system mounted
 * over part of it, its permissions taken away and given back. The asset table asks here before
 * each scan (locate), on a timer (changed), and before a targeted scan trusts the root's events
 * (unchanged, listable).
 */
export class RootLocation {
  /** The root's real path, symlinks resolved ('' until located). */
  real = '';
  private ino = -1n;
  private dev = -1n;
  /**
   * The root directory held open (-1: none), so that its inode number cannot go to another file: a
   * root removed and made again (rm -rf root && mkdir root) got the same number back, moved() saw
   * nothing, and the table, watching the deleted directory, never changed again.
   */
  private fd = -1;
  /**
   * The last walk could not list the root (the operator's chmod): nothing is served, and nothing is
   * watched (inotify refuses a directory it may not read), so the root check looks for it to be
   * listable again.
   */
  denied = false;
  /** The root directory's ctime when the last walk began (-1: unknown). */
  private ctimeNs = -1n;
  /** The mount table as last read (Linux's /proc/self/mountinfo; '' where there is none): see mountedUnder. */
  private mounts = '';
  private closed = false;
  /** The last look found no root at its path (removed, renamed away): said once until it is back. */
  private gone = false;

  /**
   * `path`: the root as the operator named it (it may be, or go through, a symlink). `say`: where a
   * root gone and back is told (the table's warn).
   */
  constructor(
    readonly path: string,
    private readonly say: (line: string) => void = () => {},
  ) {}

  /** True when the root now resolves to another directory than the one located (and watched). */
  async moved(): Promise<boolean> {
    try {
      const real = await realpath(this.path);
      const s = await stat(real, { bigint: true });
      // A file where the directory was serves nothing either (the walk lists nothing).
      if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      this.found();
      return real !== this.real || s.ino !== this.ino || s.dev !== this.dev;
    } catch (e) {
      // No longer reachable by this process (a parent directory's chmod): walked once, which finds it
      // unlistable and serves nothing until it may be listed again (see denied).
      if (DENIED.has(errorCode(e))) {
        const first = !this.denied;
        this.denied = true; // even before the walk says so: a walk a targeted scan runs may come first
        return first;
      }
      // Gone for now (rm -rf, then recreated; a deploy that moved it away and failed): the walk finds
      // nothing, the next check retries. Every request is a 404 meanwhile, which the operator is told.
      if (!this.gone && this.real !== '') {
        this.gone = true;
        void this.sayGone(errorCode(e) || 'unreachable');
      }
      return false;
    }
  }

  /**
   * Says what a root gone means: a path that no longer resolves (a `current` symlink re-pointed at a
   * release not there) leaves the directory found before served, while it is there; otherwise every
   * request is a 404.
   */
  private async sayGone(code: string): Promise<void> {
    const before = this.real;
    const kept = await stat(before).then((s) => s.isDirectory() && before !== this.path, () => false);
    this.say(kept
      ? `xorigin: the root ${this.path} no longer leads to a directory (${code}): ${before}, where it led before, is still served until it does again`
      : `xorigin: the root ${this.path} is gone (${code}): every request is answered 404 until a directory is there again, then served within seconds`);
  }

  /** The root is at its path again after a look that found it gone: said. */
  private found(): void {
    if (!this.gone) return;
    this.gone = false;
    this.say(`xorigin: the root ${this.path} is back: serving it again`);
  }

  /** Resolves the root again: true when it was not located yet or has moved (see moved), and is found now. */
  async locate(): Promise<boolean> {
    if (this.real !== '' && !(await this.moved())) return false;
    try {
      const real = await realpath(this.path);
      await this.hold(real);
      const s = await stat(real, { bigint: true });
      this.real = real;
      this.ino = s.ino;
      this.dev = s.dev;
    } catch {
      return false;
    }
    return true;
  }

  /** True when `path` is the root or under it (a real path). */
  holds(path: string): boolean {
    return path === this.real || path.startsWith(this.real + sep);
  }

  /** Whether this process may list the root now. */
  listable(): Promise<boolean> {
    return mayList(this.real).then((refused) => refused === null);
  }

  /** Reads the mount table that mountedUnder compares with. */
  async watchMounts(): Promise<void> {
    this.mounts = await readMounts();
  }

  /**
   * True when a file system was mounted or unmounted at or under the root since the last look: that
   * raises no inotify event, and the files it covers would be served from the table (and memory) as if
   * they were still there.
   */
  async mountedUnder(): Promise<boolean> {
    const now = await readMounts();
    if (now === this.mounts) return false;
    const before = new Set(this.mounts.split('\n'));
    const after = new Set(now.split('\n'));
    this.mounts = now;
    const under = (line: string): boolean => this.holds(mountPoint(line));
    for (const line of after) if (!before.has(line) && under(line)) return true;
    for (const line of before) if (!after.has(line) && under(line)) return true;
    return false;
  }

  /** A walk of the whole tree begins: the root's ctime now is what unchanged() compares with. */
  async walkStarts(): Promise<void> {
    this.ctimeNs = await this.ctime();
  }

  /** True when the root's inode is as the last walk found it (its ctime: every chmod, chown and touch changes it). */
  async unchanged(): Promise<boolean> {
    const ctime = await this.ctime();
    return ctime !== -1n && ctime === this.ctimeNs;
  }

  /** Lets go of the root held open; nothing is held after this. */
  close(): void {
    this.closed = true;
    this.release();
  }

  /** The root directory's ctime now (-1: it cannot be stat'ed). */
  private ctime(): Promise<bigint> {
    return stat(this.real, { bigint: true }).then((r) => r.ctimeNs, () => -1n);
  }

  /** Holds `dir` open in place of the root held so far (see fd); where a directory cannot be opened, none. */
  private async hold(dir: string): Promise<void> {
    const fd = await new Promise<number>((done) => openFd(dir, 'r', (err, n) => done(err === null ? n : -1)));
    this.release();
    if (this.closed && fd !== -1) closeSync(fd);
    else this.fd = fd;
  }

  private release(): void {
    if (this.fd !== -1) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Linux's mount table (proc(5), mountinfo), or '' where it cannot be read (another system). */
function readMounts(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
}

/** A mountinfo line's mount point (its fifth field), with the octal escapes of spaces and the like undone. */
function mountPoint(line: string): string {
  const field = line.split(' ')[4] ?? '';
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Lists and enters `dir` for real, or throws the system's error (EACCES): not asked with access(2),
 * which answers for the real uid without its capabilities and so refused a service given
 * CAP_DAC_READ_SEARCH (systemd's AmbientCapabilities) a root it could read.
 */
export function listSync(dir: string): void {
  opendirSync(dir).closeSync();
  statSync(entered(dir));
}

/**
 * `dir/.`, whose lookup needs search (x) permission on `dir`. Written out: path.join normalises it
 * to `dir` itself, which a stat reaches without entering, so a 0444 root passed and served all 404.
 */
const entered = (dir: string): string => `${dir}${sep}.`;

/** listSync, off the main thread: whether the served root may still be listed (AssetTable, RootLocation). */
export async function mayList(dir: string): Promise<NodeJS.ErrnoException | null> {
  try {
    await (await opendir(dir)).close();
    await stat(entered(dir));
    return null;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}
