import type { Store } from '../store/store.ts';
import type { Analysis } from './analysis.ts';

export async function captureNameOf(store: Store, captureId: number | null): Promise<string | null> {
  if (captureId === null) return null;
  const [row] = await store.query('SELECT name FROM captures WHERE capture_id = $id', { id: captureId });
  return typeof row?.name === 'string' ? row.name : null;
}

/** Stores an analysis's metrics (route_metrics) and its verdict (verdicts accumulate). */
export async function storeAnalysis(store: Store, analysis: Analysis): Promise<void> {
  const runId = analysis.run.runId;
  const labels = new Map(analysis.routes.map((route) => [route.port, route]));
  const appender = await store.createAppender('route_metrics');
  for (const m of analysis.metrics) {
    const route = m.route === null ? undefined : labels.get(m.route);
    appender.appendInteger(runId);
    if (m.route === null) appender.appendNull();
    else appender.appendInteger(m.route);
    appender.appendVarchar(route?.customer ?? '');
    appender.appendVarchar(route?.device ?? '');
    if (m.backend === null) appender.appendNull();
    else appender.appendVarchar(m.backend);
    appender.appendVarchar(m.metric);
    if (m.value === null || Number.isNaN(m.value)) appender.appendNull();
    else appender.appendDouble(m.value);
    appender.appendVarchar(m.unit);
    if (m.status === null) appender.appendNull();
    else appender.appendVarchar(m.status);
    if (m.uncertainty === undefined) appender.appendNull();
    else appender.appendDouble(m.uncertainty);
    appender.endRow();
  }
  appender.closeSync();
  await store.exec('INSERT INTO verdicts (run_id, verdict, findings, thresholds, baseline) VALUES ($run_id, $verdict, $findings, $thresholds, $baseline)', {
    run_id: runId,
    verdict: analysis.verdict,
    findings: JSON.stringify(analysis.findings),
    thresholds: JSON.stringify(analysis.thresholds),
    baseline: analysis.baseline,
  });
}
