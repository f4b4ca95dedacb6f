import type { RunTopology } from '../store/run-metadata.ts';
import { debug } from '../core/debug.ts';
import { isStoreLocked } from '../store/store-lock.ts';
import { createRun, finishRun, listRuns, recordHarnessLag, type RunStatus } from '../store/runs.ts';
import { HarnessLagGauge } from '../run/harness-lag.ts';
import { ObservationWriter, type Observation } from '../store/observation-writer.ts';
import { RECORDING_STORE, Store } from '../store/store.ts';
import { StoreError, StoreLockedError } from '../core/errors.ts';
import { RecordQueue } from '../capture/record/record-queue.ts';
import { ProgressFile, readProgressFiles } from '../store/progress-file.ts';

/** How often the observations gathered are committed under steady traffic (what a crash loses at most). */
export const RELEASE_INTERVAL_MS = 1000;
/**
 * How long the file stays open across commits under steady traffic before it is released for a reader (a merge waits
 * up to 10 s for it). Opening a store and closing it again cost 100-250 ms of CPU, most of a backend's recording at
 * 10k pps when it was done for every commit, and the close (which DuckDB only offers synchronously) holds this thread.
 */
export const HOLD_MS = 4000;
/**
 * How soon after traffic pauses what was gathered is committed and the file released: when a replay ends, a report
 * started right after it (the README's recipe) must find every observation, not all but the last second's.
 */
export const IDLE_COMMIT_MS = 100;
/**
 * The progress file's time (ISO, ms) at which the oldest observation not yet committed was received, or null: a
 * merge waits until every writer's is null or later than the merge's own start.
 */
export const UNCOMMITTED_SINCE_KEY = 'uncommitted since';
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
  /** What records, as `parity runs` and a merge that waits for it name it (`parity backend` unless said). */
  writer?: string;
  /** How the file is kept (`HOLD_MS`, `IDLE_COMMIT_MS` and `RELEASE_INTERVAL_MS` unless said). */
  timing?: { holdMs?: number; idleCommitMs?: number; commitEveryMs?: number };
  /** Observations held at most while the store is out of reach (`MAX_HELD` unless said); beyond, they are counted. */
  maxHeld?: number;
}

/**
 * Records observations into a DuckDB file that other processes can read while this one runs: DuckDB lets one process
 * open a file at a time, so the file is held only while traffic flows, committed once a second, and released at least
 * every `HOLD_MS` and as soon as traffic pauses. A reader (`parity analyse --observations`) gets it when it is
 * released; while a reader holds it, observations wait in memory for the next try. Traffic that pauses is committed
 * within 100 ms. What a crash loses: at most a second. Rows are written in slices through a feed that DuckDB's threads
 * store, and checkpointed there before the file is released: a backend answers devices on this thread, and a
 * synchronous commit and close every second held it 100-250 ms at 10k pps (devices saw a round trip p99 of 240 ms
 * from a backend whose own is 2 ms).
 *
 * Beside the store, a progress file says since when observations have waited uncommitted, rewritten the moment one
 * waits where none did and after each commit: a merge waits for those received before it began
 * (`waitForUncommitted`), so a report run right after a replay is never short of a busy backend's last second, and one
 * run under steady traffic does not wait for traffic to stop.
 */
export class ReleasedStoreSink {
  private held: Observation[] = [];
  /** When the first of `held` was received (wall clock, ms), and the same for the batch being committed. */
  private heldSinceMs: number | undefined;
  private committingSinceMs: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** The file while this process holds it, the run's id in it, and since when it is held. */
  private opened: { store: Store; runId: number; sinceMs: number } | undefined;
  /** Observations dropped because the store stayed out of reach longer than `MAX_HELD` allowed. */
  unrecorded = 0;
  committed = 0;
  /** The last failure that was not another process holding the store: raised by `close`. */
  private failure: unknown;
  /** Why the store was last out of reach: raised by `close` when it stays so past its wait. */
  private lastLockError: unknown;

  /** This process stamps the observations: its event loop's lateness goes with them. */
  private readonly lag = new HarnessLagGauge();
  private readonly status: ProgressFile;

  private constructor(private readonly options: ReleasedSinkOptions) {
    this.status = new ProgressFile(options.path, options.writer ?? 'parity backend');
    this.tell();
    this.timer = setInterval(() => void this.commit(), options.timing?.commitEveryMs ?? RELEASE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Creates the run in the store (or finds it) and releases the file. */
  static async open(options: ReleasedSinkOptions): Promise<ReleasedStoreSink> {
    const store = await Store.open(options.path, RECORDING_STORE);
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
    if (this.held.length >= (this.options.maxHeld ?? MAX_HELD)) {
      this.unrecorded++;
      return;
    }
    this.held.push(observation);
    if (this.held.length === 1) {
      this.heldSinceMs = Date.now();
      // The moment something waits that a reader would miss, the file beside the store says so (while a batch is being
      // committed it already names an older time).
      if (this.committingSinceMs === undefined) this.tell();
    }
    if (this.idleTimer !== undefined) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        void this.commit({ release: true });
      }, this.options.timing?.idleCommitMs ?? IDLE_COMMIT_MS);
      this.idleTimer.unref();
    }
  }

  /**
   * Commits what is held, and releases the file as `release` says or, when it does not say, once the file has been held
   * `HOLD_MS` or there was nothing to commit (traffic paused); a store another process holds is tried again later.
   */
  commit(options: { release?: boolean } = {}): Promise<void> {
    this.committing = this.committing.then(async () => {
      const wrote = await this.commitHeld();
      const opened = this.opened;
      const holdMs = this.options.timing?.holdMs ?? HOLD_MS;
      if (opened !== undefined && (options.release ?? (!wrote || Date.now() - opened.sinceMs >= holdMs))) await this.release();
    });
    return this.committing;
  }

  /**
   * Commits everything (waiting up to `waitMs` for a reader to let go) and marks the run with `status`; `backendDrops`:
   * what the kernel dropped at the simulated backend's sockets, kept with the run for the analysis that merges it.
   */
  async close(status: RunStatus, endedNs: bigint, waitMs = 30_000, backendDrops?: Record<string, number>): Promise<void> {
    clearInterval(this.timer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        await this.commit({ release: false });
        if (this.failure !== undefined) throw this.failure;
        // The run is marked ended only once every observation is in: never completed with some still held.
        if (this.held.length === 0) {
          try {
            const { store, runId } = await this.hold();
            await recordHarnessLag(store, runId, this.lag.stop());
            await finishRun(store, runId, status, endedNs, { observations: this.committed, unrecorded: this.unrecorded, ...(backendDrops !== undefined && { backendDrops }) });
            return;
          } catch (error) {
            if (!isStoreLocked(error)) throw error;
            this.lastLockError = error;
          }
        }
        if (Date.now() > deadline) throw this.lastLockError;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await this.release();
      this.status.close();
    }
  }

  /** Says beside the store since when observations wait uncommitted, and how many were committed (`parity runs`, merges). */
  private tell(): void {
    const since = this.committingSinceMs ?? this.heldSinceMs;
    this.status.update({ committed: this.committed, unrecorded: this.unrecorded, [UNCOMMITTED_SINCE_KEY]: since === undefined ? null : new Date(since).toISOString() }, true);
  }

  /** Writes what is held in one commit; says whether there was anything to write. */
  private async commitHeld(): Promise<boolean> {
    if (this.held.length === 0) return false;
    const batch = this.held;
    this.held = [];
    this.committingSinceMs = this.heldSinceMs;
    this.heldSinceMs = undefined;
    try {
      const { store, runId } = await this.hold();
      // One commit for the batch (at finish): a batch that fails is held again whole, so none of it may be in.
      const writer = await ObservationWriter.create(store, runId, { flushIntervalMs: ONE_COMMIT_MS });
      const slices = new RecordQueue<Observation>((observation) => writer.add(observation), Number.POSITIVE_INFINITY, () => writer.ready());
      for (const observation of batch) slices.push(observation);
      await slices.flushed();
      await writer.finish();
      this.committed += batch.length;
      this.committingSinceMs = undefined;
      this.tell();
    } catch (error) {
      // Held again, ahead of what came since: the order of a leg's observations is kept.
      this.held = batch.concat(this.held);
      this.heldSinceMs = this.committingSinceMs;
      this.committingSinceMs = undefined;
      if (isStoreLocked(error)) this.lastLockError = error;
      else {
        this.failure = error;
        await this.release().catch(() => undefined);
      }
      debug('observation store %s busy; %d observations held', this.options.path, this.held.length);
    }
    return true;
  }

  /** The file, opened if this process does not hold it already, and the run's id in it. */
  private async hold(): Promise<{ store: Store; runId: number }> {
    if (this.opened !== undefined) return this.opened;
    const store = await Store.open(this.options.path, RECORDING_STORE);
    try {
      const [run] = await listRuns(store, this.options.runName);
      // Removed by someone else while this backend recorded: what it holds can no longer be stored, and it says so.
      if (run === undefined) throw new StoreError(`${this.options.path}: run ${this.options.runName} was removed while this backend recorded into it`, { file: this.options.path });
      this.opened = { store, runId: run.runId, sinceMs: Date.now() };
      return this.opened;
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** Lets go of the file: what the close would checkpoint on this thread is done on DuckDB's first. */
  private async release(): Promise<void> {
    const opened = this.opened;
    if (opened === undefined) return;
    this.opened = undefined;
    try {
      await opened.store.exec('CHECKPOINT');
    } finally {
      opened.store.close();
    }
  }
}

/**
 * Waits until no live process recording into the store at `path` holds observations it received before `cutMs` (wall
 * clock) and has not committed, so that a merge sees everything those processes had received when it began (what is
 * still in their sockets' queues is beyond any reader). A writer that holds such past `waitMs` (its store out of its
 * reach, its threads starved) is an error naming it: a merge without them would count a busy backend's last packets
 * as lost.
 */
export async function waitForUncommitted(path: string, cutMs: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [first] = readProgressFiles(path).filter((report) => {
      const since = report.progress[UNCOMMITTED_SINCE_KEY];
      return typeof since === 'string' && Date.parse(since) <= cutMs;
    });
    if (first === undefined) return;
    if (Date.now() > deadline) {
      throw new StoreLockedError(
        `${path}: ${first.command} (pid ${first.pid} on ${first.host}) has not committed observations it received before this merge for over ${waitMs / 1000} s; run the report again, or stop it first (what it said is in ${path}.progress/${first.pid}.json)`,
        { file: path },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
