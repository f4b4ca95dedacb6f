import type { Binding } from './upstream-socket.ts';

/**
 * The pool's bindings, found by device and backend without building a key per packet (a string of four parts, made
 * and hashed for every packet, was the largest single cost of the pool's packet path), and kept least recently used
 * first for eviction and idle closing.
 */
export class BindingTable {
  /** Device address, then device port: that device's bindings, one per ACK backend (almost always one). */
  private readonly byDevice = new Map<string, Map<number, Binding[]>>();
  /** Every binding, least recently used first (a Set keeps insertion order; a touch moves one to the end). */
  private readonly byUse = new Set<Binding>();

  get size(): number {
    return this.byUse.size;
  }

  find(deviceIp: string, devicePort: number, backendIp: string, backendPort: number): Binding | undefined {
    const bindings = this.byDevice.get(deviceIp)?.get(devicePort);
    if (bindings === undefined) return undefined;
    for (let i = 0; i < bindings.length; i++) {
      const binding = bindings[i] as Binding;
      if (binding.backendPort === backendPort && binding.backendIp === backendIp) return binding;
    }
    return undefined;
  }

  add(binding: Binding): void {
    let ports = this.byDevice.get(binding.device.ip);
    if (ports === undefined) this.byDevice.set(binding.device.ip, (ports = new Map()));
    const bindings = ports.get(binding.device.port);
    if (bindings === undefined) ports.set(binding.device.port, [binding]);
    else bindings.push(binding);
    this.byUse.add(binding);
  }

  /** Whether it was in the table (and is no longer). */
  delete(binding: Binding): boolean {
    if (!this.byUse.delete(binding)) return false;
    const ports = this.byDevice.get(binding.device.ip);
    const bindings = ports?.get(binding.device.port);
    if (ports === undefined || bindings === undefined) return true;
    const index = bindings.indexOf(binding);
    if (index >= 0) bindings.splice(index, 1);
    if (bindings.length === 0) ports.delete(binding.device.port);
    if (ports.size === 0) this.byDevice.delete(binding.device.ip);
    return true;
  }

  /** Moves a binding to the most recently used end. */
  touch(binding: Binding): void {
    if (this.byUse.delete(binding)) this.byUse.add(binding);
  }

  /** Least recently used first. */
  values(): IterableIterator<Binding> {
    return this.byUse.values();
  }

  clear(): void {
    this.byUse.clear();
    this.byDevice.clear();
  }
}
