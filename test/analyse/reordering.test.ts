import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/**
 * Two devices, three packets each, sent in turn (A0 B1 A2 B3 A4 B5, 1 ms apart). The primary receives them in order;
 * the mirror receives A4 before A2, and B's packets between A's as sent. Written straight into the store, so the test
 * states exactly what each backend received.
 */
describe('reordering is judged per device', () => {
  it('a packet that reaches a backend before one its own device sent earlier is reordered; other devices\' packets in between are not', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'reorder.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'reorder', kind: 'replay', protocol: 'generic', startedNs: 1_000_000_000n });
        await store.exec(
          `INSERT INTO sends SELECT $run_id, i, i, 0, CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END,
             CASE WHEN i % 2 = 0 THEN '127.20.0.1' ELSE '127.20.0.2' END, 40000, 20500, 20500,
             1000000000 + i * 1000000, 1000000000 + i * 1000000, 1000 + i, 60, 'opaque', false, NULL, NULL, NULL
           FROM range(6) t(i)`,
          { run_id: runId },
        );
        // The mirror gets A4 (send 4) at A2's time plus 0.1 ms, and A2 at A4's time plus 0.1 ms.
        await store.exec(
          `INSERT INTO observations BY NAME
           SELECT $run_id AS run_id, 'relay>' || b AS leg,
                  s.actual_ns + 300000 + CASE WHEN b = 'mirror' AND s.send_no = 4 THEN -1900000 WHEN b = 'mirror' AND s.send_no = 2 THEN 2100000 ELSE 0 END AS ts_ns,
                  '127.0.0.1' AS src_ip, 50000 AS src_port, CASE b WHEN 'primary' THEN '127.0.0.2' ELSE '127.0.0.3' END AS dst_ip,
                  20500 AS dst_port, 20500 AS route_port, 60 AS payload_bytes, s.payload_hash, 'opaque' AS kind, NULL AS match_key,
                  'backend:' || b AS observer, NULL::BLOB AS payload, NULL::BIGINT AS reply_to_hash
           FROM sends s, (VALUES ('primary'), ('mirror')) v(b) WHERE s.run_id = $run_id`,
          { run_id: runId },
        );
        await finishRun(store, runId, 'completed', 2_000_000_000n);
        const analysis = await analyseRun(store, 'reorder');
        const reordered = (backend: string): number | null => analysis.metrics.find((m) => m.metric === 'reordered' && m.route === null && m.backend === backend)?.value ?? null;
        expect(reordered('primary')).toBe(0);
        expect(reordered('mirror')).toBe(1);
        const rows = await store.query("SELECT uplink_id, reordered FROM packet_parity WHERE run_id = $run_id AND backend = 'mirror' ORDER BY uplink_id", { run_id: runId });
        expect(rows.map((row) => row.reordered)).toEqual([false, false, false, false, true, false]);
      });
    });
  });
});
