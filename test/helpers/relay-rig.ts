import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import type { FaultPlan } from '../../src/backends/fault-plan.ts';
import { calampLmd } from '../../src/protocols/calamp-lmd.ts';
import type { IoChoice } from '../../src/core/udp-io/datagram-path.ts';
import type { RoutesFile } from '../../src/relay/relay-config.ts';
import { silentLog } from '../../src/relay/relay-log.ts';
import { RelayService } from '../../src/relay/relay-service.ts';
import { UdpClient } from './udp-client.ts';

export interface RigBackend {
  ip: string;
  faults?: Partial<FaultPlan>;
  role?: string;
}

export interface RelayRig {
  service: RelayService;
  relayIp: string;
  routesPath: string;
  backends: SimulatedBackend[];
  device: UdpClient;
  /** Rewrites routes.json and waits until the relay has applied it (or rejected it). */
  rewriteRoutes(routes: RoutesFile): Promise<void>;
  debug<T = unknown>(path: string): Promise<T>;
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A relay (in this process, real sockets) on `relayIp`, with simulated CalAmp backends on their own addresses, all
 * on the route ports, and a device socket. Each backend reports its address in its ACK's app version (last octet as
 * the major version), so a test can tell which backend answered.
 */
export async function startRelayRig(dir: string, options: { relayIp: string; routes: RoutesFile; backends: RigBackend[]; ports: number[]; timeoutMs?: number; maxSockets?: number; io?: IoChoice }): Promise<RelayRig> {
  const routesPath = join(dir, 'routes.json');
  writeFileSync(routesPath, JSON.stringify(options.routes));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, `app:\n  bind_ip: "${options.relayIp}"\n  response_timeout_ms: ${options.timeoutMs ?? 500}\n`);
  const backends = options.backends.map(
    (b) =>
      new SimulatedBackend({
        protocol: calampLmd,
        ip: b.ip,
        ports: options.ports,
        role: b.role ?? b.ip,
        faults: { ackVersion: [Number(b.ip.split('.')[3]), 0, 0], ...b.faults },
      }),
  );
  for (const backend of backends) await backend.start();
  const service = await RelayService.start({ routesPath, configPath, debugPort: 0, log: silentLog, ...(options.maxSockets !== undefined && { maxSockets: options.maxSockets }), ...(options.io !== undefined && { io: options.io }) });
  const device = await UdpClient.open('127.0.0.1');
  const debug = async <T>(path: string): Promise<T> => (await (await request(`http://127.0.0.1:${service.debugPort}${path}`)).body.json()) as T;
  return {
    service,
    relayIp: options.relayIp,
    routesPath,
    backends,
    device,
    debug,
    metricsText: async () => (await request(`http://127.0.0.1:${service.debugPort}/metrics`)).body.text(),
    async rewriteRoutes(routes) {
      const before = service.relay.current.version;
      const rejectedBefore = service.relay.lastRejection?.at;
      writeFileSync(routesPath, JSON.stringify(routes));
      const deadline = Date.now() + 5000;
      while (service.relay.current.version === before && service.relay.lastRejection?.at === rejectedBefore && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      await device.close();
      await service.stop();
      for (const backend of backends) await backend.stop();
    },
  };
}

/** Which backend answered: the major app version its ACK carries is the last octet of its address. */
export function ackedBy(payload: Uint8Array): number {
  return Number(String(calampLmd.decodeAck(payload).fields.appVersion ?? '0').split('.')[0]);
}

/**
 * A value of `/metrics` text: the sample `name{labels} value` (labels written as the relay writes them). NaN when the
 * sample is absent, so no assertion on it can pass by the metric's absence.
 */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + labels.length + 1));
}
