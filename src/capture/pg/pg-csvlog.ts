import { parse } from 'csv-parse/sync';
import { isStorableNs, STORABLE_RANGE } from '../../core/epoch-ns.ts';
import type { PgSessionInfo, PgStatement } from './pg-session.ts';

/** A statement read from a csvlog, with the session it ran in. */
export interface LoggedStatement {
  statement: PgStatement;
  session: PgSessionInfo;
}

export interface PgCsvlogRead {
  statements: LoggedStatement[];
  /** Why the file ended early (a row that is not a csvlog row, a file cut short), naming the line; what came before is kept. */
  fault: string | null;
}

const C = { time: 0, user: 1, database: 2, connection: 4, session: 5, severity: 11, sqlstate: 12, message: 13, detail: 14, query: 19, application: 22 } as const;

/** Does this file look like PostgreSQL's csvlog (a .csv whose first row is a csvlog row)? */
export function isPgCsvlog(file: string, head: string): boolean {
  return /\.csv$/i.test(file) && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [A-Z+\-0-9]+,/.test(head);
}

/**
 * Reads the statements of PostgreSQL's csvlog written with every statement logged (`log_destination = csvlog`,
 * `log_statement = all`): `statement: ...` (a simple query) and `execute <name>: ...` with its `parameters: $1 = '...'`
 * detail (an extended one), each in its session (the log's session id and the client's address) in log order; an ERROR
 * row gives the statement before it in its session its SQLSTATE. A log holds no answers: tags, rows and hashes are
 * left empty. A row that does not parse ends the file there, named by its line; the statements before it are kept.
 */
export function readPgCsvlog(file: string, text: string): PgCsvlogRead {
  const statements: LoggedStatement[] = [];
  const bySession = new Map<string, LoggedStatement[]>();
  const rows: string[][] = [];
  let fault: string | null = null;
  try {
    // Rows are kept as the parser completes them, so a fault keeps every row before it. Parsing the text again up to
    // the line the fault names did not: a quote left open is named at the end of the text, and the same fault again.
    parse(text, {
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (record: string[]) => {
        rows.push(record);
        return null;
      },
    });
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    fault = `${file}: line ${line ?? '?'}: ${(error as Error).message.replace(/^Invalid Record Length: |^Quote Not Closed: /, '').replace(/\s+/g, ' ')}; the ${'{n}'} statements before it are kept`;
  }
  for (const [index, row] of rows.entries()) {
    if (row.length < 20 || !/^\d{4}-/.test(row[C.time] ?? '')) {
      fault = `${file}: row ${index + 1} is not a csvlog row (${row.length} columns); the ${'{n}'} statements before it are kept`;
      break;
    }
    const tsNs = timeOf(row[C.time] ?? '');
    if (typeof tsNs === 'string') {
      fault = `${file}: row ${index + 1} has log_time ${JSON.stringify(row[C.time])}, ${tsNs}; the ${'{n}'} statements before it are kept`;
      break;
    }
    const sessionId = `${row[C.session] ?? ''} ${row[C.connection] ?? ''}`.trim();
    const message = row[C.message] ?? '';
    const own = bySession.get(sessionId) ?? [];
    if (row[C.severity] === 'ERROR' || row[C.severity] === 'FATAL') {
      const last = own.at(-1);
      if (last !== undefined && last.statement.sqlstate === null) {
        last.statement.sqlstate = row[C.sqlstate] ?? null;
        last.statement.error = message;
      }
      continue;
    }
    const simple = /^statement: ([\s\S]*)$/.exec(message);
    const extended = /^execute [^:]*: ([\s\S]*)$/.exec(message);
    if (simple === null && extended === null) continue;
    const info: PgSessionInfo = { client: row[C.connection] || sessionId, server: 'csvlog', user: row[C.user] || null, database: row[C.database] || null, application: row[C.application] || null };
    const logged: LoggedStatement = {
      session: { ...info, client: `${info.client} (${row[C.session] ?? ''})` },
      statement: {
        seq: own.length,
        tsNs,
        endNs: null,
        kind: extended === null ? 'simple' : 'extended',
        text: (simple ?? extended)?.[1] ?? '',
        params: extended === null ? [] : parameters(row[C.detail] ?? ''),
        tag: null,
        rowCount: null,
        rowHash: null,
        rowSetHash: null,
        sqlstate: null,
        error: null,
        // A log holds no COPY data: such a statement replays as a COPY whose data was not recorded.
        copyData: null,
      },
    };
    own.push(logged);
    bySession.set(sessionId, own);
    statements.push(logged);
  }
  return { statements, fault: fault?.replace('{n}', String(statements.length)) ?? null };
}

/** `parameters: $1 = '1', $2 = 'o''brien', $3 = NULL` -> ['1', "o'brien", null]. */
export function parameters(detail: string): (string | null)[] {
  const values: (string | null)[] = [];
  const pattern = /\$(\d+) = (NULL|'((?:[^']|'')*)')/g;
  for (const m of detail.matchAll(pattern)) values[Number(m[1]) - 1] = m[2] === 'NULL' ? null : (m[3] ?? '').replace(/''/g, "'");
  return Array.from(values, (v) => v ?? null);
}

/**
 * Offsets from UTC, in minutes, of the zone abbreviations the tz database gives servers' log_time (PostgreSQL writes
 * log_timezone's abbreviation). Date.parse reads none of them in this form, so every zone but UTC, GMT and a number
 * read as no time at all. Abbreviations the tz database gives zones hours apart are left out (AMBIGUOUS_ZONES).
 */
const ZONE_OFFSET_MINUTES: Readonly<Record<string, number>> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0, WET: 0, WEST: 60, BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, EET: 120, EEST: 180,
  MSK: 180, WAT: 60, CAT: 120, SAST: 120, EAT: 180, PKT: 300, WIB: 420, HKT: 480, AWST: 480, JST: 540, KST: 540,
  ACST: 570, ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780, HST: -600, AKST: -540, AKDT: -480, MST: -420,
  MDT: -360, EST: -300, EDT: -240, AST: -240, ADT: -180, NST: -210, NDT: -150,
};

/** Written by servers in zones hours apart: US Central and China (CST), US Pacific and the Philippines (PST), India, Ireland and Israel (IST). */
const AMBIGUOUS_ZONES: ReadonlySet<string> = new Set(['CST', 'CDT', 'PST', 'PDT', 'IST', 'IDT']);

function zoneOffsetMinutes(zone: string): number | undefined {
  const numeric = /^([+-])(\d\d):?(\d\d)?$/.exec(zone);
  if (numeric !== null) return (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3] ?? 0));
  return ZONE_OFFSET_MINUTES[zone];
}

/**
 * A csvlog's log_time as ns since the epoch, or why it is not one: a zone this reader does not know (read as some
 * other time, every statement's would be wrong), or a time the store cannot hold. 0 where the text is not a time.
 */
function timeOf(text: string): bigint | string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) (\S+)$/.exec(text);
  if (m === null) return 0n;
  const zone = m[3] ?? '';
  if (AMBIGUOUS_ZONES.has(zone)) return `whose zone "${zone}" names zones hours apart, so its time cannot be known (log_timezone = 'UTC' writes one that can)`;
  const offset = zoneOffsetMinutes(zone);
  if (offset === undefined) return `whose zone "${zone}" this reader does not know (log_timezone = 'UTC' writes one it does)`;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`) - offset * 60_000;
  if (!Number.isFinite(ms)) return 0n;
  const fraction = /\.(\d+)/.exec(m[2] ?? '')?.[1] ?? '';
  // Date keeps milliseconds; the log may have microseconds.
  const micros = fraction.length > 3 ? Number(fraction.slice(3, 6).padEnd(3, '0')) : 0;
  const ns = BigInt(ms) * 1_000_000n + BigInt(micros) * 1000n;
  return isStorableNs(ns) ? ns : `not a time in ${STORABLE_RANGE}`;
}
