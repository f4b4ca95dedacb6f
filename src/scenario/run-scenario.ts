import { analyseRun } from '../analyse/analyse-run.ts';
import type { Analysis } from '../analyse/analysis.ts';
import type { CaptureSummary } from '../capture/capture-catalog.ts';
import { debug } from '../core/debug.ts';
import { RelayPoller } from '../observe/relay-poller.ts';
import { getProtocol } from '../protocols/index.ts';
import { COMMIT_BOUND_MS, prepareReplay, sendReplay, type ReplayProgress, type ReplayResult } from '../replay/replayer.ts';
import { writeReports, type ReportFormat, type WrittenReports } from '../report/write-reports.ts';
import { RunSession } from '../run/run-session.ts';
import { ObservationWriter } from '../store/observation-writer.ts';
import { nextRunName, recordObserverCounters, updateRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { defaultDrainMs, drainBackends } from './drain.ts';
import { startLiveObservation } from './live-observation.ts';
import { prepareTraffic } from './prepare-traffic.ts';
import { startRelayUnderTest } from './relay-under-test.ts';
import { allocateAddresses, topologyOf, type Addresses } from './scenario-addresses.ts';
import { startBackends, type ScenarioBackends } from './scenario-backends.ts';
import type { ScenarioSpec } from './scenario-spec.ts';
import { Timeline } from './timeline.ts';

export interface RunScenarioOptions {
  store: Store;
  /** Directory scenario paths (a capture file) are relative to. */
  baseDir: string;
  reportsDir: string;
  formats: readonly ReportFormat[];
  screenshot: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** One line per step, for the user. */
  say?: (line: string) => void;
}

export interface ScenarioResult {
  runName: string;
  replay: ReplayResult;
  analysis: Analysis;
  reports: WrittenReports;
  timeline: Timeline['applied'];
  /** What `expect` in the scenario asked for and did not get. */
  unmet: string[];
}

/** What one scenario run works on, from its first step to its last. */
interface ScenarioRun {
  spec: ScenarioSpec;
  options: RunScenarioOptions;
  session: RunSession;
  capture: CaptureSummary;
  addresses: Addresses;
  say: (line: string) => void;
  /** When the run's last phase ended (performance.now()), for NODE_DEBUG=parity's account of where a run's time went. */
  phaseEnded: number;
}

function phase(run: ScenarioRun, what: string): void {
  const now = performance.now();
  debug('run %s: %s in %d ms', run.session.name, what, Math.round(now - run.phaseEnded));
  run.phaseEnded = now;
}

/**
 * Runs a whole validation as the pipeline reads: prepare the traffic -> create the run -> start the topology
 * (backends, observers, relay, relay poller) -> replay (with the fault timeline) -> drain -> stop everything, in
 * reverse order -> finish the run -> analyse -> report. The run session stops what was started also on Ctrl-C or a
 * failure half-way, and only then writes the run's end.
 */
export async function runScenario(spec: ScenarioSpec, options: RunScenarioOptions): Promise<ScenarioResult> {
  const { store } = options;
  const say = options.say ?? (() => undefined);
  const capture = await prepareTraffic(store, spec, options.baseDir);
  const addresses = allocateAddresses(spec);
  const name = await nextRunName(store, spec.name);
  const topology = topologyOf(spec, addresses, capture);
  const session = await RunSession.create(store, { name, kind: 'scenario', protocol: spec.protocol, relay: addresses.relay, topology, thresholds: spec.thresholds });
  say(`run ${name}: ${capture.uplinkDatagrams} uplink packets of ${capture.name} from ${capture.devices} devices through ${spec.relay.kind === 'builtin' ? 'the reference relay' : 'the relay'} at ${addresses.relay}`);
  const run: ScenarioRun = { spec, options, session, capture, addresses, say, phaseEnded: performance.now() };
  let replayed: Replayed;
  try {
    replayed = await replayThroughTopology(run);
    phase(run, 'drained');
    await session.stopAll();
    phase(run, 'stopped');
    replayed.relayCheck();
  } catch (error) {
    return session.fail(error);
  }
  const { replay } = replayed;
  await session.finish(replay.stats.interrupted ? 'interrupted' : 'completed', replay.stats, replayed.startNs);
  say(`replay ${replay.status}: ${replay.stats.sent} sent, ${replay.stats.acks} ACKs; analysing`);
  const analysis = await analyseRun(store, name, { thresholds: spec.thresholds, ...(spec.baseline !== undefined && { baseline: spec.baseline }) });
  phase(run, 'analysed');
  const reports = await writeReports(store, analysis, { outDir: options.reportsDir, formats: options.formats, screenshot: options.screenshot });
  phase(run, 'reported');
  return { runName: name, replay, analysis, reports, timeline: replayed.timeline, unmet: unmetExpectations(spec, analysis) };
}

interface Replayed {
  replay: ReplayResult;
  startNs: bigint;
  timeline: Timeline['applied'];
  /** Throws when the relay under test died during the run. */
  relayCheck: () => void;
}

/** Starts the topology, replays through it and drains it; everything started is registered with the session. */
async function replayThroughTopology(run: ScenarioRun): Promise<Replayed> {
  const { spec, options, session, capture, addresses } = run;
  // Backends share this process with the replayer: their commits go at the replay's pace (COMMIT_BOUND_MS), and
  // DuckDB's threads store them, so a commit never holds the backends' answers (nor the times they stamp).
  const observations = await ObservationWriter.create(options.store, session.runId, { flushIntervalMs: COMMIT_BOUND_MS });
  session.defer('observation writer', () => observations.finish());
  const backends = await startBackends(session, spec, addresses, capture.routePorts, observations);
  const live = await startLiveObservation(spec, addresses, observations);
  if (live !== undefined) session.observe(live);
  // The replay stops when the user interrupts or when an external relay dies under it.
  const replayAbort = new AbortController();
  options.signal?.addEventListener('abort', () => replayAbort.abort(), { once: true });
  const relay = await startRelayUnderTest(session, spec, { addresses, capture, baseDir: options.baseDir, reportsDir: options.reportsDir, abortReplay: () => replayAbort.abort() });
  const poller = relay.debugUrl === undefined ? undefined : new RelayPoller(options.store, session.runId, relay.debugUrl);
  if (poller !== undefined) await session.observe(poller).start();
  const timeline = new Timeline(spec.timeline, { backends: backends.simulated, ...(relay.reload !== undefined && { reload: relay.reload }) });
  session.defer('fault timeline', () => timeline.stop());
  phase(run, 'topology started');
  const { replay, startNs } = await replayCaptureThrough(run, timeline, replayAbort.signal);
  phase(run, 'replayed');
  await timeline.stop();
  relay.throwIfExited();
  await drain(run, backends, poller);
  return { replay, startNs, timeline: timeline.applied, relayCheck: () => relay.throwIfExited() };
}

async function replayCaptureThrough(run: ScenarioRun, timeline: Timeline, signal: AbortSignal): Promise<{ replay: ReplayResult; startNs: bigint }> {
  const { spec, options, session, capture, addresses } = run;
  run.say(`replaying (${spec.replay.pace.kind === 'original' ? `original timing x${spec.replay.pace.speed}` : spec.replay.pace.kind})${spec.timeline.length > 0 ? ` with ${spec.timeline.length} timeline events` : ''}`);
  const prepared = await prepareReplay({
    store: options.store,
    capture: capture.name,
    relayHost: addresses.relay,
    portMap: new Map(),
    plan: { pace: spec.replay.pace, loops: spec.replay.loops, durationMs: spec.replay.durationMs, sample: spec.replay.sample, seed: spec.replay.seed },
    protocol: getProtocol(spec.protocol),
    devices: spec.replay.devices,
    ackTimeoutMs: spec.replay.ackTimeoutMs,
    senderCpu: spec.replay.senderCpu,
    onStart: (startNs: number) => timeline.start(startNs),
    signal,
    ...(options.onProgress !== undefined && { onProgress: options.onProgress }),
  });
  session.defer('device sockets', () => prepared.close());
  await updateRun(options.store, session.runId, { captureId: prepared.capture.captureId, protocol: spec.protocol, relay: addresses.relay, plan: prepared.plan });
  const outcome = await sendReplay(prepared, session.runId);
  return { replay: { runId: session.runId, runName: session.name, status: outcome.status, stats: outcome.stats }, startNs: outcome.startNs };
}

/** Late is not missing: the run waits for every backend's answers before its observers stop. */
async function drain(run: ScenarioRun, backends: ScenarioBackends, poller: RelayPoller | undefined): Promise<void> {
  const simulated = [...backends.simulated.values()];
  const taps = backends.taps;
  await drainBackends({
    backends: simulated,
    taps,
    drainMs: run.spec.replay.drainMs ?? defaultDrainMs(run.spec.replay.ackTimeoutMs, simulated, taps),
    ...(poller !== undefined && { relayQueued: () => poller.queuedAtRelay() }),
  });
  const counters = backends.taps.map(({ tap, role }) => {
    tap.countDrops();
    return { observer: `tap:${role}:${tap.listen.port}`, backend: role, ...tap.counters };
  });
  const backendDrops = Object.fromEntries(simulated.flatMap((backend) => {
    const drops = backend.receiveDrops();
    return drops === null ? [] : [[backend.role, drops]];
  }));
  await recordObserverCounters(run.options.store, run.session.runId, counters, backendDrops);
}

/** What a scenario's `expect:` asked for and the analysis did not give. */
export function unmetExpectations(spec: Pick<ScenarioSpec, 'expect'>, analysis: Analysis): string[] {
  if (spec.expect === undefined) return [];
  const unmet: string[] = [];
  if (spec.expect.verdict !== undefined && spec.expect.verdict !== analysis.verdict) unmet.push(`verdict ${analysis.verdict}, expected ${spec.expect.verdict}`);
  for (const wanted of spec.expect.findings) {
    if (!analysis.findings.some((f) => f.message.includes(wanted))) unmet.push(`no finding mentions "${wanted}"`);
  }
  return unmet;
}
