import type http from 'node:http';
import { describeError, NetworkError, RelayConfigError } from '../core/errors.ts';
import { watchRoutesFile } from './config-watcher.ts';
import { startDebugServer } from './debug-server.ts';
import { loadAppConfig, loadRelayConfig } from './load-config.ts';
import type { AppConfig } from './relay-config.ts';
import type { RelayLog } from './relay-log.ts';
import { DEFAULT_MAX_UPSTREAM_SOCKETS, Relay } from './relay.ts';
import { raiseFileLimit, socketBudget } from './file-limit.ts';
import { datagramPath, ioChoiceFromEnv, type IoChoice } from '../core/udp-io/datagram-path.ts';

/** How many times a version refused for a port that would not bind is tried again, a second apart. */
const BIND_RETRIES = 60;

export const RELAY_VERSION = '1.0.0';

export interface RelayServiceOptions {
  routesPath?: string;
  configPath?: string;
  debugPort?: number;
  /** Overrides app.bind_ip. */
  bindIp?: string;
  log: RelayLog;
  /** Reload on SIGHUP (the CLI's relay does; one embedded in a test or scenario need not). */
  handleSighup?: boolean;
  /** Upstream socket budget asked for; the open-file limit may lower it. */
  maxSockets?: number;
  /** The datagram path (default PARITY_UDP_IO, else auto: the C one where built, else Node's dgram). */
  io?: IoChoice;
}

/**
 * A running relay with its control plane: the debug server, the routes-file watcher and SIGHUP. A reload validates the
 * new version first; a valid one is applied atomically, an invalid one is logged and shown at /debug/config while the
 * last known good stays in force.
 */
export class RelayService {
  private reloading: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private bindRetries = 0;
  private stopWatching: () => void = () => undefined;
  private onSighup: (() => void) | undefined;

  private constructor(
    readonly relay: Relay,
    readonly routesPath: string,
    private readonly app: AppConfig,
    private readonly server: http.Server,
    readonly debugPort: number,
    private readonly log: RelayLog,
  ) {}

  static async start(options: RelayServiceOptions): Promise<RelayService> {
    const app = await loadAppConfig(options.configPath);
    if (options.bindIp !== undefined) app.bind_ip = options.bindIp;
    const routesPath = options.routesPath ?? app.routes_file;
    if (routesPath === undefined) {
      throw new RelayConfigError('no routes file: pass --routes or set app.routes_file in config.yaml', { field: 'routes_file' });
    }
    const io = datagramPath(options.io ?? ioChoiceFromEnv());
    const config = await loadRelayConfig(routesPath, app);
    // Limits are known, not met by surprise: the socket budget sits below the open-file limit, and both are logged.
    const fileLimit = raiseFileLimit();
    const maxSockets = socketBudget(options.maxSockets ?? DEFAULT_MAX_UPSTREAM_SOCKETS, fileLimit);
    const relay = await Relay.start(config, { log: options.log, source: 'file', maxSockets, io });
    let server: http.Server;
    let debugPort: number;
    try {
      ({ server, port: debugPort } = await startDebugServer(relay, options.debugPort ?? app.debug_port ?? 8765, RELAY_VERSION));
    } catch (error) {
      await relay.stop();
      throw error;
    }
    const service = new RelayService(relay, routesPath, app, server, debugPort, options.log);
    service.watch(options.handleSighup === true);
    options.log('info', 'relay_started', {
      ports: relay.ports,
      bind_ip: config.bindIp,
      debug: `http://127.0.0.1:${debugPort}`,
      response_timeout_ms: config.responseTimeoutMs,
      version: RELAY_VERSION,
      open_file_limit: fileLimit === undefined ? null : { soft: fileLimit.soft, hard: fileLimit.hard, raised: fileLimit.raised },
      upstream_socket_budget: maxSockets,
      io: io.kind,
    });
    return service;
  }

  private watch(onSighup: boolean): void {
    this.stopWatching = watchRoutesFile(this.routesPath, () => void this.reload('file')).close;
    if (onSighup) {
      this.onSighup = () => void this.reload('sighup');
      process.on('SIGHUP', this.onSighup);
    }
  }

  /**
   * Re-reads the routes file; reloads are serialized, so two quick edits apply in order. A version refused because a
   * port could not be bound (still held by another process, or by the kernel) is valid and may bind later: it is
   * retried every second, up to a minute, and each refusal says so at /debug/config.
   */
  reload(source: string): Promise<void> {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const attempt = source === 'retry' ? this.bindRetries + 1 : 0;
    this.reloading = this.reloading.then(async () => {
      try {
        const config = await loadRelayConfig(this.routesPath, this.app);
        await this.relay.apply(config, source);
        this.bindRetries = 0;
      } catch (error) {
        const retry = error instanceof NetworkError && attempt < BIND_RETRIES;
        this.relay.reject(source, retry ? `${describeError(error)}; retrying in 1 s (attempt ${attempt + 1} of ${BIND_RETRIES})` : describeError(error));
        this.bindRetries = attempt;
        if (retry) {
          this.retryTimer = setTimeout(() => void this.reload('retry'), 1000);
          this.retryTimer.unref();
        }
      }
    });
    return this.reloading;
  }

  async stop(): Promise<void> {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.stopWatching();
    if (this.onSighup !== undefined) process.removeListener('SIGHUP', this.onSighup);
    // Keep-alive connections (undici keeps them) would hold close() open: end them as it starts.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.relay.stop();
    this.log('info', 'relay_stopped', {});
  }
}
