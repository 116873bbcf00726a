/**
 * Runs async tasks with at most `max` under way at once; the rest wait in order. A scan of a large
 * tree starts a task per file: unbounded, every file would be opened before any is closed (EMFILE).
 */
export class TaskLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((go) => this.waiting.push(go));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next task, so `running` never overshoots `max`.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
