import type { Analysis } from '../analyse/analysis.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, type Store } from '../store/store.ts';

const CDF_SQL = loadSql(import.meta.url, './sql/ack-latency-cdf.sql');
const DRIFT_SQL = loadSql(import.meta.url, './sql/drift-over-time.sql');
const LATENESS_SQL = loadSql(import.meta.url, './sql/lateness-over-time.sql');
const SPAN_SQL = loadSql(import.meta.url, './sql/run-span.sql');
/** Window lengths a time chart may use, in seconds: the shortest that gives at most 60 windows is taken. */
const NICE_WINDOWS_S = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400];
const MAX_WINDOWS = 60;
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
  /** The unit the lateness series are in: µs while the p99 stays under 1 ms, else ms. */
  latenessUnit: 'µs' | 'ms';
  /** The window of the time charts, in seconds: about 20 to 60 windows whatever the run's length. */
  windowS: number;
  /** The run's length in seconds: the time axes span all of it. */
  spanS: number;
}

/** The shortest nice window that cuts `spanS` into at most 60 windows. */
export function timeWindowSeconds(spanS: number): number {
  return NICE_WINDOWS_S.find((w) => spanS / w <= MAX_WINDOWS) ?? (NICE_WINDOWS_S.at(-1) as number);
}

export async function loadChartData(store: Store, analysis: Analysis): Promise<ChartData> {
  const runId = analysis.run.runId;
  const cdf = await store.query(CDF_SQL, { run_id: runId });
  const [span] = await store.query(SPAN_SQL, { run_id: runId, start_ns: analysis.run.startedNs });
  const startNs = typeof span?.start_ns === 'bigint' ? span.start_ns : 0n;
  const spanS = Math.max(0, num(span?.span_s));
  const windowS = timeWindowSeconds(spanS);
  const drift = await store.query(DRIFT_SQL, { run_id: runId, start_ns: startNs, window_s: windowS });
  const lateness = await store.query(LATENESS_SQL, { run_id: runId, start_ns: startNs, window_s: windowS });
  const latenessUnit = lateness.every((row) => num(row.p99_us) < 1000) ? 'µs' : 'ms';
  const inUnit = (us: number): number => (latenessUnit === 'µs' ? us : us / 1000);
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
      { name: 'p50', points: lateness.map((row) => [num(row.window_start_s), inUnit(num(row.p50_us))] as [number, number]) },
      { name: 'p99', points: lateness.map((row) => [num(row.window_start_s), inUnit(num(row.p99_us))] as [number, number]) },
    ],
    latenessUnit,
    windowS,
    spanS,
  };
}
