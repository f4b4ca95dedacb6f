import { SimulatedBackend } from '../backends/simulated-backend.ts';
import { reverseLeg, tappedOnLeg, writeObservation } from '../capture/record/record-targets.ts';
import { ReplyPairing } from '../capture/record/reply-pairing.ts';
import { UdpTap } from '../observe/udp-tap.ts';
import { getProtocol } from '../protocols/index.ts';
import type { RunSession } from '../run/run-session.ts';
import type { ObservationWriter } from '../store/observation-writer.ts';
import type { Addresses } from './scenario-addresses.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/** An external backend's recording tap, with the role whose legs it records and what its backend still owes. */
export interface TapOfBackend {
  tap: UdpTap;
  role: string;
  pairing: ReplyPairing;
}

export interface ScenarioBackends {
  simulated: Map<string, SimulatedBackend>;
  taps: TapOfBackend[];
}

/**
 * Starts the scenario's backends, each registered with the session to be stopped. Simulated backends record their own
 * legs. An external backend gets a recording tap in front of it on the backend's allocated address (the relay targets
 * the tap), or, with `observe: none` or `live`, the relay targets it directly.
 */
export async function startBackends(session: RunSession, spec: ScenarioSpec, addresses: Addresses, ports: readonly number[], sink: ObservationWriter): Promise<ScenarioBackends> {
  const protocol = getProtocol(spec.protocol);
  const started: ScenarioBackends = { simulated: new Map(), taps: [] };
  for (const backend of spec.backends) {
    const ip = addresses.backends.get(backend.role) as string;
    if (backend.external === undefined) {
      const simulated = new SimulatedBackend({ protocol, ip, ports, role: backend.role, faults: backend.faults, sink });
      session.defer(`backend ${backend.role}`, () => simulated.stop());
      await simulated.start();
      started.simulated.set(backend.role, simulated);
    } else if (backend.external.observe === 'tap') {
      const uplinkLeg = `relay>${backend.role}`;
      const replyLeg = reverseLeg(uplinkLeg);
      const observer = `tap:${backend.role}`;
      for (const port of ports) {
        const pairing = new ReplyPairing();
        const tap = new UdpTap({ ip, port }, { ip: backend.external.ip, port }, (packet) =>
          writeObservation(sink, protocol, observer, tappedOnLeg(packet, uplinkLeg, replyLeg, port), pairing),
        );
        await session.observe(tap).start();
        started.taps.push({ tap, role: backend.role, pairing });
      }
    } else {
      addresses.backends.set(backend.role, backend.external.ip);
    }
  }
  return started;
}
