import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { ReceivedFrame } from '../backends/ws/gateway.ts';
import { listenServer } from '../core/listen-server.ts';
import type { LegActivity } from '../core/leg-activity.ts';

export interface WsTapOptions {
  host: string;
  port?: number;
  /** The real gateway, e.g. ws://10.0.0.5:9000/relay. */
  target: string;
  /** Told of each frame the gateway's connection took from the relay agent: the leg as the gateway got it. */
  record: (frame: ReceivedFrame) => void;
}

export interface WsTapCounters {
  connections: number;
  forwarded: number;
  /** Messages the gateway sent back (acks), passed to the agent. */
  returned: number;
  errors: Record<string, number>;
}

/**
 * A recording tap in front of a real WebSocket gateway, for the legs a simulated gateway records itself: each
 * connection the relay agent opens is matched by one to the gateway, frames are passed on unchanged and recorded once
 * the gateway's connection took them, and what the gateway sends back (acks) goes back to the agent. A gateway that
 * refuses the upgrade or drops the connection closes the agent's, as if the agent had reached it directly.
 */
export class WsTap implements LegActivity {
  readonly counters: WsTapCounters = { connections: 0, forwarded: 0, returned: 0, errors: {} };
  lastReceivedMs = 0;
  private pending = 0;
  private server: http.Server | undefined;
  private readonly sockets = new WebSocketServer({ noServer: true });

  private constructor(private readonly options: WsTapOptions) {}

  static async start(options: WsTapOptions): Promise<WsTap> {
    const tap = new WsTap(options);
    const server = http.createServer((_req, res) => res.writeHead(426).end());
    server.on('upgrade', (req, socket, head) => tap.sockets.handleUpgrade(req, socket, head, (agent) => tap.accept(agent)));
    await listenServer(server, options.host, options.port ?? 0, 'gateway tap');
    tap.server = server;
    return tap;
  }

  /** Where the agent should send: the tap stands where the gateway would. */
  get url(): string {
    const path = new URL(this.options.target).pathname;
    return `ws://${this.options.host}:${(this.server?.address() as AddressInfo).port}${path}`;
  }

  unsettled(): number {
    return this.pending;
  }

  async close(): Promise<void> {
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private accept(agent: WebSocket): void {
    this.counters.connections++;
    const gateway = new WebSocket(this.options.target);
    const waiting: string[] = [];
    const error = (kind: string): void => {
      this.counters.errors[kind] = (this.counters.errors[kind] ?? 0) + 1;
    };
    gateway.on('unexpected-response', (_req, res) => {
      error(`upgrade refused (${res.statusCode ?? '?'})`);
      agent.close(1011, 'gateway refused the upgrade');
      gateway.terminate();
    });
    gateway.on('error', () => error('connection'));
    gateway.on('open', () => {
      for (const text of waiting.splice(0)) this.forward(gateway, text);
    });
    gateway.on('message', (data) => {
      this.counters.returned++;
      if (agent.readyState === WebSocket.OPEN) agent.send(data.toString());
    });
    gateway.on('close', (code, reason) => {
      if (agent.readyState === WebSocket.OPEN) agent.close(code === 1005 || code === 1006 ? 1011 : code, reason.toString());
    });
    agent.on('message', (data) => {
      const text = data.toString();
      this.lastReceivedMs = performance.now();
      if (gateway.readyState === WebSocket.OPEN) this.forward(gateway, text);
      else if (gateway.readyState === WebSocket.CONNECTING) waiting.push(text);
      else error('gateway connection closed');
    });
    // The agent under test broke the WebSocket protocol: ws closes its connection; counted, as what the tap could not
    // pass on (unlistened, the error would end the tap and the whole recording).
    agent.on('error', () => error('agent broke the WebSocket protocol'));
    agent.on('close', () => gateway.close());
  }

  private forward(gateway: WebSocket, text: string): void {
    this.pending++;
    gateway.send(text, (failed) => {
      this.pending--;
      if (failed !== undefined && failed !== null) {
        this.counters.errors['send failed'] = (this.counters.errors['send failed'] ?? 0) + 1;
        return;
      }
      this.counters.forwarded++;
      const frame = parseFrame(text);
      if (frame !== undefined) this.options.record({ ...frame, receivedNs: process.hrtime.bigint() });
    });
  }
}

function parseFrame(text: string): Omit<ReceivedFrame, 'receivedNs'> | undefined {
  try {
    const frame = JSON.parse(text) as Record<string, unknown>;
    return { sessionId: String(frame.sessionId ?? ''), stream: String(frame.stream ?? ''), seq: Number(frame.seq), acked: frame.ack === true };
  } catch {
    return undefined;
  }
}
