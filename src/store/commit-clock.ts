/**
 * When a batching writer last committed, and the timer that commits it when it has waited too long. A commit from the
 * timer never throws out of the timer (that would end the process): a failure stops the timer and is handed back by
 * `stop`, for the writer's `close` to raise where its caller can say what it means.
 */
export class CommitClock {
  private lastCommitMs = Date.now();
  private readonly timer: NodeJS.Timeout;
  private failure: unknown;

  /** `commitIfStale` is called every `tickMs` with `maxAgeMs`. */
  constructor(maxAgeMs: number, tickMs: number, commitIfStale: (maxAgeMs: number) => void) {
    this.timer = setInterval(() => {
      try {
        commitIfStale(maxAgeMs);
      } catch (error) {
        clearInterval(this.timer);
        this.failure ??= error;
      }
    }, tickMs);
    this.timer.unref();
  }

  isStale(maxAgeMs: number): boolean {
    return Date.now() - this.lastCommitMs >= maxAgeMs;
  }

  committed(): void {
    this.lastCommitMs = Date.now();
  }

  /** Stops the timer; returns the failure a timed commit met, if one did. */
  stop(): unknown {
    clearInterval(this.timer);
    return this.failure;
  }
}
