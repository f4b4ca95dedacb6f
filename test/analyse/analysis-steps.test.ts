import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANALYSIS_STEPS, CORRELATION_STEPS, DERIVED_TABLES, RELEASED_AFTER } from '../../src/analyse/analysis-steps.ts';
import { HTTP_ANALYSIS_STEPS, HTTP_DERIVED_TABLES } from '../../src/analyse/http/http-steps.ts';
import type { AnalysisStep } from '../../src/analyse/analysis-steps.ts';
import { PG_ANALYSIS_STEPS } from '../../src/analyse/pg/analyse-pg-run.ts';
import { WS_ANALYSIS_STEPS } from '../../src/analyse/ws/analyse-ws-run.ts';

const SQL_DIR = join(import.meta.dirname, '../../src/analyse/sql');
const SCHEMA = readFileSync(join(import.meta.dirname, '../../src/store/schema.sql'), 'utf8');
// The store's tables and the views over them (packet_parity reads packet_parity_rows and packet_parity_names).
const STORED = new Set([...SCHEMA.matchAll(/CREATE (?:TABLE IF NOT EXISTS|OR REPLACE VIEW) (\w+)/g)].map((m) => m[1] as string));

/** What a statement really touches, read from its text (comments removed, CTE names set aside): independent of the headers. */
function touched(sql: string): { reads: Set<string>; writes: Set<string> } {
  // `IS [NOT] DISTINCT FROM` compares values; it names no table.
  const code = sql.replace(/--.*$/gm, '').replace(/DISTINCT\s+FROM/gi, 'DISTINCT_FROM');
  const ctes = new Set([...code.matchAll(/(?:\bWITH|,)\s*(\w+)\s+AS\s*(?:(?:NOT\s+)?MATERIALIZED\s*)?\(/gi)].map((m) => (m[1] as string).toLowerCase()));
  const writes = new Set([...code.matchAll(/\b(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?TABLE|INSERT\s+INTO|UPDATE)\s+(\w+)/gi)].map((m) => (m[1] as string).toLowerCase()));
  // An UPDATE reads the rows it changes.
  const updated = [...code.matchAll(/\bUPDATE\s+(\w+)/gi)].map((m) => (m[1] as string).toLowerCase());
  const reads = new Set([...[...code.matchAll(/\b(?:FROM|JOIN)\s+(\w+)/gi)].map((m) => (m[1] as string).toLowerCase()), ...updated].filter((t) => !ctes.has(t)));
  return { reads, writes };
}

const steps = Object.values(ANALYSIS_STEPS);

describe('analysis steps declare what they read and write', () => {
  it('every SQL file of the analysis is a step', () => {
    expect(readdirSync(SQL_DIR).filter((f) => f.endsWith('.sql')).sort()).toEqual(steps.map((s) => s.file).sort());
  });

  it.each(steps.map((s) => [s.file, s] as const))('%s touches exactly the tables it declares', (_file, step) => {
    const actual = touched(step.sql);
    expect([...actual.reads].sort()).toEqual([...step.reads].sort());
    expect([...actual.writes].sort()).toEqual([...step.writes].sort());
  });

  it('each step reads only stored tables and what an earlier step wrote', () => {
    const written = new Set<string>();
    for (const step of steps) {
      for (const table of step.reads) expect(STORED.has(table) || written.has(table), `${step.file} reads ${table} before any step writes it`).toBe(true);
      for (const table of step.writes) written.add(table);
    }
  });

  it('the correlation runs its steps in the order the steps are declared in', () => {
    const positions = CORRELATION_STEPS.map((step) => steps.indexOf(step));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(positions).not.toContain(-1);
  });

  it('an intermediate table is released only after the last step that reads it, and never a stored one', () => {
    for (const [releaser, tables] of RELEASED_AFTER) {
      const after = steps.slice(steps.indexOf(releaser) + 1);
      expect(after.length, `${releaser.file} is a step`).toBeLessThan(steps.length);
      for (const table of tables) {
        expect(STORED.has(table), `${table} is stored`).toBe(false);
        expect(steps.slice(0, steps.indexOf(releaser) + 1).some((s) => s.writes.includes(table)), `${table} is written before ${releaser.file}`).toBe(true);
        for (const later of after) expect(later.reads, `${later.file} reads ${table}, released after ${releaser.file}`).not.toContain(table);
      }
    }
  });

  it('no step drops or deletes anything; what the analysis keeps is what its steps write', () => {
    for (const step of steps) expect(step.sql.replace(/--.*$/gm, '')).not.toMatch(/\b(DROP|DELETE|TRUNCATE)\b/i);
    const storedWrites = new Set(steps.flatMap((s) => s.writes).filter((t) => STORED.has(t)));
    // route_metrics is written from TypeScript (the judged metrics), the others by SQL steps.
    expect([...storedWrites, 'route_metrics'].sort()).toEqual([...DERIVED_TABLES].sort());
  });
});

describe('the HTTP analysis steps declare what they read and write', () => {
  const httpSteps = Object.values(HTTP_ANALYSIS_STEPS);
  const HTTP_SQL_DIR = join(import.meta.dirname, '../../src/analyse/http/sql');

  it('every SQL file of the HTTP analysis is a step', () => {
    expect(readdirSync(HTTP_SQL_DIR).filter((f) => f.endsWith('.sql')).sort()).toEqual(httpSteps.map((s) => s.file).sort());
  });

  it.each(httpSteps.map((s) => [s.file, s] as const))('%s touches exactly the tables it declares', (_file, step) => {
    const actual = touched(step.sql);
    expect([...actual.reads].sort()).toEqual([...step.reads].sort());
    expect([...actual.writes].sort()).toEqual([...step.writes].sort());
  });

  it('each reads only stored tables and what an earlier step wrote, and keeps nothing but temporary tables', () => {
    const written = new Set<string>();
    for (const step of httpSteps) {
      for (const table of step.reads) expect(STORED.has(table) || written.has(table), `${step.file} reads ${table} before any step writes it`).toBe(true);
      for (const table of step.writes) written.add(table);
      expect(step.writes.filter((t) => STORED.has(t))).toEqual([]);
    }
    // What an HTTP analysis keeps is written from TypeScript: the judged metrics and the judged fields.
    expect([...HTTP_DERIVED_TABLES].every((t) => STORED.has(t))).toBe(true);
  });
});

/** A family whose steps keep nothing (its metrics are written from TypeScript): the WebSocket and Postgres analyses. */
function describeFamilySteps(family: string, steps: readonly AnalysisStep[], dir: string): void {
  describe(`the ${family} analysis steps declare what they read and write`, () => {
    it(`every SQL file of the ${family} analysis is a step`, () => {
      expect(readdirSync(join(import.meta.dirname, '../../src/analyse', dir, 'sql')).filter((f) => f.endsWith('.sql')).sort()).toEqual(steps.map((s) => s.file).sort());
    });

    it.each(steps.map((s) => [s.file, s] as const))('%s touches exactly the tables it declares', (_file, step) => {
      const actual = touched(step.sql);
      expect([...actual.reads].sort()).toEqual([...step.reads].sort());
      expect([...actual.writes].sort()).toEqual([...step.writes].sort());
    });

    it('each reads only stored tables and what an earlier step wrote, and writes only temporary ones', () => {
      const written = new Set<string>();
      for (const step of steps) {
        for (const table of step.reads) expect(STORED.has(table) || written.has(table), `${step.file} reads ${table} before any step writes it`).toBe(true);
        for (const table of step.writes) written.add(table);
        expect(step.writes.filter((t) => STORED.has(t))).toEqual([]);
      }
    });
  });
}

describeFamilySteps('WebSocket', Object.values(WS_ANALYSIS_STEPS), 'ws');
describeFamilySteps('Postgres', Object.values(PG_ANALYSIS_STEPS), 'pg');
