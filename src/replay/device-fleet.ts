import dgram from 'node:dgram';
import { NetworkError } from '../core/errors.ts';
import { socketErrorKind } from '../core/socket-errors.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { ObservationSink } from '../backends/simulated-backend.ts';
import { AddressPool } from './address-pool.ts';

/** Socket buffers sized for bursts (the kernel default of 208 KiB loses packets at 50k/s). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/** A replayed device: the original's address in the capture, and the local socket standing in for it. */
export interface ReplayDevice {
  original: string;
  localIp: string;
  localPort: number;
  socket: dgram.Socket;
  /** Requests sent that want an ACK, minus replies received: what an interrupted run waits for. */
  awaitingAcks: number;
}

/**
 * One socket per device, each on its own local address, so the relay sees as many devices as the capture had and its
 * ACKs come back to the device that sent the request. Replies are recorded as observations on the relay>device leg.
 */
export class DeviceFleet {
  private readonly devices = new Map<string, ReplayDevice>();
  private readonly pool: AddressPool;
  repliesReceived = 0;
  /** Sends the kernel refused (reported as socket errors, e.g. ICMP port unreachable from a dead relay). */
  sendErrors = 0;
  /** The same, by kind: refused, unreachable, no_buffer, or the error code. */
  readonly sendErrorsByKind: Record<string, number> = {};

  constructor(
    cidr: string,
    private readonly protocol: DeviceProtocol,
    private readonly sink: ObservationSink,
    /** Maps the relay port a reply came from back to the capture's route port. */
    private readonly routePortOf: (relayPort: number) => number,
  ) {
    this.pool = new AddressPool(cidr);
  }

  get size(): number {
    return this.devices.size;
  }

  get awaitingAcks(): number {
    let total = 0;
    for (const device of this.devices.values()) total += Math.max(0, device.awaitingAcks);
    return total;
  }

  get(original: string): ReplayDevice | undefined {
    return this.devices.get(original);
  }

  /** Opens a socket for each device before sending starts, so no bind happens on the timed path. */
  async open(originals: Iterable<string>): Promise<void> {
    for (const original of originals) {
      if (this.devices.has(original)) continue;
      const localIp = this.pool.take();
      const socket = await bindSocket(localIp);
      const device: ReplayDevice = { original, localIp, localPort: socket.address().port, socket, awaitingAcks: 0 };
      socket.on('message', (payload, remote) => this.receive(device, payload, remote));
      socket.on('error', (error) => this.countSendError(error));
      this.devices.set(original, device);
    }
  }

  close(): Promise<void> {
    const all = [...this.devices.values()].map((d) => new Promise<void>((resolve) => d.socket.close(() => resolve())));
    this.devices.clear();
    return Promise.all(all).then(() => undefined);
  }

  private countSendError(error: Error): void {
    this.sendErrors++;
    const kind = socketErrorKind((error as NodeJS.ErrnoException).code);
    this.sendErrorsByKind[kind] = (this.sendErrorsByKind[kind] ?? 0) + 1;
  }

  private receive(device: ReplayDevice, payload: Buffer, remote: dgram.RemoteInfo): void {
    const tsNs = process.hrtime.bigint();
    this.repliesReceived++;
    device.awaitingAcks--;
    const ack = this.protocol.decodeAck(payload);
    this.sink.add({
      leg: 'relay>device',
      tsNs,
      srcIp: remote.address,
      srcPort: remote.port,
      dstIp: device.localIp,
      dstPort: device.localPort,
      routePort: this.routePortOf(remote.port),
      payload,
      kind: ack.kind,
      matchKey: ack.matchKey,
      observer: 'replayer',
      keepPayload: true,
    });
  }
}

function bindSocket(ip: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
    socket.once('error', (cause) => {
      const hint = ip.startsWith('127.') ? '' : ' (addresses outside 127.0.0.0/8 must exist on a local interface)';
      reject(new NetworkError(`replay: cannot bind a device socket on ${ip}: ${cause.message}${hint}`, {}, { cause }));
    });
    socket.bind(0, ip, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
