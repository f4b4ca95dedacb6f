import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RelayPoller } from '../../src/observe/relay-poller.ts';
import { createRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/** A relay's debug server as the fan-out spec has it, minus /debug/targets: it counts what it is asked. */
async function debugServer(): Promise<{ server: Server; url: string; asked: string[] }> {
  const asked: string[] = [];
  let sent = 0;
  const server = createServer((request, response) => {
    asked.push(request.url ?? '');
    if (request.url === '/debug/parity') response.end(JSON.stringify({ sent: ++sent }));
    else if (request.url === '/metrics') response.end(`udp_relay_packets_received_total ${sent}\n`);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.31.41', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, url: `http://127.0.31.41:${address.port}`, asked };
}

describe('the relay poller (real HTTP, real DuckDB)', () => {
  it('takes a first sample before it returns and a last one when stopped; an endpoint the relay does not serve is asked once', async () => {
    const relay = await debugServer();
    try {
      await withTempDir(async (dir) => {
        await withStore(join(dir, 'p.duckdb'), async (store) => {
          const runId = await createRun(store, { name: 'polled', kind: 'replay', protocol: 'generic' });
          const poller = new RelayPoller(store, runId, relay.url);
          await poller.start();
          const first = await store.query('SELECT endpoint FROM relay_samples WHERE run_id = $id ORDER BY endpoint', { id: runId });
          expect(first.map((r) => r.endpoint)).toEqual(['/debug/parity', '/metrics']);
          await poller.stop();
          const rows = await store.query('SELECT endpoint, body FROM relay_samples WHERE run_id = $id ORDER BY ts_ns', { id: runId });
          const parity = rows.filter((r) => r.endpoint === '/debug/parity').map((r) => JSON.parse(String(r.body)) as { sent: number });
          // The last sample is the one taken at the stop: the run's final counters.
          expect(parity.at(-1)?.sent).toBe(relay.asked.filter((u) => u === '/debug/parity').length);
          expect(relay.asked.filter((u) => u === '/debug/targets')).toHaveLength(1);
          expect(poller.samples).toBe(rows.length);
        });
      });
    } finally {
      await new Promise((resolve) => relay.server.close(resolve));
    }
  });

  it('a relay that does not answer costs samples, never the run', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'p.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'silent', kind: 'replay', protocol: 'generic' });
        // Nothing listens there: every poll fails, and start and stop still return.
        const poller = new RelayPoller(store, runId, 'http://127.0.31.42:9');
        await poller.start();
        await poller.stop();
        expect(poller.samples).toBe(0);
      });
    });
  });
});
