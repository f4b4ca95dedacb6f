import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import { isParityError } from '../../src/core/errors.ts';

/**
 * Mutations of a text file for the fuzz tests of readers of text formats (HAR, frame recordings, csvlogs, YAML and
 * JSON configuration): bytes flipped, the file cut, text inserted, and a value replaced whole by one that readers
 * are least ready for where a number, a date, a string or an address belongs.
 */
export const ODD_VALUES = [
  '9999999999999999999999', '-1', '1e308', 'null', '""', '"3000-01-01T00:00:00Z"', '"-271821-04-20T00:00:00Z"', '[]', '{}', '"\\u0000"', 'true', 'NaN',
  '.nan', '.inf', '0', '1e20', '"', '&a', '*a', '~', '0x10', '1.5', '-0', '[1,2]', '{a: 1}', '255.255.255.256',
];

export type TextMutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'value'; at: number; text: string };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...ODD_VALUES), fc.string({ maxLength: 8 })) }),
  // The value after the next ':' (JSON, YAML) or the field after the next ',' (CSV, flow lists), replaced whole.
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), text: fc.constantFrom(...ODD_VALUES) }),
);

export function mutateText(text: string, mutations: readonly TextMutation[]): Buffer {
  let out = Buffer.from(text);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip') out[at] = m.value;
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(m.text), out.subarray(at)]);
    else {
      const s = out.toString('latin1');
      const start = s.slice(at).search(/[:,]/);
      if (start < 0) continue;
      const valueAt = at + start + 1;
      const length = s.slice(valueAt).search(/[,}\]\n]/);
      if (length < 0) continue;
      out = Buffer.from(s.slice(0, valueAt) + m.text + s.slice(valueAt + length), 'latin1');
    }
  }
  return out;
}

/** What every fuzz test asks of a fault: a ParityError (never a stack trace), one line, naming the file. */
export function expectOneLineFault(fault: unknown, path: string): void {
  expect(isParityError(fault), String(fault)).toBe(true);
  expect((fault as Error).message).not.toContain('\n');
  expect((fault as Error).message).toContain(path);
}

/** A fuzz test's time budget: its default, or `PARITY_FUZZ_BUDGET_MS` to go deeper. */
export function fuzzBudgetMs(defaultMs: number): number {
  return Number(process.env.PARITY_FUZZ_BUDGET_MS ?? defaultMs);
}

/**
 * Runs `check` on mutations of text files, as the fuzz tests of text readers do: a fixed seed (a failure reproduces),
 * `minCases` always however busy the machine, then cases until the budget is spent (kept between cases: fast-check's
 * own time limit abandons the case in flight); the `examples` (faults found before) are always tried first. `check`
 * reads the file at `path` and says which outcome it had; the counts come back, and are printed with
 * `PARITY_FUZZ_REPORT`.
 */
export async function fuzzTextFiles<Outcome extends string>(options: {
  dir: string;
  seed: number;
  seeds: readonly { ext: string; text: string }[];
  minCases: number;
  budgetMs: number;
  numRuns: number;
  examples: [number, TextMutation[]][];
  check: (seedIndex: number, path: string, caseNo: number) => Promise<Outcome>;
}): Promise<{ cases: number; outcomes: Partial<Record<Outcome, number>> }> {
  let cases = 0;
  const outcomes: Partial<Record<Outcome, number>> = {};
  const deadline = Date.now() + options.budgetMs;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: options.seeds.length - 1 }), fc.array(textMutation, { minLength: 1, maxLength: 3 }), async (index, mutations) => {
      if (cases >= options.minCases && Date.now() > deadline) return;
      const seed = options.seeds[index] as { ext: string; text: string };
      const caseNo = cases++;
      const path = join(options.dir, `case-${caseNo}.${seed.ext}`);
      writeFileSync(path, mutateText(seed.text, mutations));
      const outcome = await options.check(index, path, caseNo);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }),
    { seed: options.seed, numRuns: options.numRuns, examples: options.examples },
  );
  if (process.env.PARITY_FUZZ_REPORT !== undefined) console.info(`${cases} mutated files:`, outcomes);
  return { cases, outcomes };
}
