import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { RunStatus } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import type { ReplayPlan } from './replay-plan.ts';
import type { SenderCollections, SenderStall } from './send-thread.ts';
import type { SenderWaits } from './thread-clock.js';

/** Where the UDP sending thread runs: alone on this CPU, alone on one where the pace needs it (`auto`), or sharing. */
export type SenderCpuChoice = number | 'auto' | 'none';

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
  /**
   * A CPU for the sending thread alone (the process's other threads leave it), `auto` to have one where the pace needs
   * it, `none` (or absent) to share every CPU: see sender-cpu.ts.
   */
  senderCpu?: SenderCpuChoice | undefined;
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
  /**
   * Datagrams the kernel dropped on arrival at the devices' sockets (their receive buffers full): answers the harness
   * lost, not the relay. Null where that cannot be seen (not Linux).
   */
  receiveDrops: number | null;
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
  /** The collector's stops of the sending thread of 1 ms or more: the part of a lateness tail that is the thread's own. */
  senderCollections: SenderCollections | null;
  /** How the sending thread waited between sends: parked (as a real-time thread where allowed) or spinning. */
  senderWaits?: SenderWaits | null;
  /** The CPU the sending thread had to itself (--sender-cpu: a number, or auto at a fast enough pace); null: it shared. */
  senderCpu?: number | null;
  /** CPU seconds the sending thread spent while it sent (Linux): against durationSec, the share of a core it held. */
  senderCpuSec?: number | null;
  /**
   * How often, and how long in all, other threads kept the sending thread off its CPU while it sent (Linux: its waits
   * on the run queue): the part of a lateness tail that is the machine's.
   */
  senderWaitedForCpu?: SenderStall | null;
  /** Batches that reached the sending thread after their first packet was due, and how long in all it sat waiting for them with packets due: the main thread behind. */
  senderLateBatches?: SenderStall | null;
}

export interface ReplayResult {
  runId: number;
  runName: string;
  status: RunStatus;
  stats: ReplayStats;
}
