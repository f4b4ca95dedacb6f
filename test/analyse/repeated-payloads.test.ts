import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { num, withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/**
 * One device sends six packets 10 ms apart: sends 0, 2, 3 and 5 carry the same bytes (a heartbeat), 1 and 4 their own.
 * The primary receives every send once and the heartbeat a fifth time (a duplicate); the mirror receives the heartbeat
 * twice only, and both unique packets. The k-th copy a backend received is the k-th send of those bytes, whatever came
 * in between: written straight into the store, so the test states exactly what each backend received. The primary
 * answers too, each answer naming the request's hash: a request's answer is the first with its hash at or after the
 * request reached the backend, whether that hash was answered once (a hash join) or several times (an ASOF join).
 */
const HEARTBEAT = 7777;
const SENDS = [HEARTBEAT, 1001, HEARTBEAT, HEARTBEAT, 1004, HEARTBEAT];

describe('identical payloads are followed copy by copy', () => {
  it('the k-th copy received is the k-th send; copies beyond the sends are duplicates, sends beyond the copies lost', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'repeated.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'repeated', kind: 'replay', protocol: 'generic', startedNs: 1_000_000_000n });
        await store.exec(
          `INSERT INTO sends SELECT $run_id, i, i, 0, 'A', '127.20.0.1', 40000, 20500, 20500,
             1000000000 + i * 10000000, 1000000000 + i * 10000000, ([${SENDS.join(', ')}])[i + 1], 60, 'opaque', true, NULL, NULL, NULL
           FROM range(6) t(i)`,
          { run_id: runId },
        );
        // (backend, payload hash, received at ms after the first send): the primary 1 ms after each send, plus a copy
        // of the heartbeat at 55 ms; the mirror the heartbeat at 2 and 32 ms (after sends 0 and 3), the rest 2 ms late.
        const received: [string, number, number][] = [
          ...SENDS.map((hash, i): [string, number, number] => ['primary', hash, i * 10 + 1]),
          ['primary', HEARTBEAT, 55],
          ['mirror', HEARTBEAT, 2],
          ['mirror', 1001, 12],
          ['mirror', HEARTBEAT, 32],
          ['mirror', 1004, 42],
        ];
        await store.exec(
          `INSERT INTO observations BY NAME
           SELECT $run_id AS run_id, 'relay>' || r.backend AS leg, 1000000000 + r.at_ms * 1000000 AS ts_ns,
                  '127.0.0.1' AS src_ip, 50000 AS src_port, '127.0.0.2' AS dst_ip, 20500 AS dst_port, 20500 AS route_port,
                  60 AS payload_bytes, r.hash AS payload_hash, 'opaque' AS kind, NULL AS match_key,
                  'backend:' || r.backend AS observer, NULL::BLOB AS payload, NULL::BIGINT AS reply_to_hash
           FROM (VALUES ${received.map(([backend, hash, at]) => `('${backend}', ${hash}, ${at})`).join(', ')}) r(backend, hash, at_ms)`,
          { run_id: runId },
        );
        // (request hash, answered at ms): the heartbeat at 3, 33 and 56 ms; 1001 at 10 ms, before its request arrived
        // (11 ms): no answer to it; 1004 at 44 ms.
        const answers: [number, number][] = [[HEARTBEAT, 3], [HEARTBEAT, 33], [HEARTBEAT, 56], [1001, 10], [1004, 44]];
        await store.exec(
          `INSERT INTO observations BY NAME
           SELECT $run_id AS run_id, 'primary>relay' AS leg, 1000000000 + a.at_ms * 1000000 AS ts_ns,
                  '127.0.0.2' AS src_ip, 20500 AS src_port, '127.0.0.1' AS dst_ip, 50000 AS dst_port, 20500 AS route_port,
                  8 AS payload_bytes, 9000 + a.hash AS payload_hash, 'ack' AS kind, NULL AS match_key,
                  'backend:primary' AS observer, NULL::BLOB AS payload, a.hash AS reply_to_hash
           FROM (VALUES ${answers.map(([hash, at]) => `(${hash}, ${at})`).join(', ')}) a(hash, at_ms)`,
          { run_id: runId },
        );
        await finishRun(store, runId, 'completed', 2_000_000_000n);
        const analysis = await analyseRun(store, 'repeated');
        const metric = (name: string, backend: string): number | null => analysis.metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? null;
        expect([metric('delivered', 'primary'), metric('lost', 'primary'), metric('duplicated', 'primary')]).toEqual([6, 0, 1]);
        expect([metric('delivered', 'mirror'), metric('lost', 'mirror'), metric('duplicated', 'mirror')]).toEqual([4, 2, 0]);
        const rows = await store.query(
          `SELECT uplink_id, backend, delivered, forward_latency_ms FROM packet_parity WHERE run_id = $run_id ORDER BY backend, uplink_id`,
          { run_id: runId },
        );
        const view = (backend: string): (number | null)[] =>
          rows.filter((row) => row.backend === backend).map((row) => (row.delivered === true ? num(row.forward_latency_ms) : null));
        // The mirror's second copy of the heartbeat (32 ms) is send 2's (20 ms), not send 3's (30 ms): sends 3 and 5 lost.
        expect(view('mirror')).toEqual([2, 2, 12, null, 2, null]);
        expect(view('primary')).toEqual([1, 1, 1, 1, 1, 1]);
        // Sends 0, 2, 3, 5 reached the primary at 1, 21, 31, 51 ms: the first heartbeat answer at or after each is at
        // 3, 33, 33, 56 ms (send 2 takes the answer that came after send 3 arrived: the ASOF rule, stated in the docs).
        const acks = await store.query(
          `SELECT acked, backend_ack_latency_ms AS ms FROM packet_parity WHERE run_id = $run_id AND backend = 'primary' ORDER BY uplink_id`,
          { run_id: runId },
        );
        expect(acks.map((row) => (row.acked === true ? num(row.ms) : row.acked))).toEqual([2, false, 12, 2, 3, 5]);
      });
    });
  });
});
