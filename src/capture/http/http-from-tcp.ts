import { TcpFlag, type TcpSegment } from '../tcp-segment.ts';
import type { HttpExchange } from './har-reader.ts';
import { Http1FramingError, Http1Parser, type Http1Message } from './http1-parser.ts';
import { TcpStream } from './tcp-stream.ts';

/** What reading HTTP out of a capture's TCP found. */
export interface TcpHttpSummary {
  /** TCP connections seen (each 4-tuple, each time it is opened again). */
  connections: number;
  /** Of those, the ones that carried HTTP/1.x. */
  httpConnections: number;
  exchanges: number;
  /** HTTP connections whose stream was damaged (a lost segment, a cut-short frame, broken framing): their complete exchanges are kept. */
  damaged: number;
  /** The first few reasons, for the import's one-line flag. */
  faults: string[];
}

const REQUEST_START = /^[A-Z]{3,10} /;
const MAX_FAULTS = 3;

export interface Endpoint {
  ip: string;
  port: number;
  ipVersion: 4 | 6;
}

/** A connection that left HTTP with a `101 Switching Protocols`: what the two sides agreed. */
export interface Upgrade {
  client: Endpoint;
  server: Endpoint;
  /** The request target, as sent. */
  target: string;
  requestHeaders: readonly [string, string][];
  responseHeaders: readonly [string, string][];
  tsNs: bigint;
}

/** Reads what follows an upgrade (or a whole connection of another protocol), both directions in order; `end` when the connection is over. */
export interface UpgradedConnection {
  fromClient(bytes: Uint8Array, tsNs: bigint): void;
  fromServer(bytes: Uint8Array, tsNs: bigint): void;
  /** A segment is missing: what follows cannot be read (its reader stops, keeping what came before). */
  damage?(reason: string): void;
  end(): void;
}

/** Takes a connection whose client opened with bytes of another protocol than HTTP (PostgreSQL), or passes. */
export type OtherProtocolReader = (firstClientBytes: Uint8Array, client: Endpoint, server: Endpoint) => UpgradedConnection | undefined;

/** Takes an upgraded connection whose new protocol it reads, or passes (undefined). */
export type UpgradeReader = (upgrade: Upgrade) => UpgradedConnection | undefined;

/** One TCP connection read as HTTP/1.x: its two directions in order, its requests answered in order. */
class HttpConnection {
  readonly up: TcpStream;
  readonly down: TcpStream;
  private readonly requests: Http1Parser;
  private readonly responses: Http1Parser;
  private readonly waiting: HttpExchange[] = [];
  /** Responses read before their request: a capture may hold the two directions slightly out of order. */
  private readonly early: Http1Message[] = [];
  exchanges = 0;
  fault: string | undefined;
  ended = { up: false, down: false };
  private upgraded: UpgradedConnection | undefined;
  /** The connection is another protocol than HTTP, read whole by its own reader. */
  other: UpgradedConnection | undefined;
  private sniffed = false;

  constructor(
    readonly client: Endpoint,
    readonly server: Endpoint,
    private readonly emit: (exchange: HttpExchange) => void,
    private readonly readUpgrade: UpgradeReader | undefined,
    private readonly readOther: OtherProtocolReader | undefined,
  ) {
    this.requests = new Http1Parser('request', (m) => this.onRequest(m));
    this.responses = new Http1Parser('response', (m) => this.onResponse(m), () => this.waiting[0]?.method === 'HEAD');
    this.up = new TcpStream({ data: (bytes, ts) => this.fromClient(bytes, ts), gap: () => this.damage('a segment from the client is missing') });
    this.down = new TcpStream({ data: (bytes, ts) => (this.other === undefined ? this.feed(this.responses, bytes, ts) : this.other.fromServer(bytes, ts)), gap: () => this.damage('a segment from the server is missing') });
  }

  damage(reason: string): void {
    if (this.other !== undefined) {
      this.other.damage?.(reason);
      return;
    }
    this.fault ??= `${this.client.ip}:${this.client.port} -> ${this.server.ip}:${this.server.port}: ${reason}`;
  }

  /** The client's first bytes say which protocol the connection speaks: HTTP unless another reader claims it. */
  private fromClient(bytes: Uint8Array, tsNs: bigint): void {
    if (!this.sniffed && bytes.length > 0) {
      this.sniffed = true;
      const start = new TextDecoder('latin1').decode(bytes.subarray(0, 12));
      if (!REQUEST_START.test(start)) this.other = this.readOther?.(bytes, this.client, this.server);
    }
    if (this.other !== undefined) this.other.fromClient(bytes, tsNs);
    else this.feed(this.requests, bytes, tsNs);
  }

  /** The connection is over: what waits behind a hole is lost, and requests never answered are kept as such. */
  finish(): void {
    this.up.end();
    this.down.end();
    if (this.other !== undefined) {
      this.other.end();
      return;
    }
    if (this.fault === undefined) {
      if (this.requests.end() === 'cut') this.damage('a request was cut short when the connection ended');
      if (this.responses.end() === 'cut') this.damage('a response was cut short when the connection ended');
    }
    if (this.early.length > 0) this.damage(`${this.early.length} response${this.early.length > 1 ? 's' : ''} came with no request`);
    for (const unanswered of this.waiting.splice(0)) this.emit({ ...unanswered, missing: [...unanswered.missing, 'response'] });
    this.upgraded?.end();
  }

  private feed(parser: Http1Parser, bytes: Uint8Array, tsNs: bigint): void {
    if (this.fault !== undefined) return;
    try {
      parser.push(bytes, tsNs);
    } catch (error) {
      if (!(error instanceof Http1FramingError)) throw error;
      this.damage(error.message);
    }
  }

  private onRequest(message: Http1Message): void {
    const [method, target, version] = message.startLine;
    const host = message.headers.find(([name]) => name.toLowerCase() === 'host')?.[1];
    const authority = host ?? (this.server.ipVersion === 6 ? `[${this.server.ip}]:${this.server.port}` : `${this.server.ip}:${this.server.port}`);
    this.waiting.push({
      tsNs: message.startTsNs,
      method,
      url: /^https?:\/\//i.test(target) ? target : `http://${authority}${target.startsWith('/') ? target : `/${target}`}`,
      httpVersion: version,
      requestHeaders: message.headers,
      requestBody: message.body,
      status: null,
      responseHeaders: [],
      responseBody: null,
      durationMs: null,
      missing: [],
    });
    this.pair();
  }

  private onResponse(message: Http1Message): void {
    const status = Number(message.startLine[1]);
    // An interim answer (100 Continue): the final one follows.
    if (status >= 100 && status < 200 && status !== 101) return;
    this.early.push(message);
    this.pair();
  }

  /** Answers go to requests in order (HTTP/1.1 answers in the order it was asked). */
  private pair(): void {
    while (this.waiting.length > 0 && this.early.length > 0) {
      const request = this.waiting.shift() as HttpExchange;
      const message = this.early.shift() as Http1Message;
      this.exchanges++;
      const status = Number(message.startLine[1]);
      this.emit({ ...request, status, responseHeaders: message.headers, responseBody: message.body, durationMs: Number(message.endTsNs - request.tsNs) / 1e6 });
      if (this.requests.isUpgraded && status !== 101) this.requests.resume();
      else if (status === 101) this.switchProtocols(request, message);
    }
  }

  /** The server agreed to leave HTTP: both directions go to the reader of the new protocol, or are passed over. */
  private switchProtocols(request: HttpExchange, answer: Http1Message): void {
    const target = request.url.replace(/^https?:\/\/[^/]*/i, '') || '/';
    const upgrade = { client: this.client, server: this.server, target, requestHeaders: request.requestHeaders, responseHeaders: answer.headers, tsNs: answer.endTsNs };
    const reader = this.readUpgrade?.(upgrade);
    this.upgraded = reader;
    this.requests.handOff((bytes, tsNs) => reader?.fromClient(bytes, tsNs));
    this.responses.handOff((bytes, tsNs) => reader?.fromServer(bytes, tsNs));
  }
}

/**
 * Reads HTTP/1.1 exchanges out of a capture's TCP segments, as they come (and hands connections of other protocols,
 * and upgraded ones, to their readers): connections are put back together per
 * direction (out-of-order and retransmitted segments), the client is the side that opened the connection (or, for a
 * connection already open when the capture began, the side that sent a request line), and each direction is read as
 * HTTP messages, kept-alive connections giving many. Connections that are not HTTP are passed over. A damaged stream
 * keeps every exchange complete before the damage and is counted, with its reason.
 */
export class HttpFromTcp {
  private readonly open = new Map<string, HttpConnection | 'not-http'>();
  private readonly summary: TcpHttpSummary = { connections: 0, httpConnections: 0, exchanges: 0, damaged: 0, faults: [] };

  /** `readUpgrade` reads the protocol a connection upgrades to (WebSocket, for the WebSocket family). */
  constructor(
    private readonly onExchange: (exchange: HttpExchange) => void,
    private readonly readUpgrade?: UpgradeReader,
    private readonly readOther?: OtherProtocolReader,
  ) {}

  add(segment: TcpSegment): void {
    const from: Endpoint = { ip: segment.srcIp, port: segment.srcPort, ipVersion: segment.ipVersion };
    const to: Endpoint = { ip: segment.dstIp, port: segment.dstPort, ipVersion: segment.ipVersion };
    const key = connectionKey(from, to);
    const tsNs = BigInt(segment.tsSec) * 1_000_000_000n + BigInt(segment.tsFracNs);
    const opening = (segment.flags & (TcpFlag.Syn | TcpFlag.Ack)) === TcpFlag.Syn;
    let connection = this.open.get(key);
    if (opening && connection !== undefined) {
      this.close(key);
      connection = undefined;
    }
    if (connection === undefined) {
      connection = this.begin(key, segment, from, to, opening);
      if (connection === undefined) return;
    }
    if (connection === 'not-http') {
      if ((segment.flags & (TcpFlag.Fin | TcpFlag.Rst)) !== 0) this.open.delete(key);
      return;
    }
    const fromClient = from.ip === connection.client.ip && from.port === connection.client.port;
    const stream = fromClient ? connection.up : connection.down;
    if ((segment.flags & TcpFlag.Syn) !== 0) stream.syn(segment.seq);
    else stream.add(segment.seq, segment.payload, tsNs);
    if (segment.truncated && segment.payload.length > 0) connection.damage(`frame ${segment.frameNo} was cut short by the capture's snap length`);
    if ((segment.flags & TcpFlag.Rst) !== 0) this.close(key);
    else if ((segment.flags & TcpFlag.Fin) !== 0) {
      connection.ended[fromClient ? 'up' : 'down'] = true;
      if (connection.ended.up && connection.ended.down) this.close(key);
    }
  }

  /** Ends every connection still open (the capture ended) and gives the counts. */
  finish(): TcpHttpSummary {
    for (const key of [...this.open.keys()]) this.close(key);
    return this.summary;
  }

  private begin(key: string, segment: TcpSegment, from: Endpoint, to: Endpoint, opening: boolean): HttpConnection | 'not-http' | undefined {
    const synAck = (segment.flags & (TcpFlag.Syn | TcpFlag.Ack)) === (TcpFlag.Syn | TcpFlag.Ack);
    let client: Endpoint | undefined;
    if (opening) client = from;
    else if (synAck) client = to;
    else if (segment.payload.length > 0) {
      const start = new TextDecoder('latin1').decode(segment.payload.subarray(0, 12));
      if (REQUEST_START.test(start)) client = from;
      else if (start.startsWith('HTTP/1.')) client = to;
      else {
        this.open.set(key, 'not-http');
        this.summary.connections++;
        return 'not-http';
      }
    }
    // A bare ACK of a connection already open: nothing tells the sides apart yet.
    if (client === undefined) return undefined;
    this.summary.connections++;
    const server = client === from ? to : from;
    const connection = new HttpConnection(
      client,
      server,
      (exchange) => {
        this.summary.exchanges++;
        this.onExchange(exchange);
      },
      this.readUpgrade,
      this.readOther,
    );
    this.open.set(key, connection);
    return connection;
  }

  private close(key: string): void {
    const connection = this.open.get(key);
    this.open.delete(key);
    if (connection === undefined || connection === 'not-http') return;
    connection.finish();
    if (connection.other !== undefined) return;
    if (connection.exchanges > 0 || connection.fault !== undefined) this.summary.httpConnections++;
    if (connection.fault === undefined) return;
    // A connection that never carried one HTTP message was not HTTP: passed over, not damaged.
    if (connection.exchanges === 0 && connection.fault.includes('not an HTTP/1.x')) {
      this.summary.httpConnections--;
      return;
    }
    this.summary.damaged++;
    if (this.summary.faults.length < MAX_FAULTS) this.summary.faults.push(connection.fault);
  }
}

function connectionKey(a: Endpoint, b: Endpoint): string {
  const left = `${a.ip}|${a.port}`;
  const right = `${b.ip}|${b.port}`;
  return left < right ? `${left}|${right}` : `${right}|${left}`;
}
