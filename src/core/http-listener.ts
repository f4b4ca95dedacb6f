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

/**
 * Serves every request with `handle`. A handler that fails does not take the process down with it: a client that
 * went away is let go, anyone else gets a 500 naming `what` and the fault, in one line. A reference server under a
 * parity test must outlive its worst client; the fault still shows, to the client that met it.
 */
export async function listenHttp(what: string, host: string, port: number, handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<HttpListener> {
  const server = createServer();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => answerFault(what, request, response, error));
  });
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

function answerFault(what: string, request: IncomingMessage, response: ServerResponse, error: unknown): void {
  if (request.socket.destroyed || response.headersSent) {
    response.destroy();
    return;
  }
  const message = `${what} failed on ${request.method ?? '?'} ${request.url ?? '?'}: ${error instanceof Error ? error.message : String(error)}`.replace(/\s*\n\s*/g, ' ');
  response.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
  response.end(`${message}\n`);
}

/** Why a request's body could not be had: its client closed the connection before the body ended, or it is too large. */
export type RequestBodyFault = 'client went away' | 'over the size limit';

/**
 * The request's whole body, or why there is none. A client that closes its connection mid-body leaves a request that
 * never arrived whole: a server has nothing to forward or answer, and counts it. A body over `limitBytes` stops being
 * kept but is still read to its end, so that the answer refusing it reaches the client.
 */
export function readRequestBody(request: IncomingMessage, limitBytes = Number.POSITIVE_INFINITY): Promise<Buffer | RequestBodyFault> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: Buffer | RequestBodyFault): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve(outcome);
    };
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) settle('over the size limit');
      else if (!settled) chunks.push(chunk);
    });
    request.on('end', () => settle(Buffer.concat(chunks)));
    // Node reports a client gone mid-body as an error ("aborted"); it is kept listened to for the request's life, since
    // one that goes away while a refused body drains must not be an unhandled error.
    request.on('error', () => settle('client went away'));
    request.on('close', () => {
      if (!request.complete) settle('client went away');
    });
  });
}
