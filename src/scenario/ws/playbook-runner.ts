import type { JsonValue } from '../../core/json.ts';
import type { ControlPlane } from '../../relay/control/control-plane.ts';
import { agentSnapshot, type AgentSettings } from '../../relay/ws/agent-snapshot.ts';
import type { AgentState, AgentUnderTest } from './agent-under-test.ts';
import type { AgentStep, WsScenarioSpec } from './ws-scenario-spec.ts';

/** A playbook step as it happened: when (CLOCK_MONOTONIC ns, as text) and the agent's settings after it. */
export interface AppliedStep {
  atMs: number;
  label: string;
  appliedNs: string;
  state: AgentState;
  /** The snapshot that carried it, when a control plane did. */
  version?: string;
}

/** A snapshot a scenario's control plane published: valid, or invalid on purpose. */
interface Published {
  version: string;
  valid: boolean;
  label: string;
  atNs: string;
}

/**
 * Carries out a scenario's timeline against the relay agent, at times into the replay: each change applied directly,
 * or, with a control plane, published as a new snapshot and counted as applied when the agent acks it (which may be
 * much later: published during an outage, it arrives when the agent reconnects). Outages and invalid snapshots are
 * steps too. What happened is kept for the run's record, which the verdict judges.
 */
export class Playbook {
  private readonly applied: AppliedStep[] = [];
  private readonly published: Published[] = [];
  private readonly pending: { version: string; step: AgentStep }[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private settings: AgentSettings;
  private nextVersion = 2;
  private startNs = 0n;
  private readonly noting: Promise<void>[] = [];

  constructor(
    private readonly spec: WsScenarioSpec,
    private readonly agent: AgentUnderTest,
    private readonly plane: ControlPlane | undefined,
  ) {
    const { mode, primaryIndex, paritySampleRate } = spec.agent;
    this.settings = { mode, primaryIndex, paritySampleRate, targetsEnabled: spec.gateways.map(() => true), killSwitch: false };
    if (plane === undefined) return;
    this.published.push({ version: '1', valid: true, label: 'start', atNs: String(process.hrtime.bigint()) });
    // A snapshot acked carries its own step and every earlier one still waiting (a later snapshot holds them all).
    plane.onEvent = (event) => {
      if (event.event !== 'ack') return;
      const index = this.pending.findIndex((p) => p.version === event.version);
      if (index < 0) return;
      for (const { version: carried, step } of this.pending.splice(0, index + 1)) void this.note(step, step.label, BigInt(event.atNs), carried);
    };
  }

  /** The replay's clock starts: each step is timed from it. */
  start(startNs: bigint): void {
    this.startNs = startNs;
    for (const step of this.spec.timeline) {
      const dueMs = Number(startNs - process.hrtime.bigint()) / 1e6 + step.atMs;
      this.timers.push(setTimeout(() => void this.carryOut(step), Math.max(0, dueMs)));
    }
  }

  cancel(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }

  /** The timeline as it happened (in the order it took effect) and, with a control plane, what passed between them. */
  async record(): Promise<{ timeline: JsonValue[]; controlPlane?: { published: JsonValue[]; events: JsonValue[]; final: JsonValue } }> {
    await Promise.all(this.noting);
    const timeline = [...this.applied].sort((a, b) => (BigInt(a.appliedNs) < BigInt(b.appliedNs) ? -1 : 1)).map((a) => ({ ...a }) as unknown as JsonValue);
    if (this.plane === undefined) return { timeline };
    const final = await this.agent.configVersion();
    return { timeline, controlPlane: { published: this.published.map((p) => ({ ...p })), events: this.plane.events.map((e) => ({ ...e })), final } };
  }

  private async carryOut(step: AgentStep): Promise<void> {
    const plane = this.plane;
    if (plane === undefined) {
      this.agent.reconfigure?.(step.change);
      await this.note(step, step.label, process.hrtime.bigint());
      return;
    }
    if (step.controlPlane === 'down') await plane.stop();
    else if (step.controlPlane === 'up') await plane.restart();
    else {
      const version = String(this.nextVersion++);
      if (step.invalidSnapshot === true) {
        // Refused by the agent (a primary it does not have): it must keep its last-known-good.
        plane.publishUnchecked({ ...agentSnapshot(version, this.settings), primaryIndex: this.spec.gateways.length });
        this.published.push({ version, valid: false, label: step.label, atNs: String(process.hrtime.bigint()) });
        await this.note(step, `invalid snapshot v${version}`, process.hrtime.bigint(), version);
        return;
      }
      this.settings = { ...this.settings, ...step.change };
      this.pending.push({ version, step });
      this.published.push({ version, valid: true, label: step.label, atNs: String(process.hrtime.bigint()) });
      plane.publish(agentSnapshot(version, this.settings));
      return;
    }
    await this.note(step, step.label, process.hrtime.bigint());
  }

  /**
   * A step took effect: a snapshot's step is dated when the agent applied it (in reports, "at" is then that time, and
   * its label says when it was published).
   */
  private note(step: AgentStep, label: string, atNs: bigint, version?: string): Promise<void> {
    const viaSnapshot = version !== undefined && step.invalidSnapshot !== true;
    const tookEffectMs = Math.max(0, Math.round(Number(atNs - this.startNs) / 1e6));
    const noted = this.agent.settings().then((state) => {
      this.applied.push({
        atMs: viaSnapshot ? tookEffectMs : step.atMs,
        label: viaSnapshot ? `${label} (v${version}, published at ${(step.atMs / 1000).toFixed(1)} s)` : label,
        appliedNs: String(atNs),
        state,
        ...(version !== undefined && { version }),
      });
    });
    this.noting.push(noted);
    return noted;
  }
}
