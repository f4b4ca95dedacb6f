import { UsageError } from '../../core/errors.ts';
import { droppedInAll, type CaptureDrops } from '../pcapng-reader.ts';
import { readCaptureFile } from '../capture-reader.ts';
import { FrameDecoder } from '../frame-decoder.ts';
import type { UdpDatagram } from '../udp-datagram.ts';
import { startLiveCapture } from '../../observe/live-capture.ts';
import { RecordQueue } from './record-queue.ts';
import { reverseLeg, tappedOnLeg, type RecordedPacket, type RecordTarget } from './record-targets.ts';
import { packetOnLeg, type Topology } from './topology.ts';
import { UdpTap, type Endpoint } from '../../observe/udp-tap.ts';

export interface TapSpec {
  listen: Endpoint;
  target: Endpoint;
}

export type RecordSource =
  | { kind: 'taps'; taps: TapSpec[]; leg: string }
  | { kind: 'live'; iface: string; filter: string; topology: Topology }
  /** A capture file taken where the relay's legs pass (its host): read through, each datagram given its leg. */
  | { kind: 'file'; path: string; topology: Topology };

export interface RecordResult {
  recorded: number;
  unrecorded: number;
  /** Packets seen that were none of the relay's (live capture). */
  unassigned: number;
  /** Packets the kernel dropped before the live capture read them: never recorded. */
  kernelDrops: number;
  byLeg: Record<string, number>;
  stoppedBy: string;
  /** Why the recording is partial (a capture file cut short), if it is. */
  partial?: string;
}

/**
 * Records live relay traffic until `stopped` resolves (Ctrl-C, duration) or `maxPackets` have passed, then commits
 * everything queued. A crash loses at most what was queued and what was written since the target's last commit
 * (at each row group, and at least every `parity record --commit-every`).
 */
export async function recordTraffic(options: {
  source: RecordSource;
  target: RecordTarget;
  stopped: Promise<string>;
  maxPackets?: number;
  onReady?: () => void;
  /** Called about once a second with what has been recorded so far (for a progress file: never on the packet path). */
  onProgress?: (progress: { recorded: number; committed: number | null; unrecorded: number; byLeg: Record<string, number> }) => void;
}): Promise<RecordResult> {
  const { source, target } = options;
  const byLeg: Record<string, number> = {};
  let seen = 0;
  let unassigned = 0;
  let stopMax: (reason: string) => void = () => undefined;
  const maxReached = new Promise<string>((resolve) => (stopMax = resolve));
  const write = (packet: RecordedPacket): void => {
    byLeg[packet.leg] = (byLeg[packet.leg] ?? 0) + 1;
    target.write(packet);
  };
  // A file has no live traffic to protect from a slow store, and must lose nothing: it is written as it is read.
  const queue = new RecordQueue<RecordedPacket>(write, source.kind === 'file' ? Number.POSITIVE_INFINITY : undefined, () => target.ready());
  const take = (packet: RecordedPacket): void => {
    seen++;
    queue.push(packet);
    if (options.maxPackets !== undefined && seen >= options.maxPackets) stopMax('max-packets');
  };
  const started = await startSource(source, take, () => unassigned++);
  options.onReady?.();
  const progressTimer = setInterval(() => options.onProgress?.({ recorded: queue.recorded, committed: target.committed?.() ?? null, unrecorded: queue.unrecorded, byLeg }), 1000);
  progressTimer.unref();
  const stoppedBy = await Promise.race([options.stopped, maxReached, ...(started.ended === undefined ? [] : [started.ended])]).finally(() => clearInterval(progressTimer));
  const { kernelDrops, cutShort } = await started.stop();
  await queue.flushed();
  const partial = cutShort === undefined ? {} : { partial: cutShort };
  await target.finish({ stoppedBy, unrecorded: queue.unrecorded + kernelDrops, kernelDrops, ...partial });
  return { recorded: queue.recorded, unrecorded: queue.unrecorded + kernelDrops, unassigned, kernelDrops, byLeg, stoppedBy, ...partial };
}

interface StartedSource {
  /** Resolves when the source ends by itself (a file read through). */
  ended: Promise<string> | undefined;
  /** Stops it; says what the kernel dropped (live capture) and why a file was cut short. */
  stop(): Promise<{ kernelDrops: number; cutShort: string | undefined }>;
}

/** Starts taps, a live capture or a file read, handing each packet with its leg to `take`. */
async function startSource(source: RecordSource, take: (packet: RecordedPacket) => void, unassigned: () => void): Promise<StartedSource> {
  if (source.kind === 'taps') return startTaps(source, take);
  const topology = source.topology;
  const onDatagram = (datagram: UdpDatagram): void => {
    const packet = packetOnLeg(topology, datagram);
    if (packet === undefined) unassigned();
    else take(packet);
  };
  if (source.kind === 'file') return startFileRead(source.path, onDatagram);
  const live = await startLiveCapture({ iface: source.iface, filter: source.filter, onDatagram });
  return {
    ended: undefined,
    async stop() {
      live.stop();
      return { kernelDrops: (await live.done).kernelDrops, cutShort: undefined };
    },
  };
}

async function startTaps(source: Extract<RecordSource, { kind: 'taps' }>, take: (packet: RecordedPacket) => void): Promise<StartedSource> {
  if (source.taps.length === 0) throw new UsageError('record needs at least one --tap LISTEN=TARGET', { field: 'tap' });
  const replyLeg = reverseLeg(source.leg);
  const taps = source.taps.map((spec) => new UdpTap({ ...spec.listen }, spec.target, (packet) => take(tappedOnLeg(packet, source.leg, replyLeg, spec.listen.port))));
  for (const tap of taps) await tap.start();
  return {
    ended: undefined,
    async stop() {
      // What the kernel dropped at the taps' own sockets never reached the record (nor the targets): read before the
      // sockets close, and counted as unrecorded as a live capture's drops are.
      let kernelDrops = 0;
      for (const tap of taps) {
        tap.countDrops();
        kernelDrops += tap.counters.receiveDrops ?? 0;
      }
      for (const tap of taps) await tap.stop();
      return { kernelDrops, cutShort: undefined };
    },
  };
}

/** A capture file read through as if it were live: everything before a fault is kept, and the recording says why it stopped. */
function startFileRead(path: string, onDatagram: (datagram: UdpDatagram) => void): StartedSource {
  const decoder = new FrameDecoder(onDatagram);
  let cutShort: string | undefined;
  // A file taken by dumpcap (tshark, Wireshark) says what its capture dropped: never recorded, so counted as a live
  // capture's drops are.
  const drops: CaptureDrops = new Map();
  const ended = readCaptureFile(path, (frame) => decoder.decode(frame), { drops }).then(
    () => {
      decoder.finish();
      return 'end-of-file';
    },
    (error: unknown) => {
      decoder.finish();
      cutShort = error instanceof Error ? error.message : String(error);
      return 'file cut short';
    },
  );
  return {
    ended,
    async stop() {
      await ended;
      return { kernelDrops: droppedInAll(drops) ?? 0, cutShort };
    },
  };
}
