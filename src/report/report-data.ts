import type { Analysis } from '../analyse/analysis.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, type Store } from '../store/store.ts';

const CDF_SQL = loadSql(import.meta.url, './sql/ack-latency-cdf.sql');
const DRIFT_SQL = loadSql(import.meta.url, './sql/drift-over-time.sql');
const LATENESS_SQL = loadSql(import.meta.url, './sql/lateness-over-time.sql');
export const CDF_PERCENTILES = [0, 1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.9, 100];

export interface Series {
  name: string;
  points: [number, number][];
}

/** What the charts of the HTML report draw, read from the store after an analysis. */
export interface ChartData {
  ackLatencyCdf: Series[];
  deliveryPerRoute: { route: string; backend: string; delivered: number; lost: number }[];
  driftOverTime: Series[];
  latenessOverTime: Series[];
}

export async function loadChartData(store: Store, analysis: Analysis): Promise<ChartData> {
  const runId = analysis.run.runId;
  const cdf = await store.query(CDF_SQL, { run_id: runId });
  const drift = await store.query(DRIFT_SQL, { run_id: runId });
  const startNs = analysis.run.startedNs ?? 0n;
  const lateness = await store.query(LATENESS_SQL, { run_id: runId, start_ns: startNs });
  const driftSeries = new Map<string, [number, number][]>();
  for (const row of drift) {
    const name = str(row.backend);
    driftSeries.set(name, [...(driftSeries.get(name) ?? []), [num(row.window_start_s), num(row.delivered)]]);
  }
  const sentPerWindow = new Map<number, number>();
  for (const row of drift) sentPerWindow.set(num(row.window_start_s), Math.max(sentPerWindow.get(num(row.window_start_s)) ?? 0, num(row.sent)));
  const metric = (name: string, route: number, backend: string): number => num(analysis.metrics.find((m) => m.metric === name && m.route === route && m.backend === backend)?.value);
  return {
    ackLatencyCdf: cdf.map((row) => ({
      name: str(row.backend),
      points: (row.points as number[]).map((ms, i) => [ms, CDF_PERCENTILES[i] ?? 100] as [number, number]),
    })),
    deliveryPerRoute: analysis.routes.flatMap((route) =>
      analysis.backends.map((backend) => ({ route: String(route.port), backend, delivered: metric('delivered', route.port, backend), lost: metric('lost', route.port, backend) })),
    ),
    driftOverTime: [
      { name: 'sent by devices', points: [...sentPerWindow].sort((a, b) => a[0] - b[0]) },
      ...[...driftSeries].map(([name, points]) => ({ name: `received by ${name}`, points })),
    ],
    latenessOverTime: [
      { name: 'p50', points: lateness.map((row) => [num(row.second), num(row.p50_us)] as [number, number]) },
      { name: 'p99', points: lateness.map((row) => [num(row.second), num(row.p99_us)] as [number, number]) },
    ],
  };
}
