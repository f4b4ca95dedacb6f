import { analyseRun } from '../src/analyse/analyse-run.ts';
import { describeLargeWork, Store } from '../src/store/store.ts';
import { reportPhase } from './bench-util.ts';

/** What one measuring process reports to the analysis bench (bench/analyse.ts), with its peak RSS (reportPhase). */
export interface AnalysisProcessReport {
  seconds: number;
  observations: number;
  steps: { step: string; seconds: number }[];
  verdict: string;
  findings: string[];
  /** The pages the analysis ran in (Store.readyForLargeWork), and why; undefined for a run too small to ask. */
  pages?: string;
}

/**
 * `node src/cli/run-ts.js bench/analyse-process.ts STORE anchor|analyse`: one measurement of the analysis bench in a
 * process of its own, as `parity analyse` runs: `anchor` times one pass over the run's observations, `analyse` the
 * analysis of run "bench", and its peak RSS is the analysis's own, not the writer's that generated the run.
 */
async function measure(path: string, mode: string): Promise<AnalysisProcessReport> {
  const store = await Store.open(path);
  try {
    const [counts] = await store.query('SELECT count(*) AS observations FROM observations');
    const started = process.hrtime.bigint();
    const analysis =
      mode === 'anchor'
        ? (await store.query('SELECT leg, count(*), quantile_cont(ts_ns, 0.99), count(DISTINCT payload_hash) FROM observations GROUP BY leg'), undefined)
        : await analyseRun(store, 'bench');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      seconds,
      observations: Number(counts?.observations ?? 0),
      steps: analysis?.steps ?? [],
      verdict: analysis?.verdict ?? '',
      findings: analysis?.findings.map((f) => f.message) ?? [],
      ...(store.largeWork !== undefined && { pages: describeLargeWork(store.largeWork) }),
    };
  } finally {
    store.close();
  }
}

const [path, mode] = process.argv.slice(2);
if (path === undefined || (mode !== 'anchor' && mode !== 'analyse')) throw new Error('usage: analyse-process.ts STORE anchor|analyse');
reportPhase<AnalysisProcessReport>(await measure(path, mode));
