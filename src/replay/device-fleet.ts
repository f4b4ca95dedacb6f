import { socketErrorKind } from '../core/socket-errors.ts';
import { DropsSince } from '../core/udp-socket-table.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { ObservationSink } from '../backends/simulated-backend.ts';
import { AddressPool } from './address-pool.ts';
import { SendThread, type ReplyGroup, type SendThreadOptions } from './send-thread.ts';

/** A replayed device: the original's address in the capture, and the local socket (in the sending thread) standing in for it. */
export interface ReplayDevice {
  original: string;
  /** Its socket's index in the sending thread. */
  index: number;
  localIp: string;
  localPort: number;
  /**
   * Requests sent that want an ACK, minus the replies received that answer one of them, by match key: what a run's
   * end waits for. A second answer to one request (a backend that answers twice) settles nothing more.
   */
  readonly owed: Map<string, number>;
}

/** A request wanting an ACK has been handed to the sending thread: the run's end waits for its answer. */
export function oweAck(device: ReplayDevice, matchKey: string | undefined): void {
  const key = matchKey ?? '';
  device.owed.set(key, (device.owed.get(key) ?? 0) + 1);
}

/** An answer with `matchKey` arrived, or a request owed one never left: one fewer is waited for, if one was owed. */
export function settleAck(device: ReplayDevice, matchKey: string | undefined): void {
  const key = matchKey ?? '';
  const owed = device.owed.get(key);
  if (owed === undefined) return;
  if (owed > 1) device.owed.set(key, owed - 1);
  else device.owed.delete(key);
}

/**
 * One socket per device, each on its own local address, so the relay sees as many devices as the capture had and its
 * ACKs come back to the device that sent the request. The sockets live in the sending thread (`SendThread`); replies
 * it reads are recorded here as observations on the relay>device leg.
 */
export class DeviceFleet {
  private readonly devices = new Map<string, ReplayDevice>();
  private readonly byIndex: ReplayDevice[] = [];
  private readonly pool: AddressPool;
  readonly thread = new SendThread();
  repliesReceived = 0;
  /** Sends the kernel refused (reported as socket errors, e.g. ICMP port unreachable from a dead relay). */
  sendErrors = 0;
  /** The same, by kind: refused, unreachable, no_buffer, or the error code. */
  readonly sendErrorsByKind: Record<string, number> = {};
  /** What the kernel dropped at the devices' sockets since they were bound (warm-up included). */
  private drops: DropsSince | undefined;

  constructor(
    cidr: string,
    private readonly protocol: DeviceProtocol,
    private readonly sink: ObservationSink,
    /** Maps the relay port a reply came from back to the capture's route port. */
    private readonly routePortOf: (relayPort: number) => number,
  ) {
    this.pool = new AddressPool(cidr);
  }

  get awaitingAcks(): number {
    let total = 0;
    for (const device of this.devices.values()) for (const owed of device.owed.values()) total += owed;
    return total;
  }

  get(original: string): ReplayDevice | undefined {
    return this.devices.get(original);
  }

  /** The device whose socket is `index` in the sending thread. */
  device(index: number): ReplayDevice {
    const device = this.byIndex[index];
    if (device === undefined) throw new RangeError(`no replayed device has socket ${index}`);
    return device;
  }

  /** Binds a socket for each device in the sending thread before sending starts, so no bind happens on the timed path. */
  async open(originals: Iterable<string>, sending: SendThreadOptions): Promise<void> {
    const list = [...originals];
    const localIps = list.map(() => this.pool.take());
    await this.thread.open(localIps, sending);
    for (const [index, original] of list.entries()) {
      const device: ReplayDevice = { original, index, localIp: localIps[index] as string, localPort: this.thread.ports[index] as number, owed: new Map() };
      this.devices.set(original, device);
      this.byIndex.push(device);
    }
    this.drops = new DropsSince(() => new Set(this.byIndex.map((d) => `${d.localIp}:${d.localPort}`)));
  }

  /**
   * Datagrams the kernel dropped on arrival at the devices' sockets since they were bound, their receive buffers full:
   * answers the relay sent that the harness itself lost, which the devices' view would otherwise put on the relay.
   * Null where the kernel's table cannot be read (not Linux). Read before the sockets close.
   */
  receiveDrops(): number | null {
    return this.drops?.count() ?? null;
  }

  close(): Promise<void> {
    this.devices.clear();
    return this.thread.close();
  }

  countSendError(code: string): void {
    this.sendErrors++;
    const kind = socketErrorKind(code);
    this.sendErrorsByKind[kind] = (this.sendErrorsByKind[kind] ?? 0) + 1;
  }

  receive(replies: ReplyGroup): void {
    for (let i = 0; i < replies.device.length; i++) {
      const device = this.byIndex[replies.device[i] as number];
      if (device === undefined) continue;
      const given = replies.payloads[i] as Uint8Array;
      const payload = Buffer.isBuffer(given) ? given : Buffer.from(given);
      this.repliesReceived++;
      const ack = this.protocol.decodeAck(payload);
      // A datagram that is no answer at all (a stray, garbage), or a second answer to a request already answered, does
      // not stand for an ACK still owed: the wait for the last answers is not cut short by it, and the last requests'
      // answers are not counted missing (at the relay's door) for a harness that stopped listening too soon.
      if (ack.kind !== 'unparsed') settleAck(device, ack.matchKey);
      this.sink.add({
        leg: 'relay>device',
        tsNs: BigInt(replies.tsNs[i] as number),
        srcIp: replies.ip[i] as string,
        srcPort: replies.port[i] as number,
        dstIp: device.localIp,
        dstPort: device.localPort,
        routePort: this.routePortOf(replies.port[i] as number),
        payload,
        kind: ack.kind,
        matchKey: ack.matchKey,
        observer: 'replayer',
        keepPayload: true,
      });
    }
  }
}
