import type { Server } from 'node:net';
import { NetworkError } from './errors.ts';

/**
 * Starts `server` listening on `host:port` (0: any free port). An address that cannot be had (not on this machine,
 * taken) is a NetworkError naming what listens and where, not Node's own words as an "unexpected error".
 */
export async function listenServer(server: Server, host: string, port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (cause: Error): void => reject(new NetworkError(`${what}: cannot listen on ${host}:${port}: ${cause.message}`, {}, { cause }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
