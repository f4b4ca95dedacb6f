import { randomInt } from 'node:crypto';
import { analyseRun } from '../../analyse/analyse-run.ts';
import type { Analysis } from '../../analyse/analysis.ts';
import { Gateway } from '../../backends/ws/gateway.ts';
import { WsReceiptWriter } from '../../backends/ws/ws-receipt-writer.ts';
import { deleteCapture, type CaptureSummary } from '../../capture/capture-catalog.ts';
import { importCaptures } from '../../capture/import-capture.ts';
import { isFrameRecordingName } from '../../capture/ws/frame-recording.ts';
import { importFrameRecording } from '../../capture/ws/import-frames.ts';
import { ConfigError } from '../../core/errors.ts';
import { quantile } from '../../core/stats.ts';
import { AGENT_DEFAULTS, readAgentConfig } from '../../relay/ws/agent-config.ts';
import { ControlPlane } from '../../relay/control/control-plane.ts';
import { agentSnapshot, validateAgentSnapshot } from '../../relay/ws/agent-snapshot.ts';
import { RelayAgent } from '../../relay/ws/relay-agent.ts';
import { describePace, type ReplayPlan } from '../../replay/replay-plan.ts';
import { storedReplayStats } from '../../replay/replay-figures.ts';
import { loadFrames, sendWsReplay } from '../../replay/ws/ws-replay.ts';
import { writeReports, type WrittenReports } from '../../report/write-reports.ts';
import { RunSession } from '../../run/run-session.ts';
import type { RunTopology } from '../../store/run-metadata.ts';
import { nextRunName, updateRun } from '../../store/runs.ts';
import type { Store } from '../../store/store.ts';
import { writeTelemetryRecording } from '../../synthetic/telemetry-frames.ts';
import { unmetExpectations, type RunScenarioOptions } from '../run-scenario.ts';
import { generatedCapture, namedCapture } from '../scenario-capture.ts';
import { Playbook } from './playbook-runner.ts';
import type { WsScenarioSpec } from './ws-scenario-spec.ts';

export interface WsScenarioResult {
  runName: string;
  status: 'completed' | 'interrupted';
  analysis: Analysis;
  reports: WrittenReports;
  unmet: string[];
}

/** How often the agent's queues are looked at during the run: the largest is the run's queue size. */
const QUEUE_SAMPLE_MS = 20;
/** How long the gateways must have taken nothing (with the agent's queues empty) for the run to be drained. */
const QUIET_MS = 300;
const DRAIN_MAX_MS = 10_000;

/**
 * Runs a WebSocket fan-out validation: simulated gateways that record every frame they process, the reference relay
 * agent fanning out to them, the recording replayed into the agent's ingest at the plan's pace, a drain (late is not
 * missing), then the agent's own counters stored beside what the gateways processed, the analysis and the reports.
 */
export async function runWsScenario(spec: WsScenarioSpec, options: RunScenarioOptions): Promise<WsScenarioResult> {
  const { store } = options;
  const say = options.say ?? (() => undefined);
  const capture = await prepareFrames(store, spec, options.baseDir);
  const plan: ReplayPlan = { pace: spec.replay.pace, loops: spec.replay.loops, durationMs: spec.replay.durationMs, sample: spec.replay.sample, seed: spec.replay.seed };
  const frames = await loadFrames(store, capture.name, plan);
  const name = await nextRunName(store, spec.name);
  const block = `127.${randomInt(100, 200)}.${randomInt(0, 250)}`;
  const session = await RunSession.create(store, {
    name,
    kind: 'scenario',
    protocol: 'ws',
    captureId: capture.captureId,
    topology: topologyOf(spec, block),
    thresholds: spec.thresholds,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: 0 },
  });
  say(`run ${name}: ${frames.length} frames of ${capture.name} through the reference relay agent (${spec.agent.mode}) to ${spec.gateways.map((g) => g.name).join(', ')}`);
  let status: 'completed' | 'interrupted';
  try {
    const receipts = await WsReceiptWriter.create(store, session.runId);
    session.defer('ws receipts', () => receipts.close());
    const gateways: Gateway[] = [];
    for (const [index, g] of spec.gateways.entries()) {
      const gateway = await Gateway.start({ host: `${block}.${2 + index}`, name: g.name, faults: g.faults, seed: spec.replay.seed + index, record: receipts.recorderFor(g.name) });
      session.defer(`gateway ${g.name}`, () => gateway.close());
      gateways.push(gateway);
    }
    const plane = spec.agent.controlPlane ? await startControlPlane(spec, gateways.map((g) => g.url)) : undefined;
    if (plane !== undefined) session.defer('control plane', () => plane.close());
    const agent = await RelayAgent.start({
      ...readAgentConfig({ ...AGENT_DEFAULTS, RELAY_BACKENDS: gateways.map((g) => g.url).join(','), RELAY_DEBUG_PORT: '0', RELAY_INGEST_PORT: '0' }),
      mode: spec.agent.mode,
      primaryIndex: spec.agent.primaryIndex,
      paritySampleRate: spec.agent.paritySampleRate,
      sendTimeoutMs: spec.agent.sendTimeoutMs,
      queueLimit: spec.agent.queueLimit,
      killSwitchLeaks: spec.agent.killSwitchLeaks,
      ...(plane !== undefined && { controlPlaneUrl: plane.url, dropsOnSwapMs: spec.agent.dropsOnSwapMs }),
    });
    session.defer('relay agent', () => agent.close());
    await updateRun(store, session.runId, { protocol: 'ws', relay: `ws://127.0.0.1:${agent.ingestPort}` });
    await waitFor(() => agent.targets.every((t, i) => !sendsTo(spec, i) || t.state === 'connected' || spec.gateways[i]?.faults.refuseUpgrade === true), 2000);
    if (plane !== undefined) await waitFor(() => agent.control?.version === plane.version, 2000);
    const maxQueue = agent.targets.map(() => 0);
    const sampler = setInterval(() => agent.targets.forEach((t, i) => (maxQueue[i] = Math.max(maxQueue[i] ?? 0, t.queueSize))), QUEUE_SAMPLE_MS);
    session.defer('queue sampler', () => clearInterval(sampler));
    say(`replaying (${describePace(plan.pace)})${plane === undefined ? '' : `, the agent configured by the control plane at ${plane.url}`}`);
    const playbook = new Playbook(spec, agent, plane);
    session.defer('playbook timeline', () => playbook.cancel());
    const replayed = await sendWsReplay(session, { store, frames, target: `ws://127.0.0.1:${agent.ingestPort}`, plan, onStart: (startNs) => playbook.start(startNs), ...(options.signal !== undefined && { signal: options.signal }) });
    await drain(agent, gateways);
    const record = playbook.record();
    if (record.timeline.length > 0 || record.controlPlane !== undefined) await updateRun(store, session.runId, { protocol: 'ws', topology: { ...topologyOf(spec, block), ...record } });
    clearInterval(sampler);
    await storeAgentTargets(store, session.runId, spec, agent, maxQueue);
    status = replayed.status;
    await session.finish(replayed.status, storedReplayStats({ ...replayed.stats, errors: 0, answered: 0 }, plan), replayed.startNs);
  } catch (error) {
    return session.fail(error);
  }
  const analysis = await analyseRun(store, name, { thresholds: spec.thresholds });
  const reports = await writeReports(store, analysis, { outDir: options.reportsDir, formats: options.formats, screenshot: options.screenshot });
  return { runName: name, status, analysis, reports, unmet: unmetExpectations(spec, analysis) };
}

/** The project's control plane for a scenario, its first snapshot the agent's settings at the start (version 1). */
async function startControlPlane(spec: WsScenarioSpec, backends: readonly string[]): Promise<ControlPlane> {
  const plane = await ControlPlane.start({ host: '127.0.0.1', validate: (config) => validateAgentSnapshot(config, backends) });
  const { mode, primaryIndex, paritySampleRate } = spec.agent;
  plane.publish(agentSnapshot('1', { mode, primaryIndex, paritySampleRate, targetsEnabled: backends.map(() => true), killSwitch: false }));
  return plane;
}

function sendsTo(spec: WsScenarioSpec, index: number): boolean {
  return spec.agent.mode === 'parallel' || index === spec.agent.primaryIndex;
}

/** Late is not missing: the agent's queues empty and the gateways quiet before the run's legs are closed. */
async function drain(agent: RelayAgent, gateways: readonly Gateway[]): Promise<void> {
  const deadline = Date.now() + DRAIN_MAX_MS;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const taken = gateways.reduce((sum, g) => sum + g.framesIn, 0);
    const queued = agent.targets.reduce((sum, t) => sum + (t.state === 'connected' ? t.queueSize : 0), 0);
    if (taken !== last || queued > 0) {
      last = taken;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= QUIET_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitFor(condition: () => boolean, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function storeAgentTargets(store: Store, runId: number, spec: WsScenarioSpec, agent: RelayAgent, maxQueue: readonly number[]): Promise<void> {
  const appender = await store.createAppender('ws_agent_targets');
  for (const [index, target] of agent.targets.entries()) {
    appender.appendInteger(runId);
    appender.appendVarchar(spec.gateways[index]?.name ?? target.url);
    appender.appendVarchar(target.url);
    for (const value of [target.counters.sent, target.counters.acked, target.counters.failed, target.counters.dropped]) appender.appendBigInt(BigInt(value));
    appender.appendInteger(maxQueue[index] ?? 0);
    for (const q of [0.5, 0.95]) {
      const value = quantile(target.ackLatencies, q);
      if (value === undefined || value === null) appender.appendNull();
      else appender.appendDouble(value);
    }
    appender.endRow();
  }
  appender.closeSync();
}

async function prepareFrames(store: Store, spec: WsScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  // A recording of frames, or a capture whose WebSocket sessions carry them.
  const importFile = async (file: string, name: string): Promise<void> => {
    if (isFrameRecordingName(file)) {
      const imported = await importFrameRecording(store, file, { name });
      if (imported.fault !== null) throw new ConfigError(`traffic.recording: ${imported.fault}`, { file, field: 'traffic.recording' });
      return;
    }
    const imported = await importCaptures(store, { files: [file], name });
    const fault = imported.errors[0]?.message ?? (imported.captures[0]?.wsFrames === 0 ? `${file}: no WebSocket session carries telemetry frames` : undefined);
    if (fault !== undefined) {
      await deleteCapture(store, name);
      throw new ConfigError(`traffic.recording: ${fault}`, { file, field: 'traffic.recording' });
    }
  };
  if (!('generate' in traffic)) return namedCapture(store, traffic.recording, baseDir, importFile);
  const g = traffic.generate;
  return generatedCapture(store, `${spec.name}-generated-${g.sessions}x${g.streams.length}x${g.rateHz}hz-${g.durationMs / 1000}s-${g.seed}`, '.ndjson', (file: string) => writeTelemetryRecording(file, g), importFile);
}

function topologyOf(spec: WsScenarioSpec, block: string): RunTopology {
  return {
    scenario: spec.name,
    description: spec.description,
    relay: { kind: 'builtin', address: '127.0.0.1', debug: null, mode: spec.agent.mode, primaryIndex: spec.agent.primaryIndex, paritySampleRate: spec.agent.paritySampleRate },
    // With a playbook every gateway may be sent to at some step; without, those the configuration sends to.
    backends: spec.gateways
      .map((g, index) => ({ g, index }))
      .filter(({ index }) => spec.timeline.length > 0 || sendsTo(spec, index))
      .map(({ g, index }) => ({ role: g.name, ip: `${block}.${2 + index}`, observation: 'simulated' as const, observed: 'simulated gateway', faults: { ...g.faults } })),
    routes: [],
  };
}
