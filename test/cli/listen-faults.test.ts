import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runParity } from '../helpers/run-parity.ts';

const HOST = '127.0.96.1';

async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

// An HTTP listener whose address was taken ended with Node's own words, "unexpected error: listen EADDRINUSE": what
// could not listen, and where, was left to guess. Every listener now says both (src/core/listen-server.ts).
describe('a listener whose address is taken', () => {
  it.each([
    { name: 'http-backend', args: (listen: string) => ['http-backend', '--listen', listen], says: 'HTTP backend live: cannot listen on' },
    { name: 'shadow-proxy', args: (listen: string) => ['shadow-proxy', '--listen', listen, '--live', 'http://127.0.96.2:1', '--shadow', 'http://127.0.96.3:1'], says: 'shadow proxy: cannot listen on' },
  ])('parity $name: one line naming what and where, exit 1', async ({ args, says }) => {
    const { server, port } = await occupy();
    try {
      const run = await runParity(args(`${HOST}:${port}`));
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(`parity: ${says} ${HOST}:${port}: listen EADDRINUSE`)]);
    } finally {
      server.close();
    }
  });
});
