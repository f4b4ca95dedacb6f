import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConfigError } from '../../core/errors.ts';
import { listenServer } from '../../core/listen-server.ts';
import { readDataPlaneMessage, type ConfigSnapshotMessage } from './control-messages.ts';

type Snapshot = ConfigSnapshotMessage['config'];

const MAX_EVENTS = 100_000;

/** What happened between the control plane and its data planes, for a run's record and its verdict. */
export interface ControlEvent {
  /** CLOCK_MONOTONIC ns, as text (JSON has no 64-bit integers). */
  atNs: string;
  event: 'published' | 'refused' | 'sent' | 'ack' | 'nack' | 'connected' | 'disconnected' | 'stopped' | 'started';
  dataPlane: string | null;
  version: string | null;
  detail: string | null;
}

export interface ControlPlaneOptions {
  host: string;
  port?: number;
  /** Checks a configuration before it is sent (the data planes check again); throws a ConfigError naming the field. */
  validate: (config: Record<string, unknown>) => unknown;
}

/**
 * A small control plane after ../shared/specs/control-plane-data-plane.md: data planes connect to `/connect` (a
 * WebSocket; `?dp=NAME`), get the latest snapshot at once and every later one as it is published, and answer each with
 * an ack or a nack. A configuration that fails validation is not sent (the data planes keep what they have).
 * `/health` says which version each data plane runs. It can be stopped and started again on the same port, as an
 * outage the data planes must ride through.
 */
export class ControlPlane {
  readonly events: ControlEvent[] = [];
  /** Told of each event as it is recorded (a data plane's ack is when its snapshot took effect). */
  onEvent: ((event: ControlEvent) => void) | undefined;
  private latest: Snapshot | undefined;
  private server: http.Server | undefined;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly connected = new Map<WebSocket, string>();
  private readonly acked = new Map<string, string>();
  private port: number;

  private constructor(private readonly options: ControlPlaneOptions) {
    this.port = options.port ?? 0;
  }

  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(options);
    await plane.listen();
    return plane;
  }

  get url(): string {
    return `ws://${this.options.host}:${this.port}/connect`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** The version last published, if any. */
  get version(): string | undefined {
    return this.latest?.version;
  }

  /** Validates and sends a configuration to every data plane (and to each that connects later). */
  publish(config: Snapshot): void {
    try {
      this.options.validate(config);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.record('refused', null, config.version, error.message);
      throw error;
    }
    this.send(config);
  }

  /** Sends a configuration unchecked: a broken control plane, for showing that data planes refuse what is invalid. */
  publishUnchecked(config: Snapshot): void {
    this.send(config);
  }

  /** The outage: every data plane is disconnected and nothing listens until `restart`. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.connected.keys()) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.record('stopped', null, null, null);
  }

  async restart(): Promise<void> {
    if (this.server !== undefined) return;
    await this.listen();
    this.record('started', null, this.latest?.version ?? null, null);
  }

  async close(): Promise<void> {
    await this.stop();
    this.sockets.close();
  }

  health(): unknown {
    return {
      status: 'ok',
      version: this.latest?.version ?? null,
      dataPlanes: [...new Set([...this.connected.values(), ...this.acked.keys()])].map((name) => ({ name, connected: [...this.connected.values()].includes(name), version: this.acked.get(name) ?? null })),
    };
  }

  private send(config: Snapshot): void {
    this.latest = config;
    this.record('published', null, config.version, null);
    for (const [socket, name] of this.connected) this.sendTo(socket, name);
  }

  private sendTo(socket: WebSocket, name: string): void {
    if (this.latest === undefined) return;
    socket.send(JSON.stringify({ type: 'config_snapshot', config: this.latest }));
    this.record('sent', name, this.latest.version, null);
  }

  private async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const found = path === '/health';
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ? this.health() : { error: `no such endpoint: ${path}`, endpoints: ['/connect', '/health'] }));
    });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://control-plane');
      if (url.pathname !== '/connect') {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      this.sockets.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url.searchParams.get('dp') ?? `${req.socket.remoteAddress}:${req.socket.remotePort}`));
    });
    await listenServer(server, this.options.host, this.port, 'control plane');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private accept(socket: WebSocket, name: string): void {
    this.connected.set(socket, name);
    this.record('connected', name, null, null);
    socket.on('message', (data) => {
      const answer = readDataPlaneMessage(data.toString());
      if (answer === undefined) return;
      if (answer.type === 'ack') this.acked.set(name, answer.version);
      this.record(answer.type, name, answer.version, answer.type === 'nack' ? answer.error : null);
    });
    // A data plane that breaks the WebSocket protocol is closed by ws itself; unlistened, the error would end the
    // control plane. What broke is said on the disconnect it causes.
    let broke: string | null = null;
    socket.on('error', (error) => {
      broke = `broke the WebSocket protocol: ${error.message}`;
    });
    socket.on('close', () => {
      this.connected.delete(socket);
      this.record('disconnected', name, null, broke);
    });
    // The spec: a data plane that connects gets the full latest snapshot at once.
    this.sendTo(socket, name);
  }

  private record(event: ControlEvent['event'], dataPlane: string | null, version: string | null, detail: string | null): void {
    // A control plane runs for weeks: its record keeps the latest events only.
    if (this.events.length >= MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS + 1);
    const recorded: ControlEvent = { atNs: String(process.hrtime.bigint()), event, dataPlane, version, detail };
    this.events.push(recorded);
    this.onEvent?.(recorded);
  }
}
