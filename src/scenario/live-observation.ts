import { packetOnLeg } from '../capture/record/topology.ts';
import { writeObservation } from '../capture/record/record-targets.ts';
import { startLiveCapture } from '../observe/live-capture.ts';
import type { Observer } from '../observe/observer.ts';
import { getProtocol } from '../protocols/index.ts';
import type { ObservationWriter } from '../store/observation-writer.ts';
import type { Addresses } from './scenario-addresses.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/** tcpdump delivers what it has read when told to stop; a moment for the last ACKs to reach it first. */
const LAST_ACKS_MS = 200;

/**
 * For external backends with `observe: live`: tcpdump on the capture interface, legs from the scenario's own
 * addresses, backend legs only (the replayer records the device side). Capture times are wall clock; an offset taken
 * here moves them onto the run's monotonic clock (to within about a millisecond: Date.now's resolution).
 */
export async function startLiveObservation(spec: ScenarioSpec, addresses: Addresses, sink: ObservationWriter): Promise<Observer | undefined> {
  const observed = spec.backends.filter((b) => b.external?.observe === 'live');
  if (observed.length === 0) return undefined;
  const backends = new Map(observed.map((b) => [b.role, addresses.backends.get(b.role) as string]));
  const topology = { relayIp: addresses.relay, relayEgress: new Set<string>(), relayPorts: new Set<number>(), backends };
  const protocol = getProtocol(spec.protocol);
  const monoMinusWallNs = process.hrtime.bigint() - BigInt(Date.now()) * 1_000_000n;
  const hosts = [addresses.relay, ...backends.values()].map((ip) => `host ${ip}`).join(' or ');
  const observer = `live:${spec.captureIface}`;
  const capture = await startLiveCapture({
    iface: spec.captureIface,
    filter: `udp and (${hosts})`,
    onDatagram: (datagram) => {
      const packet = packetOnLeg(topology, datagram, monoMinusWallNs);
      if (packet !== undefined && !packet.leg.includes('device')) writeObservation(sink, protocol, observer, packet);
    },
  });
  return {
    name: observer,
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, LAST_ACKS_MS));
      capture.stop();
      await capture.done;
    },
  };
}
