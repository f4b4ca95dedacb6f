import { join } from 'node:path';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { generic } from '../../src/protocols/generic.ts';
import type { Observation } from '../../src/store/observation-writer.ts';
import { Store } from '../../src/store/store.ts';
import { writeFleetCapture, type FleetCaptureSpec, type WrittenPacket } from './fleet-capture.ts';

export interface ReplayRig {
  store: Store;
  /** What the sink received, in arrival order. */
  arrivals: Observation[];
  sink: SimulatedBackend;
  written: WrittenPacket[];
  close(): Promise<void>;
}

/** A store holding a written fleet capture named `fleet`, and a UDP sink on `sinkIp` that ACKs (generic protocol). */
export async function startReplayRig(dir: string, sinkIp: string, spec: FleetCaptureSpec): Promise<ReplayRig> {
  const file = join(dir, 'fleet.pcap');
  const written = writeFleetCapture(file, spec);
  const store = await Store.open(join(dir, 'replay.duckdb'));
  await importCaptures(store, { files: [file], ports: [spec.port ?? 20500] });
  const arrivals: Observation[] = [];
  const sink = new SimulatedBackend({
    protocol: generic,
    ip: sinkIp,
    ports: [spec.port ?? 20500],
    role: 'sink',
    sink: { add: (o) => void (o.leg === 'relay>sink' && arrivals.push({ ...o, payload: Buffer.from(o.payload) })) },
  });
  await sink.start();
  return {
    store,
    arrivals,
    sink,
    written: written.filter((p) => p.dstPort === (spec.port ?? 20500)),
    async close() {
      await sink.stop();
      store.close();
    },
  };
}
