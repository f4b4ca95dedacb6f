import { parseThresholds, type ThresholdConfig } from '../../analyse/thresholds.ts';
import type { GatewayFaults } from '../../backends/ws/gateway.ts';
import { isSafeName, NAME_RULE } from '../../core/names.ts';
import type { YamlSource } from '../../core/yaml-file.ts';
import type { ScenarioSpec } from '../scenario-spec.ts';
import { parseExpect, parseReplay } from '../scenario-sections.ts';
import { parseReadyTimeout } from '../external-process.ts';
import { YamlReader } from '../yaml-reader.ts';

/** A validation of a WebSocket fan-out (`protocol: ws`): the reference relay agent to simulated gateways. */
export interface WsScenarioSpec {
  name: string;
  description: string;
  protocol: 'ws';
  traffic: { recording: string } | { generate: { sessions: number; streams: string[]; rateHz: number; durationMs: number; seed: number } };
  agent: {
    mode: 'single' | 'parallel';
    primaryIndex: number;
    paritySampleRate: number;
    sendTimeoutMs: number;
    queueLimit: number;
    killSwitchLeaks: boolean;
    /** Its settings come from the project's control plane: the timeline's changes are pushed to it as snapshots. */
    controlPlane: boolean;
    /** A bug on purpose: for this long after applying a snapshot the agent drops what comes in (ms; 0: none). */
    dropsOnSwapMs: number;
    /** The team's own agent, run by a command with the spec's variables, instead of the reference one. */
    external?: { command: string; ingestPort: number; debugPort: number; readyTimeoutMs: number };
  };
  /**
   * Gateways in order (the agent's RELAY_BACKENDS order): the first is the reference the others are compared with.
   * Simulated (with faults), or real ones at `external` (a recording tap stands in front of each), whose own
   * diagnostics (`diagnostics`: their /api/dev/diagnostics base URL) are checked against what the tap delivered.
   */
  gateways: { name: string; faults: GatewayFaults; external?: { url: string; diagnostics: string | null } }[];
  replay: ScenarioSpec['replay'];
  /** Steps of a cutover playbook, applied to the agent at times into the replay; each step's outcome is checked. */
  timeline: AgentStep[];
  thresholds: ThresholdConfig;
  expect: ScenarioSpec['expect'];
}

const TOP_KEYS = ['name', 'description', 'protocol', 'traffic', 'agent', 'gateways', 'replay', 'timeline', 'thresholds', 'expect'];

/**
 * One step of a playbook, at a time into the replay: what changes in the agent's configuration; or, with a control
 * plane, the control plane stopped or started again (an outage), or an invalid snapshot pushed (which the agent must
 * refuse, keeping its last-known-good).
 */
export interface AgentStep {
  atMs: number;
  /** Its words in reports: "kill switch on", "primary 1", "control plane down". */
  label: string;
  change: { mode?: 'single' | 'parallel'; primaryIndex?: number; targetsEnabled?: boolean[]; killSwitch?: boolean };
  controlPlane?: 'down' | 'up';
  invalidSnapshot?: boolean;
}

export function isWsScenario(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as Record<string, unknown>).protocol === 'ws';
}

export function parseWsScenario(input: unknown, source: string, lineOf?: YamlSource['lineOf']): WsScenarioSpec {
  const r = new YamlReader(source, lineOf);
  const root = r.mapping(input ?? {}, '(top level)');
  r.onlyKeys(root, '', TOP_KEYS);
  const name = r.text(root.name, 'name');
  if (!isSafeName(name)) throw r.error('name', `"${name}" is not a usable name: use ${NAME_RULE} (it names the run and its report folder)`);
  const gateways = Object.entries(r.mapping(root.gateways ?? {}, 'gateways')).map(([gateway, value]) => {
    if (!isSafeName(gateway)) throw r.error(`gateways.${gateway}`, `is not a usable name: use ${NAME_RULE}`);
    return parseGateway(r, gateway, value);
  });
  if (gateways.length === 0) throw r.error('gateways', 'must name at least one gateway');
  const agent = parseAgent(r, root.agent, gateways.length);
  if (agent.external !== undefined && !agent.controlPlane && Array.isArray(root.timeline) && root.timeline.length > 0) {
    throw r.error('timeline', 'an external agent can only be changed mid-run through a control plane: add control_plane: true to agent');
  }
  return {
    name,
    description: String(root.description ?? ''),
    protocol: 'ws',
    traffic: parseTraffic(r, root.traffic),
    agent,
    gateways,
    replay: parseReplay(r, root.replay, 'ws'),
    timeline: parseSteps(r, root.timeline, gateways.length, agent.controlPlane),
    thresholds: parseThresholds(root.thresholds ?? {}, `${source}: thresholds`),
    expect: parseExpect(r, root.expect),
  };
}

/**
 * `timeline:` as the fan-out spec's playbook reads: `mode: parallel`, `primary: 1`, `enabled: [false, true]`,
 * `kill_switch: true`, one or more per step, each `at:` a time into the replay.
 */
function parseSteps(r: YamlReader, value: unknown, gateways: number, controlPlane: boolean): AgentStep[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw r.error('timeline', 'must be a list of steps');
  const steps = value.map((entry: unknown, index: number): AgentStep => {
    const at = `timeline[${index}]`;
    const step = r.mapping(entry, at);
    r.onlyKeys(step, at, ['at', 'mode', 'primary', 'enabled', 'kill_switch', 'control_plane', 'invalid_snapshot']);
    const change: AgentStep['change'] = {};
    const words: string[] = [];
    if (step.mode !== undefined) {
      if (step.mode !== 'single' && step.mode !== 'parallel') throw r.error(`${at}.mode`, "must be 'single' or 'parallel'");
      change.mode = step.mode;
      words.push(`mode ${step.mode}`);
    }
    if (step.primary !== undefined) {
      change.primaryIndex = r.whole(step.primary, `${at}.primary`, 0, gateways - 1, 0);
      words.push(`primary ${change.primaryIndex}`);
    }
    if (step.enabled !== undefined) {
      if (!Array.isArray(step.enabled) || step.enabled.length !== gateways || step.enabled.some((flag) => typeof flag !== 'boolean')) throw r.error(`${at}.enabled`, `must be a list of ${gateways} true/false, one per gateway`);
      change.targetsEnabled = step.enabled as boolean[];
      words.push(`enabled ${change.targetsEnabled.map((flag) => (flag ? 1 : 0)).join(',')}`);
    }
    if (step.kill_switch !== undefined) {
      if (typeof step.kill_switch !== 'boolean') throw r.error(`${at}.kill_switch`, 'must be true or false');
      change.killSwitch = step.kill_switch;
      words.push(`kill switch ${step.kill_switch ? 'on' : 'off'}`);
    }
    const atMs = r.duration(step.at, `${at}.at`);
    if (step.control_plane !== undefined || step.invalid_snapshot !== undefined) {
      if (!controlPlane) throw r.error(at, 'control_plane and invalid_snapshot steps need agent: { control_plane: true }');
      if (words.length > 0 || (step.control_plane !== undefined && step.invalid_snapshot !== undefined)) throw r.error(at, 'a control_plane or invalid_snapshot step is a step of its own: give it alone');
      if (step.invalid_snapshot !== undefined) {
        if (step.invalid_snapshot !== true) throw r.error(`${at}.invalid_snapshot`, 'must be true');
        return { atMs, label: 'invalid snapshot pushed', change, invalidSnapshot: true };
      }
      if (step.control_plane !== 'down' && step.control_plane !== 'up') throw r.error(`${at}.control_plane`, "must be 'down' (stopped) or 'up' (started again)");
      return { atMs, label: `control plane ${step.control_plane}`, change, controlPlane: step.control_plane };
    }
    if (words.length === 0) throw r.error(at, 'changes nothing: give mode, primary, enabled, kill_switch, control_plane or invalid_snapshot');
    return { atMs, label: words.join(', '), change };
  });
  for (let i = 1; i < steps.length; i++) if ((steps[i]?.atMs ?? 0) <= (steps[i - 1]?.atMs ?? 0)) throw r.error(`timeline[${i}].at`, 'must come after the step before it');
  return steps;
}

function parseTraffic(r: YamlReader, value: unknown): WsScenarioSpec['traffic'] {
  const traffic = r.mapping(value, 'traffic');
  r.onlyKeys(traffic, 'traffic', ['recording', 'generate']);
  if (traffic.recording !== undefined) return { recording: r.text(traffic.recording, 'traffic.recording') };
  if (traffic.generate === undefined) throw r.error('traffic', 'needs recording: (a newline-delimited JSON file, or a pcap / pcapng of WebSocket sessions) or generate:');
  const g = r.mapping(traffic.generate, 'traffic.generate');
  r.onlyKeys(g, 'traffic.generate', ['sessions', 'streams', 'rate', 'duration', 'seed']);
  const streams = g.streams === undefined ? ['baseline', 'controls'] : g.streams;
  if (!Array.isArray(streams) || streams.length === 0 || streams.some((s) => typeof s !== 'string' || s === '')) throw r.error('traffic.generate.streams', 'must be a list of stream names');
  const rate = g.rate === undefined ? 50 : Number(String(g.rate).replace(/hz$/i, ''));
  if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000) throw r.error('traffic.generate.rate', 'must be frames per second per stream, e.g. 50hz');
  return {
    generate: {
      sessions: r.whole(g.sessions, 'traffic.generate.sessions', 1, 10_000, 4),
      streams: streams as string[],
      rateHz: rate,
      durationMs: g.duration === undefined ? 10_000 : r.duration(g.duration, 'traffic.generate.duration'),
      seed: r.whole(g.seed, 'traffic.generate.seed', 0, 2 ** 31, 1),
    },
  };
}

function parseAgent(r: YamlReader, value: unknown, gateways: number): WsScenarioSpec['agent'] {
  const agent = r.mapping(value ?? {}, 'agent');
  r.onlyKeys(agent, 'agent', ['mode', 'primary_index', 'sample_rate', 'send_timeout', 'queue_limit', 'kill_switch_leaks', 'control_plane', 'drops_on_swap', 'external']);
  for (const flag of ['kill_switch_leaks', 'control_plane'] as const) if (agent[flag] !== undefined && typeof agent[flag] !== 'boolean') throw r.error(`agent.${flag}`, 'must be true or false');
  if (agent.drops_on_swap !== undefined && agent.control_plane !== true) throw r.error('agent.drops_on_swap', 'is a bug of applying snapshots: it needs control_plane: true');
  const mode = agent.mode ?? 'parallel';
  if (mode !== 'single' && mode !== 'parallel') throw r.error('agent.mode', "must be 'single' or 'parallel'");
  return {
    mode,
    primaryIndex: r.whole(agent.primary_index, 'agent.primary_index', 0, gateways - 1, 0),
    paritySampleRate: agent.sample_rate === undefined ? 0.05 : r.share(agent.sample_rate, 'agent.sample_rate'),
    sendTimeoutMs: agent.send_timeout === undefined ? 250 : r.duration(agent.send_timeout, 'agent.send_timeout'),
    queueLimit: r.whole(agent.queue_limit, 'agent.queue_limit', 1, 10_000_000, 1000),
    killSwitchLeaks: agent.kill_switch_leaks === true,
    controlPlane: agent.control_plane === true,
    dropsOnSwapMs: agent.drops_on_swap === undefined ? 0 : r.duration(agent.drops_on_swap, 'agent.drops_on_swap'),
    ...(agent.external !== undefined && { external: parseExternalAgent(r, agent) }),
  };
}

function parseExternalAgent(r: YamlReader, agent: Record<string, unknown>): NonNullable<WsScenarioSpec['agent']['external']> {
  const bug = ['kill_switch_leaks', 'drops_on_swap'].find((key) => agent[key] !== undefined);
  if (bug !== undefined) throw r.error(`agent.${bug}`, 'is a bug of the reference agent; an external one is what it is');
  const external = r.mapping(agent.external, 'agent.external');
  r.onlyKeys(external, 'agent.external', ['command', 'ingest_port', 'debug_port', 'ready_timeout']);
  return {
    command: r.text(external.command, 'agent.external.command'),
    ingestPort: r.whole(external.ingest_port, 'agent.external.ingest_port', 1, 65535, 8766),
    debugPort: r.whole(external.debug_port, 'agent.external.debug_port', 1, 65535, 8765),
    readyTimeoutMs: parseReadyTimeout(r, external, 'agent.external'),
  };
}

function parseGateway(r: YamlReader, name: string, value: unknown): WsScenarioSpec['gateways'][number] {
  const key = `gateways.${name}`;
  const g = r.mapping(value ?? {}, key);
  if (g.external === undefined) {
    if (g.diagnostics !== undefined) throw r.error(`${key}.diagnostics`, 'is for an external gateway (a simulated one is read directly)');
    return { name, faults: parseFaults(r, g, key) };
  }
  r.onlyKeys(g, key, ['external', 'diagnostics']);
  const url = r.text(g.external, `${key}.external`);
  if (!/^wss?:\/\/[^/\s]+/.test(url)) throw r.error(`${key}.external`, 'must be the gateway\'s ws:// or wss:// URL, e.g. ws://10.0.0.5:9000/relay');
  const diagnostics = g.diagnostics === undefined ? null : r.text(g.diagnostics, `${key}.diagnostics`);
  if (diagnostics !== null && !/^https?:\/\/[^/\s]+/.test(diagnostics)) throw r.error(`${key}.diagnostics`, 'must be the base http:// URL of its /api/dev/diagnostics endpoints');
  return { name, faults: {}, external: { url, diagnostics } };
}

function parseFaults(r: YamlReader, value: unknown, key: string): GatewayFaults {
  const g = r.mapping(value ?? {}, key);
  r.onlyKeys(g, key, ['loss', 'ack_delay', 'duplicates', 'reorder', 'disconnect_after', 'refuse_upgrade']);
  const faults: GatewayFaults = {};
  if (g.loss !== undefined) faults.lossShare = r.share(g.loss, `${key}.loss`);
  if (g.ack_delay !== undefined) faults.ackDelayMs = r.duration(g.ack_delay, `${key}.ack_delay`);
  if (g.duplicates !== undefined) faults.duplicateShare = r.share(g.duplicates, `${key}.duplicates`);
  if (g.reorder !== undefined) faults.reorderShare = r.share(g.reorder, `${key}.reorder`);
  if (g.disconnect_after !== undefined) faults.disconnectAfterFrames = r.whole(g.disconnect_after, `${key}.disconnect_after`, 1, 1e9, 1);
  if (g.refuse_upgrade !== undefined) {
    if (typeof g.refuse_upgrade !== 'boolean') throw r.error(`${key}.refuse_upgrade`, 'must be true or false');
    faults.refuseUpgrade = g.refuse_upgrade;
  }
  return faults;
}
