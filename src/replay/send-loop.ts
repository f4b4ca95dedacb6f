import type { DuckDBConnection } from '@duckdb/node-api';
import { NetworkError } from '../core/errors.ts';
import type { LatencyHistogram } from '../core/latency-histogram.ts';
import type { ObservationWriter } from '../store/observation-writer.ts';
import type { SendWriter } from '../store/send-writer.ts';
import type { DeviceFleet } from './device-fleet.ts';
import { MAX_BATCH_PAYLOAD_BYTES, type OutgoingBatch, type SenderCollections, type SenderStall } from './send-thread.ts';
import { SLOT_PACKETS } from './batch-ring.js';
import type { SenderWaits } from './thread-clock.js';
import { nowNs } from './pacer.ts';
import { SendRecorder } from './send-recorder.ts';
import { Schedule } from './replay-plan.ts';
import { reportProgress } from './replay-summary.ts';
import { ReadAhead } from './read-ahead.ts';
import type { ReplayOptions } from './replay-types.ts';
import { captureAddresses, loopUplink, sampledDevices, type UplinkChunk, type UplinkSummary } from './uplink-source.ts';

/** Time between starting the clock and the first send, so the sending thread and the sockets are settled when timing starts. */
export const LEAD_NS = 20_000_000;
/** The largest UDP payload: a batch is cut before the next packet could take it past MAX_BATCH_PAYLOAD_BYTES. */
const MAX_DATAGRAM_BYTES = 65_535;
/**
 * Batches queued before the clock starts: 16k packets, which cover the main thread's slow first second (its first
 * DuckDB appends, code not yet compiled). With 4 the sending thread ran dry early in the run: at 50k pps, pinned, the
 * median p99 lateness of seven runs was 1.1 ms against 0.23 ms with 16, the max 3.5-14 ms against 1.1-5.3 ms.
 */
export const PRIME_BATCHES = 16;
/**
 * The sending thread is kept this far ahead of its clock: the main thread stops for a DuckDB commit (at 50k pps, 50 to
 * 200 ms a second, and now and then a checkpoint of a second or more, measured), and a thread left with less than
 * that runs dry and sends late. 32 batches were 0.65 s at 50k pps: a 40 s replay there had a packet 0.5 s late. The
 * lead grows with the run (a second of it per second sent), so that the main thread prepares at most twice as fast as
 * the thread sends: getting 3 s ahead at once, while the run starts, made its first seconds late.
 */
const AHEAD_NS = 3_000_000_000;
/** Batches queued whatever the time they cover (a replay as fast as possible has no schedule to be ahead of). */
const MIN_BATCHES_AHEAD = 32;
/** The most batches queued, however fast the plan: 3 s at 170k pps. */
const MAX_BATCHES_AHEAD = 512;
/** How often the main thread looks whether the sending thread has room, when its reports are slow to come. */
const ROOM_POLL_MS = 2;

const COMMIT_WHEN_IDLE_MS = 1000;
/** Chunks of 2,048 packets read ahead: enough to hide a new loop's query behind a second of sending. */
const READ_AHEAD_CHUNKS = 8;

export interface SendLoopOutcome {
  startNs: number;
  /** When the first packet actually left: at full speed it leaves before the planned start's lead time is over. */
  firstSendNs: number;
  endNs: number;
  sent: number;
  sendErrors: number;
  lateness: LatencyHistogram;
  interrupted: boolean;
  /** The collector's stops of the sending thread (undefined when it failed before saying). */
  collections: SenderCollections | undefined;
  /** How the sending thread waited between sends. */
  waits: SenderWaits | undefined;
  /** CPU seconds the sending thread spent while it sent. */
  senderCpuSec: number | undefined;
  /** The sending thread kept off its CPU by other threads (Linux). */
  senderWaitedForCpu: SenderStall | undefined;
  /** Batches that reached the sending thread after their first packet was due. */
  senderLateBatches: SenderStall | undefined;
}

export interface SendLoopContext {
  options: ReplayOptions;
  fleet: DeviceFleet;
  sends: SendWriter;
  /** Where the devices' ACKs are written (through a feed, as the sends are). */
  observations: ObservationWriter;
  connection: DuckDBConnection;
  capture: { captureId: number; routePorts: number[] };
  uplink: UplinkSummary;
  runId: number;
}

/**
 * Sends the plan through the sending thread: the main thread reads the capture, schedules and decodes each packet and
 * hands them over in batches ahead of time; the thread sends each at its time and says when it left, and the main
 * thread records it. Ends when the capture's loops are sent, the duration is reached, or the replay is stopped.
 */
export async function sendLoop(context: SendLoopContext): Promise<SendLoopOutcome> {
  const { options, fleet } = context;
  const recorder = new SendRecorder(fleet, options.protocol, context.sends, options.portMap);
  const state = { startNs: 0, failure: undefined as Error | undefined, done: false, wake: (): void => undefined };
  const stopped = (): boolean => options.signal?.aborted === true;
  const planned = { packets: context.uplink.packets * options.plan.loops, durationNs: durationNsOf(options.plan) };
  const progress = { sent: 0, nextProgressNs: 0 };
  fleet.thread.go({
    onStart: (startNs) => {
      state.startNs = startNs;
      options.onStart?.(startNs);
    },
    onSent: (id, from, actualNs, last) => {
      recorder.recordSent(id, from, actualNs, last, state.startNs);
      state.failure ??= everySendFailed(fleet, recorder.sent, options.relayHost);
      progress.sent = recorder.sent;
      reportProgress(options, progress, fleet, recorder.lateness, planned, state.startNs);
      state.wake();
    },
    onReplies: (replies) => fleet.receive(replies),
    onSocketError: (code) => fleet.countSendError(code),
  });
  void fleet.thread.finished.then(
    () => ((state.done = true), state.wake()),
    (error: Error) => ((state.failure ??= error), (state.done = true), state.wake()),
  );
  // Ctrl-C stops the thread at its next packet, whatever the main thread is waiting for.
  const onAbort = (): void => {
    fleet.thread.stop();
    state.wake();
  };
  // A stop asked for before this (Ctrl-C while the sockets were made) has fired its event already.
  if (options.signal?.aborted === true) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await feed(context, recorder, state, stopped);
    while (!state.done && state.failure === undefined) await new Promise<void>((resolve) => (state.wake = resolve));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    recorder.abandonPending();
  }
  if (state.failure !== undefined) throw state.failure;
  const startNs = state.startNs;
  return {
    startNs,
    firstSendNs: recorder.firstSendNs === 0 ? startNs : recorder.firstSendNs,
    endNs: nowNs(),
    sent: recorder.sent,
    sendErrors: fleet.sendErrors,
    lateness: recorder.lateness,
    interrupted: stopped(),
    collections: fleet.thread.collections,
    waits: fleet.thread.waits,
    senderCpuSec: fleet.thread.cpuSec,
    senderWaitedForCpu: fleet.thread.waitedForCpu,
    senderLateBatches: fleet.thread.lateBatches,
  };
}

/** Reads, schedules and hands over the plan, keeping the sending thread's queue AHEAD_NS ahead of its clock. */
async function feed(context: SendLoopContext, recorder: SendRecorder, state: { startNs: number; failure: Error | undefined; done: boolean; wake: () => void }, stopped: () => boolean): Promise<void> {
  const { options, uplink, fleet } = context;
  const schedule = new Schedule(options.plan.pace, uplink.spanNs, uplink.packets);
  const durationNs = durationNsOf(options.plan);
  const source = await openUplink(context);
  let index = 0;
  const ended = (): boolean => stopped() || state.failure !== undefined || state.done;
  // How far past the thread's clock the last batch handed over reaches; a plan without times is always far enough.
  let lastOffsetNs = Number.NaN;
  const farEnough = (): boolean => {
    if (Number.isNaN(lastOffsetNs)) return true;
    const elapsedNs = state.startNs === 0 ? 0 : nowNs() - state.startNs;
    return lastOffsetNs - elapsedNs >= Math.min(AHEAD_NS, elapsedNs);
  };
  const waitForThread = (): Promise<void> =>
    new Promise<void>((resolve) => {
      state.wake = resolve;
      setTimeout(resolve, ROOM_POLL_MS);
    });
  // The batch built so far, into the thread's ring once it has room for it; undefined if the replay ended meanwhile.
  const handOver = async (final: boolean): Promise<OutgoingBatch | undefined> => {
    for (;;) {
      if (ended()) return undefined;
      const batch = recorder.take(final);
      if (batch !== undefined) {
        fleet.thread.post(batch);
        return batch;
      }
      await waitForThread();
    }
  };
  try {
    outer: for (let current = await source.next(); current !== undefined; current = await source.next()) {
      const { loop, chunk } = current;
      for (let row = 0; row < chunk.size; row++) {
        if (ended()) break outer;
        const offsetNs = schedule.offsetNs(index, loop, chunk.offsetNs[row] as number);
        if (offsetNs !== undefined && offsetNs > durationNs) break outer;
        recorder.add(chunk, row, loop, offsetNs ?? Number.NaN);
        index++;
        if (recorder.queued < SLOT_PACKETS && recorder.queuedBytes <= MAX_BATCH_PAYLOAD_BYTES - MAX_DATAGRAM_BYTES) continue;
        const batch = await handOver(false);
        if (batch === undefined) break outer;
        lastOffsetNs = batch.offsetNs[batch.count - 1] as number;
        // Spare time while the thread sends what it has: the store commits now, not between two sends.
        options.store.flushStale(COMMIT_WHEN_IDLE_MS);
        // Every send and ACK is recorded: if DuckDB falls behind storing them, the replay slows rather than the rows pile up.
        await context.sends.ready();
        await context.observations.ready();
        while (!ended() && (fleet.thread.queued >= MAX_BATCHES_AHEAD || (fleet.thread.queued >= MIN_BATCHES_AHEAD && farEnough()))) await waitForThread();
      }
    }
  } finally {
    await source.close();
  }
  if (recorder.queued === 0 || ended() || (await handOver(true)) === undefined) fleet.thread.end();
  if (stopped()) fleet.thread.stop();
}

/** The plan's duration in ns; infinite when it runs to the end of its loops. */
export function durationNsOf(plan: { durationMs: number | undefined }): number {
  return plan.durationMs === undefined ? Number.POSITIVE_INFINITY : plan.durationMs * 1e6;
}

/** The capture's uplink in send order, loop after loop, read ahead of the scheduling. */
async function openUplink(context: SendLoopContext): Promise<ReadAhead<{ loop: number; chunk: UplinkChunk }>> {
  const { options, capture, uplink } = context;
  const devices = sampledDevices(uplink);
  const addresses = await captureAddresses(options.store, capture.captureId);
  const chunks = loopUplink(context.connection, options.plan.loops, { captureId: capture.captureId, routePorts: capture.routePorts, firstTsNs: uplink.firstTsNs, devices, addresses });
  return new ReadAhead(chunks, READ_AHEAD_CHUNKS);
}

/** Sends the kernel refused, once enough were tried to be sure: the replay stops early instead of counting them sent. */
const EVERY_SEND_FAILED_AFTER = 256;

function everySendFailed(fleet: DeviceFleet, sent: number, relay: string): NetworkError | undefined {
  if (sent < EVERY_SEND_FAILED_AFTER || fleet.sendErrors < sent || fleet.repliesReceived > 0) return undefined;
  const kinds = Object.entries(fleet.sendErrorsByKind).map(([kind, n]) => `${n} ${kind}`).join(', ');
  return new NetworkError(`replay: every one of the first ${sent} sends to ${relay} failed (${kinds}): is the relay up and reachable from the --devices addresses?`);
}
