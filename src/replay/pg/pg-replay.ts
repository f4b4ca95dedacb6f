import pg from 'pg';
import { getCapture } from '../../capture/capture-catalog.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import { RunSession } from '../../run/run-session.ts';
import { nextRunName, type RunStatus } from '../../store/runs.ts';
import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import { num, str, type Store } from '../../store/store.ts';
import { latenessOf, storedReplayStats, type Lateness } from '../replay-figures.ts';
import { waitUntil } from '../thread-clock.js';
import { describePace, Schedule, type ReplayPlan } from '../replay-plan.ts';

/** A recorded statement, ready to run again. */
export interface PgRecorded {
  tsNs: bigint;
  session: string;
  seq: number;
  user: string | null;
  database: string | null;
  kind: 'simple' | 'extended';
  text: string;
  params: (string | null)[];
}

export interface PgReplayStats {
  planned: number;
  sent: number;
  errors: number;
  answered: number;
  lateness: Lateness;
  achievedRate: number | null;
}

const COLUMNS = {
  run_id: 'i32',
  send_no: 'u32',
  session: 'varchar',
  seq: 'u32',
  query: 'varchar',
  scheduled_ns: 'i64',
  actual_ns: 'i64',
  done_ns: 'i64',
  command_tag: 'varchar',
  row_count: 'i64',
  sqlstate: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** A capture's statements in recorded order (a deterministic share of its sessions when the plan samples). */
export async function loadStatements(store: Store, name: string, plan: ReplayPlan): Promise<PgRecorded[]> {
  const capture = await getCapture(store, name);
  if (capture.pgStatements === 0) throw new UsageError(`capture "${name}" has no PostgreSQL statements: a Postgres replay takes a pcap / pcapng with PostgreSQL sessions`, { field: 'capture' });
  const rows = await store.query('SELECT ts_ns, session, seq, db_user, database, kind, query, params FROM pg_statements WHERE capture_id = $id ORDER BY ts_ns, session, seq', { id: capture.captureId });
  const chosen = seededRandom(plan.seed);
  const sessions = new Map<string, boolean>();
  return rows
    .map((row) => ({
      tsNs: typeof row.ts_ns === 'bigint' ? row.ts_ns : 0n,
      session: str(row.session),
      seq: num(row.seq),
      user: row.db_user === null ? null : str(row.db_user),
      database: row.database === null ? null : str(row.database),
      kind: str(row.kind) === 'extended' ? ('extended' as const) : ('simple' as const),
      text: str(row.query),
      params: row.params === null ? [] : (JSON.parse(str(row.params)) as (string | null)[]),
    }))
    .filter((s) => {
      if (!sessions.has(s.session)) sessions.set(s.session, plan.sample >= 1 || chosen() < plan.sample);
      return sessions.get(s.session) === true;
    });
}

/**
 * The relations the recorded statements read or write that the recording does not create itself: the target must
 * have them, or the replay would fail statement after statement. Found by name (FROM, JOIN, INTO, UPDATE, TABLE).
 */
export function referencedRelations(statements: readonly PgRecorded[]): string[] {
  const created = new Set<string>();
  const used = new Set<string>();
  for (const s of statements) {
    for (const m of s.text.matchAll(/\bcreate\s+(?:temp(?:orary)?\s+|unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?("?[\w.]+"?)/gi)) created.add(unquote(m[1] ?? ''));
    for (const m of s.text.matchAll(/\b(?:from|join|into|update|table)\s+("?[a-z_][\w.]*"?)/gi)) used.add(unquote(m[1] ?? ''));
  }
  return [...used].filter((name) => !created.has(name) && !/^(select|only|lateral|if)$/i.test(name)).sort();
}

function unquote(name: string): string {
  return name.replace(/"/g, '');
}

/** Stops a replay before it starts when the target lacks a relation the recording uses. */
export async function checkSchema(target: { host: string; port: number }, statements: readonly PgRecorded[]): Promise<void> {
  const relations = referencedRelations(statements);
  if (relations.length === 0) return;
  const first = statements[0];
  const client = new pg.Client({ host: target.host, port: target.port, user: first?.user ?? 'postgres', database: first?.database ?? first?.user ?? 'postgres' });
  try {
    await client.connect();
  } catch (error) {
    throw new ConfigError(`the replay target ${target.host}:${target.port} cannot be reached to check its schema: ${(error as Error).message}`, {});
  }
  try {
    const missing: string[] = [];
    for (const relation of relations) {
      const found = await client.query<{ regclass: string | null }>('SELECT to_regclass($1)::text AS regclass', [relation]);
      if (found.rows[0]?.regclass === null || found.rows[0]?.regclass === undefined) missing.push(relation);
    }
    if (missing.length > 0) throw new ConfigError(`the replay target ${target.host}:${target.port} lacks the recorded schema: no relation ${missing.join(', ')} (the recording uses ${missing.length > 1 ? 'them' : 'it'} and does not create ${missing.length > 1 ? 'them' : 'it'}); nothing was sent`, { field: 'proxy' });
  } finally {
    await client.end();
  }
}

/**
 * Replays statements through a pooler: one connection per recorded session (its user and database), statements of a
 * session in their order (each waits for the one before it to be answered), each at its place in the plan; lateness
 * measured as for UDP. Every send is recorded with the answer the client got (`pg_sends`).
 */
export async function sendPgReplay(
  session: RunSession,
  options: { store: Store; statements: readonly PgRecorded[]; target: { host: string; port: number }; plan: ReplayPlan; signal?: AbortSignal; onStart?: (startNs: bigint) => void },
): Promise<{ status: 'completed' | 'interrupted'; stats: PgReplayStats; startNs: bigint | undefined }> {
  const { statements, plan } = options;
  const { appender, release } = await options.store.createWriterAppender('pg_sends');
  const rows = new ChunkAppender(appender, 'pg_sends', Object.values(COLUMNS), release);
  session.defer('pg sends', () => rows.close());
  const bySession = new Map<string, { index: number; statement: PgRecorded }[]>();
  statements.forEach((statement, index) => bySession.set(statement.session, [...(bySession.get(statement.session) ?? []), { index, statement }]));
  const clients = new Map<string, pg.Client>();
  session.defer('database connections', async () => {
    for (const client of clients.values()) await client.end().catch(() => undefined);
  });
  // Connections open before the clock starts: a session's first statement is not late by its connection's setup.
  for (const [name, own] of bySession) {
    const first = own[0]?.statement;
    const client = new pg.Client({ host: options.target.host, port: options.target.port, user: first?.user ?? 'postgres', database: first?.database ?? first?.user ?? 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    clients.set(name, client);
  }
  const firstNs = statements[0]?.tsNs ?? 0n;
  const schedule = new Schedule(plan.pace, Number((statements.at(-1)?.tsNs ?? 0n) - firstNs), statements.length);
  const startNs = process.hrtime.bigint() + 20_000_000n;
  options.onStart?.(startNs);
  const lateUs: number[] = [];
  let sent = 0;
  let planned = 0;
  let errors = 0;
  let answered = 0;
  let lastNs = startNs;
  let sendNo = 0;
  const runSession = async (name: string, ownStatements: readonly { index: number; statement: PgRecorded }[]): Promise<void> => {
    const client = clients.get(name) as pg.Client;
    for (let loop = 0; loop < plan.loops; loop++) {
      for (const { index, statement } of ownStatements) {
        const offsetNs = schedule.offsetNs(index + loop * statements.length, loop, Number(statement.tsNs - firstNs)) ?? 0;
        if ((plan.durationMs !== undefined && offsetNs > plan.durationMs * 1e6) || options.signal?.aborted === true) return;
        planned++;
        const scheduledNs = startNs + BigInt(Math.round(offsetNs));
        await waitUntil(Number(scheduledNs), () => options.signal?.aborted === true);
        const actualNs = process.hrtime.bigint();
        lateUs.push(Number(actualNs - scheduledNs) / 1000);
        sent++;
        const own = sendNo++;
        // Tagged as sqlcommenter does, in a comment the databases ignore: each tap's record names the send it was.
        const text = `${replayTag(own)}${statement.text}`;
        let tag: string | null = null;
        let rowCount: number | null = null;
        let sqlstate: string | null = null;
        try {
          const result = statement.kind === 'extended' ? await client.query({ text, values: statement.params.map(paramValue) }) : await client.query(text);
          const last = Array.isArray(result) ? (result.at(-1) as pg.QueryResult | undefined) : result;
          tag = last === undefined ? null : `${last.command}${last.rowCount === null ? '' : ` ${last.rowCount}`}`;
          rowCount = last?.rowCount ?? null;
          answered++;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          sqlstate = typeof code === 'string' ? code : null;
          if (sqlstate === null) errors++;
          else answered++;
        }
        const doneNs = process.hrtime.bigint();
        lastNs = doneNs > lastNs ? doneNs : lastNs;
        rows.setNumber(C.run_id, session.runId);
        rows.setNumber(C.send_no, own);
        rows.setString(C.session, name);
        rows.setNumber(C.seq, statement.seq + loop * ownStatements.length);
        rows.setString(C.query, statement.text);
        rows.setBigInt(C.scheduled_ns, scheduledNs);
        rows.setBigInt(C.actual_ns, actualNs);
        rows.setBigInt(C.done_ns, doneNs);
        if (tag === null) rows.setNull(C.command_tag);
        else rows.setString(C.command_tag, tag);
        if (rowCount === null) rows.setNull(C.row_count);
        else rows.setSafeInteger(C.row_count, rowCount);
        if (sqlstate === null) rows.setNull(C.sqlstate);
        else rows.setString(C.sqlstate, sqlstate);
        rows.endRow();
      }
    }
  };
  await Promise.all([...bySession].map(([name, own]) => runSession(name, own)));
  const seconds = Number(lastNs - startNs) / 1e9;
  return {
    status: options.signal?.aborted === true ? 'interrupted' : 'completed',
    stats: { planned, sent, errors, answered, lateness: latenessOf(lateUs), achievedRate: sent > 1 && seconds > 0 ? sent / seconds : null },
    startNs: sent > 0 ? startNs : undefined,
  };
}

/** The comment a replayed statement starts with: `/*parity_send=N*\/`. */
export function replayTag(sendNo: number): string {
  return `/*parity_send=${sendNo}*/ `;
}

/** A recorded parameter as node-postgres sends it: text as it is, `\x` hex as bytes. */
function paramValue(value: string | null): string | Buffer | null {
  if (value === null) return null;
  return value.startsWith('\\x') ? Buffer.from(value.slice(2), 'hex') : value;
}


/**
 * `parity replay CAPTURE --proxy postgres://HOST:PORT` as a run of protocol pg: the schema checked at the target, the
 * sessions replayed through it. What the databases behind it received is not seen from here (a scenario's taps see
 * it): the run keeps what the client got.
 */
export async function replayPgCapture(options: { store: Store; capture: string; target: { host: string; port: number }; plan: ReplayPlan; runName?: string; signal?: AbortSignal }): Promise<{ runName: string; status: RunStatus; stats: PgReplayStats }> {
  const { store, plan } = options;
  const statements = await loadStatements(store, options.capture, plan);
  await checkSchema(options.target, statements);
  const runName = options.runName ?? (await nextRunName(store, `${options.capture}-replay`));
  const session = await RunSession.create(store, {
    name: runName,
    kind: 'replay',
    protocol: 'pg',
    relay: `${options.target.host}:${options.target.port}`,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: 0 },
  });
  try {
    const replayed = await sendPgReplay(session, { store, statements, target: options.target, plan, ...(options.signal !== undefined && { signal: options.signal }) });
    await session.finish(replayed.status, storedReplayStats(replayed.stats, plan), replayed.startNs);
    return { runName, status: replayed.status, stats: replayed.stats };
  } catch (error) {
    return session.fail(error);
  }
}

/** `postgres://host:port`, `postgresql://host:port` or `host:port` -> where to connect. */
export function pgTarget(value: string): { host: string; port: number } | undefined {
  const m = /^(?:postgres(?:ql)?:\/\/(?:[^@/]*@)?)?(\[[^\]]+\]|[^:/\s]+):(\d{1,5})\/?[^\s]*$/.exec(value);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
}
