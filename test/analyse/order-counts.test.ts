import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PG_ANALYSIS_STEPS } from '../../src/analyse/pg/analyse-pg-run.ts';
import { WS_ANALYSIS_STEPS } from '../../src/analyse/ws/analyse-ws-run.ts';
import { num, str, Store } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const RUN = 1;

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const store = await Store.open(join(dir, 'order.duckdb'));
    try {
      return await fn(store);
    } finally {
      store.close();
    }
  });
}

describe('out-of-order counts of the WebSocket and Postgres families (their SQL, real DuckDB)', () => {
  it('a gateway: a first copy below a seq its stream already delivered, duplicates apart', async () => {
    const rows = await withStore(async (store) => {
      for (let seq = 1; seq <= 6; seq++) await store.exec('INSERT INTO ws_sends VALUES ($run, $seq, $s, $st, $seq, 0, 0)', { run: RUN, seq, s: 's1', st: 'laps' });
      // gateway-a in order; gateway-b takes 3 before 2 and 6 before 5, and 3 again at the end (a duplicate, in no order).
      const arrivals = { 'gateway-a': [1, 2, 3, 4, 5, 6], 'gateway-b': [1, 3, 2, 4, 6, 5, 3] };
      for (const [gateway, seqs] of Object.entries(arrivals)) {
        for (const [i, seq] of seqs.entries()) await store.exec('INSERT INTO ws_receipts VALUES ($run, $g, $s, $st, $seq, $ns, false)', { run: RUN, g: gateway, s: 's1', st: 'laps', seq, ns: 1_000 * (i + 1) });
      }
      return store.query(WS_ANALYSIS_STEPS.gatewayLegs.sql, { run_id: RUN });
    });
    const of = (gateway: string): Record<string, number> => {
      const row = rows.find((r) => str(r.gateway) === gateway);
      return { delivered: num(row?.delivered), duplicated: num(row?.duplicated), reordered: num(row?.reordered) };
    };
    expect(of('gateway-a')).toEqual({ delivered: 6, duplicated: 0, reordered: 0 });
    expect(of('gateway-b')).toEqual({ delivered: 6, duplicated: 1, reordered: 2 });
  });

  it('a mirror: a statement received before one its session sent earlier', async () => {
    const [row] = await withStore(async (store) => {
      for (let send = 1; send <= 5; send++) {
        await store.exec("INSERT INTO pg_sends (run_id, send_no, session, seq, query, scheduled_ns, actual_ns, done_ns) VALUES ($run, $send, 'a', $send, 'SELECT 1', 0, 0, 0)", { run: RUN, send });
      }
      // The mirror receives the session's statements 1, 3, 2, 5, 4: 2 and 4 after a later one.
      for (const [i, send] of [1, 3, 2, 5, 4].entries()) {
        await store.exec("INSERT INTO pg_receipts (run_id, database, session, seq, received_ns, query) VALUES ($run, 'mirror', 'a', $send, $ns, $q)", { run: RUN, send, ns: 1_000 * (i + 1), q: `/*parity_send=${send}*/ SELECT 1` });
      }
      return store.query(PG_ANALYSIS_STEPS.mirrorOrder.sql, { run_id: RUN });
    });
    expect({ received: num(row?.received), outOfOrder: num(row?.out_of_order) }).toEqual({ received: 5, outOfOrder: 2 });
  });
});
