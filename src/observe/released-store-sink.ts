import type { RunTopology } from '../store/run-metadata.ts';
import { debug } from '../core/debug.ts';
import { isStoreLocked } from '../store/store-lock.ts';
import { createRun, finishRun, listRuns, recordHarnessLag, type RunStatus } from '../store/runs.ts';
import { HarnessLagGauge } from '../run/harness-lag.ts';
import { ObservationWriter, type Observation } from '../store/observation-writer.ts';
import { Store } from '../store/store.ts';
import { RecordQueue } from '../capture/record/record-queue.ts';

/** How often the observations gathered are committed under steady traffic; the store is open only while they are. */
export const RELEASE_INTERVAL_MS = 1000;
/**
 * How soon after traffic pauses what was gathered is committed: when a replay ends, a report started right after it
 * (the README's recipe) must find every observation, not all but the last second's.
 */
export const IDLE_COMMIT_MS = 100;
/** Longer than any batch takes to write: the writer's periodic commit never cuts a batch in two. */
const ONE_COMMIT_MS = 600_000;
/** Observations held while the store is in another process's hands; beyond this they are counted, not kept. */
const MAX_HELD = 1_000_000;

export interface ReleasedSinkOptions {
  path: string;
  runName: string;
  protocol: string;
  /** What the run is: a backend declares its role, so an empty store still names the leg it was meant to observe. */
  topology: RunTopology | undefined;
  startedNs: bigint;
}

/**
 * Records observations into a DuckDB file that other processes can read while this one runs: DuckDB lets one process
 * open a file at a time, so the file is opened only to commit what was gathered (once a second) and released between.
 * A reader (`parity analyse --observations`) gets it between two commits; while a reader holds it, observations wait
 * in memory for the next try. Traffic that pauses is committed within 100 ms. What a crash loses: at most a second.
 */
export class ReleasedStoreSink {
  private held: Observation[] = [];
  private readonly timer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** Observations dropped because the store stayed out of reach longer than `MAX_HELD` allowed. */
  unrecorded = 0;
  committed = 0;
  /** The last failure that was not another process holding the store: raised by `close`. */
  private failure: unknown;
  /** Why the store was last out of reach: raised by `close` when it stays so past its wait. */
  private lastLockError: unknown;

  /** This process stamps the observations: its event loop's lateness goes with them. */
  private readonly lag = new HarnessLagGauge();

  private constructor(private readonly options: ReleasedSinkOptions) {
    this.timer = setInterval(() => void this.commit(), RELEASE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Creates the run in the store (or finds it) and releases the file. */
  static async open(options: ReleasedSinkOptions): Promise<ReleasedStoreSink> {
    const store = await Store.open(options.path);
    try {
      const [existing] = await listRuns(store, options.runName);
      if (existing === undefined) {
        await createRun(store, { name: options.runName, kind: 'record', protocol: options.protocol, topology: options.topology, startedNs: options.startedNs });
      }
    } finally {
      store.close();
    }
    return new ReleasedStoreSink(options);
  }

  add(observation: Observation): void {
    if (this.held.length >= MAX_HELD) {
      this.unrecorded++;
      return;
    }
    this.held.push(observation);
    if (this.idleTimer !== undefined) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        void this.commit();
      }, IDLE_COMMIT_MS);
      this.idleTimer.unref();
    }
  }

  /** Commits what is held; a store another process holds is tried again at the next interval. */
  commit(): Promise<void> {
    this.committing = this.committing.then(() => this.commitHeld());
    return this.committing;
  }

  /** Commits everything (waiting up to `waitMs` for a reader to let go) and marks the run with `status`. */
  async close(status: RunStatus, endedNs: bigint, waitMs = 30_000): Promise<void> {
    clearInterval(this.timer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const deadline = Date.now() + waitMs;
    for (;;) {
      await this.commit();
      if (this.failure !== undefined) throw this.failure;
      // The run is marked ended only once every observation is in: never completed with some still held.
      if (this.held.length === 0) {
        try {
          await this.withStore(async (store) => {
            const [run] = await listRuns(store, this.options.runName);
            if (run === undefined) return;
            await recordHarnessLag(store, run.runId, this.lag.stop());
            await finishRun(store, run.runId, status, endedNs, { observations: this.committed, unrecorded: this.unrecorded });
          });
          return;
        } catch (error) {
          if (!isStoreLocked(error)) throw error;
          this.lastLockError = error;
        }
      }
      if (Date.now() > deadline) throw this.lastLockError;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async commitHeld(): Promise<void> {
    if (this.held.length === 0) return;
    const batch = this.held;
    this.held = [];
    try {
      await this.withStore(async (store) => {
        const [run] = await listRuns(store, this.options.runName);
        if (run === undefined) throw new Error(`run ${this.options.runName} vanished from ${this.options.path}`);
        // Written in slices through a feed that DuckDB's threads store, and checkpointed there before the file is
        // released: a backend answers devices on this thread, and a synchronous commit and close held it 100-250 ms
        // every second at 10k pps (devices saw a round trip p99 of 300 ms from a backend whose own is 2 ms).
        // One commit for the batch (at finish): a batch that fails is held again whole, so none of it may be in.
        const writer = await ObservationWriter.create(store, run.runId, { bulk: true, flushIntervalMs: ONE_COMMIT_MS });
        const slices = new RecordQueue<Observation>((observation) => writer.add(observation), Number.POSITIVE_INFINITY, () => writer.ready());
        for (const observation of batch) slices.push(observation);
        await slices.flushed();
        await writer.finish();
      });
      this.committed += batch.length;
    } catch (error) {
      // Held again, ahead of what came since: the order of a leg's observations is kept.
      this.held = batch.concat(this.held);
      if (isStoreLocked(error)) this.lastLockError = error;
      else this.failure = error;
      debug('observation store %s busy; %d observations held', this.options.path, this.held.length);
    }
  }

  private async withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const store = await Store.open(this.options.path);
    try {
      await fn(store);
      // What the close would checkpoint on this thread, done on DuckDB's.
      await store.exec('CHECKPOINT');
    } finally {
      store.close();
    }
  }
}
