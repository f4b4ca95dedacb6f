import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin } from '../../src/backends/pg/pg-cluster.ts';
import { isMachineBound, machineBoundVerdict } from '../helpers/machine-bound-findings.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { killAllParity, PARITY_BIN, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");

/**
 * A team's own pooler, as a scenario runs it: a command given the databases' addresses in its environment, read
 * through its /metrics. Here the command is `parity pg-pooler`, a process the run does not reach into.
 */
describe.runIf(ready)('a Postgres scenario through an external pooler', () => {
  it('starts it per run from the environment it is given, reads its /metrics, and judges it like the reference one', async () => {
    await withTempDir(async (dir) => {
      const command = `${process.execPath} ${PARITY_BIN} pg-pooler --listen $PARITY_POOLER_HOST:$PARITY_POOLER_PORT --primary $PARITY_PRIMARY \${PARITY_MIRROR:+--mirror $PARITY_MIRROR} --exposure 100% --queue $PARITY_MIRROR_QUEUE --metrics-port $PARITY_METRICS_PORT`;
      const scenario = join(dir, 'external.yaml');
      writeFileSync(
        scenario,
        ['name: pg-external', 'protocol: pg', 'traffic:', '  generate: { sessions: 4, statements: 40, gap: 10ms, seed: 2 }', 'pooler:', '  mirror_exposure: 100%', `  external: { command: ${JSON.stringify(command)}, port: 16451, metrics_port: 19451 }`, 'replay: { speed: 1x }', 'expect: { verdict: GO }', ''].join('\n'),
      );
      const run = await runParity(['run', scenario, '--db', join(dir, 'pg.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 120_000 });
      const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      // GO, or only what a machine too busy for its latencies makes of them (isMachineBound); either way exit 1 unless GO,
      // as expecting GO and not getting it is.
      expect(report.findings.filter((f) => !isMachineBound(f)), run.stderr).toEqual([]);
      expect(report.verdict).toBe(machineBoundVerdict(report.findings));
      expect(run.code, run.stderr).toBe(report.verdict === 'GO' ? 0 : 1);
      const value = (metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;
      // Its counts came from its own /metrics: it mirrored every request it counted.
      expect(value('mirror_share', null)).toBe(1);
      expect(value('delivered', 'mirror')).toBe(value('sent', null));
      // Its output is kept beside the run's reports.
      expect(existsSync(join(runDir, 'pooler.log'))).toBe(true);
      expect(readFileSync(join(runDir, 'pooler.log'), 'utf8')).toContain('mirroring pooler listening on');
    });
  }, 150_000);
});
