import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importHarFile } from '../../src/capture/http/import-har.ts';
import { importPgCsvlog } from '../../src/capture/pg/import-csvlog.ts';
import { importFrameRecording } from '../../src/capture/ws/import-frames.ts';
import { Store } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { expectOneLineFault, fuzzBudgetMs, fuzzTextFiles } from '../helpers/fuzz.ts';

/**
 * The text formats `parity import` reads (HAR, frame recordings, PostgreSQL csvlogs), mutated: bytes flipped, cut,
 * inserted, and values replaced by the ones parsers trip on. As the capture fuzz: a fixed seed, MIN_CASES always, then
 * until the budget is spent (`PARITY_FUZZ_BUDGET_MS` raises it). Its first run found three faults that ended an import
 * with a stack trace or a message over several lines: a recording's `ts` of 1e308 (BigInt of Infinity), a csvlog
 * whose quote is left open (the parser's fault met again while the rows before it were read a second time) and a HAR
 * that is not JSON (the parser's message quoting the file's own lines).
 */
const SEED = 20_261_204;
const MIN_CASES = 100;
const TIME_BUDGET_MS = fuzzBudgetMs(8_000);

const harEntry = (i: number): object => ({
  startedDateTime: `2026-01-01T00:00:0${i}.123456Z`,
  time: 5 + i,
  request: {
    method: i % 2 === 1 ? 'POST' : 'GET',
    url: `http://127.0.0.1:8080/v1/items?i=${i}`,
    httpVersion: 'HTTP/1.1',
    headers: [{ name: 'x-tenant', value: 'north' }],
    bodySize: i % 2 === 1 ? 4 : 0,
    ...(i % 2 === 1 && { postData: { mimeType: 'text/plain', text: 'body' } }),
  },
  response: {
    status: 200,
    httpVersion: 'HTTP/1.1',
    headers: [{ name: 'content-type', value: 'text/plain' }],
    content: i % 3 === 0 ? { size: 2, mimeType: 'text/plain', text: 'ok' } : { size: 2, mimeType: 'text/plain', text: 'b2s=', encoding: 'base64' },
    bodySize: 2,
  },
});

/** A csvlog row as PostgreSQL writes it (23 columns, text quoted); row 3 is the ERROR of the statement before it. */
function csvlogRow(i: number): string {
  const [severity, sqlstate, message] = i === 3 ? ['ERROR', '22012', 'division by zero'] : ['LOG', '00000', i === 2 ? 'execute s1: SELECT $1, $2' : `statement: SELECT ${i}`];
  const detail = i === 2 ? `"parameters: $1 = '1', $2 = 'o''brien'"` : '';
  return `2026-01-01 00:00:0${i}.123 UTC,"postgres","ledger",100,"127.0.0.1:5000",6750f0a1.64,${i},"idle",2026-01-01 00:00:00 UTC,3/1,0,${severity},${sqlstate},"${message}",${detail},,,,,,,,"psql"\n`;
}

const SEEDS = [
  { ext: 'har', text: JSON.stringify({ log: { version: '1.2', creator: { name: 'test', version: '1' }, entries: [0, 1, 2, 3, 4, 5].map(harEntry) } }, null, 1) },
  { ext: 'ndjson', text: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${JSON.stringify({ ts: 1.7e12 + i, sessionId: `s${i % 2}`, stream: 'telemetry', seq: i, text: `frame ${i}` })}\n`).join('') },
  { ext: 'csv', text: [0, 1, 2, 3, 4].map(csvlogRow).join('') },
] as const;
const IMPORTERS = { har: importHarFile, ndjson: importFrameRecording, csv: importPgCsvlog } as const;

describe('text importers under mutated files (fast-check, fixed seed, time budget)', () => {
  it('never crash: every mutated HAR, frame recording and csvlog imports, is kept partial with a one-line fault, or is refused in one line', async () => {
    await withTempDir(async (dir) => {
      const store = await Store.open(join(dir, 'fuzz.duckdb'));
      try {
        const { cases, outcomes } = await fuzzTextFiles({
          dir,
          seed: SEED,
          seeds: SEEDS,
          minCases: MIN_CASES,
          budgetMs: TIME_BUDGET_MS,
          numRuns: 5000,
          // The three faults the first run found, always tried.
          examples: [
            [1, [{ kind: 'value', at: 0, text: '1e308' }]],
            [0, [{ kind: 'value', at: 90, text: 'NaN' }]],
            [2, [{ kind: 'insert', at: 332, text: '"' }]],
          ],
          check: async (index, path, caseNo) => {
            const seed = SEEDS[index] as (typeof SEEDS)[number];
            let fault: string | null;
            try {
              fault = (await IMPORTERS[seed.ext](store, path, { name: `case-${caseNo}` })).fault;
            } catch (error) {
              expectOneLineFault(error, path);
              return 'refused';
            }
            if (fault === null) return 'imported';
            expect(fault).not.toContain('\n');
            expect(fault).toContain(path);
            return 'partial';
          },
        });
        expect(cases).toBeGreaterThanOrEqual(MIN_CASES);
        expect(outcomes.imported).toBeGreaterThan(0);
        expect(outcomes.partial).toBeGreaterThan(0);
      } finally {
        store.close();
      }
    });
  }, TIME_BUDGET_MS + 120_000);
});
