import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { getCapture } from '../../src/capture/capture-catalog.ts';
import { READ_CHUNK_BYTES } from '../../src/capture/byte-window.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { readAll, type FrameRecord } from '../helpers/read-frames.ts';
import { captureWholeTcp, clientDataFrames, rewritePcap } from '../helpers/tcp-capture.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { tsharkReady } from '../helpers/tshark.ts';

const canCapture = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root, to capture real HTTP on loopback');
const tsharkPresent = tsharkReady();
const SERVER = '127.0.89.1';
const PORT = 18089;
/** UDP payload bytes of the datagrams that spread a capture over the reader's buffers. */
const PADDING_BYTES = 1200;
const GZIPPED = gzipSync(Buffer.from(JSON.stringify({ report: 'x'.repeat(3000) })));

/** A server written for this test, independent of the project's backends: three ways of framing an answer. */
function startServer(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url === '/report') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': GZIPPED.length });
        res.end(GZIPPED);
      } else if (req.url?.startsWith('/stream')) {
        // No length: Node frames it chunked.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part;');
        res.end(`echo of ${body.length} bytes`);
      } else {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: body.length }));
      }
    });
  });
  return new Promise((resolve) => server.listen(PORT, SERVER, () => resolve(server)));
}

interface Sent {
  method: string;
  path: string;
  body: string;
}

/** Two kept-alive connections: POSTs with Content-Length, a PUT sent chunked, GETs answered gzip and chunked. */
async function traffic(): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let connection = 0; connection < 2; connection++) {
    const client = new Client(`http://${SERVER}:${PORT}`, { pipelining: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const post = { method: 'POST', path: `/v1/invoices?c=${connection}&i=${i}`, body: JSON.stringify({ invoice: i, lines: [{ cents: 100 * i + connection }] }) };
        await (await client.request({ ...post, method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': 'north' } })).body.dump();
        sent.push(post);
      }
      const chunkedBody = ['{"part":1,', '"part2":"', 'y'.repeat(5000), '"}'];
      await (await client.request({ path: `/stream/${connection}`, method: 'PUT', body: Readable.from(chunkedBody.map((piece) => Buffer.from(piece))) })).body.dump();
      sent.push({ method: 'PUT', path: `/stream/${connection}`, body: chunkedBody.join('') });
      await (await client.request({ path: '/report', method: 'GET' })).body.dump();
      sent.push({ method: 'GET', path: '/report', body: '' });
    } finally {
      await client.close();
    }
  }
  return sent;
}

/** Captures the traffic, whole (see captureWholeTcp), with the server started and stopped inside it. */
async function capture(file: string): Promise<Sent[]> {
  return captureWholeTcp(file, SERVER, PORT, async () => {
    const server = await startServer();
    try {
      return await traffic();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
}

interface Row {
  method: string;
  url: string;
  body: string;
  status: number | null;
  responseBody: Buffer | null;
  missing: string | null;
}

async function importHttp(dir: string, file: string, name: string): Promise<{ rows: Row[]; error: string | undefined; exchanges: number }> {
  return withStore(join(dir, `${name}.duckdb`), async (store) => {
    const result = await importCaptures(store, { files: [file], name });
    const rows = await store.query('SELECT method, url, request_body, status, response_body, missing FROM http_exchanges ORDER BY ts_ns, idx');
    const summary = await getCapture(store, name);
    return {
      rows: rows.map((r) => ({
        method: str(r.method),
        url: str(r.url),
        body: Buffer.from(r.request_body as Uint8Array).toString(),
        status: r.status === null ? null : num(r.status),
        responseBody: r.response_body === null ? null : Buffer.from(r.response_body as Uint8Array),
        missing: r.missing === null ? null : str(r.missing),
      })),
      error: result.captures[0]?.error?.message,
      exchanges: summary.httpExchanges,
    };
  });
}

describe.runIf(canCapture)('HTTP/1.1 read out of a real tcpdump capture', () => {
  it('every request and response of two kept-alive connections: Content-Length and chunked bodies, gzip kept as bytes, as tshark reads them too', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'http.pcap');
      const sent = await capture(file);
      const { rows, error, exchanges } = await importHttp(dir, file, 'http');
      expect(error).toBeUndefined();
      expect(exchanges).toBe(sent.length);
      expect(rows.map((r) => [r.method, new URL(r.url).pathname + new URL(r.url).search, r.body])).toEqual(sent.map((s) => [s.method, s.path, s.body]));
      expect(rows.every((r) => r.url.startsWith(`http://${SERVER}:${PORT}/`))).toBe(true);
      const reports = rows.filter((r) => r.url.endsWith('/report'));
      expect(reports.map((r) => r.responseBody?.equals(GZIPPED))).toEqual([true, true]);
      expect(rows.filter((r) => r.method === 'PUT').map((r) => r.responseBody?.toString())).toEqual(['first part;echo of 5021 bytes', 'first part;echo of 5021 bytes']);
      expect(rows.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
      if (tsharkPresent) {
        // An independent reader of the same bytes: Wireshark's dissector finds the same requests in the same order.
        const tshark = spawnSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri', '-o', 'tcp.desegment_tcp_streams:TRUE'], { encoding: 'utf8' });
        const seen = tshark.stdout.trim().split('\n').map((line) => line.split('\t'));
        expect(seen).toEqual(rows.map((r) => [r.method, new URL(r.url).pathname + new URL(r.url).search]));
      }
    });
  });

  it('the same exchanges when segments come out of order and twice; a lost segment keeps what came before it and flags the capture', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'http.pcap');
      const sent = await capture(file);
      const { frames } = await readAll(file);
      const segments = clientDataFrames(frames, PORT);
      const data = segments.map((s) => s.index);
      expect(data.length).toBeGreaterThan(6);
      // Out of order: each pair of a client's data segments swapped (a request seen after the next one, and after
      // its own answer); retransmitted: every third one seen again right after.
      const shuffled = [...frames];
      for (let i = 0; i + 1 < segments.length; i += 2) {
        const [a, b] = [segments[i], segments[i + 1]];
        if (a === undefined || b === undefined || a.port !== b.port) continue;
        [shuffled[a.index], shuffled[b.index]] = [frames[b.index] as FrameRecord, frames[a.index] as FrameRecord];
      }
      const withRepeats = shuffled.flatMap((frame, index) => (data.indexOf(index) % 3 === 2 ? [frame, frame] : [frame]));
      rewritePcap(join(dir, 'reordered.pcap'), withRepeats);
      const reordered = await importHttp(dir, join(dir, 'reordered.pcap'), 'reordered');
      expect(reordered.error).toBeUndefined();
      expect(reordered.rows.map((r) => [r.method, r.body])).toEqual(sent.map((s) => [s.method, s.body]));

      // Read across many of the reader's buffers, which an import fills in turn: UDP between a segment that came early
      // and the one before it, more than two buffers of it, so the early one is held while its buffer is filled again.
      const padding = (from: number): FrameRecord[] =>
        Array.from({ length: Math.ceil((2.5 * READ_CHUNK_BYTES) / PADDING_BYTES) }, (_, k) => {
          const n = from + k;
          const payload = Buffer.alloc(PADDING_BYTES, n % 251);
          payload.writeUInt32BE(n, 0);
          const bytes = Buffer.from(buildUdpFrame({ srcIp: '127.0.89.7', dstIp: '127.0.89.8', srcPort: 40000, dstPort: 20500, payload }));
          const at = frames[0] as FrameRecord;
          return { ...at, capturedBytes: bytes.length, originalBytes: bytes.length, bytes };
        });
      const early = new Set(segments.slice(0, 4).filter((_s, i) => i % 2 === 1).map((s) => s.index));
      let padded = 0;
      const spread = withRepeats.flatMap((frame) => {
        if (!early.has(frame.frameNo - 1)) return [frame];
        const block = padding(padded);
        padded += block.length;
        return [frame, ...block];
      });
      rewritePcap(join(dir, 'spread.pcap'), spread);
      const spreadOut = await withStore(join(dir, 'spread.duckdb'), async (store) => {
        const result = await importCaptures(store, { files: [join(dir, 'spread.pcap')], name: 'spread' });
        const exchanges = await store.query('SELECT method, request_body FROM http_exchanges ORDER BY ts_ns, idx');
        const [udp] = await store.query(
          `SELECT count(*)::INT AS n,
                  count(*) FILTER (WHERE octet_length(payload) <> ${PADDING_BYTES}
                     OR payload <> unhex(printf('%08x', (idx)::INT) || repeat(lpad(printf('%x', idx % 251), 2, '0'), ${PADDING_BYTES - 4})))::INT AS wrong
           FROM capture_packets`,
        );
        return { error: result.captures[0]?.error?.message, exchanges: exchanges.map((r) => [str(r.method), Buffer.from(r.request_body as Uint8Array).toString()]), udp };
      });
      expect(padded * PADDING_BYTES).toBeGreaterThan(4 * READ_CHUNK_BYTES);
      expect(spreadOut.error).toBeUndefined();
      expect(spreadOut.exchanges).toEqual(sent.map((s) => [s.method, s.body]));
      expect(spreadOut.udp).toMatchObject({ n: padded, wrong: 0 });

      // Lost: the segment of the fourth request of the first connection (its first chunk) never made the capture.
      const lost = data[3] as number;
      rewritePcap(join(dir, 'lost.pcap'), frames.filter((_frame, index) => index !== lost));
      const damaged = await importHttp(dir, join(dir, 'lost.pcap'), 'lost');
      expect(damaged.error?.startsWith(`${join(dir, 'lost.pcap')}: 127.0.0.1:`), damaged.error).toBe(true);
      expect(damaged.error).toMatch(/lost\.pcap: 127\.0\.0\.1:\d+ -> 127\.0\.89\.1:18089: a segment from the client is missing; every complete exchange is kept$/);
      // The three POSTs before the hole are whole; the other connection is untouched.
      expect(damaged.rows.filter((r) => r.url.includes('c=0')).map((r) => r.body)).toEqual(sent.filter((s) => s.path.includes('c=0')).map((s) => s.body));
      expect(damaged.rows.filter((r) => r.url.includes('c=1') || r.url.endsWith('/stream/1')).length).toBe(4);
    });
  });
});
