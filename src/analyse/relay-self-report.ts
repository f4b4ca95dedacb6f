import { ANALYSIS_STEPS } from './analysis-steps.ts';
import { num, numOrNull, str, type Store } from '../store/store.ts';
import { overallValue, type Metric, type RelaySelfReport } from './analysis.ts';

const QUEUE_SQL = ANALYSIS_STEPS.relayQueue.sql;
/** The kind under which a target's `dropped` counter is read beside its send errors (judge.ts RELAY_SIDE_SEND_FAILURES). */
export const DROPPED_BY_RELAY = 'dropped';

interface ParityBody {
  perTarget?: { url?: string; role?: string; sent?: number }[];
  receiveDrops?: number | null;
}

interface TargetsBody {
  targets?: { url?: string; role?: string; counters?: { failed?: number; dropped?: number }; errors?: Record<string, number> }[];
}

/** A target's sends that failed at the relay's side (its /debug/targets counters), lifetime totals, by kind. */
interface FailedSends {
  failed: number;
  kinds: Record<string, number>;
}

/**
 * What the relay under test said about itself (its last /debug/parity and the deepest /debug/targets queue), set
 * against what was observed. Targets are matched by the role the reference relay reports, else by address.
 */
export async function relaySelfReport(store: Store, runId: number, metrics: readonly Metric[], addressOf: ReadonlyMap<string, string>): Promise<RelaySelfReport | null> {
  const [queue] = await store.query(QUEUE_SQL, { run_id: runId });
  // Counters are the relay's lifetime totals: the run is judged on their change from its first sample to its last.
  const parity = await store.query("SELECT body FROM relay_samples WHERE run_id = $run_id AND endpoint = '/debug/parity' ORDER BY ts_ns", { run_id: runId });
  const first = parity[0];
  const last = parity.at(-1);
  const samples = num(queue?.samples);
  if (samples === 0 && last === undefined) return null;
  const body = last === undefined ? {} : (JSON.parse(str(last.body)) as ParityBody);
  const firstBody = first === undefined || parity.length < 2 ? undefined : (JSON.parse(str(first.body)) as ParityBody);
  const before = new Map((firstBody?.perTarget ?? []).map((t) => [`${t.role ?? ''}|${t.url ?? ''}`, t.sent ?? 0]));
  const overall = (metric: string, backend: string | null): number => overallValue(metrics, metric, backend) ?? 0;
  const backendOfUrl = new Map([...addressOf].map(([backend, ip]) => [ip, backend]));
  const failures = await failedSendsDuringRun(store, runId);
  const targets: RelaySelfReport['targets'] = [];
  for (const target of body.perTarget ?? []) {
    const url = target.url ?? '';
    const backend = target.role ?? backendOfUrl.get(url.replace(/^[a-z]+:\/\//, '').split(/[:/]/)[0] ?? '');
    if (backend === undefined || typeof target.sent !== 'number') continue;
    // What the devices sent bounds what the relay can have sent on; what a backend was seen to receive is a floor.
    const atStart = before.get(`${target.role ?? ''}|${url}`);
    const restarted = target.sent < (atStart ?? 0);
    const failed = failures.get(`${target.role ?? ''}|${url}`) ?? null;
    targets.push({
      backend,
      url,
      claimedSent: changeOverRun(atStart, target.sent),
      claimedFailed: failed?.failed ?? null,
      failedKinds: failed?.kinds ?? {},
      observedUplink: overall('sent', null),
      observedDelivered: overall('delivered', backend),
      restarted,
    });
  }
  const startDrops = typeof firstBody?.receiveDrops === 'number' ? firstBody.receiveDrops : undefined;
  const receiveDrops = typeof body.receiveDrops === 'number' ? changeOverRun(startDrops, body.receiveDrops) : null;
  return { samples, maxQueue: numOrNull(queue?.max_queue), observedUplink: overall('sent', null), receiveDrops, targets };
}

/**
 * A lifetime counter of the relay's over the run: its change from the first sample to the last, or all of its last
 * value where there is no first sample or it went backwards (the relay restarted and counts from zero).
 */
function changeOverRun(start: number | undefined, end: number): number {
  return start === undefined || end < start ? end : end - start;
}

/**
 * What each target's sends that failed at the relay's side came to during the run (its /debug/targets counters, first
 * sample to last; a relay that restarted counts from zero), by role and address. Empty for a relay whose targets view
 * does not count failed sends.
 */
async function failedSendsDuringRun(store: Store, runId: number): Promise<Map<string, FailedSends>> {
  const rows = await store.query("SELECT body FROM relay_samples WHERE run_id = $run_id AND endpoint = '/debug/targets' ORDER BY ts_ns", { run_id: runId });
  const read = (row: (typeof rows)[number] | undefined): Map<string, FailedSends> => {
    const counted = new Map<string, FailedSends>();
    if (row === undefined) return counted;
    for (const target of (JSON.parse(str(row.body)) as TargetsBody).targets ?? []) {
      if (typeof target.counters?.failed !== 'number') continue;
      // What it dropped itself (the fan-out spec's `dropped`: its kill switch on, or the target disabled) counts as a
      // kind of its own: never sent, by the relay's own doing.
      const dropped = target.counters.dropped;
      const kinds = { ...(target.errors ?? {}), ...(typeof dropped === 'number' && dropped > 0 && { [DROPPED_BY_RELAY]: dropped }) };
      counted.set(`${target.role ?? ''}|${target.url ?? ''}`, { failed: target.counters.failed, kinds });
    }
    return counted;
  };
  const last = read(rows.at(-1));
  const first = rows.length < 2 ? new Map<string, FailedSends>() : read(rows[0]);
  const during = new Map<string, FailedSends>();
  for (const [key, end] of last) {
    const start = first.get(key);
    const restarted = start !== undefined && end.failed < start.failed;
    const kinds: Record<string, number> = {};
    for (const [kind, n] of Object.entries(end.kinds)) {
      const change = changeOverRun(restarted ? undefined : (start?.kinds[kind] ?? 0), n);
      if (change > 0) kinds[kind] = change;
    }
    during.set(key, { failed: changeOverRun(start?.failed, end.failed), kinds });
  }
  return during;
}
