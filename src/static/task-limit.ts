/**
 * Runs async tasks with at most `max` under way at once; the rest wait in order. A scan of a large
 * tree starts a task per file: unbounded, every file would be opened before any is closed (EMFILE).
 */
export class TaskLimit {
  private running = 0;
  /** Waiting tasks from `head` on: Array.shift() moves every element, which 100,000 waiters make quadratic. */
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(private max: number) {}

  /** Halves the tasks run at once, not below `floor` (at least 1): those under way finish, and none starts until fewer run. */
  halve(floor = 1): void {
    this.max = Math.max(1, floor, this.max >> 1);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((go) => this.waiting.push(go));
    else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next task, so `running` never overshoots `max` (unless narrowed since).
      const next = this.running <= this.max ? this.next() : undefined;
      if (next !== undefined) next();
      else this.running--;
    }
  }

  private next(): (() => void) | undefined {
    if (this.head === this.waiting.length) return undefined;
    const go = this.waiting[this.head++];
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    }
    return go;
  }
}
