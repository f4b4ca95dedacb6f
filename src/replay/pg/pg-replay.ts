import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { getCapture } from '../../capture/capture-catalog.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { LatencyHistogram } from '../../core/latency-histogram.ts';
import { seededRandom } from '../../core/random.ts';
import { RunSession } from '../../run/run-session.ts';
import { addExample, type NotAsRecorded } from '../../store/run-metadata.ts';
import { nextRunName, type RunStatus } from '../../store/runs.ts';
import { columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import { FeedTableWriter } from '../../store/batched-table-writer.ts';
import { num, str, type Store } from '../../store/store.ts';
import { latenessOf, storedReplayStats, type Lateness } from '../replay-figures.ts';
import { ANSWER_TIMEOUT_MS, noAnswerWithin } from '../answer-timeout.js';
import { describePace, Schedule, type ReplayPlan } from '../replay-plan.ts';
import { abortFlag, sendingThreadDone } from '../sending-threads.ts';
import { nowNs } from '../thread-clock.js';
import { PG_COPY_REFUSED, PG_RESULT, PG_RESULT_WIDTH, PG_SEND_FAILED, PG_SESSION_ENDED, PG_TIMED_OUT } from './pg-result-row.js';

export { replayTag } from './pg-wire-session.js';

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
  /** The data a COPY ... FROM STDIN was fed, sent again after it; null: none recorded (a CopyFail is sent). */
  copyData: Uint8Array | null;
}

export interface PgReplayStats {
  planned: number;
  sent: number;
  errors: number;
  answered: number;
  lateness: Lateness;
  achievedRate: number | null;
  /** Statements sent in another form than recorded (a COPY refused for want of its data), by why. */
  notAsRecorded: NotAsRecorded[];
}

/** Why a COPY ... FROM STDIN was refused instead of fed, as reports say it. */
const COPY_WITHOUT_DATA = 'COPY FROM STDIN without its data (none recorded: a csvlog, or past 64 MB): refused on both databases alike, nothing loaded';

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
  error: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** A capture's statements in recorded order (a deterministic share of its sessions when the plan samples). */
export async function loadStatements(store: Store, name: string, plan: ReplayPlan): Promise<PgRecorded[]> {
  const capture = await getCapture(store, name);
  if (capture.pgStatements === 0) throw new UsageError(`capture "${name}" has no PostgreSQL statements: a Postgres replay takes a pcap / pcapng with PostgreSQL sessions`, { field: 'capture' });
  const rows = await store.query('SELECT ts_ns, session, seq, db_user, database, kind, query, params, copy_data FROM pg_statements WHERE capture_id = $id ORDER BY ts_ns, session, seq', { id: capture.captureId });
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
      copyData: row.copy_data instanceof Uint8Array ? row.copy_data : null,
    }))
    .filter((s) => {
      if (!sessions.has(s.session)) sessions.set(s.session, plan.sample >= 1 || chosen() < plan.sample);
      return sessions.get(s.session) === true;
    });
}

/**
 * The relations the recorded statements read or write that the recording does not create itself: the target must
 * have them, or the replay would fail statement after statement. Found by name (FROM, JOIN, INTO, UPDATE, TABLE, COPY).
 */
export function referencedRelations(statements: readonly PgRecorded[]): string[] {
  const created = new Set<string>();
  const used = new Set<string>();
  for (const s of statements) {
    for (const m of s.text.matchAll(/\bcreate\s+(?:temp(?:orary)?\s+|unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?("?[\w.]+"?)/gi)) created.add(unquote(m[1] ?? ''));
    for (const m of s.text.matchAll(/\b(?:from|join|into|update|table|copy)\s+("?[a-z_][\w.]*"?)/gi)) used.add(unquote(m[1] ?? ''));
  }
  // COPY's FROM STDIN / TO STDOUT / FROM PROGRAM name no relation.
  return [...used].filter((name) => !created.has(name) && !/^(select|only|lateral|if|stdin|stdout|program)$/i.test(name)).sort();
}

function unquote(name: string): string {
  return name.replace(/"/g, '');
}

/** Stops a replay before it starts when the target lacks a relation the recording uses. */
export async function checkSchema(target: { host: string; port: number }, statements: readonly PgRecorded[], answerTimeoutMs = ANSWER_TIMEOUT_MS): Promise<void> {
  const relations = referencedRelations(statements);
  if (relations.length === 0) return;
  const first = statements[0];
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: first?.user ?? 'postgres',
    database: first?.database ?? first?.user ?? 'postgres',
    connectionTimeoutMillis: answerTimeoutMs,
    query_timeout: answerTimeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new ConfigError(`the replay target ${target.host}:${target.port} cannot be reached to check its schema: ${(error as Error).message}`, {});
  }
  try {
    const missing: string[] = [];
    for (const relation of relations) {
      const found = await client.query<{ regclass: string | null }>('SELECT to_regclass($1)::text AS regclass', [relation]).catch((error: unknown) => {
        throw new ConfigError(`the replay target ${target.host}:${target.port} did not answer the check of its schema: ${(error as Error).message}; nothing was sent`, { field: 'proxy' });
      });
      if (found.rows[0]?.regclass === null || found.rows[0]?.regclass === undefined) missing.push(relation);
    }
    if (missing.length > 0) throw new ConfigError(`the replay target ${target.host}:${target.port} lacks the recorded schema: no relation ${missing.join(', ')} (the recording uses ${missing.length > 1 ? 'them' : 'it'} and does not create ${missing.length > 1 ? 'them' : 'it'}); nothing was sent`, { field: 'proxy' });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A statement quoted in a report: enough to find it in the capture. */
const EXAMPLE_CHARS = 120;

/**
 * Sending threads of a busy replay: one per four cores (one on this project's two-core machine), never more than the
 * sessions. A thread costs less CPU per statement the more answers each of its wake-ups finds: through the reference
 * pooler, with the databases on the same two cores, one thread spent 17 µs a statement where two spent 21, and the
 * replay was faster for it (measured, 16 sessions of primary-key lookups).
 */
const SENDING_THREADS = Math.max(1, Math.floor(availableParallelism() / 4));

/** What a sending thread posts (pg-send-worker.js; `rows`: ResultRows, laid out as PG_RESULT says). */
type WorkerMessage = { type: 'ready' } | { type: 'rows'; rows: Float64Array; count: number; strings: string[] } | { type: 'done'; planned: number };

/** `COMMAND [OID] [ROWS]`, read as node-postgres reads a CommandComplete. */
const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/** A CommandComplete as the run keeps it: the command and its row count (`INSERT 0 1` -> `INSERT 1`, 1). */
function commandTag(text: string | undefined): { tag: string | null; rowCount: number | null } {
  const m = text === undefined ? null : COMMAND_TAG.exec(text);
  if (m === null) return { tag: null, rowCount: null };
  const rows = m[3] ?? m[2];
  const rowCount = rows === undefined ? null : Number.parseInt(rows, 10);
  return { tag: `${m[1]}${rowCount === null ? '' : ` ${rowCount}`}`, rowCount };
}

/** The strings one sending thread's rows refer to, numbered as they arrived, with each command text read once. */
class ThreadStrings {
  private readonly strings: string[] = [];
  private readonly tags = new Map<number, { tag: string | null; rowCount: number | null }>();

  add(strings: readonly string[]): void {
    for (const value of strings) this.strings.push(value);
  }

  text(id: number): string | null {
    return id < 0 ? null : (this.strings[id] ?? null);
  }

  tag(id: number): { tag: string | null; rowCount: number | null } {
    let tag = this.tags.get(id);
    if (tag === undefined) {
      tag = commandTag(id < 0 ? undefined : this.strings[id]);
      this.tags.set(id, tag);
    }
    return tag;
  }
}

/**
 * Replays statements through a pooler: one connection per recorded session (its user and database), statements of a
 * session in their order (each waits for the one before it to be answered), each at its place in the plan; lateness
 * measured as for UDP. The sessions are shared between sending threads (pg-send-worker.js), which own their
 * connections; this thread records every send with the answer the client got (`pg_sends`). A statement's send number
 * (the tag the taps read back) is its place in the recording, plus the statements of the loops before.
 */
export async function sendPgReplay(
  session: RunSession,
  options: { store: Store; statements: readonly PgRecorded[]; target: { host: string; port: number }; plan: ReplayPlan; answerTimeoutMs?: number; signal?: AbortSignal; onStart?: (startNs: bigint) => void },
): Promise<{ status: 'completed' | 'interrupted'; stats: PgReplayStats; startNs: bigint | undefined }> {
  const { statements, plan } = options;
  const answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
  const writer = await FeedTableWriter.open(options.store, 'pg_sends', Object.values(COLUMNS));
  const rows = writer.rows;
  session.defer('pg sends', () => writer.finish());
  const sessions = new Map<string, { user: string; database: string; indexes: number[] }>();
  statements.forEach((statement, index) => {
    let own = sessions.get(statement.session);
    if (own === undefined) {
      own = { user: statement.user ?? 'postgres', database: statement.database ?? statement.user ?? 'postgres', indexes: [] };
      sessions.set(statement.session, own);
    }
    own.indexes.push(index);
  });
  const firstNs = statements[0]?.tsNs ?? 0n;
  const schedule = new Schedule(plan.pace, Number((statements.at(-1)?.tsNs ?? 0n) - firstNs), statements.length);
  const offsetsNs = new Float64Array(statements.length * plan.loops);
  for (let loop = 0; loop < plan.loops; loop++) {
    statements.forEach((statement, index) => {
      offsetsNs[index + loop * statements.length] = schedule.offsetNs(index + loop * statements.length, loop, Number(statement.tsNs - firstNs)) ?? 0;
    });
  }
  const { shared, release } = abortFlag(options.signal);
  session.defer('abort listener', release);

  const limitNs = plan.durationMs === undefined ? Infinity : plan.durationMs * 1e6;
  const workers = shareSessions([...sessions.values()], SENDING_THREADS).map((group) => {
    const needed: Record<number, { kind: PgRecorded['kind']; text: string; params: (string | Buffer | null)[]; copyData: Uint8Array | null }> = {};
    for (const own of group) {
      for (const index of own.indexes) {
        const statement = statements[index] as PgRecorded;
        needed[index] = { kind: statement.kind, text: statement.text, params: statement.kind === 'extended' ? statement.params.map(paramValue) : [], copyData: statement.copyData };
      }
    }
    return new Worker(new URL('./pg-send-worker.js', import.meta.url), {
      workerData: { target: options.target, answerTimeoutMs, sessions: group, statements: needed, total: statements.length, loops: plan.loops, offsetsNs, limitNs, shared },
    });
  });
  session.defer('sending threads', async () => {
    await Promise.all(workers.map((worker) => worker.terminate()));
  });

  const lateNs = new LatencyHistogram();
  let sent = 0;
  let planned = 0;
  let errors = 0;
  let answered = 0;
  let startNs = 0;
  let lastNs = 0;
  const refusedCopies: NotAsRecorded = { reason: COPY_WITHOUT_DATA, count: 0, examples: [] };
  const record = (row: Float64Array, at: number, strings: ThreadStrings): void => {
    const sendNo = row[at + PG_RESULT.sendNo] as number;
    const actualNs = row[at + PG_RESULT.actualNs] as number;
    const doneNs = row[at + PG_RESULT.doneNs] as number;
    const flags = row[at + PG_RESULT.flags] as number;
    const { tag, rowCount } = strings.tag(row[at + PG_RESULT.commandText] as number);
    const sqlstate = strings.text(row[at + PG_RESULT.sqlstate] as number);
    const index = sendNo % statements.length;
    const loop = Math.floor(sendNo / statements.length);
    const statement = statements[index] as PgRecorded;
    const scheduledNs = startNs + (offsetsNs[sendNo] as number);
    lateNs.record(actualNs - scheduledNs);
    sent++;
    if ((flags & PG_SEND_FAILED) !== 0) errors++;
    else answered++;
    if ((flags & PG_COPY_REFUSED) !== 0) {
      refusedCopies.count++;
      addExample(refusedCopies, statement.text.length > EXAMPLE_CHARS ? `${statement.text.slice(0, EXAMPLE_CHARS)}…` : statement.text);
    }
    if (doneNs > lastNs) lastNs = doneNs;
    rows.setNumber(C.run_id, session.runId);
    rows.setNumber(C.send_no, sendNo);
    rows.setString(C.session, statement.session);
    rows.setNumber(C.seq, statement.seq + loop * (sessions.get(statement.session)?.indexes.length ?? 0));
    rows.setString(C.query, statement.text);
    rows.setSafeInteger(C.scheduled_ns, Math.round(scheduledNs));
    rows.setSafeInteger(C.actual_ns, Math.round(actualNs));
    rows.setSafeInteger(C.done_ns, Math.round(doneNs));
    if (tag === null) rows.setNull(C.command_tag);
    else rows.setString(C.command_tag, tag);
    if (rowCount === null) rows.setNull(C.row_count);
    else rows.setSafeInteger(C.row_count, rowCount);
    if (sqlstate === null) rows.setNull(C.sqlstate);
    else rows.setString(C.sqlstate, sqlstate);
    if ((flags & PG_SEND_FAILED) === 0) rows.setNull(C.error);
    else rows.setString(C.error, failure(flags, answerTimeoutMs));
    rows.endRow();
  };
  let ready = 0;
  await Promise.all(
    workers.map((worker) => {
      const strings = new ThreadStrings();
      return sendingThreadDone<WorkerMessage>(
        worker,
        'a Postgres sending thread',
        (message) => {
          if (message.type === 'ready') {
            if (++ready < workers.length) return;
            // One clock for every thread, a little ahead, so the first statements are not late by the start itself.
            startNs = nowNs() + 20_000_000;
            lastNs = startNs;
            options.onStart?.(BigInt(Math.round(startNs)));
            for (const w of workers) w.postMessage({ startNs });
          } else if (message.type === 'rows') {
            strings.add(message.strings);
            for (let i = 0; i < message.count; i++) record(message.rows, i * PG_RESULT_WIDTH, strings);
          } else planned += message.planned;
        },
        (message) => new ConfigError(`the replay through ${options.target.host}:${options.target.port} stopped: ${message}`, { field: 'proxy' }),
      );
    }),
  );
  const seconds = (lastNs - startNs) / 1e9;
  return {
    status: options.signal?.aborted === true ? 'interrupted' : 'completed',
    stats: { planned, sent, errors, answered, lateness: latenessOf(lateNs), achievedRate: sent > 1 && seconds > 0 ? sent / seconds : null, notAsRecorded: refusedCopies.count > 0 ? [refusedCopies] : [] },
    startNs: sent > 0 ? BigInt(Math.round(startNs)) : undefined,
  };
}

/** Why a statement got no answer, as the run keeps it (`pg_sends.error`). */
function failure(flags: number, answerTimeoutMs: number): string {
  if ((flags & PG_TIMED_OUT) !== 0) return noAnswerWithin(answerTimeoutMs);
  if ((flags & PG_SESSION_ENDED) !== 0) return 'not sent, its session having ended before it';
  return 'the connection closed before the answer';
}

/** Sessions dealt to `threads` groups, the busiest first to the lightest group, so the threads share the statements. */
function shareSessions<T extends { indexes: number[] }>(sessions: readonly T[], threads: number): T[][] {
  const groups = Array.from({ length: Math.max(1, Math.min(threads, sessions.length)) }, () => ({ load: 0, sessions: [] as T[] }));
  for (const own of [...sessions].sort((a, b) => b.indexes.length - a.indexes.length)) {
    const lightest = groups.reduce((a, b) => (b.load < a.load ? b : a));
    lightest.sessions.push(own);
    lightest.load += own.indexes.length;
  }
  return groups.map((group) => group.sessions);
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
export async function replayPgCapture(options: { store: Store; capture: string; target: { host: string; port: number }; plan: ReplayPlan; answerTimeoutMs?: number; runName?: string; signal?: AbortSignal }): Promise<{ runName: string; status: RunStatus; stats: PgReplayStats }> {
  const { store, plan } = options;
  const answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;
  const statements = await loadStatements(store, options.capture, plan);
  await checkSchema(options.target, statements, answerTimeoutMs);
  const runName = options.runName ?? (await nextRunName(store, `${options.capture}-replay`));
  const session = await RunSession.create(store, {
    name: runName,
    kind: 'replay',
    protocol: 'pg',
    relay: `${options.target.host}:${options.target.port}`,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: answerTimeoutMs },
  });
  try {
    const replayed = await sendPgReplay(session, { store, statements, target: options.target, plan, answerTimeoutMs, ...(options.signal !== undefined && { signal: options.signal }) });
    await session.finish(replayed.status, storedReplayStats(replayed.stats, plan), replayed.startNs);
    return { runName, status: replayed.status, stats: replayed.stats };
  } catch (error) {
    return session.fail(error);
  }
}
