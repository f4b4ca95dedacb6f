import type { DeviceEndpoint } from './upstream-socket.ts';
import { decrement } from './upstream-socket.ts';

/** Why a new binding cannot be had: counted in `udp_relay_refused_total{reason}` and kept as the series' last error. */
export interface Refusal {
  reason: 'socket_budget' | 'source_budget' | 'route_budget';
  message: string;
}

/** Which bindings may be given up to make room: the least recently used that `which` accepts and that are idle. */
export type Evict = (which?: (binding: { source: string; route: number }) => boolean) => boolean;

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
    if ((this.bySource.get(device.ip) ?? 0) >= this.maxPerSource && !evict((b) => b.source === device.ip)) {
      return { reason: 'source_budget', message: `source ${device.ip} holds its share of upstream sockets (${this.maxPerSource})` };
    }
    if ((this.byRoute.get(device.route) ?? 0) >= this.maxPerRoute && !evict((b) => b.route === device.route)) {
      return { reason: 'route_budget', message: `route ${device.route} holds its share of upstream sockets (${this.maxPerRoute})` };
    }
    if (open() >= this.maxSockets && !evict()) {
      return { reason: 'socket_budget', message: `upstream socket budget (${this.maxSockets}) reached` };
    }
    return undefined;
  }

  taken(binding: { source: string; route: number }): void {
    this.bySource.set(binding.source, (this.bySource.get(binding.source) ?? 0) + 1);
    this.byRoute.set(binding.route, (this.byRoute.get(binding.route) ?? 0) + 1);
  }

  released(binding: { source: string; route: number }): void {
    decrement(this.bySource, binding.source);
    decrement(this.byRoute, binding.route);
  }
}
