import http from 'node:http';
import net from 'node:net';
import { Parser } from 'pg-protocol/dist/parser.js';
import { FrontendReader, type FrontendMessage } from '../../capture/pg/pg-frontend.ts';
import { listenServer } from '../../core/listen-server.ts';
import { seededRandom } from '../../core/random.ts';
import { MirrorStats } from './mirror-stats.ts';

export interface PoolerConfig {
  host: string;
  port?: number;
  /** The database clients are served by. */
  primary: { host: string; port: number };
  /** `mirror_of`: the database that gets a copy of each request; null for none. */
  mirror: { host: string; port: number } | null;
  /** `mirror_exposure`: the share of requests mirrored (every request counts in the total). */
  exposure: number;
  /** `mirror_queue`: requests that may wait for the mirror, all sessions together; more are dropped. */
  queue: number;
  /** A mirrored request the mirror has not answered in this long is a timeout (its connection is closed). */
  mirrorTimeoutMs: number;
  /** Where /metrics listens (port 0: any). */
  metricsPort?: number;
  /** Seed of the exposure dice (deterministic runs). */
  seed?: number;
}

/** One request on its way to the mirror: a simple query, or an extended batch up to its Sync; copy data rides along. */
interface MirrorRequest {
  bytes: Buffer;
  /** Counted as a request (a COPY's data following its query is not one). */
  counted: boolean;
}

/**
 * The reference mirroring pooler of ../shared/specs/mirror-stats.md, for PostgreSQL: each client session is passed
 * through to the primary byte for byte (the client's bytes are written on before they are read for mirroring, so the
 * primary path never waits), and each request (a simple query, or an extended batch up to its Sync) is counted and,
 * with probability `mirror_exposure`, queued for the mirror, which gets it on a session of its own (opened with the
 * client's startup packet) in the client's order. The mirror's answers are read to their ReadyForQuery and thrown
 * away, as a mirroring pooler does: a success is counted with its latency, an error answer as a query error, a
 * failure to connect as a connection error, no answer in time as a timeout. A full queue drops the request: a drop
 * and a buffer_full error. The counters are at /metrics in Prometheus text.
 */
export class MirroringPooler {
  readonly stats = new MirrorStats();
  private server: net.Server | undefined;
  private metrics: http.Server | undefined;
  private readonly sessions = new Set<PoolerSession>();
  queued = 0;
  readonly random: () => number;

  private constructor(readonly config: PoolerConfig) {
    this.random = seededRandom(config.seed ?? 1);
  }

  static async start(config: PoolerConfig): Promise<MirroringPooler> {
    const pooler = new MirroringPooler(config);
    const server = net.createServer((client) => {
      const session = new PoolerSession(pooler, client);
      pooler.sessions.add(session);
      client.once('close', () => pooler.sessions.delete(session));
    });
    await listenServer(server, config.host, config.port ?? 0, 'mirroring pooler');
    pooler.server = server;
    const metrics = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such endpoint: try /metrics\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(pooler.stats.render());
    });
    await listenServer(metrics, config.host, config.metricsPort ?? 0, 'mirroring pooler metrics');
    pooler.metrics = metrics;
    return pooler;
  }

  get address(): { host: string; port: number } {
    return { host: this.config.host, port: (this.server?.address() as net.AddressInfo).port };
  }

  get metricsUrl(): string {
    return `http://${this.config.host}:${(this.metrics?.address() as net.AddressInfo).port}/metrics`;
  }

  /** Requests queued for the mirror or in flight there, of every session (a session's client may be gone). */
  mirrorBusy = 0;

  async close(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    await Promise.all([this.server, this.metrics].map((s) => new Promise<void>((resolve) => (s === undefined ? resolve() : s.close(() => resolve())))));
  }
}

/** One client session: passed through to the primary, its requests copied to the mirror on a session of its own. */
class PoolerSession {
  private readonly primary: net.Socket;
  private readonly reader: FrontendReader;
  private startup: Buffer | undefined;
  private batch: Buffer[] = [];
  /** After an SSL request: the primary's one-byte answer decides whether the session can be read at all. */
  private awaitingSsl = false;
  private unreadable = false;
  private readonly mirrorQueue: MirrorRequest[] = [];
  private mirror: MirrorConnection | undefined;
  private mirroring = false;
  private clientGone = false;

  constructor(
    private readonly pooler: MirroringPooler,
    private readonly client: net.Socket,
  ) {
    const { primary: target } = pooler.config;
    this.primary = net.connect(target.port, target.host);
    this.reader = new FrontendReader((message, raw) => this.take(message, raw));
    // With no mirror there is nothing to copy: the session is passed through unread.
    if (pooler.config.mirror === null) this.unreadable = true;
    client.on('data', (bytes: Buffer) => {
      this.primary.write(bytes);
      if (this.unreadable) return;
      try {
        this.reader.push(bytes);
      } catch {
        // Not the protocol any more (or never was): passed through, no longer mirrored.
        this.unreadable = true;
      }
    });
    this.primary.on('data', (bytes: Buffer) => {
      if (this.awaitingSsl && bytes.length > 0) {
        this.awaitingSsl = false;
        if (bytes[0] === 0x53) this.unreadable = true;
        else this.reader.expectStartup();
      }
      client.write(bytes);
    });
    const end = (): void => this.destroy();
    client.on('close', end);
    client.on('error', end);
    this.primary.on('close', end);
    this.primary.on('error', end);
  }

  destroy(): void {
    this.clientGone = true;
    this.client.destroy();
    this.primary.destroy();
    // What is still queued for the mirror is sent first: a client that hangs up does not take its mirror copies with it.
    if (!this.mirroring) this.mirror?.close();
  }

  private take(message: FrontendMessage, raw: Buffer): void {
    switch (message.type) {
      case 'sslRequest':
      case 'gssEncRequest':
        this.awaitingSsl = true;
        return;
      case 'startup':
        this.startup = Buffer.from(raw);
        return;
      case 'query':
        this.dispatch(Buffer.from(raw), true);
        return;
      case 'copyData':
      case 'copyDone':
      case 'copyFail':
        this.dispatch(Buffer.from(raw), false);
        return;
      case 'sync':
        this.batch.push(Buffer.from(raw));
        this.dispatch(Buffer.concat(this.batch), true);
        this.batch = [];
        return;
      case 'terminate':
      case 'password':
      case 'cancelRequest':
        return;
      default:
        this.batch.push(Buffer.from(raw));
    }
  }

  private dispatch(bytes: Buffer, counted: boolean): void {
    const { pooler } = this;
    const { stats, config } = pooler;
    if (config.mirror === null || this.startup === undefined) {
      if (counted) stats.total++;
      return;
    }
    if (counted) {
      stats.total++;
      if (pooler.random() >= config.exposure) {
        this.skipCopy = true;
        return;
      }
      this.skipCopy = false;
      if (pooler.queued >= config.queue) {
        stats.dropped++;
        stats.recordError('buffer_full');
        this.skipCopy = true;
        return;
      }
    } else if (this.skipCopy) return;
    pooler.queued++;
    pooler.mirrorBusy++;
    this.mirrorQueue.push({ bytes, counted });
    void this.pump();
  }

  /** A COPY's data goes where its query went: not to the mirror when the query was not mirrored. */
  private skipCopy = false;

  private async pump(): Promise<void> {
    if (this.mirroring) return;
    this.mirroring = true;
    const { pooler } = this;
    try {
      for (let request = this.mirrorQueue.shift(); request !== undefined; request = this.mirrorQueue.shift()) {
        pooler.queued--;
        const started = performance.now();
        const outcome = await this.sendToMirror(request);
        pooler.mirrorBusy--;
        if (!request.counted) continue;
        if (outcome === 'ok') pooler.stats.recordSuccess(performance.now() - started);
        else pooler.stats.recordError(outcome);
      }
    } finally {
      this.mirroring = false;
      if (this.clientGone) this.mirror?.close();
    }
  }

  private async sendToMirror(request: MirrorRequest): Promise<'ok' | 'connection' | 'query' | 'timeout'> {
    const { config } = this.pooler;
    if (this.mirror === undefined || this.mirror.broken) {
      this.mirror = new MirrorConnection(config.mirror as { host: string; port: number }, this.startup as Buffer, config.mirrorTimeoutMs);
      if (!(await this.mirror.ready)) return 'connection';
    }
    // Copy data has no answer of its own: its query's answer comes after CopyDone.
    if (!request.counted) {
      this.mirror.write(request.bytes);
      return 'ok';
    }
    return this.mirror.request(request.bytes);
  }
}

/** A session of the pooler's own to the mirror database, opened with the client's startup packet. */
class MirrorConnection {
  broken = false;
  readonly ready: Promise<boolean>;
  private readonly socket: net.Socket;
  private readonly parser = new Parser();
  private waiting: { resolve: (outcome: 'ok' | 'query' | 'timeout' | 'connection') => void; failed: boolean; timer: NodeJS.Timeout } | undefined;
  private startupDone: ((ok: boolean) => void) | undefined;

  constructor(target: { host: string; port: number }, startup: Buffer, private readonly timeoutMs: number) {
    this.socket = net.connect(target.port, target.host);
    this.ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.fail(), timeoutMs);
      this.startupDone = (ok) => {
        clearTimeout(timer);
        this.startupDone = undefined;
        resolve(ok);
      };
    });
    this.socket.on('connect', () => this.socket.write(startup));
    this.socket.on('data', (bytes: Buffer) => this.parser.parse(bytes, (message) => this.onMessage(message.name)));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  write(bytes: Buffer): void {
    if (!this.broken) this.socket.write(bytes);
  }

  request(bytes: Buffer): Promise<'ok' | 'query' | 'timeout' | 'connection'> {
    if (this.broken) return Promise.resolve('connection');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve('timeout');
        this.close();
      }, this.timeoutMs);
      this.waiting = { resolve, failed: false, timer };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.broken = true;
    this.socket.destroy();
  }

  private onMessage(name: string): void {
    if (this.startupDone !== undefined) {
      // Authentication asked for a password (the mirror must trust the pooler) or refused: the session cannot open.
      if (name === 'error' || name.startsWith('authenticationSASL') || name === 'authenticationMD5Password' || name === 'authenticationCleartextPassword') this.fail();
      else if (name === 'readyForQuery') this.startupDone(true);
      return;
    }
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (name === 'error') waiting.failed = true;
    if (name === 'readyForQuery') {
      clearTimeout(waiting.timer);
      this.waiting = undefined;
      waiting.resolve(waiting.failed ? 'query' : 'ok');
    }
  }

  private fail(): void {
    if (this.broken && this.startupDone === undefined && this.waiting === undefined) return;
    this.broken = true;
    this.socket.destroy();
    this.startupDone?.(false);
    const waiting = this.waiting;
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      this.waiting = undefined;
      waiting.resolve('connection');
    }
  }
}

