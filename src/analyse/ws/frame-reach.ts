import type { Store } from '../../store/store.ts';
import { num, str } from '../../store/store.ts';
import type { AnalysisStep } from '../analysis-steps.ts';
import { SWAP_STEP_BASE } from './playbook.ts';

/** A window of the run (ws_steps' step_no) and the gateways its configuration sends to. */
export interface OwedWindow {
  stepNo: number;
  expected: readonly string[];
}

/** What each gateway missed that another gateway owed the frame processed, and what reached none of those owed it. */
export interface FrameReach {
  /** Frames that reached none of the two or more gateways owed them; null when no window sends to two. */
  unreached: number | null;
  lostApart: Map<string, number>;
}

/**
 * Splits each gateway's loss as the UDP and HTTP families do: a frame that none of the gateways owed it processed was
 * lost before the agent's copies (at its ingest, or by every gateway alike, which a run cannot tell apart) and is the
 * agent's finding; a gateway's own loss is what it missed that another gateway owed the frame processed. A window that
 * sends to one gateway keeps all it missed on that gateway: there is nothing to set it against.
 */
export async function frameReach(store: Store, runId: number, reach: AnalysisStep, windows: readonly OwedWindow[]): Promise<FrameReach> {
  const rows = await store.query(reach.sql, { run_id: runId, swap_step_base: SWAP_STEP_BASE });
  const lostApart = new Map<string, number>();
  let unreached: number | null = windows.some((w) => w.expected.length >= 2) ? 0 : null;
  for (const row of rows) {
    const expected = windows.find((w) => w.stepNo === num(row.step_no))?.expected ?? [];
    const got = new Set(str(row.gateways).split(',').filter((g) => g !== ''));
    const frames = num(row.frames);
    const reachedOwed = expected.some((g) => got.has(g));
    if (!reachedOwed && expected.length >= 2) {
      unreached = (unreached ?? 0) + frames;
      continue;
    }
    for (const gateway of expected) if (!got.has(gateway)) lostApart.set(gateway, (lostApart.get(gateway) ?? 0) + frames);
  }
  return { unreached, lostApart };
}
