import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetworkError } from '../core/errors.ts';
import { configView, healthView, parityView, targetsView } from './debug-views.ts';
import { renderPrometheus } from './prometheus.ts';
import type { Relay } from './relay.ts';

/** Debug and metrics listen on loopback only (fan-out spec: "Debug server port (127.0.0.1 only)"). */
export const DEBUG_BIND_IP = '127.0.0.1';

/** Serves /metrics (Prometheus text) and /debug/{targets,parity,health,config} (JSON) for a relay. */
export async function startDebugServer(relay: Relay, port: number, version: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (body: unknown): void => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    switch (path) {
      case '/metrics':
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        response.end(renderPrometheus(relay));
        return;
      case '/debug/targets':
        return json(targetsView(relay));
      case '/debug/parity':
        return json(parityView(relay));
      case '/debug/health':
        return json(healthView(relay, version));
      case '/debug/config':
        return json(configView(relay));
      default:
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: `no such endpoint: ${path}`, endpoints: ['/metrics', '/debug/targets', '/debug/parity', '/debug/health', '/debug/config'] }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new NetworkError(`relay debug server: cannot listen on ${DEBUG_BIND_IP}:${port}: ${cause.message}`, {}, { cause })));
    server.listen(port, DEBUG_BIND_IP, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
