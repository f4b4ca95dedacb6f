import net from 'node:net';
import { PgSessionReader, type PgSessionInfo, type PgStatement } from '../capture/pg/pg-session.ts';
import { listenServer } from '../core/listen-server.ts';
import type { LegActivity } from '../core/leg-activity.ts';

export interface PgTapOptions {
  host: string;
  port?: number;
  /** The database, e.g. 10.0.0.5:5432. */
  target: { host: string; port: number };
  /** Told of each statement the database answered (or never did, when its session ended first). */
  record: (statement: PgStatement, session: PgSessionInfo) => void;
}

/**
 * A recording tap in front of a PostgreSQL database, the Postgres counterpart of the UDP and HTTP taps: each session
 * is passed through byte for byte and read on the side with the capture reader (PgSessionReader), so every statement
 * the database received is recorded with what it answered (tag, rows, row hash, SQLSTATE) and when. A mirroring
 * pooler throws its mirror's answers away; the tap is how they are seen.
 */
export class PgTap implements LegActivity {
  lastReceivedMs = 0;
  sessions = 0;
  statements = 0;
  private readonly readers = new Set<PgSessionReader>();
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly options: PgTapOptions) {}

  static async start(options: PgTapOptions): Promise<PgTap> {
    const tap = new PgTap(options);
    const server = net.createServer((client) => tap.accept(client));
    await listenServer(server, options.host, options.port ?? 0, 'database tap');
    tap.server = server;
    return tap;
  }

  get address(): { host: string; port: number } {
    return { host: this.options.host, port: (this.server?.address() as net.AddressInfo).port };
  }

  /** Statements sent to the database and not answered yet. */
  unsettled(): number {
    let pending = 0;
    for (const reader of this.readers) pending += reader.pending;
    return pending;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private accept(client: net.Socket): void {
    this.sessions++;
    const upstream = net.connect(this.options.target.port, this.options.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const reader = new PgSessionReader(`${client.remoteAddress ?? '?'}:${client.remotePort ?? 0}`, `${this.options.target.host}:${this.options.target.port}`, (statement, session) => {
      this.statements++;
      this.options.record(statement, session);
    });
    this.readers.add(reader);
    client.on('data', (bytes: Buffer) => {
      upstream.write(bytes);
      this.lastReceivedMs = performance.now();
      reader.fromClient(bytes, process.hrtime.bigint());
    });
    upstream.on('data', (bytes: Buffer) => {
      client.write(bytes);
      reader.fromServer(bytes, process.hrtime.bigint());
    });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      reader.end();
      this.readers.delete(reader);
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  }
}
