import { payloadHash } from '../../core/payload-hash.ts';
import type { RunTopology } from '../../store/run-metadata.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { createCapture, finishCapture } from '../capture-catalog.ts';
import { createUdpDatagram } from '../udp-datagram.ts';
import type { DeviceProtocol } from '../../protocols/protocol.ts';
import { CapturePacketWriter } from '../../store/capture-packet-writer.ts';
import { ObservationWriter } from '../../store/observation-writer.ts';
import type { CommitPolicy } from '../../store/batched-table-writer.ts';
import { createRun, finishRun, listRuns, recordHarnessLag } from '../../store/runs.ts';
import { HarnessLagGauge } from '../../run/harness-lag.ts';
import type { Store } from '../../store/store.ts';
import type { Endpoint, TappedPacket } from '../../observe/udp-tap.ts';
import { BackendLegPairings, type ReplyPairing } from './reply-pairing.ts';

/**
 * A packet as a recorder hands it over: both clocks, both ends, the leg. `monoNs` times a run's observations: a tap
 * reads CLOCK_MONOTONIC; a live capture has only the pcap's wall clock, so its runs are timed by that (one clock
 * domain per run either way).
 */
export interface RecordedPacket {
  monoNs: bigint;
  wallNs: bigint;
  src: Endpoint;
  dst: Endpoint;
  payload: Uint8Array;
  /** The leg it was seen on (run recordings). */
  leg: string;
  /** The route port it belongs to. */
  routePort: number;
}

export interface RecordTarget {
  write(packet: RecordedPacket): void;
  /**
   * Resolves when the store has room for more (its backlog of rows not yet stored is short); rejects with the failure
   * that stopped it. Writes go to DuckDB's own threads, so a commit never holds the traffic a tap forwards.
   */
  ready(): Promise<void>;
  /** Packets committed so far, where the target counts them (what a recorder killed now leaves in the store). */
  committed?(): number;
  /** Commits what was written; `partial` says why what was recorded is incomplete, if it is. */
  /** `unrecorded`: every packet not recorded, `kernelDrops` of them dropped by the kernel before the recorder saw them. */
  finish(summary: { stoppedBy: string; unrecorded: number; kernelDrops: number; partial?: string }): Promise<void>;
}

const NS_PER_SECOND = 1_000_000_000n;

/**
 * How a recording commits: at each row group of rows, and at least every 10 s (as a replay's record), so a crash
 * loses at most that and what was queued. Commits every 250 ms, as before, were a tap's largest cost beyond
 * forwarding: at 10k pps DuckDB logged each commit's 5,000 rows and compressed them again at its checkpoints, 3.3-3.4
 * µs of CPU a row against 1.5-1.9 µs by row group (docs/performance.md, 2026-12-06).
 */
export const RECORDING_COMMIT_MS = 10_000;

/** A recording's commits, at least every `commitEveryMs` (`parity record --commit-every`) and at each row group. */
function recordingCommits(commitEveryMs: number): CommitPolicy {
  return { flushIntervalMs: commitEveryMs, rowGroupCommits: true };
}

/** Records into a capture (wall-clock times, as a pcap would have them), to replay later. */
export async function captureTarget(store: Store, name: string, source: string, routePorts: readonly number[], commitEveryMs = RECORDING_COMMIT_MS): Promise<RecordTarget> {
  const captureId = await createCapture(store, name, source, routePorts);
  const writer = await CapturePacketWriter.create(store, captureId, recordingCommits(commitEveryMs));
  const datagram = createUdpDatagram();
  const stats = createDecodeStats();
  return {
    write(packet) {
      stats.frames++;
      stats.udpDatagrams++;
      stats.keptDatagrams++;
      datagram.frameNo = stats.frames;
      datagram.tsSec = Number(packet.wallNs / NS_PER_SECOND);
      datagram.tsFracNs = Number(packet.wallNs % NS_PER_SECOND);
      datagram.srcIp = packet.src.ip;
      datagram.srcPort = packet.src.port;
      datagram.dstIp = packet.dst.ip;
      datagram.dstPort = packet.dst.port;
      datagram.payload = packet.payload;
      datagram.wireBytes = packet.payload.length;
      datagram.truncated = false;
      writer.add(datagram);
    },
    ready: () => writer.ready(),
    committed: () => writer.committed,
    async finish({ stoppedBy, unrecorded, kernelDrops, partial }) {
      await writer.close();
      await finishCapture(store, captureId, {
        format: 'tap',
        stats,
        keptDatagrams: writer.rows,
        firstTsNs: writer.firstTsNs,
        lastTsNs: writer.lastTsNs,
        error: partial ?? (unrecorded > 0 ? `${unrecordedWhy(unrecorded, kernelDrops)}; stopped by ${stoppedBy}` : undefined),
        routePorts,
      });
    },
  };
}

/** Why a recording misses packets, in words: the store behind, or the kernel's drops (a full socket or capture buffer). */
function unrecordedWhy(unrecorded: number, kernelDrops: number): string {
  const behind = unrecorded - kernelDrops;
  const parts = [
    ...(behind > 0 ? [`${behind} passed the taps but could not be recorded (the store fell behind)`] : []),
    ...(kernelDrops > 0 ? [`${kernelDrops} were dropped by the kernel before they could be read (a full socket or capture buffer)`] : []),
  ];
  return `${unrecorded} packets not recorded: ${parts.join(', ')}`;
}

/**
 * Records into a run's observations (monotonic times), to analyse directly: live shadow validation. `stampedHere`:
 * this process stamps what it sees (inline taps), so its event loop's lateness is the stamps' error; a capture (a
 * file, or a live capture the kernel stamps) carries its own times, and a slow loop here only delays their writing.
 */
export async function runTarget(
  store: Store,
  runName: string,
  protocol: DeviceProtocol,
  observer: string,
  topology: RunTopology | undefined,
  stampedHere: boolean,
  commitEveryMs = RECORDING_COMMIT_MS,
): Promise<RecordTarget> {
  const [existing] = await listRuns(store, runName);
  const runId = existing?.runId ?? (await createRun(store, { name: runName, kind: 'record', protocol: protocol.name, topology, startedNs: process.hrtime.bigint() }));
  const writer = await ObservationWriter.create(store, runId, recordingCommits(commitEveryMs));
  // A tap stamps what it sees on this process's event loop: the run's latencies are judged within its lateness.
  const lag = stampedHere ? new HarnessLagGauge() : undefined;
  // A backend's answers tied to the requests they answer, as in a scenario's taps: not to a later request that reuses
  // a slow backend's sequence number.
  const pairings = new BackendLegPairings();
  return {
    write: (packet) => writeObservation(writer, protocol, observer, packet, pairings.of(packet.leg, packet.routePort)),
    ready: () => writer.ready(),
    committed: () => writer.committed,
    async finish({ unrecorded, partial }) {
      await writer.finish();
      if (lag !== undefined) await recordHarnessLag(store, runId, lag.stop());
      // A run missing packets (the store fell behind, or its capture file was cut short) is not complete.
      await finishRun(store, runId, unrecorded > 0 || partial !== undefined ? 'interrupted' : 'completed', process.hrtime.bigint(), { unrecorded, ...(partial !== undefined && { partial }) });
    },
  };
}

/** Records a packet seen on a leg as an observation: decoded for its kind and match key, payload kept for replies. */
export function writeObservation(writer: ObservationWriter, protocol: DeviceProtocol, observer: string, packet: RecordedPacket, pairing?: ReplyPairing): void {
  const isReply = isReplyLeg(packet.leg);
  const decoded = isReply ? protocol.decodeAck(packet.payload) : protocol.decode(packet.payload);
  let replyToHash: number | undefined;
  if (pairing !== undefined && decoded.matchKey !== null && decoded.matchKey !== undefined) {
    if (isReply) replyToHash = pairing.reply(packet.dst, decoded.matchKey, packet.monoNs);
    else pairing.request(packet.src, decoded.matchKey, payloadHash(packet.payload), packet.monoNs, decoded.wantsAck);
  }
  writer.add({
    ...(replyToHash !== undefined && { replyToHash }),
    leg: packet.leg,
    tsNs: packet.monoNs,
    srcIp: packet.src.ip,
    srcPort: packet.src.port,
    dstIp: packet.dst.ip,
    dstPort: packet.dst.port,
    routePort: packet.routePort,
    payload: packet.payload,
    kind: decoded.kind,
    matchKey: decoded.matchKey,
    observer,
    keepPayload: isReply,
  });
}

/** Legs that carry answers (ACKs): relay>device and X>relay. */
export function isReplyLeg(leg: string): boolean {
  return leg === 'relay>device' || (leg.endsWith('>relay') && leg !== 'device>relay');
}

/** The leg the other way: device>relay <-> relay>device, relay>primary <-> primary>relay. */
export function reverseLeg(leg: string): string {
  const [from = '', to = ''] = leg.split('>');
  return `${to}>${from}`;
}

/**
 * A packet through a tap as a packet on its leg: the tap's uplink leg, or `replyLeg` (its reverse, reverseLeg) for a
 * reply. Called for every packet a tap forwards, on the forwarding thread: the reply leg is worked out once by the
 * caller, and the object is built field by field (a spread of the packet cost a tap 1.5 µs a packet).
 */
export function tappedOnLeg(packet: TappedPacket, uplinkLeg: string, replyLeg: string, routePort: number): RecordedPacket {
  return { monoNs: packet.monoNs, wallNs: packet.wallNs, src: packet.src, dst: packet.dst, payload: packet.payload, leg: packet.direction === 'uplink' ? uplinkLeg : replyLeg, routePort };
}
