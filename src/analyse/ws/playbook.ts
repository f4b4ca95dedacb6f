import type { JsonValue } from '../../core/json.ts';
import type { Store } from '../../store/store.ts';
import type { Finding } from '../analysis.ts';
import type { AnalysisStep } from '../analysis-steps.ts';
import { frameReach, type ReachRow } from './frame-reach.ts';

/**
 * Frames sent this close to a step, on either side, go either way: queued under the old configuration when it changed
 * (a kill switch drops what is queued, as the spec's "immediately" means), or sent while a target connects. They are
 * judged by neither step.
 */
export const STEP_GRACE_NS = 100_000_000n;
/** A gateway the configuration sends to must process this share of a step's frames. */
const STEP_DELIVERY = 0.99;
/** Step numbers of the swap windows in ws_steps, apart from the steps' own. */
const SWAP_STEP_BASE = 1_000_000;

interface AgentState {
  mode: 'single' | 'parallel';
  primaryIndex: number;
  targetsEnabled: boolean[];
  killSwitch: boolean;
}

/** One step of the playbook, judged: the frames sent after it, and who processed them against who should have. */
export interface StepOutcome {
  label: string;
  atMs: number;
  frames: number;
  expected: string[];
  delivered: Record<string, number>;
  ok: boolean;
}

export function expectedGateways(state: AgentState, gateways: readonly string[]): string[] {
  if (state.killSwitch) return [];
  return gateways.filter((_g, index) => state.targetsEnabled[index] !== false && (state.mode === 'parallel' || index === state.primaryIndex));
}

/**
 * Judges a playbook run step by step: before the first step and after each one (past a grace period), the frames
 * sent must reach every gateway the configuration then sends to, and no other: a kill switch that lets one frame
 * through, or a switch of primary that leaves the old one fed, is critical and named with its step.
 */
export async function judgePlaybook(
  store: Store,
  runId: number,
  steps: { table: AnalysisStep; reach: AnalysisStep },
  timeline: readonly JsonValue[],
  initial: AgentState,
  gateways: readonly string[],
): Promise<{ outcomes: StepOutcome[]; findings: Finding[]; reach: ReachRow[] }> {
  const applied = timeline.flatMap((t) => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return [];
    const step = t as { [key: string]: JsonValue };
    if (typeof step.appliedNs !== 'string' || typeof step.label !== 'string' || typeof step.atMs !== 'number') return [];
    return [{ label: step.label, atMs: step.atMs, appliedNs: BigInt(step.appliedNs), state: step.state as unknown as AgentState }];
  });
  const windows = [{ label: 'start', atMs: 0, fromNs: 0n, state: initial }, ...applied.map((t) => ({ label: t.label, atMs: t.atMs, fromNs: t.appliedNs + STEP_GRACE_NS, state: t.state }))];
  await store.exec(steps.table.sql);
  for (const [index, window] of windows.entries()) {
    const next = applied[index];
    const toNs = next === undefined ? 2n ** 62n : next.appliedNs - STEP_GRACE_NS;
    await store.exec('INSERT INTO ws_steps VALUES ($step_no, $from_ns, $to_ns)', { step_no: index, from_ns: window.fromNs, to_ns: toNs });
  }
  // The swaps themselves: the frames in flight as each step took effect (either side of it), judged by the gateways
  // that both the old and the new configuration send to. Zero-downtime updates lose none of them.
  const swaps = applied.map((t, index) => ({
    label: t.label,
    atMs: t.atMs,
    stepNo: SWAP_STEP_BASE + index,
    keep: expectedGateways(windows[index]?.state ?? initial, gateways).filter((g) => expectedGateways(t.state, gateways).includes(g)),
  }));
  for (const [index, swap] of swaps.entries()) {
    const at = applied[index]?.appliedNs ?? 0n;
    await store.exec('INSERT INTO ws_steps VALUES ($step_no, $from_ns, $to_ns)', { step_no: swap.stepNo, from_ns: at - STEP_GRACE_NS, to_ns: at + STEP_GRACE_NS });
  }
  const reach = await frameReach(store, runId, steps.reach);
  // A window's frames, and those a gateway processed (once each), summed over who processed each.
  const framesIn = (stepNo: number): number => reach.reduce((sum, r) => sum + (r.stepNo === stepNo ? r.frames : 0), 0);
  const processedBy = (stepNo: number, gateway: string): number => reach.reduce((sum, r) => sum + (r.stepNo === stepNo && r.gateways.has(gateway) ? r.frames : 0), 0);
  const outcomes: StepOutcome[] = [];
  const findings: Finding[] = [];
  for (const [index, window] of windows.entries()) {
    const frames = framesIn(index);
    const expected = expectedGateways(window.state, gateways);
    const got = Object.fromEntries(gateways.map((g) => [g, processedBy(index, g)]));
    const where = index === 0 ? 'before the first step' : `after "${window.label}" at ${(window.atMs / 1000).toFixed(1)} s`;
    let ok = true;
    for (const gateway of gateways) {
      const count = got[gateway] ?? 0;
      const finding = (message: string): void => {
        ok = false;
        findings.push({ severity: 'critical', kind: 'playbook', metric: 'delivered', route: null, backend: gateway, value: count, message: `${gateway}: ${message}` });
      };
      if (expected.includes(gateway) && frames > 0 && count < frames * STEP_DELIVERY) finding(`${where}, it processed ${count.toLocaleString('en-US')} of the ${frames.toLocaleString('en-US')} frames the agent should have sent it`);
      if (!expected.includes(gateway) && count > 0) finding(`${where}, ${count.toLocaleString('en-US')} of the ${frames.toLocaleString('en-US')} frames sent still reached it, though the agent should send it none`);
    }
    outcomes.push({ label: window.label, atMs: window.atMs, frames, expected, delivered: got, ok });
  }
  for (const swap of swaps) {
    const frames = framesIn(swap.stepNo);
    for (const gateway of swap.keep) {
      const count = processedBy(swap.stepNo, gateway);
      if (frames === 0 || count >= frames * STEP_DELIVERY) continue;
      const message = `${gateway}: frames in flight as "${swap.label}" took effect at ${(swap.atMs / 1000).toFixed(1)} s were lost: it processed ${count.toLocaleString('en-US')} of the ${frames.toLocaleString('en-US')} sent within ${Number(STEP_GRACE_NS / 1_000_000n)} ms of it, though both configurations send to it`;
      findings.push({ severity: 'critical', kind: 'playbook', metric: 'delivered', route: null, backend: gateway, value: count, message });
      const outcome = outcomes.find((o) => o.label === swap.label && o.atMs === swap.atMs);
      if (outcome !== undefined) outcome.ok = false;
    }
  }
  return { outcomes, findings, reach };
}
