import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { NetworkError } from '../../core/errors.ts';
import { listenServer } from '../../core/listen-server.ts';
import { quantile } from '../../core/stats.ts';
import { ControlPlaneClient } from '../control/control-client.ts';
import type { AgentConfig } from './agent-config.ts';
import { validateAgentSnapshot, type AgentSettings } from './agent-snapshot.ts';
import { AgentTarget } from './agent-target.ts';

/** Debug and ingest listen on loopback only (the spec: "Debug server port (127.0.0.1 only)"). */
const LOOPBACK = '127.0.0.1';
export const AGENT_VERSION = '1.0.0';

/** A telemetry frame as the agent takes it in and passes it on: `ack` is set on the sampled share. */
export interface TelemetryFrame {
  sessionId: string;
  stream: string;
  seq: number;
  ts: number;
  ack?: boolean;
  [field: string]: unknown;
}

/**
 * The reference relay agent of ../shared/specs/parallel-fanout-kill-switch-parity.md: frames come in on a local
 * WebSocket ingest and go out to the gateways over WebSocket, to the primary alone (single mode) or to every enabled
 * target (parallel mode), each target with its own connection and bounded queue. A share of frames
 * (RELAY_PARITY_SAMPLE_RATE) asks for an ack, the same frames on every target, so their acks compare. The kill switch
 * sends nothing to anyone and resumes by itself when lifted. /debug/targets, /debug/parity and /debug/health give the
 * spec's JSON field for field.
 */
export class RelayAgent {
  readonly targets: AgentTarget[];
  framesIn = 0;
  private ingest: WebSocketServer | undefined;
  private debug: http.Server | undefined;
  private sampleCounter = 0;
  /** Its settings from a control plane, when it has one. */
  readonly control: ControlPlaneClient<AgentSettings> | undefined;
  /** Told each time a control plane's snapshot is applied (CLOCK_MONOTONIC ns). */
  onConfigApplied: ((version: string, atNs: bigint) => void) | undefined;
  private dropUntilNs = 0n;

  private constructor(private config: AgentConfig) {
    this.targets = config.backends.map((url) => new AgentTarget(url, config));
    if (config.controlPlaneUrl !== undefined) {
      this.control = new ControlPlaneClient<AgentSettings>({
        url: config.controlPlaneUrl,
        name: config.name,
        bootstrapVersion: config.configVersion,
        validate: (snapshot) => validateAgentSnapshot(snapshot, config.backends),
        apply: (settings, version) => {
          this.reconfigure(settings);
          if ((config.dropsOnSwapMs ?? 0) > 0) this.dropUntilNs = process.hrtime.bigint() + BigInt(Math.round((config.dropsOnSwapMs ?? 0) * 1e6));
          this.onConfigApplied?.(version, process.hrtime.bigint());
        },
      });
    }
  }

  static async start(config: AgentConfig): Promise<RelayAgent> {
    const agent = new RelayAgent(config);
    agent.applyTargets();
    agent.control?.start();
    const debug = http.createServer((req, res) => agent.serveDebug(req, res));
    await listenServer(debug, LOOPBACK, config.debugPort, 'relay agent debug server');
    agent.debug = debug;
    const ingest = new WebSocketServer({ host: LOOPBACK, port: config.ingestPort });
    await new Promise<void>((resolve, reject) => {
      ingest.once('listening', () => resolve());
      ingest.once('error', (cause) => reject(new NetworkError(`relay agent ingest: cannot listen on ${LOOPBACK}:${config.ingestPort}: ${cause.message}`, {}, { cause })));
    });
    ingest.on('connection', (socket) => {
      socket.on('message', (data) => agent.take(data.toString()));
      // A local producer that breaks the WebSocket protocol is closed by ws itself; unlistened, its error would end the
      // agent and every gateway's stream with it.
      socket.on('error', () => undefined);
    });
    agent.ingest = ingest;
    return agent;
  }

  get debugPort(): number {
    return (this.debug?.address() as AddressInfo).port;
  }

  get ingestPort(): number {
    return (this.ingest?.address() as AddressInfo).port;
  }

  /** What it does now: the settings a playbook step changes. */
  get settings(): Pick<AgentConfig, 'mode' | 'primaryIndex' | 'targetsEnabled' | 'killSwitch'> {
    const { mode, primaryIndex, targetsEnabled, killSwitch } = this.config;
    return { mode, primaryIndex, targetsEnabled: [...targetsEnabled], killSwitch };
  }

  /** Applies a new configuration at once (mode, primary, enabled flags, kill switch), as the cutover playbook does. */
  reconfigure(change: Partial<Pick<AgentConfig, 'mode' | 'primaryIndex' | 'targetsEnabled' | 'killSwitch' | 'paritySampleRate'>>): void {
    this.config = { ...this.config, ...change };
    this.applyTargets();
  }

  async close(): Promise<void> {
    this.control?.stop();
    for (const target of this.targets) target.stop();
    await new Promise<void>((resolve) => (this.ingest === undefined ? resolve() : this.ingest.close(() => resolve())));
    for (const client of this.ingest?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => (this.debug === undefined ? resolve() : this.debug.close(() => resolve())));
  }

  /** One frame from the ingest: passed on to the targets this configuration sends to. */
  take(text: string): void {
    this.framesIn++;
    if (this.config.killSwitch && this.config.killSwitchLeaks !== true) return;
    if (this.dropUntilNs > 0n) {
      if (process.hrtime.bigint() < this.dropUntilNs) return;
      this.dropUntilNs = 0n;
    }
    let frame: TelemetryFrame;
    try {
      frame = JSON.parse(text) as TelemetryFrame;
    } catch {
      return;
    }
    // Every 1/rate-th frame asks for an ack: the same frames on every target, so their acks compare. Counted in whole
    // frames (a running sum of 0.1 drifts below 1 at the tenth frame and skips a sample).
    const rate = this.config.paritySampleRate;
    const before = Math.floor(this.sampleCounter * rate + 1e-9);
    this.sampleCounter++;
    const sampled = Math.floor(this.sampleCounter * rate + 1e-9) > before;
    const out = sampled ? JSON.stringify({ ...frame, ack: true }) : text;
    const ackKey = sampled ? `${frame.stream}#${frame.seq}` : null;
    for (const [index, target] of this.targets.entries()) if (this.sendsTo(index)) target.enqueue(out, ackKey);
  }

  private sendsTo(index: number): boolean {
    if ((this.config.killSwitch && this.config.killSwitchLeaks !== true) || this.config.targetsEnabled[index] === false) return false;
    return this.config.mode === 'parallel' || index === this.config.primaryIndex;
  }

  private applyTargets(): void {
    for (const [index, target] of this.targets.entries()) {
      if (this.sendsTo(index)) {
        if (target.state === 'disabled') target.state = 'disconnected';
        target.start();
      } else if (target.state !== 'disabled') target.stop();
    }
  }

  private serveDebug(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const views: Record<string, () => unknown> = {
      '/debug/targets': () => this.targetsView(),
      '/debug/parity': () => this.parityView(),
      '/debug/health': () => this.healthView(),
      '/debug/config-version': () => this.configVersionView(),
    };
    const view = views[path ?? ''];
    res.writeHead(view === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(view === undefined ? { error: `no such endpoint: ${path}`, endpoints: Object.keys(views) } : view()));
  }

  targetsView(): unknown {
    return {
      targets: this.targets.map((t, index) => ({
        url: t.url,
        enabled: this.config.targetsEnabled[index] !== false,
        state: t.state,
        counters: { ...t.counters },
        queueSize: t.queueSize,
        lastSendOkMs: t.lastSendOkMs,
        lastAckLatencyMs: t.lastAckLatencyMs,
        lastError: t.lastError,
      })),
      mode: this.config.mode,
      primaryIndex: this.config.primaryIndex,
      killSwitch: this.config.killSwitch,
    };
  }

  parityView(): unknown {
    const sum = (key: 'sent' | 'acked' | 'failed' | 'dropped'): number => this.targets.reduce((total, t) => total + t.counters[key], 0);
    const latencies = this.targets.flatMap((t) => t.ackLatencies);
    return {
      totalSent: sum('sent'),
      totalAcked: sum('acked'),
      totalFailed: sum('failed'),
      totalDropped: sum('dropped'),
      ackLatency: { p50: quantile(latencies, 0.5) ?? null, p95: quantile(latencies, 0.95) ?? null, samples: latencies.length },
      perTarget: this.targets.map((t) => ({ url: t.url, sent: t.counters.sent, acked: t.counters.acked })),
    };
  }

  /** The control-plane spec's debug view: the version in force and where it came from. */
  configVersionView(): unknown {
    return this.control?.view() ?? { version: this.config.configVersion, source: 'environment', lastError: null, controlPlane: null };
  }

  healthView(): unknown {
    const down = this.targets.filter((t, index) => this.sendsTo(index) && t.state !== 'connected').length;
    return { status: this.config.killSwitch ? 'kill_switch' : down > 0 ? 'degraded' : 'healthy', killSwitch: this.config.killSwitch, mode: this.config.mode, version: AGENT_VERSION };
  }
}
