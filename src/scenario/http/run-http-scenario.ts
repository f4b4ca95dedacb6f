import { randomInt } from 'node:crypto';
import { Pool } from 'undici';
import { formatDurationMs } from '../../core/format.ts';
import { analyseRun } from '../../analyse/analyse-run.ts';
import { formatMeasured, type Analysis } from '../../analyse/analysis.ts';
import { HttpBackend, type HttpBackendFaults, type ReceivedHttpRequest } from '../../backends/http/http-backend.ts';
import type { LegActivity } from '../../core/leg-activity.ts';
import { HttpTap } from '../../observe/http-tap.ts';
import { openHttpReceipts } from '../../backends/http/http-receipt-writer.ts';
import type { CaptureSummary } from '../../capture/capture-catalog.ts';
import { ShadowProxy } from '../../relay/http/shadow-proxy.ts';
import { loadExchanges, sendHttpReplay, type Exchange } from '../../replay/http/http-replay.ts';
import { storedReplayStats } from '../../replay/replay-figures.ts';
import { describePace, type ReplayPlan } from '../../replay/replay-plan.ts';
import { writeReports, type WrittenReports } from '../../report/write-reports.ts';
import { RunSession } from '../../run/run-session.ts';
import type { RunCalibration, RunTopology, TopologyBackend } from '../../store/run-metadata.ts';
import { nextRunName, updateRun } from '../../store/runs.ts';
import { unmetExpectations, type RunScenarioOptions } from '../run-scenario.ts';
import type { HttpScenarioBackend, HttpScenarioSpec } from './http-scenario-spec.ts';
import { prepareHttpTraffic } from './http-traffic.ts';
import { startProxyUnderTest, type ProxyUnderTest } from './proxy-under-test.ts';
import { join } from 'node:path';

export interface HttpScenarioResult {
  runName: string;
  status: 'completed' | 'interrupted';
  analysis: Analysis;
  reports: WrittenReports;
  /** The runs the main one was judged by: with no shadow (latency), A/A (field noise), the shadow slow and failing. */
  calibration: RunCalibration;
  unmet: string[];
}

/** Requests of the warm-up round: enough for V8 to optimise the hot paths of the client, proxy and backends. */
const WARM_UP_REQUESTS = 300;

interface ScenarioContext {
  spec: HttpScenarioSpec;
  options: RunScenarioOptions;
  capture: CaptureSummary;
  exchanges: Exchange[];
  plan: ReplayPlan;
  say: (line: string) => void;
}

/** What stands behind the proxy in one run: no shadow, a second copy of live (A/A), a slow or failing one, or the shadow under test. */
type Shadow = { role: 'none' } | { role: 'copy of live' | 'slow copy of live' | 'failing shadow' | 'shadow'; backend: HttpScenarioBackend };

interface Phase {
  name: string;
  shadow: Shadow;
  use: 'noShadow' | 'aa' | 'condition' | 'main';
  /** The shadow's condition this run measures the live latency under. */
  condition?: 'healthy' | 'slow' | 'failing';
}

/**
 * The runs of a scenario in order: with no shadow; with a second copy of live as the shadow (A/A: noise, and the live
 * latency with a healthy shadow); with that copy slow, then failing (every connection reset), for the live latency
 * under each; then the run under test. A slow shadow answers in at least 200 ms, and within half its timeout, so the
 * proxy holds many shadow requests in flight without giving them up.
 */
function phasesOf(spec: HttpScenarioSpec, name: string, say: (line: string) => void): Phase[] {
  const live = spec.backends.live;
  const liveFaults = live.kind === 'simulated' ? live.faults : {};
  const slowMs = Math.min(Math.max(4 * (liveFaults.latencyMs ?? 0), 200), spec.proxy.shadowTimeoutMs / 2);
  const conditions = spec.calibrate.shadowConditions;
  // A second copy of live: live's own simulated twin, or, for a real live service, the instance named `aa:`.
  const copy = live.kind === 'simulated' ? live : spec.backends.aa;
  if (spec.calibrate.aa && copy === undefined) say('no A/A run: live is a real service and backends.aa names no second instance of it; every field that differs will count');
  const simulated = (faults: HttpBackendFaults): HttpScenarioBackend => ({ kind: 'simulated', faults });
  return [
    ...(spec.calibrate.noShadow ? [{ name: `${name}-no-shadow`, shadow: { role: 'none' }, use: 'noShadow' } satisfies Phase] : []),
    ...(spec.calibrate.aa && copy !== undefined ? [{ name: `${name}-aa`, shadow: { role: 'copy of live', backend: copy }, use: 'aa', ...(conditions && { condition: 'healthy' }) } satisfies Phase] : []),
    ...(conditions
      ? [
          { name: `${name}-shadow-slow`, shadow: { role: 'slow copy of live', backend: simulated({ ...liveFaults, latencyMs: slowMs }) }, use: 'condition', condition: 'slow' } satisfies Phase,
          { name: `${name}-shadow-failing`, shadow: { role: 'failing shadow', backend: simulated({ resetShare: 1 }) }, use: 'condition', condition: 'failing' } satisfies Phase,
        ]
      : []),
    { name, shadow: { role: 'shadow', backend: spec.backends.shadow }, use: 'main' },
  ];
}

/**
 * Runs an HTTP shadowing validation: the calibration runs first (the proxy with no shadow, for the live latency it
 * has anyway; the shadow a second copy of live, for the noise of each response field), then the run under test, each a
 * run of its own through the reference proxy to simulated live and shadow backends that record what they got. The run
 * under test is judged against both and reported like any run.
 */
export async function runHttpScenario(spec: HttpScenarioSpec, options: RunScenarioOptions): Promise<HttpScenarioResult> {
  const { store } = options;
  const say = options.say ?? (() => undefined);
  const capture = await prepareHttpTraffic(store, spec, options.baseDir);
  const plan: ReplayPlan = { pace: spec.replay.pace, loops: spec.replay.loops, durationMs: spec.replay.durationMs, sample: spec.replay.sample, seed: spec.replay.seed };
  const exchanges = await loadExchanges(store, capture.name, plan);
  const ctx: ScenarioContext = { spec, options, capture, exchanges, plan, say };
  const name = await nextRunName(store, spec.name);
  say(`run ${name}: ${exchanges.length} requests of ${capture.name} through ${spec.proxy.kind === 'builtin' ? 'the reference shadowing proxy' : 'the proxy under test'}${spec.calibrate.noShadow || spec.calibrate.aa ? ', after its calibration runs' : ''}`);
  const phases = phasesOf(spec, name, say);
  const calibration: RunCalibration = {};
  await warmUp(ctx);
  for (const phase of phases) {
    const status = await runPhase(ctx, phase.name, phase.shadow, phase.use === 'main' ? calibration : undefined);
    const analysis = await analyseRun(store, phase.name, {
      thresholds: spec.thresholds,
      ...(calibration.noShadow !== undefined && { baseline: calibration.noShadow }),
      ...(calibration.aa !== undefined && { noise: calibration.aa }),
    });
    if (phase.use !== 'main' && status === 'completed') {
      if (phase.use === 'noShadow') calibration.noShadow = phase.name;
      if (phase.use === 'aa') calibration.aa = phase.name;
      if (phase.condition !== undefined) calibration.conditions = [...(calibration.conditions ?? []), { label: phase.condition, run: phase.name }];
      say(`calibration run ${phase.name}: ${calibrationSummary(analysis, phase)}`);
    }
    // The run under test is reported; an interrupted calibration run ends the scenario with its own INCOMPLETE.
    if (phase.use === 'main' || status === 'interrupted') {
      const reports = await writeReports(store, analysis, { outDir: options.reportsDir, formats: options.formats, screenshot: options.screenshot });
      return { runName: phase.name, status, analysis, reports, calibration, unmet: unmetExpectations(spec, analysis) };
    }
  }
  throw new Error('unreachable: the last phase is the run under test');
}

/** One run: backends and proxy started, the capture replayed through them, the shadow drained, everything stopped. */
async function runPhase(ctx: ScenarioContext, runName: string, shadow: Shadow, calibration?: RunCalibration): Promise<'completed' | 'interrupted'> {
  const { spec, options, plan } = ctx;
  const { store } = options;
  const block = `127.${randomInt(100, 200)}.${randomInt(0, 250)}`;
  const session = await RunSession.create(store, {
    name: runName,
    kind: 'scenario',
    protocol: 'http',
    captureId: ctx.capture.captureId,
    topology: { ...topologyOf(spec, block, shadow), ...(calibration !== undefined && { calibration }) },
    thresholds: spec.thresholds,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: spec.replay.answerTimeoutMs },
  });
  try {
    const receipts = await openHttpReceipts(store, session.runId);
    session.defer('http receipts', () => receipts.close());
    const live = await startLeg(spec.backends.live, { host: `${block}.2`, role: 'live', seed: plan.seed, record: receipts.recorderFor('live') });
    session.defer('live backend', () => live.close());
    const shadowBackend = shadow.role === 'none' ? null : await startLeg(shadow.backend, { host: `${block}.3`, role: 'shadow', seed: plan.seed + 1, record: receipts.recorderFor('shadow') });
    if (shadowBackend !== null) session.defer('shadow backend', () => shadowBackend.close());
    const proxy = await startProxyUnderTest(spec, { host: `${block}.1`, live: live.url, shadow: shadowBackend?.url ?? null, runName, cwd: options.baseDir, runDir: join(options.reportsDir, runName) });
    session.defer('shadow proxy', () => proxy.close());
    await updateRun(store, session.runId, { protocol: 'http', relay: proxy.url });
    ctx.say(`${runName}: ${shadow.role === 'none' ? 'no shadow' : `shadow: ${shadow.role}`}, replaying (${describePace(plan.pace)})`);
    const replayed = await sendHttpReplay(session, { store, exchanges: ctx.exchanges, target: proxy.url, plan, answerTimeoutMs: spec.replay.answerTimeoutMs, ...(options.signal !== undefined && { signal: options.signal }) });
    proxy.throwIfExited();
    await drainShadow(proxy, shadowBackend, spec.proxy.shadowTimeoutMs);
    proxy.throwIfExited();
    await session.finish(replayed.status, storedReplayStats(replayed.stats, plan), replayed.startNs);
    return replayed.status;
  } catch (error) {
    return session.fail(error);
  }
}

/** What a calibration run learned, in a line: the live latency with no shadow, or the fields that vary by themselves. */
function calibrationSummary(analysis: Analysis, phase: Phase): string {
  const impact = analysis.metrics.find((m) => m.metric === 'live_latency_impact_p95_ms' && m.backend === null);
  const added = impact?.value === undefined || impact.value === null ? '-' : `${impact.value >= 0 ? '+' : ''}${formatMeasured(impact)}`;
  if (phase.use === 'condition') return `the shadow ${phase.condition ?? ''}: live latency p95 ${added} against no shadow`;
  if (phase.use === 'noShadow') {
    const p95 = analysis.metrics.find((m) => m.metric === 'client_latency_p95_ms' && m.backend === null)?.value;
    return `client latency p95 ${p95 === undefined || p95 === null ? '-' : formatDurationMs(p95)} with no shadow`;
  }
  const noisy = (analysis.responseFields ?? []).filter((f) => f.differing > 0).map((f) => `${f.field} ${Math.round((100 * f.differing) / f.compared)}%`);
  return noisy.length === 0 ? 'no response field differs between two copies of live' : `fields that differ between two copies of live (noise): ${noisy.join(', ')}`;
}

/**
 * A throwaway round of the traffic through a throwaway topology before the first run: the first run would otherwise
 * pay for the process's cold start (JIT, first connections) and make the runs after it look faster than they are.
 */
async function warmUp(ctx: ScenarioContext): Promise<void> {
  const block = `127.${randomInt(100, 200)}.${randomInt(0, 250)}`;
  const live = await HttpBackend.start({ host: `${block}.2`, role: 'live', record: () => undefined });
  const shadow = await HttpBackend.start({ host: `${block}.3`, role: 'shadow', record: () => undefined });
  const proxy = await ShadowProxy.start({ host: `${block}.1`, live: live.url, shadow: shadow.url });
  // The reference proxy warms this process's client and backends; an external proxy warms up in its first run.
  const pool = new Pool(proxy.url, { connections: 16 });
  try {
    const sample = ctx.exchanges.slice(0, WARM_UP_REQUESTS);
    for (let i = 0; i < sample.length; i += 16) {
      await Promise.all(sample.slice(i, i + 16).map(async (e) => (await pool.request({ path: e.path, method: e.method as 'GET', headers: e.headers, body: e.body.length > 0 ? e.body : null })).body.dump()));
    }
  } finally {
    await pool.close();
    await proxy.close();
    await Promise.all([live.close(), shadow.close()]);
  }
}

/** How long the shadow must have received nothing, when the proxy cannot say what it has in flight. */
const SHADOW_QUIET_MS = 300;

/**
 * Late is not missing: the shadow's copies still in flight are waited for, up to their own timeout. The reference
 * proxy says how many it has in flight; for another, the shadow backend must have answered all it received and have
 * received nothing for a while.
 */
async function drainShadow(proxy: ProxyUnderTest, shadow: (LegActivity & { url: string }) | null, shadowTimeoutMs: number): Promise<void> {
  if (shadow === null) return;
  const deadline = Date.now() + shadowTimeoutMs + 1000;
  const drained = (): boolean => {
    const inFlight = proxy.shadowInFlight();
    if (inFlight !== null) return inFlight === 0;
    return shadow.unsettled() === 0 && performance.now() - shadow.lastReceivedMs > SHADOW_QUIET_MS;
  };
  while (!drained() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A backend of one run: a simulated one, or a tap in front of a real one; either records each request and its answer. */
async function startLeg(
  backend: HttpScenarioBackend,
  at: { host: string; role: string; seed: number; record: (receipt: ReceivedHttpRequest) => void },
): Promise<LegActivity & { url: string; close(): Promise<void> }> {
  if (backend.kind === 'external') return HttpTap.start({ host: at.host, target: backend.url, record: at.record });
  return HttpBackend.start({ host: at.host, role: at.role, faults: backend.faults, seed: at.seed, record: at.record });
}

function topologyOf(spec: HttpScenarioSpec, block: string, shadow: Shadow): RunTopology {
  const faults = (backend: HttpScenarioBackend): Record<string, string | number | boolean> => {
    if (backend.kind === 'external') return { external: backend.url };
    const f = backend.faults;
    return {
      ...(f.latencyMs !== undefined && { latencyMs: f.latencyMs }),
      ...(f.errorShare !== undefined && { errorShare: f.errorShare }),
      ...(f.resetShare !== undefined && { resetShare: f.resetShare }),
      ...(f.ignoreBody === true && { ignoreBody: true }),
      ...(f.changedField !== undefined && { changedField: `${f.changedField.name}=${JSON.stringify(f.changedField.value)}` }),
    };
  };
  const leg = (backend: HttpScenarioBackend, role: string, ip: string, what: string): TopologyBackend =>
    backend.kind === 'external'
      ? { role, ip, observation: 'tap', observed: `a recording tap at ${ip} in front of ${backend.url}`, faults: faults(backend) }
      : { role, ip, observation: 'simulated', observed: what, faults: faults(backend) };
  return {
    scenario: spec.name,
    description: spec.description,
    relay:
      spec.proxy.kind === 'builtin'
        ? { kind: 'builtin', address: `${block}.1`, debug: null, shadowTimeoutMs: spec.proxy.shadowTimeoutMs, emptyShadowBody: spec.proxy.faults.emptyShadowBody === true, liveWaitsForShadow: spec.proxy.faults.liveWaitsForShadow === true }
        : { kind: 'external', address: `${block}.1:${spec.proxy.port}`, debug: null, command: spec.proxy.command },
    backends: [
      leg(spec.backends.live, 'live', `${block}.2`, 'simulated HTTP backend'),
      ...(shadow.role === 'none' ? [] : [leg(shadow.backend, 'shadow', `${block}.3`, `simulated HTTP backend (${shadow.role})`)]),
    ],
    routes: [],
  };
}
