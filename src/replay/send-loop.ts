import type { DuckDBConnection } from '@duckdb/node-api';
import { NetworkError } from '../core/errors.ts';
import { LatencyHistogram } from '../core/latency-histogram.ts';
import type { SendRecord, SendWriter } from '../store/send-writer.ts';
import type { DeviceFleet } from './device-fleet.ts';
import { nowNs, waitUntil, yieldToEventLoop } from './pacer.ts';
import { describePace, Schedule, type ReplayPlan } from './replay-plan.ts';
import { ReadAhead } from './read-ahead.ts';
import type { ReplayOptions, ReplayStats } from './replay-types.ts';
import { captureAddresses, loopUplink, type UplinkChunk, type UplinkSummary } from './uplink-source.ts';

/** Time between starting the clock and the first send, so sockets and writers are settled when timing starts. */
const LEAD_NS = 20_000_000;
/** Sends in a row before the event loop must run (replies are read, writes flushed), however late the plan is. */
const MAX_SENDS_WITHOUT_YIELD = 256;
const PROGRESS_INTERVAL_NS = 250_000_000;

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

export async function sendLoop(context: {
  options: ReplayOptions;
  fleet: DeviceFleet;
  sends: SendWriter;
  connection: DuckDBConnection;
  capture: { captureId: number; routePorts: number[] };
  uplink: UplinkSummary;
  runId: number;
}): Promise<SendLoopOutcome> {
  const { options, fleet, sends, connection, capture, uplink } = context;
  const { plan, protocol, relayHost, portMap } = options;
  const schedule = new Schedule(plan.pace, uplink.spanNs, uplink.packets);
  const durationNs = plan.durationMs === undefined ? Number.POSITIVE_INFINITY : plan.durationMs * 1e6;
  const lateness = new LatencyHistogram();
  const stopped = (): boolean => options.signal?.aborted === true;
  const devices = uplink.devices.size < uplink.allDevices ? [...uplink.devices.keys()] : undefined;
  const planned = uplink.packets * plan.loops;
  const state = { sent: 0, sinceYield: 0, nextProgressNs: 0, firstSendNs: 0 };
  const clock = { startNs: 0 };
  // One record, reused: the writer copies it at once, and nothing is allocated per packet for it.
  const record: SendRecord = {
    sendNo: 0, captureIdx: 0, loop: 0, device: '', localIp: '', localPort: 0, routePort: 0, relayPort: 0, scheduledNs: 0,
    actualNs: 0, payloadHash: 0, payloadBytes: 0, kind: '', wantsAck: false, matchKey: undefined, deviceId: undefined, error: undefined,
  };
  const send = (chunk: UplinkChunk, row: number, loop: number, scheduledNs: number): void => {
    const original = chunk.device(row);
    const device = fleet.get(original);
    if (device === undefined) return;
    const payload = chunk.payloads[row] as Uint8Array;
    const routePort = chunk.routePort[row] as number;
    const relayPort = portMap.get(routePort) ?? routePort;
    const message = protocol.decode(payload);
    if (message.wantsAck) device.awaitingAcks++;
    const actualNs = nowNs();
    if (state.firstSendNs === 0) state.firstSendNs = actualNs;
    const scheduled = Number.isNaN(scheduledNs) ? actualNs : scheduledNs;
    lateness.record(actualNs - scheduled);
    // No callback: a failed send surfaces as the socket's 'error' event, counted by the fleet.
    device.socket.send(payload, relayPort, relayHost);
    record.sendNo = state.sent++;
    record.captureIdx = chunk.idx[row] as number;
    record.loop = loop;
    record.device = original;
    record.localIp = device.localIp;
    record.localPort = device.localPort;
    record.routePort = routePort;
    record.relayPort = relayPort;
    record.scheduledNs = Math.round(scheduled);
    record.actualNs = Math.round(actualNs);
    record.payloadHash = chunk.payloadHash[row] as number;
    record.payloadBytes = payload.length;
    record.kind = message.kind;
    record.wantsAck = message.wantsAck;
    record.matchKey = message.matchKey;
    record.deviceId = message.deviceId;
    sends.add(record);
  };
  let interrupted = false;
  let index = 0;
  const addresses = await captureAddresses(options.store, capture.captureId);
  const source = new ReadAhead(loopUplink(connection, plan.loops, { captureId: capture.captureId, routePorts: capture.routePorts, firstTsNs: uplink.firstTsNs, devices, addresses }), READ_AHEAD_CHUNKS);
  try {
    let current = await source.next();
    await source.primed();
    // The clock starts once the read-ahead is full: the query's sort and the first fetches must not make the first
    // packets late.
    const startNs = nowNs() + LEAD_NS;
    clock.startNs = startNs;
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
        let scheduledNs = Number.NaN;
        if (offsetNs !== undefined) {
          scheduledNs = startNs + offsetNs;
          if (scheduledNs > nowNs()) {
            await waitUntil(scheduledNs, stopped, () => options.store.flushStale(COMMIT_WHEN_IDLE_MS));
            state.sinceYield = 0;
          }
        }
        send(chunk, row, loop, scheduledNs);
        index++;
        if (++state.sinceYield >= MAX_SENDS_WITHOUT_YIELD) {
          state.sinceYield = 0;
          await yieldToEventLoop();
          failIfEverySendFails(fleet, state.sent, `${relayHost}`);
        }
        reportProgress(options, state, fleet, lateness, { packets: planned, durationNs }, startNs);
        if (offsetNs === undefined && durationNs !== Number.POSITIVE_INFINITY && nowNs() - startNs > durationNs) break outer;
      }
    }
  } finally {
    await source.close();
  }
  const startNs = clock.startNs;
  return { startNs, firstSendNs: state.firstSendNs === 0 ? startNs : state.firstSendNs, endNs: nowNs(), sent: state.sent, sendErrors: fleet.sendErrors, lateness, interrupted };
}

/** Sends the kernel refused, once enough were tried to be sure: the replay stops early instead of counting them sent. */
const EVERY_SEND_FAILED_AFTER = 256;

function failIfEverySendFails(fleet: DeviceFleet, sent: number, relay: string): void {
  if (sent < EVERY_SEND_FAILED_AFTER || fleet.sendErrors < sent || fleet.repliesReceived > 0) return;
  const kinds = Object.entries(fleet.sendErrorsByKind).map(([kind, n]) => `${n} ${kind}`).join(', ');
  throw new NetworkError(`replay: every one of the first ${sent} sends to ${relay} failed (${kinds}): is the relay up and reachable from the --devices addresses?`);
}

function reportProgress(
  options: ReplayOptions,
  state: { sent: number; nextProgressNs: number },
  fleet: DeviceFleet,
  lateness: LatencyHistogram,
  plan: { packets: number; durationNs: number },
  startNs: number,
): void {
  if (options.onProgress === undefined) return;
  const now = nowNs();
  if (now < state.nextProgressNs) return;
  state.nextProgressNs = now + PROGRESS_INTERVAL_NS;
  const elapsedNs = Math.max(1e6, now - startNs);
  const byPackets = plan.packets === 0 ? 1 : state.sent / plan.packets;
  const fraction = Math.min(1, Math.max(byPackets, elapsedNs / plan.durationNs));
  const planned = fraction > byPackets && fraction > 0 ? Math.min(plan.packets, Math.round(state.sent / fraction)) : plan.packets;
  const etaSec = fraction > 0.01 ? ((1 - fraction) * elapsedNs) / fraction / 1e9 : undefined;
  const elapsedSec = elapsedNs / 1e9;
  options.onProgress({ sent: state.sent, planned, fraction, etaSec, acks: fleet.repliesReceived, elapsedSec, ratePps: state.sent / elapsedSec, latenessP99Us: lateness.quantileNs(0.99) / 1000 });
}

/** Waits for replies still owed, up to the ACK timeout after the last send. */
export async function waitForAcks(fleet: DeviceFleet, ackTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + ackTimeoutMs;
  while (fleet.awaitingAcks > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // Replies already in socket buffers are read before the sockets close.
  await yieldToEventLoop();
}

export function summarize(outcome: SendLoopOutcome, fleet: DeviceFleet, uplink: { packets: number; devices: Map<string, number>; allDevices: number }, plan: ReplayPlan, aborted: boolean): ReplayStats {
  // From the first send (or the planned start, whichever came first) to the last: never zero or negative, so a short
  // replay at full speed does not report an absurd rate.
  const durationSec = Math.max(1e-3, (outcome.endNs - Math.min(outcome.startNs, outcome.firstSendNs)) / 1e9);
  const pace = plan.pace;
  const askedRatePps = pace.kind === 'rate' ? pace.ratePps : pace.kind === 'ramp' ? (pace.fromPps + pace.toPps) / 2 : null;
  const us = (ns: number): number => Math.round(ns / 10) / 100;
  return {
    planned: uplink.packets * plan.loops,
    sent: outcome.sent,
    sendErrors: outcome.sendErrors,
    sendErrorsByKind: { ...fleet.sendErrorsByKind },
    acks: fleet.repliesReceived,
    devices: uplink.devices.size,
    devicesInCapture: uplink.allDevices,
    durationSec,
    askedRatePps,
    achievedRatePps: outcome.sent / durationSec,
    lateness: {
      p50Us: us(outcome.lateness.quantileNs(0.5)),
      p99Us: us(outcome.lateness.quantileNs(0.99)),
      maxUs: us(outcome.lateness.maxNs),
      meanUs: us(outcome.lateness.meanNs),
    },
    pace: describePace(pace),
    loops: plan.loops,
    sample: plan.sample,
    interrupted: outcome.interrupted || aborted,
  };
}
