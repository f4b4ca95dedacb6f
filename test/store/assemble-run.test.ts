import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Metric } from '../../src/analyse/analysis.ts';
import { exportRunParquet } from '../../src/report/export-parquet.ts';
import { withStore, type Store } from '../../src/store/store.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const HOSTS = 3;
// Each "host" keeps time on its own monotonic clock: its times differ from the others' by whole seconds.
const CLOCK_SKEW_NS = [0n, 7_000_000_123n, -3_500_000_777n] as const;

/**
 * Writes one run's export as three hosts would have written theirs: each replays a third of the devices (its sends,
 * numbered from 0, and the ACKs its devices got), a third of the backends' observations, on a clock of its own, with
 * its share of the replay counters; each part's runs.parquet says how its clock maps to the wall clock.
 */
async function splitThreeWays(store: Store, whole: string, out: string): Promise<void> {
  const file = (table: string): string => `'${join(whole, `${table}.parquet`)}'`;
  for (let host = 0; host < HOSTS; host++) {
    const dir = join(out, `host-${host}`);
    mkdirSync(dir, { recursive: true });
    const skew = CLOCK_SKEW_NS[host] ?? 0n;
    const mine = `hash(local_ip) % ${HOSTS} = ${host}`;
    await store.exec(`COPY (SELECT * REPLACE (row_number() OVER (ORDER BY send_no) - 1 AS send_no, scheduled_ns + ${skew} AS scheduled_ns, actual_ns + ${skew} AS actual_ns)
      FROM read_parquet(${file('sends')}) WHERE ${mine}) TO '${join(dir, 'sends.parquet')}' (FORMAT parquet)`);
    await store.exec(`COPY (SELECT * REPLACE (ts_ns + ${skew} AS ts_ns) FROM read_parquet(${file('observations')})
      WHERE CASE WHEN leg = 'relay>device' THEN hash(dst_ip) ELSE hash(ts_ns, leg, payload_hash) END % ${HOSTS} = ${host}) TO '${join(dir, 'observations.parquet')}' (FORMAT parquet)`);
    await store.exec(`COPY (SELECT * REPLACE (ts_ns + ${skew} AS ts_ns) FROM read_parquet(${file('relay_samples')}) WHERE ${host} = 0) TO '${join(dir, 'relay_samples.parquet')}' (FORMAT parquet)`);
    // The host's counters: its own sends; rates a third each; the same lateness; the taps' counters on one host.
    const shares = `(SELECT count(*) FROM read_parquet('${join(dir, 'sends.parquet')}'))`;
    await store.exec(`COPY (SELECT * REPLACE (started_ns + ${skew} AS started_ns, ended_ns + ${skew} AS ended_ns, wall_offset_ns - ${skew} AS wall_offset_ns,
        json_merge_patch(stats, json_object('planned', ${shares}, 'sent', ${shares},
          'acks', CASE ${host} WHEN 0 THEN stats->>'$.acks' ELSE '0' END::BIGINT,
          'askedRatePps', (stats->>'$.askedRatePps')::DOUBLE / ${HOSTS}, 'achievedRatePps', (stats->>'$.achievedRatePps')::DOUBLE / ${HOSTS},
          'observers', CASE ${host} WHEN 0 THEN stats->'$.observers' ELSE '[]'::JSON END)) AS stats)
      FROM read_parquet(${file('runs')})) TO '${join(dir, 'runs.parquet')}' (FORMAT parquet)`);
  }
}

const judged = (metrics: readonly Metric[]): Record<string, number | null> =>
  Object.fromEntries(
    metrics
      .filter((m) => !m.metric.startsWith('replay_'))
      .map((m) => [`${m.metric}|${m.route ?? '*'}|${m.backend ?? '-'}`, m.value === null ? null : Math.round(m.value * 1e6) / 1e6]),
  );

describe('a run replayed from several hosts, assembled from their Parquet exports', () => {
  it('split three ways on three clocks, it gives the verdict and metrics of the whole', async () => {
    await withTempDir(async (dir) => {
      const exports = join(dir, 'exports', 'split');
      let whole: Awaited<ReturnType<typeof quickRun>>['analysis'] | undefined;
      await withStore(join(dir, 'one-host.duckdb'), async (store) => {
        const result = await quickRun(store, dir, { name: 'split', mirror: { loss: '5%', ack_version: '3.0.0' } });
        whole = result.analysis;
        await exportRunParquet(store, result.runName, join(dir, 'whole'));
        await splitThreeWays(store, join(dir, 'whole'), exports);
      });
      expect(whole?.verdict).toBe('NO_GO');
      const runName = whole?.run.name ?? '';
      const assembled = await runParity(['analyse', runName, '--from-parquet', exports, '--db', join(dir, 'assembled.duckdb'), '--json'], { timeoutMs: 60_000 });
      expect(assembled.stderr).toMatch(/host-0: \d+ sends/);
      const report = JSON.parse(assembled.stdout) as { verdict: string; metrics: Metric[]; tested: { status: string } };
      expect(report.verdict).toBe(whole?.verdict);
      expect(report.tested.status).toBe('completed');
      expect(judged(report.metrics)).toEqual(judged(whole?.metrics ?? []));
      expect(report.metrics.find((m) => m.metric === 'replay_lateness_p99_us')?.value).toBe(whole?.metrics.find((m) => m.metric === 'replay_lateness_p99_us')?.value);

      // The same parts again into the same store: refused, naming the store; a part of another run: refused, naming its file.
      const again = await runParity(['analyse', runName, '--from-parquet', exports, '--db', join(dir, 'assembled.duckdb')]);
      expect(again.code).toBe(2);
      expect(again.stderr.trim().split('\n')).toHaveLength(1);
      expect(again.stderr).toContain('already holds a run');
      const other = await runParity(['analyse', 'another-1', '--from-parquet', exports, '--db', join(dir, 'other.duckdb')]);
      expect(other.stderr).toMatch(/host-0\/runs\.parquet: is run "split-\d+", not "another-1"/);

      // A part cut short: refused in one line naming its file, and nothing kept, so the same store takes the mended
      // parts. (Half assembled, the run of the other parts was left abandoned, the relay blamed for every packet the
      // missing observations would have shown, and a second try refused as "already holds a run".)
      const damaged = join(dir, 'exports', 'damaged');
      cpSync(exports, damaged, { recursive: true });
      const cut = join(damaged, 'host-2', 'observations.parquet');
      const bytes = readFileSync(cut);
      writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
      const store = join(dir, 'mended.duckdb');
      const refused = await runParity(['analyse', runName, '--from-parquet', damaged, '--db', store]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(`${cut}: cannot be read as a part of the run`);
      expect((await runParity(['runs', '--db', store])).stdout).toContain('no runs');
      writeFileSync(cut, bytes);
      const mended = await runParity(['analyse', runName, '--from-parquet', damaged, '--db', store, '--json'], { timeoutMs: 60_000 });
      expect((JSON.parse(mended.stdout) as { verdict: string }).verdict).toBe(whole?.verdict);
    });
  });
});
