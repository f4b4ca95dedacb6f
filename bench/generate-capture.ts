import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFileWriter, type CaptureFileWriterOptions } from '../src/capture/capture-file-writer.ts';
import { buildUdpFrame } from '../src/capture/frame-builder.ts';
import { importCaptures } from '../src/capture/import-capture.ts';
import { Store } from '../src/store/store.ts';

const PAYLOAD_BYTES = 60;

/**
 * Writes `packets` Ethernet/IPv4/UDP frames from 1,000 devices to one relay port, 10 µs apart, each with a distinct
 * 60-byte payload (the size of a typical telematics report).
 */
export function generateBenchCapture(path: string, packets: number, format: CaptureFileWriterOptions['format']): void {
  const writer = new CaptureFileWriter(path, { format });
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x5a);
  const frames = Array.from({ length: 1000 }, (_, device) =>
    buildUdpFrame({ srcIp: `10.20.${device >> 8}.${device & 255}`, dstIp: '10.0.0.1', srcPort: 30000 + device, dstPort: 20500, payload }),
  );
  const payloadOffset = 14 + 20 + 8;
  let tsNs = 1_700_000_000_000_000_000n;
  for (let i = 0; i < packets; i++) {
    const frame = frames[i % frames.length] as Uint8Array;
    // A distinct payload per packet, as real reports are (sequence number in the first 4 bytes).
    frame[payloadOffset] = i >>> 24;
    frame[payloadOffset + 1] = (i >>> 16) & 255;
    frame[payloadOffset + 2] = (i >>> 8) & 255;
    frame[payloadOffset + 3] = i & 255;
    writer.add(tsNs, frame);
    tsNs += 10_000n;
  }
  writer.close();
}

/**
 * What most benches start from: a store in a fresh temporary directory holding a generated capture named `name` of
 * `packets` packets, imported for `port`. Runs `fn` with the store, the directory (for the bench's own files) and the
 * capture's file, then
 * closes the store and removes the directory, whatever happens.
 */
export async function withBenchCapture<T>(label: string, capture: { packets: number; port: number; name?: string }, fn: (store: Store, dir: string, file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `parity-bench-${label}-`));
  try {
    const file = join(dir, 'capture.pcap');
    generateBenchCapture(file, capture.packets, 'pcap');
    const store = await Store.open(join(dir, 'capture.duckdb'));
    try {
      await importCaptures(store, { files: [file], name: capture.name ?? 'bench', ports: [capture.port] });
      return await fn(store, dir, file);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
