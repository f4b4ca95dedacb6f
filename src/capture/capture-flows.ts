import { loadSql } from '../store/sql-file.ts';
import type { Store } from '../store/store.ts';

const FLOWS_SQL = loadSql(import.meta.url, './sql/capture-flows.sql');

/**
 * A capture's flows in the temporary table `capture_flows` (capture-flows.sql), held while `fn` runs: inferring its
 * route ports and finding the relay's legs each read every packet of the capture for themselves (25-50 and 45-75 ms a
 * million packets), and both need only the flows.
 */
export async function withCaptureFlows<T>(store: Store, captureId: number, fn: (flows: CaptureFlows) => Promise<T>): Promise<T> {
  await store.exec(FLOWS_SQL, { capture_id: captureId });
  try {
    return await fn({ captureId });
  } finally {
    await store.exec('DROP TABLE IF EXISTS capture_flows');
  }
}

/** Proof that `capture_flows` holds this capture's flows: what the queries over it take. */
export interface CaptureFlows {
  readonly captureId: number;
}
