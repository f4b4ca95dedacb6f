import type { Endpoint, UpgradedConnection } from '../http/http-from-tcp.ts';
import { looksLikePgStartup } from './pg-frontend.ts';
import { PgSessionReader, type PgSessionInfo, type PgStatement } from './pg-session.ts';

/** What reading PostgreSQL sessions out of a capture's TCP found. */
export interface TcpPgSummary {
  sessions: number;
  statements: number;
  /** Sessions that turned to TLS: unreadable, counted, never guessed at. */
  tlsSessions: number;
  /** Sessions whose stream was damaged (a lost segment, broken framing, a message cut short): statements before kept. */
  damaged: number;
  faults: string[];
}

const MAX_FAULTS = 3;
const address = (e: Endpoint): string => (e.ipVersion === 6 ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/**
 * Reads the PostgreSQL sessions of a capture (connections whose client opens with a protocol 3.0 startup, SSL or GSS
 * request), each statement with its answer, in session order. Sessions that turn to TLS are counted as unreadable.
 */
export class PgFromTcp {
  private readonly summary: TcpPgSummary = { sessions: 0, statements: 0, tlsSessions: 0, damaged: 0, faults: [] };

  constructor(private readonly onStatement: (statement: PgStatement, session: PgSessionInfo) => void) {}

  /** For HttpFromTcp: takes the connections that open as PostgreSQL. */
  readonly read = (first: Uint8Array, client: Endpoint, server: Endpoint): UpgradedConnection | undefined => {
    if (!looksLikePgStartup(first)) return undefined;
    this.summary.sessions++;
    const session = new PgSessionReader(
      address(client),
      address(server),
      (statement, info) => {
        this.summary.statements++;
        this.onStatement(statement, info);
      },
      { keepCopyData: true },
    );
    return {
      fromClient: (bytes, tsNs) => session.fromClient(bytes, tsNs),
      fromServer: (bytes, tsNs) => session.fromServer(bytes, tsNs),
      damage: (reason) => session.damage(reason),
      end: () => {
        session.end();
        if (session.tls) this.summary.tlsSessions++;
        if (session.fault === undefined) return;
        this.summary.damaged++;
        if (this.summary.faults.length < MAX_FAULTS) this.summary.faults.push(`${session.info.client} -> ${session.info.server}: ${session.fault}`);
      },
    };
  };

  finish(): TcpPgSummary {
    return this.summary;
  }
}
