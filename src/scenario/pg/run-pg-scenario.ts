import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { analyseRun } from '../../analyse/analyse-run.ts';
import type { Analysis } from '../../analyse/analysis.ts';
import { startPgCluster, type PgCluster } from '../../backends/pg/pg-cluster.ts';
import { deleteCapture, type CaptureSummary } from '../../capture/capture-catalog.ts';
import { importCaptures } from '../../capture/import-capture.ts';
import { importPgCsvlog } from '../../capture/pg/import-csvlog.ts';
import { ConfigError, SubprocessError } from '../../core/errors.ts';
import type { JsonValue } from '../../core/json.ts';
import { openPgReceipts } from '../../observe/pg-receipt-writer.ts';
import { PgTap } from '../../observe/pg-tap.ts';
import { startPoolerUnderTest, type PoolerUnderTest } from './pooler-under-test.ts';
import { checkSchema, loadStatements, sendPgReplay } from '../../replay/pg/pg-replay.ts';
import { describePace, type ReplayPlan } from '../../replay/replay-plan.ts';
import { storedReplayStats } from '../../replay/replay-figures.ts';
import { writeReports, type WrittenReports } from '../../report/write-reports.ts';
import { RunSession } from '../../run/run-session.ts';
import type { RunCalibration, RunTopology } from '../../store/run-metadata.ts';
import { nextRunName, updateRun } from '../../store/runs.ts';
import type { Store } from '../../store/store.ts';
import { writePgWorkloadLog } from '../../synthetic/pg-workload.ts';
import { unmetExpectations, type RunScenarioOptions } from '../run-scenario.ts';
import { generatedCapture, namedCapture } from '../scenario-capture.ts';
import type { PgScenarioSpec } from './pg-scenario-spec.ts';

export interface PgScenarioResult {
  runName: string;
  status: 'completed' | 'interrupted';
  analysis: Analysis;
  reports: WrittenReports;
  unmet: string[];
}

const QUIET_MS = 300;
const DRAIN_MAX_MS = 30_000;

/**
 * Runs a Postgres mirror validation: two temporary PostgreSQL servers (the primary and the mirror) given the scenario's
 * schema (and the mirror its migration), a recording tap in front of each, the reference mirroring pooler in front of
 * the primary's tap mirroring to the mirror's, the recorded sessions replayed through the pooler, a drain (the mirror
 * is asynchronous: late is not missing), the pooler's own metrics kept beside what the taps saw, the analysis and the
 * reports.
 */
export async function runPgScenario(spec: PgScenarioSpec, options: RunScenarioOptions): Promise<PgScenarioResult> {
  const { store } = options;
  const say = options.say ?? (() => undefined);
  const capture = await prepareStatements(store, spec, options.baseDir);
  const plan: ReplayPlan = { pace: spec.replay.pace, loops: spec.replay.loops, durationMs: spec.replay.durationMs, sample: spec.replay.sample, seed: spec.replay.seed };
  const statements = await loadStatements(store, capture.name, plan);
  const name = await nextRunName(store, spec.name);
  say(`run ${name}: ${statements.length} statements of ${capture.name} in ${new Set(statements.map((s) => s.session)).size} sessions through the reference mirroring pooler (exposure ${Math.round(spec.pooler.exposure * 100)}%, queue ${spec.pooler.queue})${spec.calibrate.aa ? ', after an A/A run' : ''}`);
  const calibration: RunCalibration = {};
  if (spec.calibrate.noMirror) {
    const baseline = `${name}-no-mirror`;
    await runPhase(store, { ...spec, pooler: { ...spec.pooler, exposure: 0 } }, capture, statements, plan, baseline, {}, say, options.signal, options, false);
    calibration.noShadow = baseline;
    say(`calibration run ${baseline}: the live path with mirroring off`);
  }
  if (spec.calibrate.aa) {
    // The mirror as a second copy of the primary (no migration, a queue nothing overflows): what differs is noise.
    const aa = `${name}-aa`;
    await runPhase(store, { ...spec, mirrorSchema: '', pooler: { ...spec.pooler, exposure: 1, queue: Math.max(spec.pooler.queue, 1_000_000) } }, capture, statements, plan, aa, {}, say, options.signal, options);
    calibration.aa = aa;
    const noise = await analyseRun(store, aa, { thresholds: spec.thresholds });
    const differing = noise.metrics.find((m) => m.metric === 'response_mismatches' && m.backend === 'mirror')?.value ?? 0;
    say(`calibration run ${aa}: ${differing} results differ between two copies of the database (noise)`);
  }
  const outcome = await runPhase(store, spec, capture, statements, plan, name, calibration, say, options.signal, options);
  const analysis = await analyseRun(store, name, { thresholds: spec.thresholds });
  const reports = await writeReports(store, analysis, { outDir: options.reportsDir, formats: options.formats, screenshot: options.screenshot });
  return { runName: name, status: outcome.status, analysis, reports, unmet: unmetExpectations(spec, analysis) };
}

/** One run: the two databases, their taps, the pooler, the replay, the drain; the pooler's counts kept with the run. */
async function runPhase(
  store: Store,
  spec: PgScenarioSpec,
  capture: CaptureSummary,
  statements: Awaited<ReturnType<typeof loadStatements>>,
  plan: ReplayPlan,
  name: string,
  calibration: RunCalibration,
  say: (line: string) => void,
  signal: AbortSignal | undefined,
  where: { baseDir: string; reportsDir: string },
  mirroring = true,
): Promise<{ status: 'completed' | 'interrupted' }> {
  const block = `127.${randomInt(100, 200)}.${randomInt(0, 250)}`;
  const port = 20_000 + randomInt(0, 20_000);
  const session = await RunSession.create(store, {
    name,
    kind: 'scenario',
    protocol: 'pg',
    captureId: capture.captureId,
    topology: topologyOf(spec, block, null, calibration),
    thresholds: spec.thresholds,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: spec.replay.answerTimeoutMs },
  });
  try {
    say(`${name}: starting the primary and the mirror (temporary PostgreSQL servers)`);
    const [primary, mirror] = await Promise.all([startPgCluster({ host: `${block}.2`, port }), startPgCluster({ host: `${block}.3`, port })]);
    session.defer('primary database', () => primary.stop());
    session.defer('mirror database', () => mirror.stop());
    await applySchema(primary, spec.schema, 'schema');
    await applySchema(mirror, spec.schema, 'schema');
    await applySchema(mirror, spec.mirrorSchema, 'mirror_schema');
    const receipts = await openPgReceipts(store, session.runId);
    session.defer('pg receipts', () => receipts.close());
    const tapPrimary = await PgTap.start({ host: `${block}.4`, target: { host: primary.host, port: primary.port }, record: receipts.recorderFor('primary') });
    session.defer('primary tap', () => tapPrimary.close());
    const tapMirror = await PgTap.start({ host: `${block}.5`, target: { host: mirror.host, port: mirror.port }, record: receipts.recorderFor('mirror') });
    session.defer('mirror tap', () => tapMirror.close());
    const pooler = await startPoolerUnderTest(spec, { host: `${block}.1`, primary: tapPrimary.address, mirror: mirroring ? tapMirror.address : null, runName: name, cwd: where.baseDir, runDir: join(where.reportsDir, name), seed: spec.replay.seed });
    session.defer('mirroring pooler', () => pooler.close());
    await updateRun(store, session.runId, { protocol: 'pg', relay: `${pooler.address.host}:${pooler.address.port}` });
    // Checked at the databases themselves: a check through the pooler would be a request of its own, mirrored and counted.
    await checkSchema({ host: primary.host, port: primary.port }, statements);
    await checkSchema({ host: mirror.host, port: mirror.port }, statements);
    say(`${name}: replaying (${describePace(plan.pace)})`);
    // The mirror's outages, as the timeline says: stopped with its data kept, started again as it was.
    const timers: NodeJS.Timeout[] = [];
    const outages: Promise<void>[] = [];
    let outageFailure: unknown;
    const applied: JsonValue[] = [];
    session.defer('timeline', () => timers.forEach((t) => clearTimeout(t)));
    const onStart = (startNs: bigint): void => {
      for (const step of mirroring ? spec.timeline : []) {
        const dueMs = Number(startNs - process.hrtime.bigint()) / 1e6 + step.atMs;
        timers.push(
          setTimeout(() => {
            const change = step.mirror === 'down' ? mirror.halt() : mirror.resume();
            outages.push(
              change.then(
                () => void applied.push({ atMs: step.atMs, label: `mirror database ${step.mirror}`, appliedNs: String(process.hrtime.bigint()) }),
                (error: unknown) => void (outageFailure ??= error),
              ),
            );
          }, Math.max(0, dueMs)),
        );
      }
    };
    const replayed = await sendPgReplay(session, { store, statements, target: pooler.address, plan, answerTimeoutMs: spec.replay.answerTimeoutMs, onStart, ...(signal !== undefined && { signal }) });
    await Promise.all(outages);
    if (outageFailure !== undefined) throw outageFailure;
    await drain(pooler, [tapPrimary, tapMirror]);
    pooler.throwIfExited();
    const poolerReport: JsonValue = (await pooler.counts()) ?? null;
    await updateRun(store, session.runId, { protocol: 'pg', topology: { ...topologyOf(spec, block, poolerReport, calibration), ...(applied.length > 0 && { timeline: applied }) } });
    await session.finish(replayed.status, storedReplayStats(replayed.stats, plan), replayed.startNs);
    return { status: replayed.status };
  } catch (error) {
    return session.fail(error);
  }
}

async function applySchema(cluster: PgCluster, sql: string, key: string): Promise<void> {
  if (sql.trim() === '') return;
  const client = new pg.Client({ connectionString: cluster.url() });
  await client.connect();
  try {
    await client.query(sql);
  } catch (error) {
    throw new ConfigError(`${key}: ${(error as Error).message}`, { field: key });
  } finally {
    await client.end();
  }
}

/** The mirror is asynchronous: its queue empty and both taps quiet before the run's legs are closed. */
async function drain(pooler: PoolerUnderTest, taps: readonly PgTap[]): Promise<void> {
  const deadline = Date.now() + DRAIN_MAX_MS;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const seen = taps.reduce((sum, t) => sum + t.statements, 0);
    const busy = (pooler.mirrorBusy() ?? 0) + taps.reduce((sum, t) => sum + t.unsettled(), 0);
    if (seen !== last || busy > 0) {
      last = seen;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= QUIET_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const busy = pooler.mirrorBusy() ?? 0;
  if (busy > 0) throw new SubprocessError(`the mirror still had ${busy} requests to answer ${DRAIN_MAX_MS / 1000} s after the last send`);
}

async function prepareStatements(store: Store, spec: PgScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  const importFile = async (file: string, name: string): Promise<void> => {
    if (/\.csv$/i.test(file)) {
      const imported = await importPgCsvlog(store, file, { name });
      if (imported.fault !== null) throw new ConfigError(`traffic.recording: ${imported.fault}`, { file, field: 'traffic.recording' });
      return;
    }
    const imported = await importCaptures(store, { files: [file], name });
    const fault = imported.errors[0]?.message ?? (imported.captures[0]?.pgStatements === 0 ? `${file}: no PostgreSQL session in it` : undefined);
    if (fault !== undefined) {
      await deleteCapture(store, name);
      throw new ConfigError(`traffic.recording: ${fault}`, { file, field: 'traffic.recording' });
    }
  };
  if (!('generate' in traffic)) return namedCapture(store, traffic.recording, baseDir, importFile);
  const g = traffic.generate;
  return generatedCapture(store, `${spec.name}-generated-${g.sessions}x${g.statements}-${g.gapMs}ms-${g.seed}`, '.csv', (file: string) => writePgWorkloadLog(file, g), importFile);
}

function topologyOf(spec: PgScenarioSpec, block: string, pooler: JsonValue, calibration: RunCalibration): RunTopology {
  return {
    scenario: spec.name,
    description: spec.description,
    ...((calibration.aa !== undefined || calibration.noShadow !== undefined) && { calibration }),
    relay: { kind: spec.pooler.external === undefined ? 'builtin' : 'external', address: `${block}.1`, debug: null, exposure: spec.pooler.exposure, queue: spec.pooler.queue, ...(pooler !== null && { pooler }) },
    backends: [
      { role: 'primary', ip: `${block}.2`, observation: 'tap', observed: 'recording tap in front of a temporary PostgreSQL server' },
      { role: 'mirror', ip: `${block}.3`, observation: 'tap', observed: `recording tap in front of a temporary PostgreSQL server${spec.mirrorSchema.trim() === '' ? '' : ', with the mirror_schema migration'}` },
    ],
    routes: [],
  };
}
