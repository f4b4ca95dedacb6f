import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../src/report/screenshot.ts';
import { withStore } from '../../src/store/store.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const chromium = chromiumPath();
const chromiumReady = requirePrerequisite(chromium !== undefined, 'Chromium (apt-get install chromium) for the report.html browser test');

describe.runIf(chromiumReady)('report.html in headless Chromium', () => {
  it('shows the verdict and every chart, with no console error, and saves a screenshot beside the report', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'r.duckdb'), async (store) => {
        const result = await quickRun(store, dir, { name: 'html', mirror: { loss: '5%', ack_version: '3.0.0' }, formats: ['html', 'md', 'json', 'junit'], screenshot: true });
        const page = result.reports.page;
        expect(page).toBeDefined();
        expect(page?.errors).toEqual([]);
        expect(page?.verdict).toBe('NO_GO');
        expect(page?.charts.sort()).toEqual(['chart-ack-latency-cdf', 'chart-delivery', 'chart-drift', 'chart-lateness']);
        // At 1280 px, nothing is drawn past its card and no card scrolls sideways; no legend sits on a curve.
        expect(page?.overflows).toEqual([]);
        expect(page?.legendOverlaps).toEqual([]);
        const png = join(result.reports.dir, 'report.png');
        expect(existsSync(png)).toBe(true);
        expect(statSync(png).size).toBeGreaterThan(20_000);
        const html = readFileSync(join(result.reports.dir, 'report.html'), 'utf8');
        // Self-contained: no external resource of any kind.
        expect(html).not.toMatch(/<script|<link|src="http|href="http|@import|url\(/);
        expect(html).toContain('app version'.replace('app version', 'appVersion'));
        expect(html).toMatch(/class="diff">appVersion=3\.0\.0/);
        // Backend settings read as words, metrics by their names, time windows sized to the run.
        expect(html).toMatch(/mirror 127\.[\d.]+ \([^)]*loses 5% of requests, ACK app version 3\.0\.0\)/);
        expect(html).not.toMatch(/\{&quot;|round_trip_p95_ms/);
        expect(html).toMatch(/Drift over time \(packets per \d+(\.\d+)? s window\)/);
      });
    });
  });
});
