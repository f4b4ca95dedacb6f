import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { analyseRun } from '../../analyse/analyse-run.ts';
import type { Analysis } from '../../analyse/analysis.ts';
import { openWsReceipts } from '../../backends/ws/ws-receipt-writer.ts';
import { deleteCapture, type CaptureSummary } from '../../capture/capture-catalog.ts';
import { importCaptures } from '../../capture/import-capture.ts';
import { isFrameRecordingName } from '../../capture/ws/frame-recording.ts';
import { importFrameRecording } from '../../capture/ws/import-frames.ts';
import { ConfigError } from '../../core/errors.ts';
import { ControlPlane } from '../../relay/control/control-plane.ts';
import { agentSnapshot, validateAgentSnapshot } from '../../relay/ws/agent-snapshot.ts';
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
import { startAgentUnderTest, type AgentTargetReport, type AgentUnderTest } from './agent-under-test.ts';
import { startGateways, storeGatewayDiagnostics, type GatewayUnderTest } from './gateways-under-test.ts';
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
  const agentWords = spec.agent.external === undefined ? `the reference relay agent (${spec.agent.mode})` : `the relay agent under test (${spec.agent.mode})`;
  say(`run ${name}: ${frames.length} frames of ${capture.name} through ${agentWords} to ${spec.gateways.map((g) => `${g.name}${g.external === undefined ? '' : ` (${g.external.url})`}`).join(', ')}`);
  let status: 'completed' | 'interrupted';
  try {
    const receipts = await openWsReceipts(store, session.runId);
    session.defer('ws receipts', () => receipts.close());
    const gateways = await startGateways(spec, block, receipts);
    for (const gateway of gateways) session.defer(`gateway ${gateway.name}`, () => gateway.close());
    const plane = spec.agent.controlPlane ? await startControlPlane(spec, gateways.map((g) => g.url)) : undefined;
    if (plane !== undefined) session.defer('control plane', () => plane.close());
    const agent = await startAgentUnderTest(spec, { backends: gateways.map((g) => g.url), controlPlaneUrl: plane?.url, runName: name, cwd: options.baseDir, runDir: join(options.reportsDir, name) });
    session.defer('relay agent', () => agent.close());
    await updateRun(store, session.runId, { protocol: 'ws', relay: agent.ingestUrl });
    await waitForAsync(async () => (await agent.queues()).every((q, i) => !sendsTo(spec, i) || q.connected || gateways[i]?.refusesUpgrade === true), 5000);
    if (plane !== undefined) await waitFor(() => plane.events.some((e) => e.event === 'ack' && e.version === plane.version), 5000);
    const maxQueue = gateways.map(() => 0);
    const sampler = new QueueSampler(agent, maxQueue);
    session.defer('queue sampler', () => sampler.stop());
    say(`replaying (${describePace(plan.pace)})${plane === undefined ? '' : `, the agent configured by the control plane at ${plane.url}`}`);
    const playbook = new Playbook(spec, agent, plane);
    session.defer('playbook timeline', () => playbook.cancel());
    const replayed = await sendWsReplay(session, { store, frames, target: agent.ingestUrl, plan, onStart: (startNs) => playbook.start(startNs), ...(options.signal !== undefined && { signal: options.signal }) });
    await drain(agent, gateways);
    agent.throwIfExited();
    const record = await playbook.record();
    if (record.timeline.length > 0 || record.controlPlane !== undefined) await updateRun(store, session.runId, { protocol: 'ws', topology: { ...topologyOf(spec, block), ...record } });
    await sampler.stop();
    await storeAgentTargets(store, session.runId, spec, await agent.targets(), maxQueue);
    await storeGatewayDiagnostics(store, session.runId, spec, [...new Set(frames.map((f) => f.sessionId))]);
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
async function drain(agent: AgentUnderTest, gateways: readonly GatewayUnderTest[]): Promise<void> {
  const deadline = Date.now() + DRAIN_MAX_MS;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const taken = gateways.reduce((sum, g) => sum + g.taken(), 0);
    const queued = (await agent.queues()).reduce((sum, q) => sum + (q.connected ? q.size : 0), 0) + gateways.reduce((sum, g) => sum + g.inFlight(), 0);
    if (taken !== last || queued > 0) {
      last = taken;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= QUIET_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Looks at the agent's queues during the run: the largest each held is the run's queue size for its target. */
class QueueSampler {
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(agent: AgentUnderTest, maxQueue: number[]) {
    this.done = (async () => {
      while (!this.stopped) {
        const queues = await agent.queues().catch(() => []);
        queues.forEach((q, i) => (maxQueue[i] = Math.max(maxQueue[i] ?? 0, q.size)));
        await new Promise((resolve) => setTimeout(resolve, QUEUE_SAMPLE_MS));
      }
    })();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }
}

async function waitForAsync(condition: () => Promise<boolean>, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await condition().catch(() => false)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function waitFor(condition: () => boolean, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function storeAgentTargets(store: Store, runId: number, spec: WsScenarioSpec, targets: readonly AgentTargetReport[], maxQueue: readonly number[]): Promise<void> {
  const appender = await store.createAppender('ws_agent_targets');
  for (const [index, target] of targets.entries()) {
    appender.appendInteger(runId);
    appender.appendVarchar(spec.gateways[index]?.name ?? target.url);
    appender.appendVarchar(target.url);
    for (const value of [target.sent, target.acked, target.failed, target.dropped]) appender.appendBigInt(BigInt(value));
    appender.appendInteger(maxQueue[index] ?? 0);
    for (const value of [target.ackP50Ms, target.ackP95Ms]) {
      if (value === null) appender.appendNull();
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
    relay: { kind: spec.agent.external === undefined ? 'builtin' : 'external', address: '127.0.0.1', debug: null, mode: spec.agent.mode, primaryIndex: spec.agent.primaryIndex, paritySampleRate: spec.agent.paritySampleRate },
    // With a playbook every gateway may be sent to at some step; without, those the configuration sends to.
    backends: spec.gateways
      .map((g, index) => ({ g, index }))
      .filter(({ index }) => spec.timeline.length > 0 || sendsTo(spec, index))
      .map(({ g, index }) =>
        g.external === undefined
          ? { role: g.name, ip: `${block}.${2 + index}`, observation: 'simulated' as const, observed: 'simulated gateway', faults: { ...g.faults } }
          : { role: g.name, ip: `${block}.${2 + index}`, observation: 'tap' as const, observed: `recording tap in front of ${g.external.url}${g.external.diagnostics === null ? '' : `, its diagnostics at ${g.external.diagnostics}`}` },
      ),
    routes: [],
  };
}
