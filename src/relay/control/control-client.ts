import WebSocket from 'ws';
import { ConfigError } from '../../core/errors.ts';
import { readSnapshotMessage, type DataPlaneMessage } from './control-messages.ts';

/** The spec's reconnect schedule: 1 s, doubling, at most 60 s; a connection that opens starts it over. */
export const BACKOFF = { initialMs: 1000, maxMs: 60_000 } as const;

/**
 * How long a connection attempt may take to become a WebSocket. A control plane that takes the connection and never
 * answers the upgrade would otherwise hold the attempt for as long as the kernel keeps it, and no retry would come.
 */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/** Where a data plane's configuration came from: its own bootstrap, or the control plane. */
export type ConfigSource = 'bootstrap' | 'control_plane';

export interface ControlClientOptions<C> {
  /** ws:// URL of the control plane's /connect. */
  url: string;
  /** This data plane's name, given to the control plane (`?dp=`). */
  name: string;
  /** The version of the configuration it starts with (the bootstrap). */
  bootstrapVersion: string;
  /** Checks a snapshot's configuration; throws a ConfigError naming the field when it is invalid. */
  validate: (config: Record<string, unknown>) => C;
  /** Applies a valid configuration all at once. */
  apply: (config: C, version: string) => void;
  backoff?: { initialMs: number; maxMs: number };
  /** HANDSHAKE_TIMEOUT_MS unless given. */
  handshakeTimeoutMs?: number;
}

/** What a data plane's /debug/config-version shows. */
export interface ConfigVersionView {
  version: string;
  source: ConfigSource;
  /** Why the last snapshot was refused (the last-known-good was kept), or null. */
  lastError: string | null;
  controlPlane: { url: string; connected: boolean; reconnects: number; nextRetryMs: number | null };
}

/**
 * A data plane's side of the control plane: connects out, takes each snapshot (validate, apply atomically, ack; or
 * nack and keep the last-known-good), and on any disconnect reconnects with exponential backoff. The data plane works
 * on with what it has while the control plane is away.
 */
export class ControlPlaneClient<C> {
  version: string;
  source: ConfigSource = 'bootstrap';
  lastError: string | null = null;
  connected = false;
  reconnects = 0;
  private socket: WebSocket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delayMs: number;
  private retryAt: number | null = null;
  private stopped = false;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly options: ControlClientOptions<C>) {
    this.version = options.bootstrapVersion;
    this.backoff = options.backoff ?? BACKOFF;
    this.delayMs = this.backoff.initialMs;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.terminate();
  }

  view(): ConfigVersionView {
    return {
      version: this.version,
      source: this.source,
      lastError: this.lastError,
      controlPlane: { url: this.options.url, connected: this.connected, reconnects: this.reconnects, nextRetryMs: this.retryAt === null ? null : Math.max(0, this.retryAt - Date.now()) },
    };
  }

  private connect(): void {
    const url = new URL(this.options.url);
    url.searchParams.set('dp', this.options.name);
    const socket = new WebSocket(url, { handshakeTimeout: this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS });
    this.socket = socket;
    socket.on('open', () => {
      this.connected = true;
      this.delayMs = this.backoff.initialMs;
      this.retryAt = null;
    });
    socket.on('message', (data) => this.take(socket, data.toString()));
    // An error is followed by close; close alone (the control plane went away) schedules the next attempt.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connected = false;
      if (this.stopped || this.socket !== socket) return;
      this.retryAt = Date.now() + this.delayMs;
      this.retry = setTimeout(() => {
        this.reconnects++;
        this.connect();
      }, this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    });
  }

  private take(socket: WebSocket, text: string): void {
    const message = readSnapshotMessage(text);
    if (message === undefined) return;
    let answer: DataPlaneMessage;
    if ('invalid' in message) answer = { type: 'nack', version: '', error: message.invalid };
    else {
      const { version } = message.config;
      try {
        // The same version again (a reconnect resends the latest): already in force.
        if (version !== this.version || this.source !== 'control_plane') {
          const config = this.options.validate(message.config);
          this.options.apply(config, version);
          this.version = version;
          this.source = 'control_plane';
        }
        this.lastError = null;
        answer = { type: 'ack', version };
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        this.lastError = `version ${version}: ${error.message}`;
        answer = { type: 'nack', version, error: error.message };
      }
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(answer));
  }
}
