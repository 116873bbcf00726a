import { watch, type Dirent, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';

/** How a TreeWatcher finds its directories, which it skips, and how it watches one. */
export interface TreeWatcherOptions {
  /**
   * Directories (relative to the root, `''` the root itself) already found by a walk the caller made:
   * they are watched without being listed again. Omitted: the watcher walks the tree itself.
   */
  readonly dirs?: Iterable<string> | undefined;
  /** Directory names not to descend into when the watcher finds them itself (default: none). */
  readonly ignore?: ((name: string, parentRel: string) => boolean) | undefined;
  /** How one directory is watched (default: non-recursive `fs.watch`); tests inject failures. */
  readonly watchDir?: WatchDir | undefined;
  /** How a renamed name is looked at (default: `fs.promises.lstat`); tests count the calls. */
  readonly lstat?: ((path: string) => Promise<Stats>) | undefined;
}

/** One directory's watch: what `fs.watch(path, listener)` returns, as far as this module uses it. */
export interface DirWatch {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

export type WatchDir = (path: string, listener: (event: string, filename: string | Buffer | null) => void) => DirWatch;

const defaultWatchDir: WatchDir = (path, listener) => watch(path, { persistent: true }, listener);

/** Watches opened per event-loop turn: each is one syscall; a batch keeps the loop answering between them. */
const BATCH = 256;
/** Errors that mean the kernel has no watch (or descriptor) left for us, not that the directory is gone. */
const EXHAUSTED = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'ENOMEM']);

/**
 * What to tell an operator whose watches ran out: which limit (inotify(7): ENOSPC is the user's
 * watches; EMFILE, with no watch yet, the user's inotify instances or this process's descriptors;
 * ENFILE the system's open files; ENOMEM the kernel's memory) and how to raise it.
 */
export function limitMessage(code: string, watched: number): string {
  const keep = 'and in /etc/sysctl.d/ to keep it';
  switch (code) {
    case 'EMFILE':
      return `EMFILE: the kernel refused an inotify instance or watch after ${watched} directories: the user has fs.inotify.max_user_instances of them ` +
        `(often 128, shared by every program the user runs), or this process is at its open-file limit; raise it (\`sudo sysctl fs.inotify.max_user_instances=1024\`, ${keep}), or \`ulimit -n\``;
    case 'ENFILE':
      return `ENFILE: the system is at its open-file limit (fs.file-max) after ${watched} directories; raise it (\`sudo sysctl fs.file-max=...\`, ${keep})`;
    case 'ENOMEM':
      return `ENOMEM: the kernel had no memory for an inotify watch after ${watched} directories`;
    default:
      return `${code}: the kernel refused an inotify watch after ${watched} directories; raise fs.inotify.max_user_watches ` +
        `(\`sudo sysctl fs.inotify.max_user_watches=524288\`, ${keep})`;
  }
}

/**
 * Watches a directory tree with one non-recursive `fs.watch` (one inotify watch on Linux) per
 * directory, never per file. Node 20's `fs.watch(dir, { recursive: true })` on Linux is written in
 * JavaScript: it walks the tree with readdirSync and statSync and opens a watcher for every file, which
 * for 100,000 files blocked the event loop for 2.7 s and cost some 250 MB. Here directories are found
 * by an asynchronous walk (or handed over by a walk the caller already made), and watches are opened a
 * batch per event-loop turn.
 *
 * Events: `onChange(event, path)`, `path` relative to the root (`fonts/a.woff2`; `''` the root directory itself), or null when the
 * platform did not say which. A directory that appeared (or came back: a chmod of one is said so) is
 * reported again, as itself, once it is watched; what is in it is the caller's to walk. `'error'` (once, then the watcher is closed) when the kernel refuses a
 * watch for want of resources (ENOSPC, EMFILE: see `limitMessage`); the caller then has to look for
 * changes some other way. Symlinks are never followed: a symlinked directory raises no event here,
 * only its target, at its own path, when that is under the root.
 */
export class TreeWatcher {
  /**
   * The 'error' listeners, kept here rather than by extending EventEmitter: with the watcher an
   * EventEmitter, a plain node:http handler sharing the process ran ~1,300 more instructions per
   * request (bench/instructions.js's method; README, "Instructions per request").
   */
  private readonly errorListeners: ((error: Error) => void)[] = [];
  /** The name an event on the root directory itself comes with (see event). */
  private readonly rootName: string;
  private readonly watches = new Map<string, DirWatch>();
  /**
   * When each watch was opened, on a clock that also counts events: a watch opened after an event
   * already sees what that event reported (see renamed). Not inodes: a directory removed and made
   * again under its name most often gets the same inode number.
   */
  private readonly openedAt = new Map<string, number>();
  private clock = 0;
  private readonly watchDir: WatchDir;
  private readonly lstat: (path: string) => Promise<Stats>;
  private readonly ignore: (name: string, parentRel: string) => boolean;
  private closed = false;
  /**
   * Directories waiting for their watch (a batch per turn). `list`: list it once watched; `report`: and
   * then report it (a directory that appeared after start, not one of the initial walk).
   */
  private queue: Queued[] = [];
  /** The first item of `queue` not opened yet (an index, not shift(): a tree may queue 100,000 directories). */
  private head = 0;
  private draining: NodeJS.Immediate | null = null;
  private idleWaiters: (() => void)[] = [];
  private listing = 0;
  /**
   * Names a 'rename' event named whose lstat is under way, with the clock of the latest event for
   * each: a storm of events on a few names (10,000 renames a second) costs one lstat at a time per
   * name, not one per event. One per event queued them in libuv's thread pool faster than it ran
   * them, ahead of the file server's reads: answers waited seconds, and the queue held ~700 MB.
   */
  private readonly checking = new Map<string, Check>();

  constructor(
    readonly root: string,
    private readonly onChange: (event: string, path: string | null) => void,
    options: TreeWatcherOptions = {},
  ) {
    this.rootName = basename(root);
    this.watchDir = options.watchDir ?? defaultWatchDir;
    this.lstat = options.lstat ?? lstat;
    this.ignore = options.ignore ?? (() => false);
    // The root's own watch is opened now, so a failure to watch at all is thrown to the caller.
    const walk = options.dirs === undefined;
    this.open({ rel: '', list: walk, report: false }, true);
    if (!walk) for (const rel of options.dirs) if (rel !== '') this.enqueue({ rel, list: false, report: false });
  }

  /**
   * Watches directory `rel` (relative to the root) now, for a caller that walks the tree itself and
   * lists `rel` next: anything made in it after this call raises an event. Its subdirectories are the
   * caller's to add.
   */
  add(rel: string): void {
    this.open({ rel, list: false, report: false }, false);
  }

  /** Only 'error' is emitted: once, when watching has stopped for want of kernel resources. */
  on(event: 'error', listener: (error: Error) => void): this {
    if (event !== 'error') throw new TypeError(`TreeWatcher emits only 'error', not '${String(event)}'`);
    this.errorListeners.push(listener);
    return this;
  }

  /** Directories watched now. */
  get size(): number {
    return this.watches.size;
  }

  /** Resolves once every directory found so far is watched and listed (for tests and benchmarks). */
  ready(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) closeQuietly(w);
    this.watches.clear();
    this.openedAt.clear();
    this.queue = [];
    this.head = 0;
    if (this.draining !== null) clearImmediate(this.draining);
    this.draining = null;
    this.settle();
  }

  private enqueue(item: Queued): void {
    // Closed by a listener (on a report of the directory listed): a queued item would keep drain() rescheduling itself.
    if (this.closed) return;
    this.queue.push(item);
    this.draining ??= setImmediate(() => this.drain());
  }

  private drain(): void {
    this.draining = null;
    const end = Math.min(this.queue.length, this.head + BATCH);
    for (; this.head < end && !this.closed; this.head++) this.open(this.queue[this.head] as Queued, false);
    if (this.head < this.queue.length) this.draining = setImmediate(() => this.drain());
    else this.queue.length = this.head = 0;
    this.settle();
  }

  /**
   * Watches one directory, then (when `list`) lists it: the directory is reported once its watch
   * exists (so what was created in it before is looked at by the caller's walk of it), and its
   * subdirectories get theirs. Watch first, report second, so nothing written in between goes unseen.
   */
  private open({ rel, list, report }: Queued, throwing: boolean): void {
    if (this.closed || this.watches.has(rel)) return;
    let w: DirWatch;
    try {
      w = this.watchDir(join(this.root, rel), (event, filename) => this.event(rel, event, filename));
    } catch (e) {
      if (throwing) throw this.exhausted(e as NodeJS.ErrnoException) ?? e;
      this.refused(rel, e as NodeJS.ErrnoException);
      return;
    }
    this.watches.set(rel, w);
    this.openedAt.set(rel, ++this.clock);
    w.on('error', (e) => this.refused(rel, e as NodeJS.ErrnoException));
    if (list) void this.list(rel, report);
  }

  /** A watch refused or failed: out of watches is the caller's problem; anything else, the directory went away. */
  private refused(rel: string, e: NodeJS.ErrnoException): void {
    if (this.closed) return;
    const error = this.exhausted(e);
    if (error !== null) {
      this.close();
      for (const listener of this.errorListeners) listener(error);
      return;
    }
    this.unwatch(rel);
    this.onChange('rename', rel === '' ? null : rel);
  }

  /** For an error that says the kernel has no watch left: one that says which limit, and how to raise it. */
  private exhausted(e: NodeJS.ErrnoException): Error | null {
    if (!EXHAUSTED.has(e.code ?? '')) return null;
    return Object.assign(new Error(limitMessage(e.code ?? '', this.watches.size)), { code: e.code });
  }

  private async list(rel: string, report: boolean): Promise<void> {
    this.listing++;
    try {
      let entries: Dirent[];
      try {
        entries = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch {
        return; // gone already: its parent's event says so
      }
      if (this.closed) return;
      // The directory itself, once: what is in it is the caller's to walk. Named child by child, a chmod
      // of a directory of 1,000 files (inotify says it as a name that went away and came back) was 1,000
      // changes, more than a caller looks at one by one, and it walked the whole tree.
      if (report) this.onChange('rename', rel);
      for (const entry of entries) {
        if (entry.isDirectory() && !this.ignore(entry.name, rel)) {
          this.enqueue({ rel: rel === '' ? entry.name : `${rel}${sep}${entry.name}`, list: true, report });
        }
      }
    } finally {
      this.listing--;
      this.settle();
    }
  }

  private event(dirRel: string, event: string, filename: string | Buffer | null): void {
    if (this.closed) return;
    if (filename === null) {
      this.onChange(event, null);
      return;
    }
    const name = filename.toString();
    const rel = dirRel === '' ? name : `${dirRel}${sep}${name}`;
    // An event on a watched directory itself (a chmod, its removal) comes named as the directory: a
    // subdirectory's also comes to its parent's watch, but the root's comes only here, so a name equal
    // to the root's is also said as the root itself ('': a child of that name cannot be told apart).
    if (dirRel === '' && name === this.rootName) this.onChange(event, '');
    this.onChange(event, rel);
    // A name that appeared or went away may be a directory: only 'rename' events say so on inotify.
    if (event === 'rename') this.renamed(rel, name, dirRel);
  }

  /** A name appeared or went away: looked at once its lstat under way, if any, has answered. */
  private renamed(rel: string, name: string, parentRel: string): void {
    const at = ++this.clock;
    const check = this.checking.get(rel);
    if (check !== undefined) {
      check.at = at;
      check.again = true;
      return;
    }
    const fresh: Check = { at, again: false };
    this.checking.set(rel, fresh);
    void this.lookAt(rel, name, parentRel, fresh);
  }

  /**
   * Looks at `rel` until no event came for it during the last lstat, acting on each answer (so a name
   * that never stops changing is still followed, one lstat at a time).
   */
  private async lookAt(rel: string, name: string, parentRel: string, check: Check): Promise<void> {
    do {
      const at = check.at;
      check.again = false;
      const s = await this.lstat(join(this.root, rel)).catch(() => null);
      if (this.closed) break;
      this.follow(rel, name, parentRel, s, at);
    } while (check.again);
    this.checking.delete(rel);
  }

  /** What an lstat of `rel` made after event `at` saw: a new directory is watched and listed, a vanished one released. */
  private follow(rel: string, name: string, parentRel: string, s: Stats | null, at: number): void {
    if (s?.isDirectory() === true) {
      if ((this.openedAt.get(rel) ?? 0) > at || !this.watches.has(parentRel) || this.ignore(name, parentRel)) return;
      // Maybe watched under this name, but another directory (rm -rf x && mkdir x): the watch of the
      // old one would report nothing more, so the one there now is watched afresh.
      this.unwatch(rel);
      this.enqueue({ rel, list: true, report: true });
      return;
    }
    // Not a directory (now): a watched one went away. (Checked first: a file's event would otherwise
    // look through every watch.)
    if (this.watches.has(rel)) this.unwatch(rel);
  }

  /** Releases the watches of `rel` and of every directory under it. */
  private unwatch(rel: string): void {
    const below = `${rel}${sep}`;
    for (const [path, w] of this.watches) {
      if (path === rel || (rel === '' ? true : path.startsWith(below))) {
        closeQuietly(w);
        this.watches.delete(path);
        this.openedAt.delete(path);
      }
    }
  }

  private isIdle(): boolean {
    return this.closed || (this.head === this.queue.length && this.draining === null && this.listing === 0);
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

interface Check {
  /** The clock of the latest event for the name. */
  at: number;
  /** Another event came while its lstat was under way: look again. */
  again: boolean;
}

interface Queued {
  readonly rel: string;
  readonly list: boolean;
  readonly report: boolean;
}

function closeQuietly(w: DirWatch): void {
  try {
    w.close();
  } catch {
    // Already closed by its own error: nothing left to release.
  }
}
