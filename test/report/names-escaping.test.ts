import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { writeReports } from '../../src/report/write-reports.ts';
import { withStore } from '../../src/store/store.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/** Markup, quotes, a newline, a pipe, a backtick, a control character and path separators, all in one name. */
const HOSTILE = '<b onmouseover="x">run</b>\'s|`name`\n\u0007../../../escape';

describe('names are safe in files and in every report format', () => {
  it.each([
    ['replay', ['replay', 'fleet', '--relay', '127.0.0.1', '--run', '../../escape']],
    ['record --capture', ['record', '--tap', '127.0.0.1:1=127.0.0.1:2', '--capture', 'a/b']],
    ['record --run', ['record', '--tap', '127.0.0.1:1=127.0.0.1:2', '--run', '<b>']],
    ['import --name', ['import', 'x.pcap', '--name', '..']],
  ])('%s refuses an unusable name with one line and exit 2, before touching anything', async (_what, args) => {
    await withTempDir(async (dir) => {
      const run = await runParity([...args, '--db', join(dir, 'p.duckdb')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/is not a usable name: use letters, digits/);
    });
  });

  it('a run whose name and route labels hold markup, quotes, newlines and path separators reports inside --out, escaped everywhere', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'n.duckdb'), async (store) => {
        const customer = '<i>"acme"</i> | fleet\nnext';
        const result = await quickRun(store, dir, { name: 'names', relay: { customer, device: 'cal`amp' }, formats: ['json'] });
        // A store written before names were checked may hold any name: set one directly, as such a store would.
        await store.exec('UPDATE runs SET name = $name WHERE name = $old', { name: HOSTILE, old: result.runName });
        const analysis = await analyseRun(store, HOSTILE);
        const out = join(dir, 'out');
        const written = await writeReports(store, analysis, { outDir: out, formats: ['html', 'md', 'json', 'junit'], screenshot: false });

        for (const file of written.files) expect(relative(out, file).startsWith('..')).toBe(false);
        expect(readdirSync(out)).toHaveLength(1);
        expect(existsSync(join(dir, 'escape'))).toBe(false);

        const html = readFileSync(join(written.dir, 'report.html'), 'utf8');
        expect(html).not.toContain('<b onmouseover');
        expect(html).not.toContain('<i>"acme"');
        expect(html).toContain('&lt;b onmouseover=&quot;x&quot;&gt;');
        expect(html).toContain('&lt;i&gt;&quot;acme&quot;&lt;/i&gt;');
        expect(html).not.toContain('\u0007');

        const junit = readFileSync(join(written.dir, 'junit.xml'), 'utf8');
        expect(junit).not.toMatch(/<b |<i>/);
        expect(junit).not.toContain('\u0007');
        expect(junit).toContain('&lt;b onmouseover=&quot;x&quot;&gt;');
        // Every attribute value is closed where it should be: no quote from the name breaks out of one.
        for (const tag of junit.match(/<testcase [^>]*>/g) ?? []) expect(tag).toMatch(/^<testcase classname="[^"]*" name="[^"]*">$/);

        const md = readFileSync(join(written.dir, 'report.md'), 'utf8');
        // Outside code spans (where text is literal) no tag is left to render.
        expect(md.replace(/`[^`\n]*`/g, '')).not.toMatch(/<b |<i>/);
        expect(md).not.toContain('\u0007');
        const heading = md.split('\n').find((line) => line.startsWith('## '));
        expect(heading).toMatch(/parity run `<b onmouseover="x">run<\/b>'s\|'name' \.\.\/\.\.\/\.\.\/escape`$/);
        // Each table row stays one row with its columns: the pipe and newline in the route label are escaped.
        const rows = md.split('\n').filter((line) => line.startsWith('| 20500'));
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows) {
          expect(row).toContain('&lt;i&gt;"acme"&lt;/i&gt; \\| fleet next');
          expect(row.split(/(?<!\\)\|/).length).toBe(md.split('\n').find((line) => line.startsWith('| route'))?.split('|').length);
        }

        const json = JSON.parse(readFileSync(join(written.dir, 'report.json'), 'utf8')) as { run: string };
        expect(json.run).toBe(HOSTILE);
      });
    });
  });
});
