import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFileWriter } from '../../src/capture/capture-file-writer.ts';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const RELAY = '10.255.0.1';
const PRIMARY = '10.9.0.2';
const MIRROR = '10.9.0.3';
const PORT = 18172;

/**
 * A capture as `tcpdump -i any udp port 18172` takes it on a mirroring relay's host: devices to the relay, the relay's
 * copies to both backends (from an upstream socket per device), the primary's ACK back, and the relay's ACK to the device.
 */
function writeRelayHostCapture(path: string, devices: number, perDevice: number): void {
  const writer = new CaptureFileWriter(path, { format: 'pcap' });
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < perDevice; i++) {
    for (let d = 0; d < devices; d++) {
      const device = { ip: `10.0.0.${d + 1}`, port: 30_000 + d };
      const upstream = 40_000 + d;
      const report = Buffer.from(`device ${d} report ${i}`);
      const ack = Buffer.from(`ack ${d}/${i}`);
      const legs = [
        { srcIp: device.ip, srcPort: device.port, dstIp: RELAY, dstPort: PORT, payload: report },
        { srcIp: RELAY, srcPort: upstream, dstIp: PRIMARY, dstPort: PORT, payload: report },
        { srcIp: RELAY, srcPort: 50_000, dstIp: MIRROR, dstPort: PORT, payload: report },
        { srcIp: PRIMARY, srcPort: PORT, dstIp: RELAY, dstPort: upstream, payload: ack },
        { srcIp: MIRROR, srcPort: PORT, dstIp: RELAY, dstPort: 50_000, payload: ack },
        { srcIp: RELAY, srcPort: PORT, dstIp: device.ip, dstPort: device.port, payload: ack },
      ];
      for (const leg of legs) writer.add((ts += 100_000n), buildUdpFrame(leg));
    }
  }
  writer.close();
}

interface Listed {
  devices: number;
  uplinkDatagrams: number;
}

describe('parity import of a capture taken on the relay\'s host (subprocess)', () => {
  it('detects the relay as the address most senders talk to, replays only its uplink, and says what it set aside', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'at-relay.pcap');
      writeRelayHostCapture(file, 30, 4);
      const db = join(dir, 'p.duckdb');
      const imported = await runParity(['import', file, '--port', String(PORT), '--db', db]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stderr).toMatch(/the capture mixes legs: 10\.255\.0\.1 hears from the most addresses and is taken as the relay/);
      expect(imported.stderr).toMatch(/10\.9\.0\.2 \(120 datagrams from 1 address\), 10\.9\.0\.3 \(120 datagrams from 1 address\)\. Pass --relay-addr/);
      const [listed] = JSON.parse((await runParity(['captures', 'at-relay', '--db', db, '--json'])).stdout) as Listed[];
      // 30 devices and their 120 reports: not 90 "devices" and 360 datagrams with the relay's copies.
      expect(listed).toMatchObject({ devices: 30, uplinkDatagrams: 120 });
    });
  });

  it('takes --relay-addr as given, and refuses one that receives nothing, naming the addresses that do, leaving no capture', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'at-relay.pcap');
      writeRelayHostCapture(file, 5, 2);
      const db = join(dir, 'p.duckdb');
      const given = await runParity(['import', file, '--port', String(PORT), '--relay-addr', RELAY, '--db', db, '--name', 'given']);
      expect(given.code, given.stderr).toBe(0);
      expect(given.stderr).toMatch(/given: uplink to the relay at 10\.255\.0\.1 kept for replay; set aside as not device uplink: 10\.9\.0\.2/);
      const wrong = await runParity(['import', file, '--port', String(PORT), '--relay-addr', '10.1.1.1', '--db', db, '--name', 'wrong']);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr.trim()).toMatch(/^parity: --relay-addr 10\.1\.1\.1: receives nothing on the route ports 18172; addresses that do: 10\.255\.0\.1 \(5 sending addresses\), 10\.9\.0\.2 \(1 sending address\), 10\.9\.0\.3 \(1 sending address\)$/);
      const captures = JSON.parse((await runParity(['captures', '--db', db, '--json'])).stdout) as { name: string }[];
      expect(captures.map((c) => c.name)).toEqual(['given']);
      const bad = await runParity(['import', file, '--relay-addr', 'not-an-ip', '--db', db]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/"not-an-ip" is not an IP address/);
    });
  });

  it('with --run and --topology keeps every leg as the observations of a run, and the run analyses', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'at-relay.pcap');
      writeRelayHostCapture(file, 6, 5);
      writeFileSync(join(dir, 'topology.yaml'), `relay: { ip: ${RELAY}, ports: [${PORT}] }\nbackends: { primary: ${PRIMARY}, mirror: ${MIRROR} }\n`);
      const db = join(dir, 'p.duckdb');
      const imported = await runParity(['import', file, '--run', 'shadow', '--topology', join(dir, 'topology.yaml'), '--protocol', 'generic', '--db', db, '--json']);
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toMatchObject({
        recorded: 6 * 5 * 6,
        unassigned: 0,
        byLeg: { 'device>relay': 30, 'relay>primary': 30, 'relay>mirror': 30, 'primary>relay': 30, 'mirror>relay': 30, 'relay>device': 30 },
      });
      const analysed = await runParity(['analyse', 'shadow', '--db', db]);
      expect(analysed.stdout).toMatch(/20500|18172/);
      expect(analysed.stdout).toMatch(/verdict for shadow: GO/);
      const runs = JSON.parse((await runParity(['runs', '--db', db, '--json'])).stdout) as { name: string; status: string }[];
      // The capture stamped every leg, not this process: a busy harness reading the file widens no latency.
      expect(runs).toEqual([expect.objectContaining({ name: 'shadow', status: 'completed', harnessLag: null })]);
      // A flag of the other kind of import is refused by name, not left to do nothing, and nothing is imported.
      const topology = join(dir, 'topology.yaml');
      const refused = [
        { args: ['--run', 'again', '--topology', topology, '--port', String(PORT)], says: /^parity: --port applies to a capture to replay, not to one imported as a run/ },
        { args: ['--run', 'again', '--topology', topology, '--name', 'x'], says: /^parity: --name applies to a capture to replay/ },
        { args: ['--topology', topology], says: /^parity: --topology applies to a capture imported as a run: give --run NAME with it/ },
        { args: ['--protocol', 'generic'], says: /^parity: --protocol applies to a capture imported as a run/ },
      ];
      for (const { args, says } of refused) {
        const result = await runParity(['import', file, ...args, '--db', db]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
        expect(result.stderr, args.join(' ')).toMatch(says);
      }
      expect(JSON.parse((await runParity(['runs', '--db', db, '--json'])).stdout)).toHaveLength(1);
      expect(JSON.parse((await runParity(['captures', '--db', db, '--json'])).stdout)).toEqual([]);
    });
  });
});
