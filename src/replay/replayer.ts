import type { StoredPlan } from '../store/run-metadata.ts';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { getCapture, type CaptureSummary } from '../capture/capture-catalog.ts';
import { debug } from '../core/debug.ts';
import { UsageError } from '../core/errors.ts';
import { ObservationWriter } from '../store/observation-writer.ts';
import type { RunStatus } from '../store/runs.ts';
import { SendWriter } from '../store/send-writer.ts';
import { DeviceFleet } from './device-fleet.ts';
import { captureNsPerReplaySecond, describePace, plannedPeakPps } from './replay-plan.ts';
import { AUTO_SENDER_CPU_FROM_PPS, placeSender } from './sender-cpu.ts';
import type { ReplayOptions, ReplayStats } from './replay-types.ts';
import { summarize, waitForAcks } from './replay-summary.ts';
import { durationNsOf, LEAD_NS, PRIME_BATCHES, sendLoop, type SendLoopOutcome } from './send-loop.ts';
import { busiestWindowPackets, summarizeUplink, type UplinkSummary } from './uplink-source.ts';

export type { ReplayOptions, ReplayProgress, ReplayResult, ReplayStats } from './replay-types.ts';

/**
 * The store commits while the main thread waits for the sending thread to take more, at most once a second; when a
 * plan never leaves it time, a commit is forced this often: a crash loses at most this much of the run.
 */
export const COMMIT_BOUND_MS = 10_000;


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
  plan: StoredPlan;
  /** Releases the devices' sockets (also when the replay never ran). */
  close(): Promise<void>;
}

/**
 * The rate the sending thread's place is chosen for. At original timing a capture that comes in bursts asks for more
 * in its busiest second than its mean says; that second is counted (one aggregate over the uplink) only where it can
 * change the choice: `auto`, and a mean below the rate from which the thread gets a CPU of its own.
 */
async function plannedPps(options: ReplayOptions, capture: CaptureSummary, uplink: UplinkSummary): Promise<number | undefined> {
  const { pace } = options.plan;
  const mean = plannedPeakPps(pace, uplink.packets, uplink.spanNs);
  if (options.senderCpu !== 'auto' || pace.kind !== 'original' || mean === undefined || mean >= AUTO_SENDER_CPU_FROM_PPS) return mean;
  const busiest = await busiestWindowPackets(options.store, capture.captureId, capture.routePorts, uplink, captureNsPerReplaySecond(pace.speed));
  return plannedPeakPps(pace, uplink.packets, uplink.spanNs, busiest);
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
  if (capture.httpExchanges > 0 && capture.keptDatagrams === 0) throw new UsageError(`capture "${capture.name}" is HTTP (${capture.httpExchanges.toLocaleString('en-US')} exchanges, no UDP): replay it through a shadowing proxy with --proxy URL`, { field: 'capture' });
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
  const placement = placeSender(options.senderCpu, await plannedPps(options, capture, uplink));
  debug('sending thread %s', placement.why);
  try {
    const devices = [...uplink.devices.keys()];
    const connectPorts = devices.map((device) => {
      const routePort = uplink.onlyRoutePort.get(device) ?? 0;
      return routePort === 0 ? 0 : (options.portMap.get(routePort) ?? routePort);
    });
    const volume = { packets: uplink.packets * plan.loops, payloadBytes: uplink.payloadBytes * plan.loops };
    await fleet.open(devices, { relayHost: relayIp, leadNs: LEAD_NS, primeBatches: PRIME_BATCHES, durationNs: durationNsOf(plan), connectPorts, senderCpu: placement.cpu, volume });
  } catch (error) {
    await close();
    throw error;
  }
  const description = {
    ...plan,
    description: describePace(plan.pace),
    portMap: Object.fromEntries(options.portMap),
    devices: options.devices,
    ackTimeoutMs: options.ackTimeoutMs,
    ...(placement.cpu !== undefined && { senderCpu: placement.cpu }),
  };
  return { options, capture, uplink, relayIp, fleet, sinks, plan: description, close };
}

/**
 * Replays a prepared capture's uplink through the relay, recording into run `runId`: each original device from its
 * own local address, in capture order, on the timing plan; every send (`sends`) and every reply (`observations`, leg
 * relay>device). It neither creates nor finishes the run: that is the run session's (src/run/).
 */
export async function sendReplay(prepared: PreparedReplay, runId: number): Promise<ReplayOutcome> {
  return prepared.options.store.withMemoryLimit(replayMemoryLimit(prepared.uplink), () => sendCapped(prepared, runId));
}

/**
 * DuckDB's buffer pool is capped while a replay appends, as while an import does: it otherwise keeps the pages of the
 * tables written, and a replay's memory grew with its length (DuckDB's share by about 8 MB a minute at 10k pps,
 * measured over 600 s; capped, it held flat through a 120 s run). The cap makes room for the capture's stream, which
 * is one sort of the uplink held while it is read (39 MB for 300,000 packets of 60 bytes: about 64 bytes a packet
 * and its payload): with a fixed 64 MB, a replay of such a capture failed its commits once the sort and the rows
 * written filled the pool. Room for twice the sort, so it need not spill; a capture too large for that spills.
 */
const REPLAY_MEMORY_BASE_BYTES = 64 * 2 ** 20;
const SORT_BYTES_PER_PACKET = 64;

function replayMemoryLimit(uplink: { packets: number; payloadBytes: number }): number {
  return REPLAY_MEMORY_BASE_BYTES + 2 * (uplink.packets * SORT_BYTES_PER_PACKET + uplink.payloadBytes);
}

async function sendCapped(prepared: PreparedReplay, runId: number): Promise<ReplayOutcome> {
  const { options, fleet, capture, uplink } = prepared;
  const { store, plan } = options;
  const observations = await ObservationWriter.create(store, runId, { flushIntervalMs: COMMIT_BOUND_MS });
  prepared.sinks.observations = observations;
  const sends = await SendWriter.create(store, runId, { flushIntervalMs: COMMIT_BOUND_MS });
  const connection = await store.connect();
  let outcome: SendLoopOutcome;
  let receiveDrops: number | null;
  try {
    outcome = await sendLoop({ options: { ...options, relayHost: prepared.relayIp }, fleet, sends, observations, connection, capture, uplink, runId });
    await waitForAcks(fleet, options.ackTimeoutMs);
    receiveDrops = fleet.receiveDrops();
  } finally {
    connection.closeSync();
    // Each writer is finished whatever the one before did: a feed left open keeps DuckDB's insertion order off.
    try {
      await prepared.close();
    } finally {
      try {
        await sends.finish();
      } finally {
        await observations.finish();
      }
    }
  }
  const stats = { ...summarize(outcome, fleet, uplink, plan, { aborted: options.signal?.aborted === true, receiveDrops }), senderCpu: prepared.plan.senderCpu ?? null };
  return {
    status: stats.interrupted ? 'interrupted' : 'completed',
    stats,
    startNs: BigInt(Math.round(outcome.startNs)),
  };
}

/** The relay's address: an IP as it is, a host name resolved once (a lookup per send would be both slow and silent). */
async function resolveRelay(host: string): Promise<string> {
  // The devices' sockets are IPv4 (--devices is an IPv4 block): an IPv6 relay reached none of them, and the sending
  // thread failed on its first datagram with Node's own words.
  if (isIP(host) === 6) throw new UsageError(`--relay "${host}" is an IPv6 address: the devices send from IPv4 addresses (--devices), so give the relay's IPv4 address`, { field: 'relay' });
  if (isIP(host) === 4) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (cause) {
    throw new UsageError(`--relay "${host}" is neither an IP address nor a host name that resolves (${(cause as NodeJS.ErrnoException).code ?? 'lookup failed'})`, { field: 'relay' }, { cause });
  }
}
