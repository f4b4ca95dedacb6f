import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenServer } from './listen-server.ts';

/** An HTTP server listening on `host:port` (0: any free port) with `handle` for every request; its URL and how to close it. */
export interface HttpListener {
  server: Server;
  url: string;
  /** Drops open connections (kept-alive ones too) and stops listening. */
  close(): Promise<void>;
}

export async function listenHttp(what: string, host: string, port: number, handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<HttpListener> {
  const server = createServer();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => void handle(request, response));
  await listenServer(server, host, port, what);
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address.address}:${address.port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
