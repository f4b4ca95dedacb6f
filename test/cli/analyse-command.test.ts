import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withStore } from '../../src/store/store.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const dir = mkdtempSync(join(tmpdir(), 'parity-analyse-cli-'));
const db = join(dir, 'runs.duckdb');

// Its store is shared by every test here, and removed after them (each run left one in /tmp before).
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await withStore(db, async (store) => {
    await quickRun(store, dir, { name: 'good' });
    // 1.5 s: a warning under the load-proof bounds quickRun stores with its runs (1 s to 5 s), whatever the load.
    await quickRun(store, dir, { name: 'slow', mirror: { latency: '1500ms' } });
    await quickRun(store, dir, { name: 'bad', mirror: { loss: '10%' } });
  });
}, 120_000);

describe('parity analyse and parity report (subprocess)', () => {
  it.each([
    { run: 'good-1', args: [], code: 0, verdict: /GO \(all metrics healthy\)/ },
    { run: 'slow-1', args: [], code: 0, verdict: /GO WITH WARNINGS/ },
    { run: 'slow-1', args: ['--strict'], code: 1, verdict: /GO WITH WARNINGS/ },
    { run: 'bad-1', args: [], code: 1, verdict: /NO-GO/ },
  ])('analyse $run $args exits $code', async ({ run, args, code, verdict }) => {
    const result = await runParity(['analyse', run, '--db', db, ...args]);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout).toMatch(verdict);
  });

  it.each([
    { args: ['analyse', 'nope', '--db', db], message: /run "nope" is not in .*runs in it: .*good-1/ },
    { args: ['analyse', 'good-1', '--db', db, '--thresholds', join(dir, 'missing.yaml')], message: /missing\.yaml: cannot be read/ },
    { args: ['report', 'good-1', '--db', db, '--format', 'pdf'], message: /unknown format "pdf"/ },
    // A picture of a page that would not be written: refused, not skipped.
    { args: ['report', 'good-1', '--db', db, '--format', 'md,json', '--screenshot'], message: /^parity: --screenshot is a picture of report\.html, which --format md,json does not write: add html/ },
  ])('exits 2 with one line for bad usage or input: $args', async ({ args, message }) => {
    const result = await runParity(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('report writes report.md, report.json and junit.xml with one test case per metric and route', async () => {
    await withTempDir(async (out) => {
      const result = await runParity(['report', 'bad-1', '--db', db, '--out', out, '--format', 'md,json,junit']);
      expect(result.code).toBe(1);
      const md = readFileSync(join(out, 'bad-1', 'report.md'), 'utf8');
      expect(md).toMatch(/^## ❌ NO-GO: parity run `bad-1`/);
      expect(md).toContain('| 20500 | mirror |');
      const json = JSON.parse(readFileSync(join(out, 'bad-1', 'report.json'), 'utf8')) as { verdict: string; metrics: { metric: string; route: number | null; backend: string | null; status: string | null }[]; findings: { message: string }[] };
      expect(json.verdict).toBe('NO_GO');
      expect(json.findings.some((f) => f.message.startsWith('mirror: frame drop rate'))).toBe(true);
      const junit = readFileSync(join(out, 'bad-1', 'junit.xml'), 'utf8');
      // One test case per judged metric: route-level ones, and all-routes ones no route judged (each finding once).
      const routeJudged = new Set(json.metrics.filter((m) => m.status !== null && m.route !== null).map((m) => `${m.metric}|${m.backend}`));
      const judged = json.metrics.filter((m) => m.status !== null && (m.route !== null || !routeJudged.has(`${m.metric}|${m.backend}`))).length;
      expect(junit.match(/<testcase /g)?.length).toBe(judged);
      expect(junit).toMatch(/<failure message="frame drop rate \(route 20500 mirror\)/);
      expect(existsSync(join(out, 'bad-1', 'report.html'))).toBe(false);
    });
  });

  it('runs lists the runs with their latest verdict, and export writes a run\'s tables as Parquet', async () => {
    const runs = await runParity(['runs', '--db', db, '--json']);
    const list = JSON.parse(runs.stdout) as { name: string; kind: string; verdict: string | null }[];
    expect(list.map((r) => r.name)).toEqual(['good-1', 'slow-1', 'bad-1']);
    expect(list.every((r) => r.kind === 'scenario')).toBe(true);
    expect(list.find((r) => r.name === 'bad-1')?.verdict).toBe('NO_GO');
    await withTempDir(async (out) => {
      const exported = await runParity(['export', 'bad-1', '--parquet', out, '--db', db]);
      expect(exported.code).toBe(0);
      await withStore(join(out, 'check.duckdb'), async (store) => {
        const [row] = await store.query(`SELECT count(*) n, count(DISTINCT backend) backends FROM '${join(out, 'packet_parity.parquet')}'`);
        expect(row?.backends).toBe(2n);
        expect(Number(row?.n)).toBeGreaterThan(100);
      });
    });
  });

  it('a thresholds file can turn the slow run green', async () => {
    const thresholds = join(dir, 'lenient.yaml');
    writeFileSync(thresholds, 'ack_latency_p95_ms: { warning: 4000, critical: 9000 }\nrelay_added_latency_p95_ms: { warning: 2000, critical: 10000 }\n');
    const result = await runParity(['analyse', 'slow-1', '--db', db, '--thresholds', thresholds, '--strict']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/GO \(all metrics healthy\)/);
  });
});
