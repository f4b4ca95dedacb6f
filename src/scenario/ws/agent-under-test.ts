import { join } from 'node:path';
import { request } from 'undici';
import WebSocket from 'ws';
import { SubprocessError } from '../../core/errors.ts';
import type { JsonValue } from '../../core/json.ts';
import { quantile } from '../../core/stats.ts';
import { AGENT_DEFAULTS, readAgentConfig } from '../../relay/ws/agent-config.ts';
import { RelayAgent } from '../../relay/ws/relay-agent.ts';
import { startExternalProcess } from '../external-process.ts';
import type { WsScenarioSpec } from './ws-scenario-spec.ts';

/** What the agent sends to now: the settings a playbook step changes. */
export interface AgentState {
  mode: 'single' | 'parallel';
  primaryIndex: number;
  targetsEnabled: boolean[];
  killSwitch: boolean;
}

/** What the agent says of one target (its /debug/targets and /debug/parity). */
export interface AgentTargetReport {
  url: string;
  sent: number;
  acked: number;
  failed: number;
  dropped: number;
  ackP50Ms: number | null;
  ackP95Ms: number | null;
}

/** The relay agent a run goes through: the reference one in this process, or the scenario's own command. */
export interface AgentUnderTest {
  ingestUrl: string;
  /** Applies a playbook step itself (the reference agent); undefined when only a control plane can. */
  reconfigure: ((change: Partial<AgentState>) => void) | undefined;
  settings(): Promise<AgentState>;
  /** Each target's queue now, and whether it is connected. */
  queues(): Promise<{ size: number; connected: boolean }[]>;
  targets(): Promise<AgentTargetReport[]>;
  /** Its /debug/config-version. */
  configVersion(): Promise<JsonValue>;
  throwIfExited(): void;
  close(): Promise<void>;
}

export interface AgentPlacement {
  /** The gateways (or the taps in front of them), in order. */
  backends: string[];
  controlPlaneUrl: string | undefined;
  runName: string;
  cwd: string;
  runDir: string;
}

export async function startAgentUnderTest(spec: WsScenarioSpec, at: AgentPlacement): Promise<AgentUnderTest> {
  const a = spec.agent;
  if (a.external === undefined) {
    const agent = await RelayAgent.start({
      ...readAgentConfig({ ...AGENT_DEFAULTS, RELAY_BACKENDS: at.backends.join(','), RELAY_DEBUG_PORT: '0', RELAY_INGEST_PORT: '0' }),
      mode: a.mode,
      primaryIndex: a.primaryIndex,
      paritySampleRate: a.paritySampleRate,
      sendTimeoutMs: a.sendTimeoutMs,
      queueLimit: a.queueLimit,
      killSwitchLeaks: a.killSwitchLeaks,
      ...(at.controlPlaneUrl !== undefined && { controlPlaneUrl: at.controlPlaneUrl, dropsOnSwapMs: a.dropsOnSwapMs }),
    });
    return {
      ingestUrl: `ws://127.0.0.1:${agent.ingestPort}`,
      reconfigure: (change) => agent.reconfigure(change),
      settings: () => Promise.resolve(agent.settings),
      queues: () => Promise.resolve(agent.targets.map((t) => ({ size: t.queueSize, connected: t.state === 'connected' }))),
      targets: () =>
        Promise.resolve(
          agent.targets.map((t) => ({ url: t.url, ...t.counters, ackP50Ms: quantile(t.ackLatencies, 0.5) ?? null, ackP95Ms: quantile(t.ackLatencies, 0.95) ?? null })),
        ),
      configVersion: () => Promise.resolve(agent.configVersionView() as JsonValue),
      throwIfExited: () => undefined,
      close: () => agent.close(),
    };
  }
  return startExternalAgent(spec, a.external, at);
}

/**
 * The team's own relay agent, started by the scenario's command with the fan-out spec's variables (RELAY_BACKENDS the
 * gateways, or the taps in front of them; mode, primary index, sample rate, ingest and debug ports as the scenario
 * says; CONTROL_PLANE_URL when a control plane drives it). Ready when its ingest takes a WebSocket; what it does is
 * read from its /debug endpoints; its output goes to `<reports>/<run>/agent.log`.
 */
async function startExternalAgent(spec: WsScenarioSpec, external: NonNullable<WsScenarioSpec['agent']['external']>, at: AgentPlacement): Promise<AgentUnderTest> {
  const a = spec.agent;
  const env: Record<string, string> = {
    RELAY_BACKENDS: at.backends.join(','),
    RELAY_BACKEND_MODE: a.mode,
    RELAY_PRIMARY_INDEX: String(a.primaryIndex),
    RELAY_PARITY_SAMPLE_RATE: String(a.paritySampleRate),
    RELAY_SEND_TIMEOUT_MS: String(a.sendTimeoutMs),
    RELAY_QUEUE_LIMIT: String(a.queueLimit),
    RELAY_INGEST_PORT: String(external.ingestPort),
    RELAY_DEBUG_PORT: String(external.debugPort),
    PARITY_RUN: at.runName,
    ...(at.controlPlaneUrl !== undefined && { CONTROL_PLANE_URL: at.controlPlaneUrl, RELAY_CONTROL_PLANE_URL: at.controlPlaneUrl }),
  };
  const ingestUrl = `ws://127.0.0.1:${external.ingestPort}`;
  const debug = `http://127.0.0.1:${external.debugPort}`;
  const underTest = await startExternalProcess(external.command, { cwd: at.cwd, logPath: join(at.runDir, 'agent.log'), env }, {
    what: 'relay agent',
    ready: () => ingestOpens(ingestUrl),
    neverReady: `the relay agent under test never took a WebSocket at ${ingestUrl}`,
    timeoutMs: external.readyTimeoutMs,
  });
  const getJson = async (path: string): Promise<Record<string, unknown>> => {
    // Bounded: an agent whose debug server takes the request and never answers would hold the run for undici's 300 s.
    const unanswered = (error: unknown): never => {
      throw new SubprocessError(`the relay agent under test did not answer ${path} (${(error as Error).message}): the fan-out spec's debug endpoints are how a run reads it`);
    };
    const answer = await request(`${debug}${path}`, { headersTimeout: DEBUG_TIMEOUT_MS, bodyTimeout: DEBUG_TIMEOUT_MS }).catch(unanswered);
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      throw new SubprocessError(`the relay agent under test answered ${path} with ${answer.statusCode}: the fan-out spec's debug endpoints are how a run reads it`);
    }
    const text = await answer.body.text().catch(unanswered);
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new SubprocessError(`the relay agent under test answered ${path} with what is not JSON: ${text.slice(0, 80)}`);
    }
  };
  const targetsView = async (): Promise<{ targets: Record<string, unknown>[]; mode: unknown; primaryIndex: unknown; killSwitch: unknown }> => {
    const view = await getJson('/debug/targets');
    return { targets: Array.isArray(view.targets) ? (view.targets as Record<string, unknown>[]) : [], mode: view.mode, primaryIndex: view.primaryIndex, killSwitch: view.killSwitch };
  };
  const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
  return {
    ingestUrl,
    reconfigure: undefined,
    settings: async () => {
      const view = await targetsView();
      return { mode: view.mode === 'single' ? 'single' : 'parallel', primaryIndex: count(view.primaryIndex), targetsEnabled: view.targets.map((t) => t.enabled !== false), killSwitch: view.killSwitch === true };
    },
    queues: async () => (await targetsView()).targets.map((t) => ({ size: count(t.queueSize), connected: t.state === 'connected' })),
    targets: async () => {
      const [view, parity] = await Promise.all([targetsView(), getJson('/debug/parity')]);
      // The spec's /debug/parity gives ack latency over all targets, not per target: each target is given that.
      const latency = (parity.ackLatency ?? {}) as Record<string, unknown>;
      return view.targets.map((t) => {
        const c = (t.counters ?? {}) as Record<string, unknown>;
        return { url: String(t.url ?? ''), sent: count(c.sent), acked: count(c.acked), failed: count(c.failed), dropped: count(c.dropped), ackP50Ms: typeof latency.p50 === 'number' ? latency.p50 : null, ackP95Ms: typeof latency.p95 === 'number' ? latency.p95 : null };
      });
    },
    configVersion: async () => (await getJson('/debug/config-version').catch(() => ({ version: null, source: 'unknown' }))) as JsonValue,
    throwIfExited: () => underTest.throwIfExited(),
    close: () => underTest.close(),
  };
}

/** How long the agent under test's debug endpoints may take to answer one request. */
const DEBUG_TIMEOUT_MS = 5_000;

function ingestOpens(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    // Bounded: an ingest that takes the connection and never answers the upgrade would hold the readiness poll, and
    // its deadline, for ever.
    const socket = new WebSocket(url, { handshakeTimeout: 2_000 });
    socket.once('open', () => {
      socket.close();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
