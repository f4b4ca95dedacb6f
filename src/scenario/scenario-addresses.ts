import type { JsonObject } from '../core/json.ts';
import { randomInt } from 'node:crypto';
import type { CaptureSummary } from '../capture/capture-catalog.ts';
import type { RunTopology } from '../store/run-metadata.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

export interface Addresses {
  relay: string;
  backends: Map<string, string>;
}

/** A /24 of loopback for the relay and backends of this run (listening sockets must not collide across runs). */
export function allocateAddresses(spec: ScenarioSpec): Addresses {
  const block = `127.${randomInt(100, 200)}.${randomInt(0, 250)}`;
  const relay = spec.relay.kind === 'builtin' ? (spec.relay.address ?? `${block}.1`) : spec.relay.address;
  const backends = new Map<string, string>();
  spec.backends.forEach((backend, index) => backends.set(backend.role, backend.address ?? `${block}.${2 + index}`));
  return { relay, backends };
}

export function relayRoutes(spec: ScenarioSpec, addresses: Addresses, ports: readonly number[]): { globals: JsonObject; routes: JsonObject[] } {
  const relay = spec.relay as Extract<ScenarioSpec['relay'], { kind: 'builtin' }>;
  const primary = addresses.backends.get('primary');
  const mirror = addresses.backends.get('mirror');
  // The scenario's protocol tells the relay which datagrams expect no reply, as an operator's routes file would.
  const labels = { customer: relay.customer, Device: relay.device, protocol: spec.protocol };
  if (primary === undefined || spec.backends.some((b) => b.role.startsWith('target-'))) {
    const targets = spec.backends.map((b) => ({ ip: addresses.backends.get(b.role) as string }));
    return { globals: relay.globals, routes: ports.map((port) => ({ port, targets, primary_index: 0, ...labels })) };
  }
  const globals = { mirror: mirror !== undefined, ...(mirror !== undefined && { mirror_ip: mirror }), ...relay.globals };
  return { globals, routes: ports.map((port) => ({ port, target: primary, ...labels })) };
}

export function topologyOf(spec: ScenarioSpec, addresses: Addresses, capture: CaptureSummary): RunTopology {
  const relay = spec.relay;
  return {
    scenario: spec.name,
    description: spec.description,
    relay: relay.kind === 'builtin' ? { kind: 'builtin', address: addresses.relay, debug: null, ...relay.globals } : { kind: 'external', address: relay.address, debug: relay.debugUrl ?? null },
    backends: spec.backends.map((b) => ({
      role: b.role,
      ip: b.external?.ip ?? addresses.backends.get(b.role) ?? '',
      faults: b.faults,
      observation: b.external === undefined ? 'simulated' : b.external.observe,
      observed: b.external === undefined ? 'built-in' : b.external.observe === 'tap' ? `tap at ${addresses.backends.get(b.role)}` : b.external.observe === 'live' ? `live capture on ${spec.captureIface}` : 'not observed',
    })),
    routes: capture.routePorts.map((port) => ({ port, customer: relay.customer, device: relay.device })),
    timeline: spec.timeline,
  };
}
