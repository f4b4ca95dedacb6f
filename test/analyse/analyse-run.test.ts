import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { parseThresholds } from '../../src/analyse/thresholds.ts';
import { withStore } from '../../src/store/store.ts';
import { LOAD_PROOF_THRESHOLDS, quickRun } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

describe('analysis of runs with injected differences', () => {
  it('identical backends: GO, every uplink delivered to both, every requested ACK answered and matched', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        const { analysis } = await quickRun(store, dir, { name: 'same' });
        expect(analysis.verdict).toBe('GO');
        const metric = (name: string, backend: string | null): number | null => analysis.metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? null;
        expect(metric('lost', 'primary')).toBe(0);
        expect(metric('lost', 'mirror')).toBe(0);
        expect(metric('sent', 'mirror')).toBe(metric('delivered', 'mirror'));
        expect(metric('acked', 'mirror')).toBe(metric('ack_expected', 'mirror'));
        expect(metric('ack_mismatch_rate', 'mirror')).toBe(0);
        expect(metric('device_ack_rate', null)).toBe(1);
        // The packet_parity table is there for anyone to query: one row per uplink packet and backend.
        const [row] = await store.query("SELECT count(*) n, count(DISTINCT uplink_id) uplinks FROM packet_parity JOIN runs USING (run_id) WHERE name = 'same-1'");
        expect(row?.n).toBe((row?.uplinks as bigint) * 2n);
        // Where the analysis's time went, step by step, in the order the steps ran (the bench prints it).
        const steps = analysis.steps.map((s) => s.step);
        expect(steps.indexOf('01-uplink')).toBeLessThan(steps.indexOf('05-backend-legs mirror'));
        // The legs' sorts run one backend at a time, each backend's legs before the packets are judged, all at once.
        expect(steps.filter((s) => s.startsWith('05-backend-legs')).sort()).toEqual(['05-backend-legs mirror', '05-backend-legs primary']);
        expect(steps.filter((s) => s.startsWith('05c-packet-parity'))).toEqual(['05c-packet-parity']);
        expect(steps.indexOf('05-backend-legs primary')).toBeLessThan(steps.indexOf('05c-packet-parity'));
        expect(steps.indexOf('05c-packet-parity')).toBeLessThan(steps.indexOf('08-backend-metrics'));
        expect(steps).toContain('compare backend ACKs field by field');
        expect(analysis.steps.every((s) => Number.isFinite(s.seconds) && s.seconds >= 0)).toBe(true);
      });
    });
  });

  it('a per-route threshold override and ignored ACK fields change the verdict, and a baseline turns a regression into a finding', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        const slow = await quickRun(store, dir, { name: 'slow', mirror: { latency: '1500ms', ack_version: '1.0.0' } });
        expect(slow.analysis.verdict).toBe('NO_GO');
        const lenient = parseThresholds(
          { ...LOAD_PROOF_THRESHOLDS, routes: { 20500: { ack_latency_p95_ms: { warning: 4000, critical: 9000 } } }, ignore_ack_fields: ['appVersion'] },
          'inline',
        );
        const relaxed = await analyseRun(store, slow.runName, { thresholds: lenient });
        expect(relaxed.verdict).toBe('GO');
        // Against a fast baseline run, the slow mirror's p95 is a regression even where thresholds pass it.
        const fast = await quickRun(store, dir, { name: 'fast' });
        const compared = await analyseRun(store, slow.runName, { thresholds: lenient, baseline: fast.runName });
        expect(compared.verdict).toBe('NO_GO');
        expect(compared.findings.some((f) => f.kind === 'regression' && f.backend === 'mirror' && f.metric === 'ack_latency_p95_ms')).toBe(true);
        // A report.json works as a baseline too.
        await analyseRun(store, fast.runName);
        const reportJson = join(dir, 'fast.json');
        const { writeFileSync } = await import('node:fs');
        const { toReportJson } = await import('../../src/report/report-json.ts');
        writeFileSync(reportJson, JSON.stringify(toReportJson(await analyseRun(store, fast.runName))));
        const fromFile = await analyseRun(store, slow.runName, { thresholds: lenient, baseline: reportJson });
        expect(fromFile.findings.filter((f) => f.kind === 'regression').map((f) => f.metric)).toContain('ack_latency_p95_ms');
        expect(JSON.parse(readFileSync(reportJson, 'utf8')).schemaVersion).toBe(1);
        // A damaged one is refused, naming the entry: a value as a string was read as 0, moving every comparison.
        const damaged = JSON.parse(readFileSync(reportJson, 'utf8')) as { metrics: { value: unknown }[] };
        (damaged.metrics[0] as { value: unknown }).value = String(damaged.metrics[0]?.value);
        writeFileSync(join(dir, 'damaged.json'), JSON.stringify(damaged));
        await expect(analyseRun(store, slow.runName, { thresholds: lenient, baseline: join(dir, 'damaged.json') })).rejects.toThrow(/damaged\.json: metrics\[0\]\.value must be a number or null$/);
        writeFileSync(join(dir, 'null.json'), 'null');
        await expect(analyseRun(store, slow.runName, { thresholds: lenient, baseline: join(dir, 'null.json') })).rejects.toThrow(/null\.json: has no "metrics" list/);
      });
    });
  });
});
