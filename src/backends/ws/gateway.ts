import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { NetworkError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import { SeenSequence } from './seen-sequence.ts';

/** What a simulated gateway does wrong on purpose. */
export interface GatewayFaults {
  /** Share of frames lost (never counted, never acked). */
  lossShare?: number;
  /** Added before each ack. */
  ackDelayMs?: number;
  /** Share of frames processed twice. */
  duplicateShare?: number;
  /** Share of frames held back and processed after the next one. */
  reorderShare?: number;
  /** Closes each connection after this many frames (a gateway that drops its clients mid-run). */
  disconnectAfterFrames?: number;
  /** Refuses the WebSocket upgrade (403). */
  refuseUpgrade?: boolean;
}

export interface GatewayOptions {
  host: string;
  port?: number;
  /** Reported by /api/dev/diagnostics/build. */
  name: string;
  faults?: GatewayFaults;
  seed?: number;
  /** Told of each frame as the gateway processes it: what it really received, for the parity verdict. */
  record?: (frame: ReceivedFrame) => void;
}

export interface ReceivedFrame {
  sessionId: string;
  stream: string;
  seq: number;
  receivedNs: bigint;
  acked: boolean;
}

interface StreamState {
  framesIn: number;
  acked: number;
  lastFrameTs: number | null;
  lastSeq: number | null;
  seen: SeenSequence;
}

interface SessionState {
  streams: Map<string, StreamState>;
  duplicates: number;
  outOfOrder: number;
}

/**
 * A simulated telemetry gateway (WebSocket server at /relay): it takes frames, acks those that ask (`ack: true`), and
 * serves the spec's diagnostics: /api/dev/diagnostics/build and /api/dev/diagnostics/parity?sessionId= with per-stream
 * framesIn, acked, lastFrameTs, and the session's duplicates and out-of-order frames, as it counted them.
 */
export class Gateway {
  readonly sessions = new Map<string, SessionState>();
  framesIn = 0;
  lastError: string | null = null;
  private readonly random: () => number;
  private server: http.Server | undefined;
  private wss: WebSocketServer | undefined;

  private constructor(private readonly options: GatewayOptions) {
    this.random = seededRandom(options.seed ?? 1);
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    const server = http.createServer((req, res) => gateway.serveDiagnostics(req, res));
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (options.faults?.refuseUpgrade === true || (req.url ?? '').split('?')[0] !== '/relay') {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => gateway.serve(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause) => reject(new NetworkError(`gateway ${options.name}: cannot listen on ${options.host}:${options.port ?? 0}: ${cause.message}`, {}, { cause })));
      server.listen(options.port ?? 0, options.host, () => resolve());
    });
    gateway.server = server;
    gateway.wss = wss;
    return gateway;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo;
    return `ws://${this.options.host}:${address.port}/relay`;
  }

  get httpUrl(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://${this.options.host}:${address.port}`;
  }

  async close(): Promise<void> {
    for (const client of this.wss?.clients ?? []) client.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private serve(ws: WebSocket): void {
    const faults = this.options.faults ?? {};
    let frames = 0;
    let held: Record<string, unknown> | undefined;
    // A peer that breaks the WebSocket protocol (a bad frame, a payload over ws's limit) is closed by ws itself after
    // this; unlistened, the error would end the gateway and every other connection with it.
    ws.on('error', (error) => {
      this.lastError = `a connection broke the WebSocket protocol: ${error.message}`;
    });
    ws.on('message', (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        this.lastError = 'a frame that is not JSON';
        return;
      }
      frames++;
      if (this.random() < (faults.lossShare ?? 0)) return;
      if (held === undefined && this.random() < (faults.reorderShare ?? 0)) {
        held = frame;
        return;
      }
      this.process(ws, frame);
      if (this.random() < (faults.duplicateShare ?? 0)) this.process(ws, frame);
      if (held !== undefined) {
        this.process(ws, held);
        held = undefined;
      }
      if (faults.disconnectAfterFrames !== undefined && frames >= faults.disconnectAfterFrames) ws.close(1011, 'gateway going away (fault)');
    });
  }

  private process(ws: WebSocket, frame: Record<string, unknown>): void {
    const sessionId = String(frame.sessionId ?? '');
    const streamName = String(frame.stream ?? '');
    const seq = Number(frame.seq);
    const session = this.sessions.get(sessionId) ?? { streams: new Map(), duplicates: 0, outOfOrder: 0 };
    this.sessions.set(sessionId, session);
    const stream = session.streams.get(streamName) ?? { framesIn: 0, acked: 0, lastFrameTs: null, lastSeq: null, seen: new SeenSequence() };
    session.streams.set(streamName, stream);
    this.framesIn++;
    stream.framesIn++;
    stream.lastFrameTs = typeof frame.ts === 'number' ? frame.ts : Date.now();
    if (stream.seen.has(seq)) session.duplicates++;
    else if (stream.lastSeq !== null && seq < stream.lastSeq) session.outOfOrder++;
    stream.seen.add(seq);
    stream.lastSeq = Math.max(stream.lastSeq ?? seq, seq);
    const wantsAck = frame.ack === true;
    this.options.record?.({ sessionId, stream: streamName, seq, receivedNs: process.hrtime.bigint(), acked: wantsAck });
    if (!wantsAck) return;
    stream.acked++;
    const ack = JSON.stringify({ type: 'ack', stream: streamName, seq });
    const delay = this.options.faults?.ackDelayMs ?? 0;
    if (delay > 0) setTimeout(() => ws.send(ack), delay);
    else ws.send(ack);
  }

  private serveDiagnostics(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/api/dev/diagnostics/build') {
      json(200, { gitSha: 'simulated', buildTime: new Date(0).toISOString(), version: `gateway-${this.options.name}`, environment: 'development' });
      return;
    }
    if (url.pathname === '/api/dev/diagnostics/parity') {
      const sessionId = url.searchParams.get('sessionId') ?? '';
      const session = this.sessions.get(sessionId);
      const streams = Object.fromEntries([...(session?.streams ?? new Map<string, StreamState>())].map(([name, s]) => [name, { framesIn: s.framesIn, acked: s.acked, lastFrameTs: s.lastFrameTs }]));
      json(200, { sessionId, streams, duplicates: session?.duplicates ?? 0, outOfOrder: session?.outOfOrder ?? 0, lastError: this.lastError });
      return;
    }
    json(404, { error: `no such endpoint: ${url.pathname}` });
  }
}
