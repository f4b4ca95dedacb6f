import { describe, expect, it } from 'vitest';
import { readPgCsvlog } from '../../src/capture/pg/pg-csvlog.ts';

/** One csvlog row (PostgreSQL's 23 columns, quoted as it quotes them) logging a simple statement at `time`. */
function row(time: string, sql: string): string {
  return `${time},"postgres","ledger",100,"127.0.0.1:5000",6750f0a1.64,1,"idle",${time},3/1,0,LOG,00000,"statement: ${sql}",,,,,,,,,"psql"\n`;
}

// log_time carries log_timezone's abbreviation. Every zone but UTC, GMT and a bare hour offset read as no time at all
// (0, 1970): a server logging in Europe/Berlin or America/New_York gave every statement the same time, and the replay
// of its log no pacing, without a word.
describe("a csvlog's log_time in the zone its server logs in", () => {
  it('reads the abbreviations and offsets servers write as the same instant', () => {
    const sameInstant = [
      '2026-01-15 12:00:00.250 UTC',
      '2026-01-15 13:00:00.250 CET',
      '2026-01-15 07:00:00.250 EST',
      '2026-01-15 05:00:00.250 MST',
      '2026-01-15 23:00:00.250 AEDT',
      '2026-01-15 17:30:00.250 +0530',
      '2026-01-15 15:00:00.250 +03',
      '2026-01-15 21:00:00.250 JST',
    ];
    const read = readPgCsvlog('zones.csv', sameInstant.map((time, i) => row(time, `SELECT ${i}`)).join(''));
    expect(read.fault).toBeNull();
    expect(read.statements.map((s) => s.statement.tsNs)).toEqual(sameInstant.map(() => BigInt(Date.UTC(2026, 0, 15, 12, 0, 0, 250)) * 1_000_000n));
    // Summer time is its own abbreviation.
    expect(readPgCsvlog('summer.csv', row('2026-07-15 14:00:00 CEST', 'SELECT 1')).statements[0]?.statement.tsNs).toBe(BigInt(Date.UTC(2026, 6, 15, 12)) * 1_000_000n);
  });

  it('a zone it does not know ends the log there, saying which and how to avoid it, the statements before it kept', () => {
    const read = readPgCsvlog('odd.csv', row('2026-01-15 12:00:00 UTC', 'SELECT 1') + row('2026-01-15 12:00:01 XYZT', 'SELECT 2'));
    expect(read.statements).toHaveLength(1);
    expect(read.fault).toBe(`odd.csv: row 2 has log_time "2026-01-15 12:00:01 XYZT", whose zone "XYZT" this reader does not know (log_timezone = 'UTC' writes one it does); the 1 statements before it are kept`);
  });

  // Asia/Shanghai's server writes CST as America/Chicago's does, 14 hours apart: read as either, half of them would be
  // wrong without a word (checked against real servers in both zones).
  it.each(['CST', 'PST', 'IST'])('%s, which servers hours apart write, is not guessed at', (zone) => {
    const read = readPgCsvlog('far.csv', row(`2026-01-15 12:00:00 ${zone}`, 'SELECT 1'));
    expect(read.statements).toHaveLength(0);
    expect(read.fault).toContain(`whose zone "${zone}" names zones hours apart, so its time cannot be known (log_timezone = 'UTC' writes one that can)`);
  });
});
