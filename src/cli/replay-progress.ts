import { formatCount, formatDurationMs, formatDurationSec } from '../core/format.ts';
import type { Progress } from '../core/progress.ts';
import type { ReplayProgress } from '../replay/replayer.ts';

/** A replay's progress line: share done, sent of planned, rate, ACKs (and lateness where asked), time left. */
export function showReplayProgress(progress: Progress, p: ReplayProgress, options: { lateness: boolean }): void {
  const planned = p.planned < p.sent ? formatCount(p.sent) : `~${formatCount(p.planned)}`;
  const lateness = options.lateness ? `, p99 late ${formatDurationMs(p.latenessP99Us / 1000)}` : '';
  const eta = p.etaSec === undefined ? '' : `, ETA ${formatDurationSec(p.etaSec)}`;
  progress.update(Math.round(p.fraction * 1000), 1000, `${formatCount(p.sent)} of ${planned} sent, ${Math.round(p.ratePps)} pps, ${formatCount(p.acks)} ACKs${lateness}${eta}`);
}
