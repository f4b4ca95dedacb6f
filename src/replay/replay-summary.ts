import type { LatencyHistogram } from '../core/latency-histogram.ts';
import type { DeviceFleet } from './device-fleet.ts';
import { nowNs, yieldToEventLoop } from './pacer.ts';
import { describePace, type ReplayPlan } from './replay-plan.ts';
import type { ReplayOptions, ReplayStats } from './replay-types.ts';
import type { SendLoopOutcome } from './send-loop.ts';

const PROGRESS_INTERVAL_NS = 250_000_000;

/** Tells the user how far the plan is, at most four times a second. */
export function reportProgress(
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

export function summarize(outcome: SendLoopOutcome, fleet: DeviceFleet, uplink: { packets: number; devices: Map<string, number>; allDevices: number }, plan: ReplayPlan, end: { aborted: boolean; receiveDrops: number | null }): ReplayStats {
  // From the first send (or the planned start, whichever came first) to the last: never zero or negative, so a short
  // replay at full speed does not report an absurd rate.
  const durationSec = Math.max(1e-3, (outcome.endNs - Math.min(outcome.startNs, outcome.firstSendNs)) / 1e9);
  const pace = plan.pace;
  const askedRatePps = pace.kind === 'rate' ? pace.ratePps : pace.kind === 'ramp' ? (pace.fromPps + pace.toPps) / 2 : null;
  const us = (ns: number): number => Math.round(ns / 10) / 100;
  return {
    planned: uplink.packets * plan.loops,
    sent: outcome.sent,
    // The fleet's count now, as its kinds are: a failed send's report can come after the last send left.
    sendErrors: fleet.sendErrors,
    sendErrorsByKind: { ...fleet.sendErrorsByKind },
    acks: fleet.repliesReceived,
    receiveDrops: end.receiveDrops,
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
    interrupted: outcome.interrupted || end.aborted,
    senderCollections: outcome.collections ?? null,
    senderWaits: outcome.waits ?? null,
    senderCpuSec: outcome.senderCpuSec ?? null,
    senderWaitedForCpu: outcome.senderWaitedForCpu ?? null,
    senderLateBatches: outcome.senderLateBatches ?? null,
  };
}
