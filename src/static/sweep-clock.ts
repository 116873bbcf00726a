/**
 * The time a periodic sweep measures timeouts in: performance.now() less the process's own pauses.
 * A process stopped (SIGSTOP, a frozen container, a VM migrated, a debugger) or an event loop held
 * cannot write, so a connection's queued bytes do not move meanwhile, however fast its client reads;
 * and when it resumes, node runs its timers (the sweep) before the poll that would write them. On
 * the plain monotonic clock every download in flight across a 12 s pause was cut by a 5 s send
 * timeout. A gap between two sweeps of more than twice their period is such a pause: all of it but
 * one period is left out, so a timeout counts the time the server ran.
 */
export class SweepClock {
  private last = -1;
  private paused = 0;

  /**
   * `periodMs`: the sweep's period; may change (a reload's new timeout), the pauses counted so far
   * kept. `clock`: monotonic ms (a test's own).
   */
  constructor(
    public periodMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Call once per sweep: the time now, in ms, on a clock that stood still while the process was paused. */
  tick(): number {
    const now = this.clock();
    if (this.last !== -1 && now - this.last > 2 * this.periodMs) this.paused += now - this.last - this.periodMs;
    this.last = now;
    return now - this.paused;
  }

  /** The sweeps stopped (nothing to watch): the time until they start again is no pause. */
  stopped(): void {
    this.last = -1;
  }
}
