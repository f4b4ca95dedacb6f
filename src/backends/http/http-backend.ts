import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenHttp, readRequestBody, type HttpListener } from '../../core/http-listener.ts';
import type { JsonValue } from '../../core/json.ts';
import { seededRandom } from '../../core/random.ts';
import type { LegActivity } from '../../core/leg-activity.ts';

/** What a simulated HTTP backend does wrong on purpose. */
export interface HttpBackendFaults {
  /** Added before every answer. */
  latencyMs?: number;
  /** Share of requests answered 503. */
  errorShare?: number;
  /** Share of requests whose connection is reset instead of answered. */
  resetShare?: number;
  /** Answers as if the request had no body: the shadow bug a shadowing proxy must not cause, made on purpose. */
  ignoreBody?: boolean;
  /** A field of the answer set to another value: what a new version that differs looks like. */
  changedField?: { name: string; value: JsonValue };
}

export interface HttpBackendOptions {
  host: string;
  port?: number;
  /** live or shadow: sent back as `X-Backend-Role`, never in the body (the bodies of both must be comparable). */
  role: string;
  faults?: HttpBackendFaults;
  seed?: number;
  /**
   * Told of each request once it is answered (or reset); when given, requests are not also kept in `received`, so a
   * long run's memory stays flat.
   */
  record?: (receipt: ReceivedHttpRequest) => void;
}

/** One request exactly as the backend received it. */
export interface ReceivedHttpRequest {
  requestId: string | null;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The Content-Length header, as a number; null when absent. */
  contentLength: number | null;
  body: Buffer;
  receivedNs: bigint;
  /** What it answered; null until then, and for a request whose connection it reset. */
  answer: { answeredNs: bigint; status: number; body: Buffer } | null;
}

/**
 * A simulated HTTP backend in the live or shadow role: records exactly what it received (method, path, headers,
 * Content-Length, body bytes) and answers deterministically, a JSON document derived from the request, with two
 * volatile fields (`servedAt`, `responseId`) that differ on every answer as real services' timestamps and ids do.
 */
export class HttpBackend implements LegActivity {
  readonly received: ReceivedHttpRequest[] = [];
  /** Requests answered (or reset) so far. */
  answered = 0;
  /** Requests received so far, and when the last came (ms, monotonic): what a drain watches. */
  receivedCount = 0;
  /** Requests whose client closed the connection before their body ended: never whole, so neither kept nor answered. */
  clientsGone = 0;
  lastReceivedMs = 0;
  private readonly random: () => number;

  private listener: HttpListener | undefined;

  private constructor(private readonly options: HttpBackendOptions) {
    this.random = seededRandom(options.seed ?? 1);
  }

  static async start(options: HttpBackendOptions): Promise<HttpBackend> {
    const backend = new HttpBackend(options);
    backend.listener = await listenHttp(`HTTP backend ${options.role}`, options.host, options.port ?? 0, (request, response) => backend.handle(request, response));
    return backend;
  }

  get url(): string {
    return this.listener?.url ?? '';
  }

  unsettled(): number {
    return this.receivedCount - this.answered - this.clientsGone;
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.receivedCount++;
    this.lastReceivedMs = performance.now();
    const body = await readRequestBody(request);
    if (typeof body === 'string') {
      this.clientsGone++;
      return;
    }
    const header = (name: string): string | null => (typeof request.headers[name] === 'string' ? (request.headers[name] as string) : null);
    const length = header('content-length');
    const received: ReceivedHttpRequest = {
      requestId: header('x-request-id'),
      method: request.method ?? '',
      path: request.url ?? '',
      headers: Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')])),
      contentLength: length === null ? null : Number(length),
      body,
      receivedNs: process.hrtime.bigint(),
      answer: null,
    };
    if (this.options.record === undefined) this.received.push(received);
    const faults = this.options.faults ?? {};
    if (faults.latencyMs !== undefined && faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    this.answered++;
    if (this.random() < (faults.resetShare ?? 0)) {
      request.socket.destroy();
      this.options.record?.(received);
      return;
    }
    const failed = this.random() < (faults.errorShare ?? 0);
    const answer = failed ? { error: 'unavailable' } : this.answerTo(received, faults);
    const text = JSON.stringify(answer);
    response.writeHead(failed ? 503 : 200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-backend-role': this.options.role,
      ...(received.requestId !== null && { 'x-request-id': received.requestId }),
    });
    response.end(text);
    received.answer = { answeredNs: process.hrtime.bigint(), status: failed ? 503 : 200, body: Buffer.from(text) };
    this.options.record?.(received);
  }

  private answerTo(received: ReceivedHttpRequest, faults: HttpBackendFaults): Record<string, JsonValue> {
    const body = faults.ignoreBody === true ? Buffer.alloc(0) : received.body;
    const request = parsedBody(body);
    const answer: Record<string, JsonValue> = {
      method: received.method,
      path: received.path,
      bodyBytes: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      items: request === null ? null : Object.keys(request).length,
      currency: typeof request?.currency === 'string' ? request.currency : null,
      totalCents: totalOf(request),
      servedAt: preciseNow(),
      responseId: randomUUID(),
    };
    if (faults.changedField !== undefined) answer[faults.changedField.name] = faults.changedField.value;
    return answer;
  }
}

/** A request body's JSON object, or null: the answer depends on what was sent, as a billing service's does. */
function parsedBody(body: Buffer): Record<string, unknown> | null {
  if (body.length === 0) return null;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** An invoice's total: its lines' quantity times cents, summed; null for a request without lines. */
function totalOf(request: Record<string, unknown> | null): number | null {
  if (!Array.isArray(request?.lines)) return null;
  let total = 0;
  for (const line of request.lines as unknown[]) {
    const { quantity, cents } = (line ?? {}) as { quantity?: unknown; cents?: unknown };
    if (typeof quantity === 'number' && typeof cents === 'number') total += quantity * cents;
  }
  return total;
}

/** The wall clock to the microsecond, as services stamp answers: two answers in the same millisecond still differ. */
function preciseNow(): string {
  const now = Date.now();
  const micros = Number(process.hrtime.bigint() / 1000n % 1000n);
  return `${new Date(now).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}
