import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/capture/import-capture.ts';
import { Store } from '../src/store/store.ts';
import { commandExists, fmtRate, printRows } from './bench-util.ts';

const EXCHANGES = Number(process.env.BENCH_HTTP_EXCHANGES ?? 100_000);
const PER_CONNECTION = 20;

/**
 * `npm run bench -- http-import`: HTTP/1.1 read out of a generated pcap of 100,000 exchanges (kept-alive connections of
 * 20, a JSON POST and its answer each, handshakes and closes included), imported into DuckDB, against tshark's HTTP
 * dissector on the same file (`tshark -Y http`, which reassembles TCP the same way), in the same run.
 */
export async function benchHttpImport(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-http-import-'));
  try {
    const file = join(dir, 'http.pcap');
    const frames = writeHttpCapture(file, EXCHANGES);
    process.stdout.write(`HTTP import benchmark: ${EXCHANGES.toLocaleString('en-US')} exchanges, ${frames.toLocaleString('en-US')} frames, ${(statSync(file).size / 1e6).toFixed(0)} MB\n`);
    const rows: (string | number)[][] = [];
    let tsharkRate: number | undefined;
    if (commandExists('tshark')) {
      const started = process.hrtime.bigint();
      const run = spawnSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const requests = run.stdout.split('\n').filter(Boolean).length;
      tsharkRate = EXCHANGES / seconds;
      rows.push(['tshark -Y http.request', fmtRate(tsharkRate), seconds.toFixed(2), requests.toLocaleString('en-US'), '1.0x']);
    } else {
      process.stdout.write('tshark not on PATH: its baseline is not measured\n');
    }
    const store = await Store.open(join(dir, 'http.duckdb'));
    try {
      const started = process.hrtime.bigint();
      const result = await importCaptures(store, { files: [file], name: 'http' });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const found = result.captures[0]?.httpExchanges ?? 0;
      const rate = EXCHANGES / seconds;
      rows.push(['parity import (into DuckDB)', fmtRate(rate), seconds.toFixed(2), found.toLocaleString('en-US'), tsharkRate === undefined ? '-' : `${(rate / tsharkRate).toFixed(1)}x`]);
    } finally {
      store.close();
    }
    printRows('HTTP exchanges per second read out of TCP (higher is better)', ['what', 'exchanges/s', 'seconds', 'requests found', 'vs tshark'], rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the capture; returns its frame count. Checksums are left 0, as segmentation offload leaves them. */
function writeHttpCapture(file: string, exchanges: number): number {
  const records: Buffer[] = [Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0])];
  let frames = 0;
  let ts = 1_795_000_000_000_000n;
  const frame = (src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Buffer): void => {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(srcPort, 0);
    tcp.writeUInt16BE(dstPort, 2);
    tcp.writeUInt32BE(seq >>> 0, 4);
    tcp.writeUInt32BE(ack >>> 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp.writeUInt16BE(65535, 14);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + payload.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    ip.writeUInt32BE(src, 12);
    ip.writeUInt32BE(dst, 16);
    const ethernet = Buffer.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]);
    const bytes = Buffer.concat([ethernet, ip, tcp, payload]);
    const header = Buffer.alloc(16);
    ts += 50_000n;
    header.writeUInt32LE(Number(ts / 1_000_000n), 0);
    header.writeUInt32LE(Number(ts % 1_000_000n), 4);
    header.writeUInt32LE(bytes.length, 8);
    header.writeUInt32LE(bytes.length, 12);
    records.push(header, bytes);
    frames++;
  };
  const server = 0x7f006301;
  for (let c = 0; c * PER_CONNECTION < exchanges; c++) {
    const client = 0x7f640000 + (c % 60_000) + 1;
    const port = 20_000 + (c % 40_000);
    let up = 1000;
    let down = 5000;
    frame(client, server, port, 80, up - 1, 0, 0x02, Buffer.alloc(0));
    frame(server, client, 80, port, down - 1, up, 0x12, Buffer.alloc(0));
    frame(client, server, port, 80, up, down, 0x10, Buffer.alloc(0));
    for (let i = 0; i < PER_CONNECTION && c * PER_CONNECTION + i < exchanges; i++) {
      const body = JSON.stringify({ customer: `north-${c}`, currency: 'EUR', lines: [{ sku: `SKU-${i}`, quantity: 2, cents: 1250 + i }] });
      const request = Buffer.from(`POST /v1/invoices?n=${c}-${i} HTTP/1.1\r\nHost: billing.example\r\nContent-Type: application/json\r\nX-Tenant: north\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const answer = JSON.stringify({ id: c * PER_CONNECTION + i, totalCents: 2500 + 2 * i, status: 'created' });
      const response = Buffer.from(`HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`);
      frame(client, server, port, 80, up, down, 0x18, request);
      up += request.length;
      frame(server, client, 80, port, down, up, 0x18, response);
      down += response.length;
      frame(client, server, port, 80, up, down, 0x10, Buffer.alloc(0));
    }
    frame(client, server, port, 80, up, down, 0x11, Buffer.alloc(0));
    frame(server, client, 80, port, down, up + 1, 0x11, Buffer.alloc(0));
  }
  writeFileSync(file, Buffer.concat(records));
  return frames;
}
