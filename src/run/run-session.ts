import { debug } from '../core/debug.ts';
import type { Observer } from '../observe/observer.ts';
import { createRun, finishRun, recordHarnessLag, updateRun, type NewRun, type RunStatus } from '../store/runs.ts';
import { HarnessLagGauge } from './harness-lag.ts';
import type { WrittenRunStats } from '../store/run-metadata.ts';
import type { Store } from '../store/store.ts';

/**
 * One run's life, owned in one place: the run is created (or adopted) when the session starts, everything started
 * for it registers how to stop (`defer`), and the session ends by stopping all of it in reverse order, always, and only
 * then writing the run's final status. A run is never marked completed while something of it is still running, and
 * a failure half-way still stops everything and leaves the run `failed`.
 */
export class RunSession {
  private readonly stops: { what: string; stop: () => Promise<void> | void }[] = [];
  private ended = false;
  /** Whether the store still works on the threads of a recording for this session: from `begin` to its end. */
  private recording = true;
  /** This process's event loop, measured from the run's start to its end: its latencies are judged within it. */
  private readonly lag = new HarnessLagGauge();

  private constructor(
    readonly store: Store,
    readonly runId: number,
    readonly name: string,
  ) {}

  /** Creates the run (status running, owned by this process). */
  static async create(store: Store, run: NewRun): Promise<RunSession> {
    return RunSession.begin(store, await createRun(store, run), run.name);
  }

  /** Takes over a run made beforehand (its fields brought up to date). */
  static async adopt(store: Store, existing: { runId: number; name: string }, fields: Omit<NewRun, 'name' | 'kind'>): Promise<RunSession> {
    await updateRun(store, existing.runId, fields);
    return RunSession.begin(store, existing.runId, existing.name);
  }

  /** From here to the session's end the run records traffic: the store works as a recording does. */
  private static async begin(store: Store, runId: number, name: string): Promise<RunSession> {
    await store.beginRecording();
    return new RunSession(store, runId, name);
  }

  /** Registers how to stop something started for this run; stopped in reverse order when the session ends. */
  defer(what: string, stop: () => Promise<void> | void): void {
    this.stops.push({ what, stop });
  }

  /** An observer started for this run: stopped with everything else, in reverse order. */
  observe<T extends Observer>(observer: T): T {
    this.defer(observer.name, () => observer.stop());
    return observer;
  }

  /** Stops everything registered, last first; each is stopped even if an earlier one failed, and the first failure is raised. */
  async stopAll(): Promise<void> {
    let failure: unknown;
    for (const { what, stop } of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        debug('run %s: stopping %s failed: %s', this.name, what, error instanceof Error ? error.message : String(error));
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Stops everything, then records the run's end: its status, its counts, and when its clock started. */
  async finish(status: Extract<RunStatus, 'completed' | 'interrupted'>, stats?: WrittenRunStats, startedNs?: bigint): Promise<void> {
    // Something that would not stop may still be running: the run cannot say it completed.
    await this.stopAll().catch((error: unknown) => this.fail(error));
    await recordHarnessLag(this.store, this.runId, this.lag.stop());
    await finishRun(this.store, this.runId, status, process.hrtime.bigint(), stats, startedNs);
    this.ended = true;
    await this.endRecording();
  }

  /** Stops everything and marks the run failed; the error that ended it is raised again. */
  async fail(error: unknown): Promise<never> {
    await this.stopAll().catch(() => undefined);
    if (!this.ended) {
      await recordHarnessLag(this.store, this.runId, this.lag.stop()).catch(() => undefined);
      await finishRun(this.store, this.runId, 'failed', process.hrtime.bigint()).catch(() => undefined);
    }
    this.ended = true;
    await this.endRecording().catch(() => undefined);
    throw error;
  }

  private async endRecording(): Promise<void> {
    if (!this.recording) return;
    this.recording = false;
    await this.store.endRecording();
  }
}
