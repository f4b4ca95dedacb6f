import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import type { ReceivedHttpRequest } from '../backends/http/http-backend.ts';
import { CONNECTION_HEADERS } from '../core/http-headers.ts';
import { listenHttp, readRequestBody, type HttpListener } from '../core/http-listener.ts';
import type { LegActivity } from '../core/leg-activity.ts';

/** Headers of one hop, never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([...CONNECTION_HEADERS, 'host']);

export interface HttpTapOptions {
  host: string;
  port?: number;
  /** The real backend, e.g. http://10.0.0.5:8080. */
  target: string;
  /** Told of each request once the backend answered it (or failed to): the leg as the backend saw it. */
  record: (receipt: ReceivedHttpRequest) => void;
}

/** What the tap counted: requests forwarded, and those the backend did not answer. */
export interface HttpTapCounters {
  forwarded: number;
  answered: number;
  errors: Record<string, number>;
}

/**
 * A recording tap in front of a real HTTP backend, for the legs a simulated backend would record itself: it takes each
 * request the proxy sends the backend, forwards it unchanged (method, path, headers, body bytes) on its own kept-alive
 * connections, returns the backend's answer as it came, and records both, with the times it saw them. A backend that
 * does not answer gets a 502 back to the proxy and a receipt with no answer (what a reset looks like), counted by kind.
 */
export class HttpTap implements LegActivity {
  readonly counters: HttpTapCounters = { forwarded: 0, answered: 0, errors: {} };
  lastReceivedMs = 0;
  private settled = 0;
  private readonly agent = new Agent({ connections: 256 });
  private listener: HttpListener | undefined;

  private constructor(private readonly options: HttpTapOptions) {}

  static async start(options: HttpTapOptions): Promise<HttpTap> {
    const tap = new HttpTap(options);
    tap.listener = await listenHttp('HTTP tap', options.host, options.port ?? 0, (req, res) => tap.handle(req, res));
    return tap;
  }

  get url(): string {
    return this.listener?.url ?? '';
  }

  unsettled(): number {
    return this.counters.forwarded - this.settled;
  }

  async close(): Promise<void> {
    await this.listener?.close();
    // Destroyed, not closed: undici's close waits for requests in flight, and one a silent backend holds would keep
    // the run's end waiting for its 300 s deadline. Each is recorded unanswered (its `finally`).
    await this.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedNs = process.hrtime.bigint();
    this.lastReceivedMs = performance.now();
    const body = await readRequestBody(req);
    if (typeof body === 'string') {
      // Never whole, so not forwarded: the backend's leg misses a request the proxy began, which is named, not lost.
      const kind = 'requests cut off mid-body by the proxy';
      this.counters.errors[kind] = (this.counters.errors[kind] ?? 0) + 1;
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const length = headers['content-length'];
    const receipt: ReceivedHttpRequest = {
      requestId: headers['x-request-id'] ?? null,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      contentLength: length === undefined ? null : Number(length),
      body,
      receivedNs,
      answer: null,
    };
    this.counters.forwarded++;
    const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    try {
      const answer = await request(new URL(receipt.path, this.options.target), { method: receipt.method as 'GET', headers: forwarded, body: body.length > 0 ? body : null, dispatcher: this.agent });
      const answerBody = Buffer.from(await answer.body.arrayBuffer());
      receipt.answer = { answeredNs: process.hrtime.bigint(), status: answer.statusCode, body: answerBody };
      this.counters.answered++;
      const back: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'content-length') back[name] = value;
      res.writeHead(answer.statusCode, { ...back, 'content-length': String(answerBody.length) });
      res.end(answerBody);
    } catch (error) {
      const kind = (error as { code?: string }).code ?? (error as Error).name;
      this.counters.errors[kind] = (this.counters.errors[kind] ?? 0) + 1;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`backend ${this.options.target} did not answer: ${kind}\n`);
    } finally {
      this.settled++;
      this.options.record(receipt);
    }
  }
}
