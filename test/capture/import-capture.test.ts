import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getCapture, listCaptures } from '../../src/capture/capture-catalog.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { CaptureFileError, CaptureFormatError, CaptureTruncatedError, StoreLookupError } from '../../src/core/errors.ts';
import { payloadHash } from '../../src/core/payload-hash.ts';
import { num, withStore } from '../../src/store/store.ts';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

describe('parity import into DuckDB', () => {
  it.each(['pcap', 'pcap-nsec', 'pcapng'] as const)('stores every datagram of a %s file exactly, in a real DuckDB file', async (format) => {
    await withTempDir(async (dir) => {
      const file = join(dir, `fleet.${format === 'pcapng' ? 'pcapng' : 'pcap'}`);
      const written = writeFleetCapture(file, { devices: 5, perDevice: 4, format });
      const db = join(dir, 'store.duckdb');
      const result = await withStore(db, (store) => importCaptures(store, { files: [file] }));
      expect(result.errors).toEqual([]);
      await withStore(db, async (store) => {
        const rows = await store.query('SELECT * FROM capture_datagrams ORDER BY idx');
        expect(rows).toHaveLength(written.length);
        rows.forEach((row, index) => {
          const expected = written[index];
          if (expected === undefined) throw new Error('more rows than written');
          // pcap and pcapng here are microsecond files: the nanoseconds below a microsecond are zero.
          expect(row.ts_ns).toBe(expected.tsNs);
          expect([row.src_ip, row.src_port, row.dst_ip, row.dst_port]).toEqual([expected.srcIp, expected.srcPort, expected.dstIp, expected.dstPort]);
          expect(Buffer.from(row.payload as Uint8Array)).toEqual(expected.payload);
          expect(num(row.payload_hash)).toBe(payloadHash(expected.payload));
          expect(row.truncated).toBe(false);
        });
        const [capture] = await listCaptures(store);
        expect(capture).toMatchObject({ name: 'fleet', frames: written.length, keptDatagrams: written.length, devices: 5, routePorts: [20500], uplinkDatagrams: 20, partial: false });
        expect(capture?.durationSec).toBeCloseTo(3.0045, 6);
      });
    });
  });

  it('keeps the frames before a cut-short record and marks the capture partial with the error', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'cut.pcap');
      writeFleetCapture(file, { devices: 2, perDevice: 3 });
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, bytes.length - 7));
      const db = join(dir, 'store.duckdb');
      const result = await withStore(db, (store) => importCaptures(store, { files: [file] }));
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toBeInstanceOf(CaptureTruncatedError);
      await withStore(db, async (store) => {
        const capture = await getCapture(store, 'cut');
        expect(capture.partial).toBe(true);
        expect(capture.keptDatagrams).toBe(11);
        expect(capture.error).toMatch(/cut\.pcap: file ends inside .* at byte offset \d+/);
      });
    });
  });

  it('imports the good files, reports the bad ones, and creates no capture for a file that is not one', async () => {
    await withTempDir(async (dir) => {
      const good = join(dir, 'good.pcap');
      writeFleetCapture(good, { devices: 1, perDevice: 1 });
      const text = join(dir, 'notes.pcap');
      writeFileSync(text, 'not a capture at all');
      const db = join(dir, 'store.duckdb');
      const result = await withStore(db, (store) => importCaptures(store, { files: [join(dir, 'missing.pcap'), text, good] }));
      expect(result.errors.map((e) => e.constructor)).toEqual([CaptureFileError, CaptureFormatError]);
      expect(result.captures.map((c) => c.name)).toEqual(['good']);
      await withStore(db, async (store) => expect((await listCaptures(store)).map((c) => c.name)).toEqual(['good']));
    });
  });

  it('filters by --port and makes the ports the routes; several files with --name make one capture', async () => {
    await withTempDir(async (dir) => {
      const a = join(dir, 'a.pcap');
      const b = join(dir, 'b.pcap');
      writeFleetCapture(a, { devices: 2, perDevice: 2, port: 20500 });
      writeFleetCapture(b, { devices: 3, perDevice: 2, port: 20600, startNs: 1_800_000_000_000_000_000n });
      const db = join(dir, 'store.duckdb');
      await withStore(db, async (store) => {
        const result = await importCaptures(store, { files: [a, b], name: 'both', ports: [20600] });
        expect(result.captures[0]?.stats.udpDatagrams).toBe(20);
        const capture = await getCapture(store, 'both');
        expect(capture).toMatchObject({ keptDatagrams: 12, routePorts: [20600], devices: 3, source: `${a},${b}` });
        const idx = await store.query('SELECT min(idx) lo, max(idx) hi, count(DISTINCT idx) n FROM capture_packets');
        expect(idx[0]).toEqual({ lo: 0, hi: 11, n: 12n });
      });
    });
  });

  it('refuses a name already in the store unless asked to replace it', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'x.pcap');
      writeFleetCapture(file, { devices: 1, perDevice: 2 });
      const db = join(dir, 'store.duckdb');
      await withStore(db, async (store) => {
        await importCaptures(store, { files: [file] });
        await expect(importCaptures(store, { files: [file] })).rejects.toBeInstanceOf(StoreLookupError);
        await importCaptures(store, { files: [file], replace: true });
        const rows = await store.query('SELECT count(*) n FROM capture_packets');
        expect(rows[0]?.n).toBe(4n);
      });
    });
  });
});
