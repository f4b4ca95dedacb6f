import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFileWriter } from '../../src/capture/capture-file-writer.ts';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { tsharkReady } from '../helpers/tshark.ts';

const RELAY = '10.255.0.1';
const PRIMARY = '10.9.0.2';
const MIRROR = '10.9.0.3';
const PORT = 18172;
const DEVICES = 6;
const REPORTS = 10;
/** The relay's copies to the mirror the capture "dropped": the mirror got them and answered, and the file has the answers. */
const UNSEEN = 3;
/** A dozen subprocesses, each a Node start: on a loaded 2-core machine (CI beside other work) 27 s were seen. */
const SUBPROCESSES_TIMEOUT_MS = 180_000;
/** tshark reads the statistics blocks as an independent check of how they are written; the rest runs without it. */
const tsharkPresent = tsharkReady();

/**
 * A pcapng capture on a mirroring relay's host that misses three of the relay's copies to the mirror (its buffer full),
 * as dumpcap would take it: every other leg of every report is in it, and so are the mirror's answers to the copies it
 * does not hold.
 */
function writeCaptureMissingCopies(path: string): void {
  const writer = new CaptureFileWriter(path, { format: 'pcapng' });
  let ts = 1_700_000_000_000_000_000n;
  let report = 0;
  for (let i = 0; i < REPORTS; i++) {
    for (let d = 0; d < DEVICES; d++, report++) {
      const device = { ip: `10.0.0.${d + 1}`, port: 30_000 + d };
      const upstream = 40_000 + d;
      const payload = Buffer.from(`device ${d} report ${i}`);
      const ack = Buffer.from(`ack ${d}/${i}`);
      const legs = [
        { srcIp: device.ip, srcPort: device.port, dstIp: RELAY, dstPort: PORT, payload },
        { srcIp: RELAY, srcPort: upstream, dstIp: PRIMARY, dstPort: PORT, payload },
        ...(report % 20 === 7 ? [] : [{ srcIp: RELAY, srcPort: 50_000, dstIp: MIRROR, dstPort: PORT, payload }]),
        { srcIp: PRIMARY, srcPort: PORT, dstIp: RELAY, dstPort: upstream, payload: ack },
        { srcIp: MIRROR, srcPort: PORT, dstIp: RELAY, dstPort: 50_000, payload: ack },
        { srcIp: RELAY, srcPort: PORT, dstIp: device.ip, dstPort: device.port, payload: ack },
      ];
      for (const leg of legs) writer.add((ts += 100_000n), buildUdpFrame(leg));
    }
  }
  writer.close();
}

/**
 * An interface statistics block (pcapng, block type 5) for interface 0, little-endian as the writer's section, with
 * the counters dumpcap writes: packets received and dropped since the capture began. Built here from the
 * specification (draft-ietf-opsawg-pcapng, 4.6), not by the project's writer.
 */
function interfaceStatistics(received: number, dropped: number): Buffer {
  const block = Buffer.alloc(52);
  block.writeUInt32LE(5, 0);
  block.writeUInt32LE(52, 4);
  block.writeUInt32LE(0, 8); // interface id
  block.writeUInt32LE(0, 12); // timestamp, high and low words
  block.writeUInt32LE(0, 16);
  block.writeUInt16LE(4, 20); // isb_ifrecv
  block.writeUInt16LE(8, 22);
  block.writeBigUInt64LE(BigInt(received), 24);
  block.writeUInt16LE(5, 32); // isb_ifdrop
  block.writeUInt16LE(8, 34);
  block.writeBigUInt64LE(BigInt(dropped), 36);
  block.writeUInt32LE(0, 44); // opt_endofopt
  block.writeUInt32LE(52, 48);
  return block;
}

interface Metric {
  metric: string;
  route: number | null;
  backend: string | null;
  status: string | null;
  uncertaintySource?: string;
}

describe('what a capture file says its capture dropped (subprocess)', () => {
  it('an imported run whose pcapng counts drops is interrupted, and its partial analysis blames no backend for them', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'at-relay.pcapng');
      writeCaptureMissingCopies(file);
      // Running totals: the later block, written as the capture stopped, holds the whole.
      appendFileSync(file, Buffer.concat([interfaceStatistics(200, 1), interfaceStatistics(360, UNSEEN)]));
      // A third party reads the blocks as we wrote them.
      if (tsharkPresent) expect(execFileSync('tshark', ['-r', file, '-q'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
      writeFileSync(join(dir, 'topology.yaml'), `relay: { ip: ${RELAY}, ports: [${PORT}] }\nbackends: { primary: ${PRIMARY}, mirror: ${MIRROR} }\n`);
      const db = join(dir, 'p.duckdb');

      const imported = await runParity(['import', file, '--run', 'shadow', '--topology', join(dir, 'topology.yaml'), '--protocol', 'generic', '--db', db]);
      expect(imported.code).toBe(1);
      expect(imported.stderr).toMatch(/at-relay\.pcapng: its capture dropped 3 packets \(its interface statistics\); the run is marked interrupted/);
      const runs = JSON.parse((await runParity(['runs', '--db', db, '--json'])).stdout) as { name: string; status: string }[];
      expect(runs).toEqual([expect.objectContaining({ name: 'shadow', status: 'interrupted' })]);

      const whole = await runParity(['analyse', 'shadow', '--db', db]);
      expect(whole.code).toBe(1);
      expect(whole.stdout).toMatch(/verdict for shadow: INCOMPLETE/);

      const partial = await runParity(['analyse', 'shadow', '--partial', '--db', db, '--json']);
      expect(partial.code).toBe(1);
      const report = JSON.parse(partial.stdout) as { verdict: string; metrics: Metric[]; findings: { severity: string; metric: string; backend: string | null; message: string }[] };
      // Without the drops, the mirror "lost" 3 of 60 (5%) and answered 3 requests it never got: critical twice.
      expect(report.verdict).toBe('INCONCLUSIVE');
      const mirror = (name: string): Metric | undefined => report.metrics.find((m) => m.metric === name && m.backend === 'mirror' && m.route === PORT);
      expect(mirror('drop_rate')).toMatchObject({ status: 'inconclusive', uncertaintySource: 'unrecorded' });
      expect(mirror('extra_ack_rate')).toMatchObject({ status: 'inconclusive', uncertaintySource: 'unrecorded' });
      expect(report.findings.filter((f) => f.severity === 'critical')).toEqual([]);
      expect(report.findings).toContainEqual(expect.objectContaining({ severity: 'warning', metric: 'recording_unrecorded', message: expect.stringMatching(/could not record 3 datagrams/) }));
      expect(report.findings).toContainEqual(
        expect.objectContaining({ severity: 'inconclusive', backend: 'mirror', metric: 'drop_rate', message: expect.stringMatching(/The recording could not record 3 datagrams .* nothing is blamed and nothing passes/) }),
      );
      // Three datagrams of 360 could hide as many faults of the primary's too (a request unseen whose copy was lost): at
      // these thresholds nothing is concluded of either, and each inconclusive finding says why.
      for (const finding of report.findings.filter((f) => f.severity === 'inconclusive')) expect(finding.message).toMatch(/The recording could not record 3 datagrams/);

      // The same file with no statistics block: the mirror is blamed for what the capture missed.
      const bare = join(dir, 'bare.pcapng');
      writeCaptureMissingCopies(bare);
      expect((await runParity(['import', bare, '--run', 'bare', '--topology', join(dir, 'topology.yaml'), '--protocol', 'generic', '--db', db])).code).toBe(0);
      const blamed = JSON.parse((await runParity(['analyse', 'bare', '--db', db, '--json'])).stdout) as typeof report;
      expect(blamed.verdict).toBe('NO_GO');
      expect(blamed.findings.filter((f) => f.severity === 'critical').map((f) => `${f.backend} ${f.metric}`).sort()).toEqual(['mirror drift', 'mirror drop_rate', 'mirror extra_ack_rate']);
    });
  }, SUBPROCESSES_TIMEOUT_MS);

  it('a capture imported for replay says what its capture dropped', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'at-relay.pcapng');
      writeCaptureMissingCopies(file);
      appendFileSync(file, interfaceStatistics(360, UNSEEN));
      const imported = await runParity(['import', file, '--port', String(PORT), '--relay-addr', RELAY, '--db', join(dir, 'p.duckdb')]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stderr).toMatch(/at-relay: the capture dropped 3 packets before writing them \(its interface statistics\); a replay of it lacks them too/);
      const listed = await runParity(['captures', '--db', join(dir, 'p.duckdb')]);
      expect(listed.stdout).toMatch(/at-relay: its capture dropped 3 packets before writing them/);
      // A file that says nothing of drops (no statistics block) lists none, not zero.
      const bare = join(dir, 'bare.pcapng');
      writeCaptureMissingCopies(bare);
      expect((await runParity(['import', bare, '--port', String(PORT), '--relay-addr', RELAY, '--db', join(dir, 'p.duckdb')])).code).toBe(0);
      const json = JSON.parse((await runParity(['captures', '--db', join(dir, 'p.duckdb'), '--json'])).stdout) as { name: string; captureDrops: number | null }[];
      expect(json.map((c) => [c.name, c.captureDrops])).toEqual([['at-relay', 3], ['bare', null]]);
    });
  }, SUBPROCESSES_TIMEOUT_MS);
});
