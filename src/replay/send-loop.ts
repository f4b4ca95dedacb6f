import type { DuckDBConnection } from '@duckdb/node-api';
import { NetworkError } from '../core/errors.ts';
import type { LatencyHistogram } from '../core/latency-histogram.ts';
import type { SendWriter } from '../store/send-writer.ts';
import type { DeviceFleet } from './device-fleet.ts';
import { nowNs, waitUntil, yieldToEventLoop } from './pacer.ts';
import { PacketSender } from './packet-sender.ts';
import { Schedule } from './replay-plan.ts';
import { reportProgress } from './replay-summary.ts';
import { ReadAhead } from './read-ahead.ts';
import type { ReplayOptions } from './replay-types.ts';
import { captureAddresses, loopUplink, type UplinkChunk, type UplinkSummary } from './uplink-source.ts';

/** Time between starting the clock and the first send, so sockets and writers are settled when timing starts. */
const LEAD_NS = 20_000_000;
/** Sends in a row before the event loop must run (replies are read, writes flushed), however late the plan is. */
const MAX_SENDS_WITHOUT_YIELD = 256;

const COMMIT_WHEN_IDLE_MS = 1000;
/** Chunks of 2,048 packets read ahead of the pacer: enough to hide a new loop's query behind a second of sending. */
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
}

export interface SendLoopContext {
  options: ReplayOptions;
  fleet: DeviceFleet;
  sends: SendWriter;
  connection: DuckDBConnection;
  capture: { captureId: number; routePorts: number[] };
  uplink: UplinkSummary;
  runId: number;
}

/**
 * Sends the plan: each packet at its scheduled time (or as soon as possible), yielding to the event loop often enough
 * for replies and writes, until the capture's loops are sent, the duration is reached, or the replay is stopped.
 */
export async function sendLoop(context: SendLoopContext): Promise<SendLoopOutcome> {
  const { options, fleet, uplink } = context;
  const { plan } = options;
  const schedule = new Schedule(plan.pace, uplink.spanNs, uplink.packets);
  const durationNs = plan.durationMs === undefined ? Number.POSITIVE_INFINITY : plan.durationMs * 1e6;
  const stopped = (): boolean => options.signal?.aborted === true;
  const planned = { packets: uplink.packets * plan.loops, durationNs };
  const sender = new PacketSender(fleet, options.protocol, context.sends, { host: options.relayHost, portMap: options.portMap });
  const progress = { sent: 0, nextProgressNs: 0 };
  let sinceYield = 0;
  let interrupted = false;
  let index = 0;
  let startNs: number;
  const source = await openUplink(context);
  try {
    let current = await source.next();
    await source.primed();
    // The clock starts once the read-ahead is full: the query's sort and the first fetches must not make the first
    // packets late.
    startNs = nowNs() + LEAD_NS;
    options.onStart?.(startNs);
    outer: for (; current !== undefined; current = await source.next()) {
      const { loop, chunk } = current;
      for (let row = 0; row < chunk.size; row++) {
        if (stopped()) {
          interrupted = true;
          break outer;
        }
        const offsetNs = schedule.offsetNs(index, loop, chunk.offsetNs[row] as number);
        if (offsetNs !== undefined && offsetNs > durationNs) break outer;
        const scheduledNs = offsetNs === undefined ? Number.NaN : startNs + offsetNs;
        if (scheduledNs > nowNs()) {
          await waitUntil(scheduledNs, stopped, () => options.store.flushStale(COMMIT_WHEN_IDLE_MS));
          sinceYield = 0;
        }
        sender.send(chunk, row, loop, scheduledNs);
        index++;
        if (++sinceYield >= MAX_SENDS_WITHOUT_YIELD) {
          sinceYield = 0;
          await yieldToEventLoop();
          failIfEverySendFails(fleet, sender.sent, options.relayHost);
        }
        progress.sent = sender.sent;
        reportProgress(options, progress, fleet, sender.lateness, planned, startNs);
        if (offsetNs === undefined && durationNs !== Number.POSITIVE_INFINITY && nowNs() - startNs > durationNs) break outer;
      }
    }
  } finally {
    await source.close();
  }
  const firstSendNs = sender.firstSendNs === 0 ? startNs : sender.firstSendNs;
  return { startNs, firstSendNs, endNs: nowNs(), sent: sender.sent, sendErrors: fleet.sendErrors, lateness: sender.lateness, interrupted };
}

/** The capture's uplink in send order, loop after loop, read ahead of the pacer. */
async function openUplink(context: SendLoopContext): Promise<ReadAhead<{ loop: number; chunk: UplinkChunk }>> {
  const { options, capture, uplink } = context;
  const devices = uplink.devices.size < uplink.allDevices ? [...uplink.devices.keys()] : undefined;
  const addresses = await captureAddresses(options.store, capture.captureId);
  const chunks = loopUplink(context.connection, options.plan.loops, { captureId: capture.captureId, routePorts: capture.routePorts, firstTsNs: uplink.firstTsNs, devices, addresses });
  return new ReadAhead(chunks, READ_AHEAD_CHUNKS);
}

/** Sends the kernel refused, once enough were tried to be sure: the replay stops early instead of counting them sent. */
const EVERY_SEND_FAILED_AFTER = 256;

function failIfEverySendFails(fleet: DeviceFleet, sent: number, relay: string): void {
  if (sent < EVERY_SEND_FAILED_AFTER || fleet.sendErrors < sent || fleet.repliesReceived > 0) return;
  const kinds = Object.entries(fleet.sendErrorsByKind).map(([kind, n]) => `${n} ${kind}`).join(', ');
  throw new NetworkError(`replay: every one of the first ${sent} sends to ${relay} failed (${kinds}): is the relay up and reachable from the --devices addresses?`);
}
