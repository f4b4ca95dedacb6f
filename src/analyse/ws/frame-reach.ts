import type { Store } from '../../store/store.ts';
import { num, str } from '../../store/store.ts';
import type { AnalysisStep } from '../analysis-steps.ts';

/** How many frames fed in a window of ws_steps reached exactly these gateways (none: an empty list). */
export interface ReachRow {
  stepNo: number;
  gateways: ReadonlySet<string>;
  frames: number;
}

/** Who processed the frames of each window of ws_steps (`04-frame-reach.sql`), read once for every use of it. */
export async function frameReach(store: Store, runId: number, reach: AnalysisStep): Promise<ReachRow[]> {
  const rows = await store.query(reach.sql, { run_id: runId });
  return rows.map((row) => ({ stepNo: num(row.step_no), gateways: new Set(str(row.gateways).split(',').filter((g) => g !== '')), frames: num(row.frames) }));
}

/** A window of the run (ws_steps' step_no) and the gateways its configuration sends to. */
export interface OwedWindow {
  stepNo: number;
  expected: readonly string[];
}

/** What each gateway missed that another gateway owed the frame processed, and what reached none of those owed it. */
export interface LossSplit {
  /** Frames that reached none of the two or more gateways owed them; null when no window sends to two. */
  unreached: number | null;
  /** The frames of the windows that send to two or more gateways: what `unreached` is a share of. */
  judged: number;
  lostApart: Map<string, number>;
}

/**
 * Splits each gateway's loss as the UDP and HTTP families do: a frame that none of the gateways owed it processed was
 * lost before the agent's copies (at its ingest, or by every gateway alike, which a run cannot tell apart) and is the
 * agent's finding; a gateway's own loss is what it missed that another gateway owed the frame processed. A window that
 * sends to one gateway keeps all it missed on that gateway: there is nothing to set it against, and its frames are not
 * part of what the agent's share is taken of. Rows of other windows (a playbook's swaps) are not judged here.
 */
export function splitLoss(rows: readonly ReachRow[], windows: readonly OwedWindow[]): LossSplit {
  const lostApart = new Map<string, number>();
  let unreached: number | null = windows.some((w) => w.expected.length >= 2) ? 0 : null;
  let judged = 0;
  for (const row of rows) {
    const expected = windows.find((w) => w.stepNo === row.stepNo)?.expected ?? [];
    if (expected.length >= 2) {
      judged += row.frames;
      if (!expected.some((g) => row.gateways.has(g))) {
        unreached = (unreached ?? 0) + row.frames;
        continue;
      }
    }
    for (const gateway of expected) if (!row.gateways.has(gateway)) lostApart.set(gateway, (lostApart.get(gateway) ?? 0) + row.frames);
  }
  return { unreached, judged, lostApart };
}
