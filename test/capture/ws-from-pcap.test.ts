import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { getCapture } from '../../src/capture/capture-catalog.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { readAll } from '../helpers/read-frames.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { captureWholeTcp, clientDataFrames, rewritePcap, tcpOf } from '../helpers/tcp-capture.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';
import { tsharkReady } from '../helpers/tshark.ts';

const canCapture = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root, to capture real WebSocket sessions on loopback');
const tsharkPresent = tsharkReady();
const SERVER = '127.0.91.1';
const PORT = 18091;

interface Sessions {
  /** What the compressing client sent, in order (its frames carry sessionId, stream and seq). */
  compressed: string[];
  /** What the plain client sent (no session fields: named by its address and path), and its local port. */
  plain: string[];
  plainPort: number;
  acks: number;
}

function open(url: string, options: WebSocket.ClientOptions): Promise<WebSocket> {
  const socket = new WebSocket(url, options);
  return new Promise((resolve, reject) => socket.once('open', () => resolve(socket)).once('error', reject));
}

function sendAndWait(socket: WebSocket, data: string | Buffer, options: { fin?: boolean; binary?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => socket.send(data, options, (error) => (error === undefined || error === null ? resolve() : reject(error))));
}

async function closeAndWait(socket: WebSocket): Promise<void> {
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.close(1000, 'done');
  await closed;
}

/**
 * Two WebSocket sessions through the `ws` package, a peer independent of the importer: one with permessage-deflate
 * (every message compressed, with context takeover), one fragmented message and one larger than 64 KB; one plain,
 * with frames that carry no session fields and one binary message. The server acks every text message.
 */
async function traffic(): Promise<Sessions> {
  const server = new WebSocketServer({ host: SERVER, port: PORT, perMessageDeflate: { threshold: 0 } });
  await new Promise((resolve) => server.once('listening', resolve));
  let acks = 0;
  server.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      acks++;
      socket.send(JSON.stringify({ ack: (JSON.parse(data.toString()) as { seq?: number }).seq ?? null }));
    }),
  );
  try {
    const compressed: string[] = [];
    const deflating = await open(`ws://${SERVER}:${PORT}/ingest`, { perMessageDeflate: { threshold: 0 } });
    for (let seq = 0; seq < 20; seq++) {
      const frame = JSON.stringify({ sessionId: 'truck-7', stream: 'gps', seq, ts: 1_700_000_000_000 + seq * 100, lat: 52.1 + seq / 1000, lon: 4.3 });
      await sendAndWait(deflating, frame);
      compressed.push(frame);
    }
    const large = JSON.stringify({ sessionId: 'truck-7', stream: 'blob', seq: 0, data: randomBytes(40_000).toString('hex') });
    await sendAndWait(deflating, large);
    compressed.push(large);
    // One message in three fragments.
    const parts = ['{"sessionId":"truck-7","stream":"gps",', '"seq":20,"note":"', 'fragmented"}'];
    await sendAndWait(deflating, parts[0] as string, { fin: false });
    await sendAndWait(deflating, parts[1] as string, { fin: false });
    await sendAndWait(deflating, parts[2] as string, { fin: true });
    compressed.push(parts.join(''));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await closeAndWait(deflating);

    const plain: string[] = [];
    const uncompressed = await open(`ws://${SERVER}:${PORT}/ingest/east`, { perMessageDeflate: false });
    const plainPort = (uncompressed as unknown as { _socket: { localPort: number } })._socket.localPort;
    for (let i = 0; i < 5; i++) {
      const frame = JSON.stringify({ speed: 30 + i });
      await sendAndWait(uncompressed, frame);
      plain.push(frame);
    }
    await sendAndWait(uncompressed, Buffer.from([1, 2, 3, 4]), { binary: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await closeAndWait(uncompressed);
    return { compressed, plain, plainPort, acks };
  } finally {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
}

interface Imported {
  frames: { sessionId: string; stream: string; seq: number; text: string }[];
  error: string | undefined;
  wsFrames: number;
  upgrades: number;
  ws: { sessions: number; frames: number; serverMessages: number; binaryMessages: number; damaged: number } | undefined;
}

async function importWs(dir: string, file: string, name: string): Promise<Imported> {
  return withStore(join(dir, `${name}.duckdb`), async (store) => {
    const result = await importCaptures(store, { files: [file], name });
    const rows = await store.query('SELECT session_id, stream, seq, frame FROM ws_frames ORDER BY ts_ns, idx');
    const upgrades = await store.query('SELECT count(*) AS n FROM http_exchanges WHERE status = 101');
    return {
      frames: rows.map((r) => ({ sessionId: str(r.session_id), stream: str(r.stream), seq: num(r.seq), text: str(r.frame) })),
      error: result.captures[0]?.error?.message,
      wsFrames: (await getCapture(store, name)).wsFrames,
      upgrades: num(upgrades[0]?.n),
      ws: result.captures[0]?.stats.ws,
    };
  });
}

afterEach(killAllParity);

/** Every WebSocket frame Wireshark's dissector finds in `file`, each packet's frames in order (its fields' occurrences). */
function websocketFrames(file: string): { mask: boolean; fin: boolean; opcode: number; pmc: boolean }[] {
  const fields = ['websocket.mask', 'websocket.fin', 'websocket.opcode', 'websocket.pmc'];
  const tshark = spawnSync('tshark', ['-r', file, '-Y', 'websocket', '-T', 'fields', ...fields.flatMap((f) => ['-e', f]), '-E', 'occurrence=a', '-E', 'aggregator=;', '-E', 'separator=|'], { encoding: 'utf8' });
  const flag = (value: string | undefined): boolean => value === '1' || value === 'True' || value === 'true';
  return tshark.stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const [mask, fin, opcode, pmc] = line.split('|').map((column) => column.split(';'));
      return (opcode ?? []).map((op, i) => ({ mask: flag(mask?.[i]), fin: flag(fin?.[i]), opcode: Number(op), pmc: flag(pmc?.[i]) }));
    });
}

describe.runIf(canCapture)('WebSocket sessions read out of a real tcpdump capture', () => {
  it('every telemetry frame the clients sent: compressed with context takeover, fragmented, over 64 KB, plain; acks and binary counted', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'ws.pcap');
      const sent = await captureWholeTcp(file, SERVER, PORT, traffic);
      const imported = await importWs(dir, file, 'ws');
      expect(imported.error).toBeUndefined();
      expect(imported.upgrades).toBe(2);
      expect(imported.ws).toMatchObject({ sessions: 2, frames: sent.compressed.length + sent.plain.length, serverMessages: sent.acks, binaryMessages: 1, damaged: 0 });
      expect(imported.wsFrames).toBe(sent.compressed.length + sent.plain.length);
      expect(imported.frames.map((f) => f.text)).toEqual([...sent.compressed, ...sent.plain]);
      expect(imported.frames.filter((f) => f.stream === 'gps').map((f) => f.seq)).toEqual([...Array.from({ length: 21 }, (_, i) => i)]);
      // Frames with no session fields: the client's address, the request's path, numbered in order.
      const plain = imported.frames.slice(sent.compressed.length);
      expect(plain.map((f) => [f.sessionId, f.stream, f.seq])).toEqual(sent.plain.map((_, i) => [`127.0.0.1:${sent.plainPort}`, '/ingest/east', i]));
      if (tsharkPresent) {
        // An independent reader of the same bytes: Wireshark's dissector counts the same messages from clients (a
        // masked frame with FIN set ends one; text and binary).
        // Counted per WebSocket frame, not per packet: a TCP segment may carry several frames, and how the kernel
        // cut the stream into segments differs from run to run (a per-packet count once read 22 of 28).
        const wsFrames = websocketFrames(file);
        const messages = wsFrames.filter((f) => f.mask && f.fin && f.opcode <= 2).length;
        expect(messages).toBe(sent.compressed.length + sent.plain.length + 1);
        // And the first session really was compressed: its messages' first frames carry RSV1 (per-message compressed).
        expect(wsFrames.filter((f) => f.mask && f.pmc).length).toBe(sent.compressed.length);
      }
    });
  });

  it('a lost segment keeps every frame before it and flags the capture, naming the connection', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'ws.pcap');
      const sent = await captureWholeTcp(file, SERVER, PORT, traffic);
      const { frames } = await readAll(file);
      // A data segment of the compressing client from its tenth on never made the capture: one whose bytes no other
      // segment carries (a busy machine's retransmission would carry them again) and with data after it, so the
      // stream shows the gap.
      const first = clientDataFrames(frames, PORT);
      const port = first[0]?.port;
      const ranges = first.filter((f) => f.port === port).map((f) => {
        const { seq, payload } = tcpOf(frames[f.index] as (typeof frames)[number]);
        return { index: f.index, seq, end: seq + payload };
      });
      const sentOnce = (r: (typeof ranges)[number]): boolean => ranges.every((o) => o === r || o.end <= r.seq || o.seq >= r.end);
      const lost = ranges.slice(10, -1).find(sentOnce)?.index as number;
      expect(tcpOf(frames[lost] as (typeof frames)[number]).payload).toBeGreaterThan(0);
      rewritePcap(join(dir, 'lost.pcap'), frames.filter((_frame, index) => index !== lost));
      const damaged = await importWs(dir, join(dir, 'lost.pcap'), 'lost');
      expect(damaged.error).toMatch(new RegExp(`lost\\.pcap: 127\\.0\\.0\\.1:${port} -> 127\\.0\\.91\\.1:18091: a segment from the client is missing`));
      const kept = damaged.frames.filter((f) => f.sessionId === 'truck-7').map((f) => f.text);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(sent.compressed.length);
      expect(kept).toEqual(sent.compressed.slice(0, kept.length));
      // The other session is whole.
      expect(damaged.frames.filter((f) => f.stream === '/ingest/east').map((f) => f.text)).toEqual(sent.plain);
    });
  });

  it('replayed by a scenario through the relay agent to two gateways: every captured frame reaches both, GO', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'ws.pcap');
      const sent = await captureWholeTcp(file, SERVER, PORT, traffic);
      const scenario = join(dir, 'from-pcap.yaml');
      // GO on counts: an overloaded machine alone took the gateways' ack time past the default 100 ms at p95 (CI, with
      // two busy loops), so the scenario sets bounds on what load moves that no load reaches.
      writeFileSync(
        scenario,
        ['name: from-pcap', 'protocol: ws', `traffic: { recording: ${file} }`, 'agent: { mode: parallel, sample_rate: 10% }', 'gateways:', '  gateway-a: {}', '  gateway-b: {}', 'replay: { speed: max }', 'thresholds: { ack_latency_p95_ms: { warning: 5000, critical: 10000 }, relay_queue: { warning: 5000, critical: 10000 } }', 'expect: { verdict: GO }', ''].join('\n'),
      );
      const result = await runParity(['run', scenario, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
      const runDir = /reports: (.+)/.exec(result.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      const findings = report.findings.map((f) => `${f.severity}: ${f.message}`).join('\n');
      expect(result.code, `${result.stderr}\n${findings}`).toBe(0);
      expect(report.verdict).toBe('GO');
      const frames = sent.compressed.length + sent.plain.length;
      const rows = await withStore(join(dir, 'ws.duckdb'), (store) => store.query('SELECT gateway, count(DISTINCT (session_id, stream, seq)) AS n FROM ws_receipts GROUP BY gateway ORDER BY gateway'));
      expect(rows.map((r) => [str(r.gateway), num(r.n)])).toEqual([['gateway-a', frames], ['gateway-b', frames]]);
    });
  }, 120_000);
});
