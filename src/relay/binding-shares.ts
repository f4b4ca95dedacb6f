import type { DeviceEndpoint } from './upstream-socket.ts';
import { decrement } from './upstream-socket.ts';

/** Why a new binding cannot be had: counted in `udp_relay_refused_total{reason}` and kept as the series' last error. */
export interface Refusal {
  reason: 'socket_budget' | 'source_budget' | 'route_budget';
  message: string;
}

/** Which bindings may be given up to make room: the least recently used that `which` accepts and that are idle. */
export type Evict = (which?: (binding: { device: DeviceEndpoint }) => boolean) => boolean;

/**
 * The socket budget and its shares: no source address holds more than a quarter of it (generous, because a carrier's
 * NAT puts many devices behind one address, but short of all of it), no route more than three quarters. A source or
 * route at its share gives up one of its own idle bindings first, so within its share it is served as before.
 */
export class BindingShares {
  private readonly bySource = new Map<string, number>();
  private readonly byRoute = new Map<number, number>();
  readonly maxPerSource: number;
  readonly maxPerRoute: number;

  constructor(
    readonly maxSockets: number,
    options: { maxSocketsPerSource?: number; maxSocketsPerRoute?: number },
  ) {
    this.maxPerSource = options.maxSocketsPerSource ?? Math.max(1, Math.floor(maxSockets / 4));
    this.maxPerRoute = options.maxSocketsPerRoute ?? Math.max(1, Math.floor((maxSockets * 3) / 4));
  }

  /** Room for one more binding of this device (giving up idle ones as the shares allow), or why there is none. */
  makeRoom(device: DeviceEndpoint, open: () => number, evict: Evict): Refusal | undefined {
    if ((this.bySource.get(device.ip) ?? 0) >= this.maxPerSource && !evict((b) => b.device.ip === device.ip)) {
      return { reason: 'source_budget', message: `source ${device.ip} holds its share of upstream sockets (${this.maxPerSource})` };
    }
    if ((this.byRoute.get(device.route) ?? 0) >= this.maxPerRoute && !evict((b) => b.device.route === device.route)) {
      return { reason: 'route_budget', message: `route ${device.route} holds its share of upstream sockets (${this.maxPerRoute})` };
    }
    if (open() >= this.maxSockets && !evict()) {
      return { reason: 'socket_budget', message: `upstream socket budget (${this.maxSockets}) reached` };
    }
    return undefined;
  }

  taken(binding: { device: DeviceEndpoint }): void {
    this.bySource.set(binding.device.ip, (this.bySource.get(binding.device.ip) ?? 0) + 1);
    this.byRoute.set(binding.device.route, (this.byRoute.get(binding.device.route) ?? 0) + 1);
  }

  released(binding: { device: DeviceEndpoint }): void {
    decrement(this.bySource, binding.device.ip);
    decrement(this.byRoute, binding.device.route);
  }
}
