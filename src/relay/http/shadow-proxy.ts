import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { CONNECTION_HEADERS } from '../../core/http-headers.ts';
import { listenHttp, readRequestBody, type HttpListener } from '../../core/http-listener.ts';
import { Agent, request } from 'undici';
import { ControlPlaneClient } from '../control/control-client.ts';
import { validateProxySnapshot, type ProxyRouting } from './proxy-snapshot.ts';

/** The live upstream's default deadline: nginx's proxy_read_timeout. */
export const LIVE_TIMEOUT_MS = 60_000;

/** Headers that belong to one connection, never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([...CONNECTION_HEADERS, 'proxy-authenticate', 'proxy-authorization']);

export interface ShadowProxyConfig {
  host: string;
  port?: number;
  /** The live upstream: its answer is the client's. */
  live: string;
  /** The shadow upstream, sent a copy of each request and never waited for; null to proxy with no shadow (a baseline). */
  shadow: string | null;
  /** How long a shadow request may take before it is given up (its own deadline, not the client's). */
  shadowTimeoutMs?: number;
  /** How long the live upstream may take to answer before the client is told so (504); nginx's proxy_read_timeout. */
  liveTimeoutMs?: number;
  /** Bodies above this are refused (413) before anything is sent on. */
  maxBodyBytes?: number;
  /** Bugs the spec warns of, made on purpose, so a broken proxy can be judged (`parity demo --http --broken`). */
  faults?: ShadowProxyFaults;
  /** A control plane's /connect: `live`, `shadow` and `shadowTimeoutMs` then come from its snapshots (these are the bootstrap). */
  controlPlaneUrl?: string;
  /** Its name to the control plane. */
  name?: string;
}

/** The two classic shadowing bugs, made on purpose. */
export interface ShadowProxyFaults {
  /** The shadow gets the request without its body (the body stream was read once, for the live upstream). */
  emptyShadowBody?: boolean;
  /** The live answer waits for the shadow's (as nginx's mirror subrequest makes it do). */
  liveWaitsForShadow?: boolean;
}

/** What the proxy counted about its shadow path: failures there are counted, never seen by clients. */
export interface ShadowProxyStats {
  requests: number;
  /** Requests whose client closed the connection before their body ended: nothing was sent on. */
  clientsGone: number;
  liveErrors: number;
  /** Live requests the upstream did not answer within the live timeout: the client got a 504. */
  liveTimeouts: number;
  shadowed: number;
  shadowAnswered: number;
  shadowInFlight: number;
  shadowFailures: { timeout: number; connection: number; status5xx: number };
}

/**
 * The reference shadowing proxy (../shared/specs/http-shadowing.md): each request's body is read once, the live
 * upstream gets it and its answer goes back to the client; the shadow upstream gets its own copy (same method, path,
 * headers, body and a Content-Length that matches it) asynchronously, under its own deadline, and its answer or
 * failure never reaches the client. Every answer says where it was routed and why (`X-Routed-To`, `X-Route-Reason`)
 * and carries the request id both upstreams saw (`X-Request-ID`, made when the client sent none).
 */
export class ShadowProxy {
  readonly stats: ShadowProxyStats = { requests: 0, clientsGone: 0, liveErrors: 0, liveTimeouts: 0, shadowed: 0, shadowAnswered: 0, shadowInFlight: 0, shadowFailures: { timeout: 0, connection: 0, status5xx: 0 } };
  private readonly liveAgent = new Agent({ connections: 256 });
  // The shadow has its own connections: a slow shadow cannot hold a connection the live path needs.
  private readonly shadowAgent = new Agent({ connections: 256 });

  private listener: HttpListener | undefined;
  /** Its routing from a control plane, when it has one. */
  readonly control: ControlPlaneClient<ProxyRouting> | undefined;

  private constructor(private config: ShadowProxyConfig) {
    if (config.controlPlaneUrl !== undefined) {
      this.control = new ControlPlaneClient<ProxyRouting>({
        url: config.controlPlaneUrl,
        name: config.name ?? 'shadow-proxy',
        bootstrapVersion: '0.0.1',
        validate: (snapshot) => validateProxySnapshot(snapshot, config.shadowTimeoutMs),
        // One assignment: a request reads the configuration once, so it sees the old routing or the new, never half.
        apply: (routing) => (this.config = { ...this.config, ...routing }),
      });
    }
  }

  static async start(config: ShadowProxyConfig): Promise<ShadowProxy> {
    const proxy = new ShadowProxy(config);
    proxy.listener = await listenHttp('shadow proxy', config.host, config.port ?? 0, (req, res) => proxy.handle(req, res));
    proxy.control?.start();
    return proxy;
  }

  /** Where requests go now. */
  get routing(): ProxyRouting {
    return { live: this.config.live, shadow: this.config.shadow, shadowTimeoutMs: this.config.shadowTimeoutMs ?? 2000 };
  }

  get url(): string {
    return this.listener?.url ?? '';
  }

  async close(): Promise<void> {
    this.control?.stop();
    await this.listener?.close();
    // Destroyed, not closed: a shadow request still in flight is abandoned, not waited for.
    await Promise.all([this.liveAgent.destroy(), this.shadowAgent.destroy()]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const config = this.config;
    if (this.control !== undefined && req.url === '/debug/config-version') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.control.view()));
      return;
    }
    this.stats.requests++;
    const requestId = typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'] !== '' ? req.headers['x-request-id'] : randomUUID();
    const body = await readRequestBody(req, config.maxBodyBytes ?? 16 * 1024 * 1024);
    if (body === 'client went away') {
      this.stats.clientsGone++;
      return;
    }
    if (body === 'over the size limit') {
      this.reply(res, 413, { 'content-type': 'text/plain', connection: 'close' }, Buffer.from('request body too large\n'), requestId, 'none', 'body over the size limit');
      return;
    }
    const headers = forwardedHeaders(req.headers, requestId, body.length);
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const faults = config.faults ?? {};
    // The shadow starts first and is not awaited: the live path never waits on it.
    const shadowed = config.shadow === null ? Promise.resolve() : this.shadowCopy(config, method, path, headers, body, faults);
    // A live upstream that never answers would otherwise hold the client for undici's 300 s and the request's
    // connection with it; a proxy says so in its own time, as nginx does with a 504 after proxy_read_timeout.
    const liveTimeoutMs = config.liveTimeoutMs ?? LIVE_TIMEOUT_MS;
    try {
      const live = await request(new URL(path, config.live), { method, headers, body: body.length > 0 ? body : null, dispatcher: this.liveAgent, headersTimeout: liveTimeoutMs, bodyTimeout: liveTimeoutMs });
      const answer = Buffer.from(await live.body.arrayBuffer());
      if (faults.liveWaitsForShadow === true) await shadowed;
      const reason = config.shadow === null ? 'no shadow configured' : `shadowed to ${new URL(config.shadow).host}`;
      this.reply(res, live.statusCode, copiedHeaders(live.headers), answer, requestId, 'live', reason);
    } catch (error) {
      if (isLiveTimeout(error)) {
        this.stats.liveTimeouts++;
        this.reply(res, 504, { 'content-type': 'text/plain' }, Buffer.from(`live upstream did not answer within ${liveTimeoutMs} ms\n`), requestId, 'live', 'live upstream timed out');
        return;
      }
      this.stats.liveErrors++;
      this.reply(res, 502, { 'content-type': 'text/plain' }, Buffer.from(`live upstream failed: ${(error as Error).message}\n`), requestId, 'live', 'live upstream failed');
    }
  }

  /** The shadow's own copy of the request: a body of its own and a Content-Length that matches it. */
  private shadowCopy(config: ShadowProxyConfig, method: string, path: string, headers: Record<string, string>, body: Buffer, faults: ShadowProxyFaults): Promise<void> {
    if (faults.emptyShadowBody !== true) return this.shadow(config, method, path, { ...headers }, Buffer.from(body));
    const { 'content-length': _dropped, ...withoutLength } = headers;
    return this.shadow(config, method, path, withoutLength, Buffer.alloc(0));
  }

  /** Settles when the shadow's answer is in or given up; never rejects. */
  private shadow(config: ShadowProxyConfig, method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<void> {
    this.stats.shadowed++;
    this.stats.shadowInFlight++;
    const shadow = config.shadow as string;
    return request(new URL(path, shadow), {
      method,
      headers,
      body: body.length > 0 ? body : null,
      dispatcher: this.shadowAgent,
      signal: AbortSignal.timeout(config.shadowTimeoutMs ?? 2000),
    })
      .then(async (answer) => {
        await answer.body.dump();
        this.stats.shadowAnswered++;
        if (answer.statusCode >= 500) this.stats.shadowFailures.status5xx++;
      })
      .catch((error: unknown) => {
        const name = error instanceof Error ? error.name : '';
        if (name === 'TimeoutError' || name === 'AbortError') this.stats.shadowFailures.timeout++;
        else this.stats.shadowFailures.connection++;
      })
      .finally(() => {
        this.stats.shadowInFlight--;
      });
  }

  private reply(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer, requestId: string, routedTo: string, reason: string): void {
    res.writeHead(status, { ...headers, 'content-length': String(body.length), 'x-request-id': requestId, 'x-routed-to': routedTo, 'x-route-reason': reason });
    res.end(body);
  }
}

/** undici's own words for an answer that did not come in time: its headers, or the rest of its body. */
function isLiveTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** The client's headers without hop-by-hop ones, with the request id and a Content-Length that matches the body. */
function forwardedHeaders(incoming: IncomingHttpHeaders, requestId: string, bodyBytes: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host' || name === 'content-length') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['x-request-id'] = requestId;
  if (bodyBytes > 0) headers['content-length'] = String(bodyBytes);
  return headers;
}

function copiedHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
    headers[name] = value;
  }
  return headers;
}
