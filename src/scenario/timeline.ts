import type { JsonObject } from '../core/json.ts';
import { debug } from '../core/debug.ts';
import type { SimulatedBackend } from '../backends/simulated-backend.ts';
import type { TimelineEvent } from './scenario-spec.ts';

export interface TimelineTargets {
  backends: ReadonlyMap<string, SimulatedBackend>;
  reload?: (globals: JsonObject) => Promise<void>;
}

/** A scenario's fault timeline: events at offsets from the start of the replay (stop a backend, reload the relay). */
export class Timeline {
  private readonly timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown>[] = [];
  readonly applied: { atMs: number; description: string; actualMs: number }[] = [];

  constructor(
    private readonly events: readonly TimelineEvent[],
    private readonly targets: TimelineTargets,
  ) {}

  /** Schedules every event; `startNs` is the replay's start (monotonic ns). */
  start(startNs: number): void {
    for (const event of this.events) {
      const delayMs = Math.max(0, (startNs - Number(process.hrtime.bigint())) / 1e6 + event.atMs);
      this.timers.push(setTimeout(() => this.running.push(this.apply(event, startNs)), delayMs));
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(this.running);
    this.running = [];
  }

  private async apply(event: TimelineEvent, startNs: number): Promise<void> {
    const actualMs = (Number(process.hrtime.bigint()) - startNs) / 1e6;
    let description: string;
    if (event.action === 'reload') {
      description = `reload relay with ${JSON.stringify(event.globals)}`;
      await this.targets.reload?.(event.globals);
    } else {
      const backend = this.targets.backends.get(event.backend);
      description = `${event.action} ${event.backend}`;
      if (event.action === 'stop') await backend?.stop();
      else await backend?.start();
    }
    debug('timeline at %d ms: %s', actualMs, description);
    this.applied.push({ atMs: event.atMs, description, actualMs });
  }
}
