import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { getCapture } from '../../src/capture/capture-catalog.ts';
import { captureTarget, runTarget } from '../../src/capture/record/record-targets.ts';
import { recordTraffic, type RecordResult } from '../../src/capture/record/record-session.ts';
import { parseTopology } from '../../src/capture/record/topology.ts';
import { payloadHash } from '../../src/core/payload-hash.ts';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { generic } from '../../src/protocols/generic.ts';
import { silentLog } from '../../src/relay/relay-log.ts';
import { RelayService } from '../../src/relay/relay-service.ts';
import { replayCapture } from '../../src/run/replay-run.ts';
import { ObservationWriter } from '../../src/store/observation-writer.ts';
import { createRun } from '../../src/store/runs.ts';
import { num, Store, withStore } from '../../src/store/store.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { UdpClient } from '../helpers/udp-client.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Starts a recording that runs until `stop()`, and waits until it is ready (its taps or capture listening); a recording
 * that fails to start fails here instead of leaving the test waiting.
 */
async function startRecording(options: Omit<Parameters<typeof recordTraffic>[0], 'stopped' | 'onReady'>): Promise<{ recording: Promise<RecordResult>; stop: () => void }> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = () => resolve('test')));
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const recording = recordTraffic({ ...options, stopped, onReady: ready });
  await Promise.race([isReady, recording]);
  return { recording, stop };
}

const message = (device: number, sequence: number): Uint8Array =>
  buildCalampMessage({ mobileId: String(4_000_000_000 + device), serviceType: 1, messageType: 2, sequence, body: Buffer.from(`d${device} s${sequence}`) });

describe('parity record with inline taps (real UDP)', () => {
  it('records every packet through the tap once, in both directions, and relays each reply to its own source', async () => {
    await withTempDir(async (dir) => {
      const store = await Store.open(join(dir, 'tap.duckdb'));
      cleanups.push(async () => store.close());
      const backend = new SimulatedBackend({ protocol: calampLmd, ip: '127.0.12.2', ports: [24800], role: 'primary' });
      await backend.start();
      cleanups.push(() => backend.stop());
      const target = await runTarget(store, 'tapped', calampLmd, 'tap:device>relay', undefined, true);
      const { recording, stop: stopRecording } = await startRecording({ source: { kind: 'taps', leg: 'device>relay', taps: [{ listen: { ip: '127.0.12.1', port: 24800 }, target: { ip: '127.0.12.2', port: 24800 } }] }, target });
      const devices = await Promise.all([0, 1, 2, 3, 4].map(() => UdpClient.open('127.0.0.1')));
      for (let round = 0; round < 20; round++) {
        for (const [d, device] of devices.entries()) await device.send(message(d, round), 24800, '127.0.12.1');
        await Promise.all(devices.map((device) => device.waitForReplies(round + 1)));
      }
      stopRecording();
      const result = await recording;
      for (const device of devices) await device.close();
      expect(result).toMatchObject({ recorded: 200, unrecorded: 0, byLeg: { 'device>relay': 100, 'relay>device': 100 } });
      // Each device got the ACKs to its own sequence numbers, nobody else's.
      for (const [d, device] of devices.entries()) {
        expect(device.replies.map((r) => calampLmd.decodeAck(r.payload).fields.sequence)).toEqual([...Array(20).keys()]);
        void d;
      }
      expect(backend.counters.received).toBe(100);
      const rows = await store.query("SELECT leg, count(*) n, count(DISTINCT payload_hash) hashes FROM observations GROUP BY leg ORDER BY leg");
      expect(rows).toEqual([
        { leg: 'device>relay', n: 100n, hashes: 100n },
        { leg: 'relay>device', n: 100n, hashes: 20n }, // CalAmp ACKs carry no device ID: 5 devices, 20 sequence numbers
      ]);
    });
  });

  it('ties a slow backend\'s answers to the requests they answer, not to later ones that reuse a sequence number', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'paired.duckdb'), async (store) => {
        // The mirror answers 300 ms late; the relay's one socket sends two devices' messages with one sequence number.
        const mirror = new SimulatedBackend({ protocol: calampLmd, ip: '127.0.12.22', ports: [24802], role: 'mirror', faults: { latencyMs: 300 } });
        await mirror.start();
        cleanups.push(() => mirror.stop());
        const target = await runTarget(store, 'mirror-tapped', calampLmd, 'tap:relay>mirror', undefined, true);
        const { recording, stop: stopRecording } = await startRecording({ source: { kind: 'taps', leg: 'relay>mirror', taps: [{ listen: { ip: '127.0.12.21', port: 24802 }, target: { ip: '127.0.12.22', port: 24802 } }] }, target });
        const relay = await UdpClient.open('127.0.12.20');
        const requests = [message(1, 7), message(2, 7), message(3, 8)];
        for (const request of requests) {
          await relay.send(request, 24802, '127.0.12.21');
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        expect(await relay.waitForReplies(3)).toBe(3);
        stopRecording();
        await recording;
        await relay.close();
        const replies = await store.query("SELECT match_key, reply_to_hash FROM observations WHERE leg = 'mirror>relay' ORDER BY ts_ns");
        expect(replies.map((r) => [r.match_key, r.reply_to_hash === null ? null : Number(r.reply_to_hash)])).toEqual(requests.map((request) => [calampLmd.decode(request).matchKey, payloadHash(request)]));
      });
    });
  });

  it('records into a capture that replays to the same packets', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'cap.duckdb'), async (store) => {
        const backend = new SimulatedBackend({ protocol: generic, ip: '127.0.12.12', ports: [24801], role: 'primary' });
        await backend.start();
        cleanups.push(() => backend.stop());
        const target = await captureTarget(store, 'taped', 'tap:24801', [24801]);
        const { recording, stop: stopRecording } = await startRecording({ source: { kind: 'taps', leg: 'device>relay', taps: [{ listen: { ip: '127.0.12.11', port: 24801 }, target: { ip: '127.0.12.12', port: 24801 } }] }, target });
        const client = await UdpClient.open('127.0.0.1');
        const sent = Array.from({ length: 50 }, (_, i) => Buffer.from(`packet ${i}`));
        for (const payload of sent) await client.send(payload, 24801, '127.0.12.11');
        await client.waitForReplies(50);
        await client.close();
        stopRecording();
        expect((await recording).recorded).toBe(100);
        const capture = await getCapture(store, 'taped');
        expect(capture).toMatchObject({ keptDatagrams: 100, uplinkDatagrams: 50, routePorts: [24801], devices: 1 });
        // Replay the recorded capture straight at the backend: it receives the same 50 payloads again.
        const received: number[] = [];
        const sink = new SimulatedBackend({ protocol: generic, ip: '127.0.12.13', ports: [24801], role: 'sink', sink: { add: (o) => void (o.leg === 'relay>sink' && received.push(payloadHash(o.payload))) } });
        await sink.start();
        cleanups.push(() => sink.stop());
        await replayCapture({ store, capture: 'taped', relayHost: '127.0.12.13', portMap: new Map(), plan: { pace: { kind: 'max' }, loops: 1, durationMs: undefined, sample: 1, seed: 1 }, protocol: generic, devices: '127.23.0.0/16', ackTimeoutMs: 500 });
        expect(received.sort()).toEqual(sent.map((p) => payloadHash(p)).sort());
      });
    });
  });
});

const canCapture = tcpdumpUsable();
const canCaptureNow = requirePrerequisite(canCapture, 'tcpdump run as root (apt-get install tcpdump) for the live-capture test');

describe.runIf(canCaptureNow)('parity record with a live capture (tcpdump on lo)', () => {
  it('assigns every packet of a replay through the reference relay to its leg, with the counts the backends recorded', async () => {
    await withTempDir(async (dir) => {
      const store = await Store.open(join(dir, 'live.duckdb'));
      cleanups.push(async () => store.close());
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 10, perDevice: 20, port: 24900 });
      await importCaptures(store, { files: [file], ports: [24900] });
      const replayRunId = await createRun(store, { name: 'replayed', kind: 'replay', protocol: 'generic' });
      const observations = await ObservationWriter.create(store, replayRunId);
      const backends = ['127.0.13.2', '127.0.13.3'].map((ip, i) => new SimulatedBackend({ protocol: generic, ip, ports: [24900], role: i === 0 ? 'primary' : 'mirror', sink: observations }));
      for (const backend of backends) await backend.start();
      cleanups.push(async () => {
        for (const backend of backends) await backend.stop();
      });
      writeFileSync(join(dir, 'routes.json'), JSON.stringify({ mirror: true, mirror_ip: '127.0.13.3', routes: [{ port: 24900, target: '127.0.13.2' }] }));
      const relay = await RelayService.start({ routesPath: join(dir, 'routes.json'), bindIp: '127.0.13.1', debugPort: 0, log: silentLog });
      cleanups.push(() => relay.stop());
      const topology = parseTopology({ relay: { ip: '127.0.13.1', ports: [24900] }, backends: { primary: '127.0.13.2', mirror: '127.0.13.3' } }, 'inline');
      const target = await runTarget(store, 'captured', generic, 'live:lo', undefined, false);
      let recorded = 0;
      const { recording, stop: stopRecording } = await startRecording({
        source: { kind: 'live', iface: 'lo', filter: 'udp and net 127.0.13.0/24', topology },
        target,
        onProgress: (progress) => (recorded = progress.recorded),
      });
      const replay = await replayCapture({ store, capture: 'fleet', relayHost: '127.0.13.1', portMap: new Map(), plan: { pace: { kind: 'rate', ratePps: 500 }, loops: 1, durationMs: undefined, sample: 1, seed: 1 }, protocol: generic, devices: '127.24.0.0/16', ackTimeoutMs: 1000, existingRun: { runId: replayRunId, name: 'replayed' } });
      await Promise.all(backends.map((b) => b.idle()));
      // Every packet on the wire: the devices' sends, what each backend received and answered, the ACKs relayed back.
      const onTheWire = replay.stats.sent + replay.stats.acks + backends.reduce((sum, b) => sum + b.counters.received + b.counters.acked + b.counters.naked + b.counters.duplicateAcks, 0);
      await waitFor(() => recorded >= onTheWire, 'the live capture to have read every packet', 30_000);
      stopRecording();
      const result = await recording;
      await observations.finish();
      const counts = async (run: string): Promise<Record<string, number>> =>
        Object.fromEntries((await store.query('SELECT leg, count(*) n FROM observations JOIN runs USING (run_id) WHERE name = $run GROUP BY leg', { run })).map((r) => [String(r.leg), num(r.n)]));
      const seenByBackends = await counts('replayed');
      const captured = await counts('captured');
      const [sends] = await store.query('SELECT count(*) n FROM sends');
      expect(captured['device>relay']).toBe(num(sends?.n));
      for (const leg of ['relay>primary', 'primary>relay', 'relay>mirror', 'mirror>relay', 'relay>device']) expect(captured[leg], leg).toBe(seenByBackends[leg]);
      expect(result.unassigned).toBe(0);
      expect(result.unrecorded).toBe(0);
    });
  });
});
