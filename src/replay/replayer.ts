import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { getCapture, type CaptureSummary } from '../capture/capture-catalog.ts';
import { NetworkError, UsageError } from '../core/errors.ts';
import { LatencyHistogram } from '../core/latency-histogram.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import { ObservationWriter } from '../store/observation-writer.ts';
import type { RunStatus } from '../store/runs.ts';
import { SendWriter, type SendRecord } from '../store/send-writer.ts';
import type { Store } from '../store/store.ts';
import { DeviceFleet } from './device-fleet.ts';
import { nowNs, waitUntil, yieldToEventLoop } from './pacer.ts';
import { describePace, Schedule, type ReplayPlan } from './replay-plan.ts';
import { ReadAhead } from './read-ahead.ts';
import { captureAddresses, loopUplink, summarizeUplink, type UplinkChunk, type UplinkSummary } from './uplink-source.ts';

/** Time between starting the clock and the first send, so sockets and writers are settled when timing starts. */
const LEAD_NS = 20_000_000;
/** Sends in a row before the event loop must run (replies are read, writes flushed), however late the plan is. */
const MAX_SENDS_WITHOUT_YIELD = 256;
const PROGRESS_INTERVAL_NS = 250_000_000;
/**
 * The store commits while the pacer has time to spare, at most once a second; when a plan never leaves any, a commit
 * is forced this often: a crash loses at most this much of the run.
 */
export const COMMIT_BOUND_MS = 10_000;
const COMMIT_WHEN_IDLE_MS = 1000;
/** Chunks of 2,048 packets read ahead of the pacer: enough to hide a new loop's query behind a second of sending. */
const READ_AHEAD_CHUNKS = 8;

/** What a replay sends and how: everything it needs, nothing about the run it belongs to. */
export interface ReplayOptions {
  store: Store;
  capture: string;
  /** The relay's address; ports come from the capture, through `portMap`. */
  relayHost: string;
  portMap: ReadonlyMap<number, number>;
  plan: ReplayPlan;
  protocol: DeviceProtocol;
  /** Local addresses for the devices, e.g. 127.20.0.0/16. */
  devices: string;
  ackTimeoutMs: number;
  /** Aborting stops sending; the replay waits for ACKs in flight, keeps everything, and says it was interrupted. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** Called once the devices are bound and the clock starts: scenarios schedule their fault timelines from here. */
  onStart?: (startNs: number) => void;
}

export interface ReplayProgress {
  sent: number;
  /** Packets the plan sends: the capture (after --sample) times --loop; with --duration, estimated from the time left. */
  planned: number;
  /** How far along the plan is, 0 to 1: by packets, or by time where --duration ends it sooner. */
  fraction: number;
  /** Seconds left at the pace so far; undefined until there is a pace to go by. */
  etaSec: number | undefined;
  acks: number;
  elapsedSec: number;
  ratePps: number;
  latenessP99Us: number;
}

export interface ReplayStats {
  planned: number;
  sent: number;
  sendErrors: number;
  /** Failed sends by kind: refused, unreachable, no_buffer, ... */
  sendErrorsByKind: Record<string, number>;
  acks: number;
  devices: number;
  devicesInCapture: number;
  durationSec: number;
  askedRatePps: number | null;
  achievedRatePps: number;
  lateness: { p50Us: number; p99Us: number; maxUs: number; meanUs: number };
  pace: string;
  loops: number;
  sample: number;
  interrupted: boolean;
}

export interface ReplayResult {
  runId: number;
  runName: string;
  status: RunStatus;
  stats: ReplayStats;
}

/** What a replay sends, checked and ready: the capture, its uplink, the relay's address, the devices' sockets bound. */
export interface PreparedReplay {
  options: ReplayOptions;
  capture: CaptureSummary;
  uplink: UplinkSummary;
  relayIp: string;
  fleet: DeviceFleet;
  /** Where the fleet's replies are recorded once a run exists. */
  sinks: { observations: ObservationWriter | undefined };
  /** What the run stores of this replay's plan. */
  plan: Record<string, unknown>;
  /** Releases the devices' sockets (also when the replay never ran). */
  close(): Promise<void>;
}

/** How a replay ended: its status and counts, and when its clock started (the run's time origin). */
export interface ReplayOutcome {
  status: Extract<RunStatus, 'completed' | 'interrupted'>;
  stats: ReplayStats;
  startNs: bigint;
}

/**
 * Checks everything a replay can refuse (the capture, its uplink, the relay's address, the devices' addresses) and
 * binds the devices' sockets, before any run exists: bad arguments never leave a run behind.
 */
export async function prepareReplay(options: ReplayOptions): Promise<PreparedReplay> {
  const { store, plan, protocol } = options;
  const capture = await getCapture(store, options.capture);
  if (capture.writing) throw new UsageError(`capture "${capture.name}" is ${capture.error ?? 'still being written'}: replay it once it is finished`, { field: 'capture' });
  if (capture.routePorts.length === 0) throw new UsageError(`capture "${capture.name}" has no route ports: import it again with --port`, { field: 'capture' });
  const uplink = await summarizeUplink(store, capture.captureId, capture.routePorts, plan.sample, plan.seed);
  if (uplink.packets === 0) throw new UsageError(`capture "${capture.name}" has no uplink packets to replay (after --sample)`, { field: 'capture' });
  const relayIp = await resolveRelay(options.relayHost);
  const reversePorts = new Map([...options.portMap].map(([route, relay]) => [relay, route]));
  const sinks: PreparedReplay['sinks'] = { observations: undefined };
  const fleet = new DeviceFleet(options.devices, protocol, { add: (o) => sinks.observations?.add(o) }, (relayPort) => reversePorts.get(relayPort) ?? relayPort);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fleet.close();
  };
  try {
    await fleet.open(uplink.devices.keys());
  } catch (error) {
    await close();
    throw error;
  }
  const description = { ...plan, description: describePace(plan.pace), portMap: Object.fromEntries(options.portMap), devices: options.devices, ackTimeoutMs: options.ackTimeoutMs };
  return { options, capture, uplink, relayIp, fleet, sinks, plan: description, close };
}

/**
 * Replays a prepared capture's uplink through the relay, recording into run `runId`: each original device from its
 * own local address, in capture order, on the timing plan; every send (`sends`) and every reply (`observations`, leg
 * relay>device). It neither creates nor finishes the run: that is the run session's (src/run/).
 */
export async function sendReplay(prepared: PreparedReplay, runId: number): Promise<ReplayOutcome> {
  const { options, fleet, capture, uplink } = prepared;
  const { store, plan } = options;
  const observations = await ObservationWriter.create(store, runId, { flushIntervalMs: COMMIT_BOUND_MS });
  prepared.sinks.observations = observations;
  const sends = await SendWriter.create(store, runId, { flushIntervalMs: COMMIT_BOUND_MS });
  const connection = await store.connect();
  let outcome: SendLoopOutcome;
  try {
    outcome = await sendLoop({ options: { ...options, relayHost: prepared.relayIp }, fleet, sends, connection, capture, uplink, runId });
    await waitForAcks(fleet, options.ackTimeoutMs);
  } finally {
    connection.closeSync();
    await prepared.close();
    sends.close();
    observations.close();
  }
  const stats = summarize(outcome, fleet, uplink, plan, options.signal?.aborted === true);
  return {
    status: stats.interrupted ? 'interrupted' : 'completed',
    stats,
    startNs: BigInt(Math.round(outcome.startNs)),
  };
}

/** The relay's address: an IP as it is, a host name resolved once (a lookup per send would be both slow and silent). */
async function resolveRelay(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (cause) {
    throw new UsageError(`--relay "${host}" is neither an IP address nor a host name that resolves (${(cause as NodeJS.ErrnoException).code ?? 'lookup failed'})`, { field: 'relay' }, { cause });
  }
}

interface SendLoopOutcome {
  startNs: number;
  /** When the first packet actually left: at full speed it leaves before the planned start's lead time is over. */
  firstSendNs: number;
  endNs: number;
  sent: number;
  sendErrors: number;
  lateness: LatencyHistogram;
  interrupted: boolean;
}

async function sendLoop(context: {
  options: ReplayOptions;
  fleet: DeviceFleet;
  sends: SendWriter;
  connection: Awaited<ReturnType<Store['connect']>>;
  capture: { captureId: number; routePorts: number[] };
  uplink: Awaited<ReturnType<typeof summarizeUplink>>;
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
async function waitForAcks(fleet: DeviceFleet, ackTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + ackTimeoutMs;
  while (fleet.awaitingAcks > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // Replies already in socket buffers are read before the sockets close.
  await yieldToEventLoop();
}

function summarize(outcome: SendLoopOutcome, fleet: DeviceFleet, uplink: { packets: number; devices: Map<string, number>; allDevices: number }, plan: ReplayPlan, aborted: boolean): ReplayStats {
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
