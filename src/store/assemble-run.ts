import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, StoreError } from '../core/errors.ts';
import { mergeRunParts, type RunPart } from './merge-run-parts.ts';
import { createRun, finishRun, recordHarnessLag, runFromRow } from './runs.ts';
import { loadSql } from './sql-file.ts';
import { num, type Store } from './store.ts';

const PART_RUN_SQL = loadSql(import.meta.url, './sql/part-run.sql');

export interface AssembledRun {
  runId: number;
  parts: { dir: string; sends: number; observations: number }[];
}

/**
 * Assembles one run from the Parquet exports of several hosts (`parity export RUN --parquet DIR/HOST` on each):
 * every part's sends, observations and relay samples under one new run of the same name, with the sends numbered
 * one after another and every time moved onto the wall clock by its host's offset, so that the analysis judges the
 * whole as if one host had done it all. The parts' metadata merge as strictly as each (merge-run-parts.ts).
 */
export async function assembleRunFromParquet(store: Store, runName: string, dir: string): Promise<AssembledRun> {
  const parts: RunPart[] = [];
  for (const partDir of partDirs(dir)) parts.push(await readPart(store, partDir, runName));
  const offsetOf = clockOffsets(parts, dir);
  const existing = await store.query('SELECT 1 FROM runs WHERE name = $name', { name: runName });
  if (existing.length > 0) throw new ConfigError(`${store.path}: already holds a run "${runName}"; assemble ${dir} into another store (--db)`, { file: store.path, field: 'from-parquet' });
  // The run is described by a part that sent (a replay host's), not by a backend's observation store.
  const first = parts.find((p) => p.run.kind !== 'record') ?? (parts[0] as RunPart);
  const merged = mergeRunParts(parts, offsetOf);
  // All or nothing: a part that fails halfway (a file cut short) left a run of the rest, abandoned, whose analysis
  // blamed the relay for every packet the missing observations would have shown, and which a second try, with the
  // part mended, was refused for ("already holds a run").
  await store.exec('BEGIN TRANSACTION');
  try {
    const assembled = await writeAssembled(store, runName, parts, first, merged, offsetOf);
    await store.exec('COMMIT');
    return assembled;
  } catch (error) {
    await store.exec('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function writeAssembled(
  store: Store,
  runName: string,
  parts: readonly RunPart[],
  first: RunPart,
  merged: ReturnType<typeof mergeRunParts>,
  offsetOf: (part: RunPart) => bigint,
): Promise<AssembledRun> {
  const runId = await createRun(store, {
    name: runName,
    kind: first.run.kind,
    protocol: first.run.protocol,
    ...(first.run.relay !== null && { relay: first.run.relay }),
    plan: first.run.plan ?? undefined,
    topology: merged.topology,
    ...(first.run.thresholds !== null && typeof first.run.thresholds === 'object' && { thresholds: first.run.thresholds }),
    ...(merged.startedNs !== null && { startedNs: merged.startedNs }),
  });
  const assembled: AssembledRun = { runId, parts: [] };
  let sendBase = 0;
  for (const part of parts) {
    const counts = await copyPart(store, runId, part, offsetOf(part), sendBase);
    sendBase += counts.sendSpan;
    assembled.parts.push({ dir: part.dir, sends: counts.sends, observations: counts.observations });
  }
  await recordHarnessLag(store, runId, merged.harnessLag);
  await finishRun(store, runId, merged.status, merged.endedNs ?? merged.startedNs ?? 0n, merged.stats ?? undefined);
  // Times are wall-clock now: the run's offset to the wall clock is none.
  await store.exec('UPDATE runs SET wall_offset_ns = 0 WHERE run_id = $id', { id: runId });
  return assembled;
}

/** DIR itself when it holds a runs.parquet, else each of its subdirectories that does. */
function partDirs(dir: string): string[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ConfigError(`${dir}: no such directory`, { file: dir, field: 'from-parquet' });
  if (existsSync(join(root, 'runs.parquet'))) return [root];
  const parts = readdirSync(root)
    .map((name) => join(root, name))
    .filter((path) => statSync(path).isDirectory() && existsSync(join(path, 'runs.parquet')))
    .sort();
  if (parts.length === 0) throw new ConfigError(`${dir}: no runs.parquet in it or in its subdirectories (write each host's with: parity export RUN --parquet ${dir}/HOST)`, { file: dir, field: 'from-parquet' });
  return parts;
}

async function readPart(store: Store, dir: string, runName: string): Promise<RunPart> {
  for (const table of ['sends', 'observations']) {
    if (!existsSync(join(dir, `${table}.parquet`))) throw new ConfigError(`${join(dir, `${table}.parquet`)}: missing from this part (parity export writes it)`, { file: dir, field: 'from-parquet' });
  }
  const file = join(dir, 'runs.parquet');
  const rows = await readingPart(file, () => store.query(PART_RUN_SQL, { file }));
  const [row] = rows;
  if (row === undefined || rows.length !== 1) throw new ConfigError(`${file}: holds ${rows.length} runs; a part is one run's export`, { file, field: 'from-parquet' });
  const run = runFromRow(row);
  if (run.name !== runName) throw new ConfigError(`${file}: is run "${run.name}", not "${runName}"`, { file, field: 'from-parquet' });
  return { dir, run, wallOffsetNs: typeof row.wall_offset_ns === 'bigint' ? row.wall_offset_ns : null };
}

/**
 * Each part's times move by its host's wall-clock offset. Parts from stores made before runs recorded the offset can
 * only be assembled when one host made them all: their monotonic times are then already on one axis.
 */
function clockOffsets(parts: readonly RunPart[], dir: string): (part: RunPart) => bigint {
  const unknown = parts.filter((p) => p.wallOffsetNs === null);
  if (unknown.length === 0) return (part) => part.wallOffsetNs ?? 0n;
  const hosts = new Set(parts.map((p) => p.run.owner?.host ?? ''));
  if (hosts.size > 1) {
    throw new ConfigError(`${unknown[0]?.dir ?? dir}: records no wall-clock offset, and the parts come from ${hosts.size} hosts whose clocks cannot be aligned without it`, { file: dir, field: 'from-parquet' });
  }
  return () => 0n;
}

async function copyPart(store: Store, runId: number, part: RunPart, offsetNs: bigint, sendBase: number): Promise<{ sends: number; observations: number; sendSpan: number }> {
  const params = { run_id: runId, offset_ns: offsetNs, send_base: sendBase };
  const sends = join(part.dir, 'sends.parquet');
  const observations = join(part.dir, 'observations.parquet');
  await readingPart(sends, () =>
    store.exec(
      `INSERT INTO sends BY NAME SELECT * REPLACE ($run_id AS run_id, send_no + $send_base AS send_no, scheduled_ns + $offset_ns AS scheduled_ns, actual_ns + $offset_ns AS actual_ns) FROM read_parquet($file)`,
      { ...params, file: sends },
    ),
  );
  await readingPart(observations, () => store.exec(`INSERT INTO observations BY NAME SELECT * REPLACE ($run_id AS run_id, ts_ns + $offset_ns AS ts_ns) FROM read_parquet($file)`, { ...params, file: observations }));
  const samples = join(part.dir, 'relay_samples.parquet');
  if (existsSync(samples)) await readingPart(samples, () => store.exec(`INSERT INTO relay_samples BY NAME SELECT * REPLACE ($run_id AS run_id, ts_ns + $offset_ns AS ts_ns) FROM read_parquet($file)`, { ...params, file: samples }));
  const [counts] = await store.query(
    'SELECT (SELECT count(*) FROM read_parquet($sends)) AS sends, (SELECT coalesce(max(send_no) + 1, 0) FROM read_parquet($sends)) AS span, (SELECT count(*) FROM read_parquet($observations)) AS observations',
    { sends, observations },
  );
  return { sends: num(counts?.sends), observations: num(counts?.observations), sendSpan: num(counts?.span) };
}

/**
 * A part's file DuckDB cannot read or take (cut short, damaged, written by another schema) is that part's fault, bad
 * input named by its file (exit 2), not the store's (which the message would otherwise name first).
 */
async function readingPart<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    const reason = error.cause instanceof Error ? (error.cause.message.split('\n')[0] ?? '') : error.message;
    throw new ConfigError(`${file}: cannot be read as a part of the run (${reason})`, { file, field: 'from-parquet' }, { cause: error });
  }
}
