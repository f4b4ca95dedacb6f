import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/capture/import-capture.ts';
import { Store } from '../src/store/store.ts';
import { commandExists, fmtRate, printRows } from './bench-util.ts';
import { TcpCaptureWriter } from './tcp-capture-writer.ts';

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

/** Writes the capture; returns its frame count. */
function writeHttpCapture(file: string, exchanges: number): number {
  const capture = new TcpCaptureWriter();
  const server = 0x7f006301;
  for (let c = 0; c * PER_CONNECTION < exchanges; c++) {
    capture.connection(0x7f640000 + (c % 60_000) + 1, server, 20_000 + (c % 40_000), 80, (send) => {
      for (let i = 0; i < PER_CONNECTION && c * PER_CONNECTION + i < exchanges; i++) {
        const body = JSON.stringify({ customer: `north-${c}`, currency: 'EUR', lines: [{ sku: `SKU-${i}`, quantity: 2, cents: 1250 + i }] });
        send(true, Buffer.from(`POST /v1/invoices?n=${c}-${i} HTTP/1.1\r\nHost: billing.example\r\nContent-Type: application/json\r\nX-Tenant: north\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
        const answer = JSON.stringify({ id: c * PER_CONNECTION + i, totalCents: 2500 + 2 * i, status: 'created' });
        send(false, Buffer.from(`HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`));
      }
    });
  }
  capture.write(file);
  return capture.frames;
}
