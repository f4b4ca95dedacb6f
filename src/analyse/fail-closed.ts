import type { RunRecord } from '../store/runs.ts';
import type { StoredReplayStats } from '../store/run-metadata.ts';
import { overallValue, type Finding, type Metric } from './analysis.ts';


/**
 * A run that did not complete proves nothing: its verdict is INCOMPLETE (exit 1) unless a partial analysis was asked
 * for, and then it says so first and cannot be GO.
 */
export function runStateFindings(run: RunRecord, stats: StoredReplayStats | null, partial: boolean): Finding[] {
  return [...ownStateFindings(run, stats, partial), ...unfinishedObserverFindings(run, partial)];
}

/**
 * A backend whose record was cut short (the process recording it died) may be missing packets from the record that
 * its traffic had: the run proves nothing either way about it, as a run cut short proves nothing, and it is named.
 */
function unfinishedObserverFindings(run: RunRecord, partial: boolean): Finding[] {
  return run.topology.backends.flatMap((backend): Finding[] => {
    if (backend.unfinished === undefined) return [];
    const base = { kind: 'run_state' as const, metric: 'run_status' as const, route: null, backend: backend.role, value: null };
    return [
      partial
        ? { ...base, severity: 'warning', message: `partial analysis: ${backend.role}'s record is not whole (${backend.unfinished}); what it holds is analysed as it is` }
        : { ...base, severity: 'critical', message: `${backend.role}'s record is not whole (${backend.unfinished}): the run proves nothing either way about ${backend.role} (analyse what it recorded with --partial)` },
    ];
  });
}

/** Whether the analysis is a partial one: asked for, of a run cut short or with a backend's record cut short. */
export function analysedPartially(run: RunRecord, partial: boolean | undefined): boolean {
  return partial === true && (run.status !== 'completed' || run.topology.backends.some((b) => b.unfinished !== undefined));
}

function ownStateFindings(run: RunRecord, stats: StoredReplayStats | null, partial: boolean): Finding[] {
  if (run.status === 'completed') return [];
  const progress = stats === null ? '' : ` after ${stats.sent.toLocaleString('en-US')} of ${stats.planned.toLocaleString('en-US')} planned packets`;
  const why: Record<Exclude<RunRecord['status'], 'completed'>, string> = {
    running: `is still running${run.owner === null ? '' : ` (pid ${run.owner.pid} on ${run.owner.host})`}`,
    interrupted: `was interrupted${progress}`,
    failed: `failed${progress}`,
    abandoned: `was abandoned: its process${run.owner === null ? '' : ` (pid ${run.owner.pid} on ${run.owner.host})`} died while it ran`,
  };
  const state = why[run.status];
  return [
    partial
      ? { severity: 'warning', kind: 'run_state', metric: 'run_status', route: null, backend: null, value: null, message: `partial analysis: run ${run.name} ${state}; what it recorded is analysed as it is` }
      : { severity: 'critical', kind: 'run_state', metric: 'run_status', route: null, backend: null, value: null, message: `run ${run.name} ${state}: it proves nothing either way (analyse what it recorded with --partial)` },
  ];
}

/**
 * Nothing observed is never GO: a run that sent nothing, and a backend leg the topology says carries traffic that
 * carried none (a dead relay, a dead backend, an observer that could not reach it), are critical and named. Legs not
 * observed by design keep their coverage warning.
 */
export function coverageFindings(
  metrics: readonly Metric[],
  legs: { expected: readonly string[]; observed: readonly string[] },
  stats: StoredReplayStats | null,
  /** The share of a backend's packets that may fail to arrive before it is critical (drop_rate's critical bound). */
  dropCritical: number,
  /** What the run sent: packets through a relay, requests through a proxy. */
  unit: 'packets' | 'requests' | 'frames' | 'statements' = 'packets',
): Finding[] {
  const findings: Finding[] = [];
  const sent = overallValue(metrics, 'sent', null) ?? 0;
  if (sent === 0) {
    findings.push({ severity: 'critical', kind: 'coverage', metric: 'sent', route: null, backend: null, value: 0, message: `nothing was sent through the ${{ packets: 'relay', requests: 'proxy', frames: 'relay agent', statements: 'pooler' }[unit]}: the run proves nothing` });
    return findings;
  }
  for (const backend of legs.expected) {
    if ((overallValue(metrics, 'delivered', backend) ?? 0) > 0) continue;
    findings.push({
      severity: 'critical',
      kind: 'coverage',
      metric: 'delivered',
      route: null,
      backend,
      value: 0,
      message:
        {
          packets: `${backend}: none of the ${sent.toLocaleString('en-US')} packets sent was seen arriving at ${backend} (the relay>${backend} leg carried nothing: a dead relay, a dead backend, or an observer that could not reach it)`,
          requests: `${backend}: none of the ${sent.toLocaleString('en-US')} requests sent was seen arriving at ${backend} (the proxy>${backend} leg carried nothing: a proxy that does not send there, a dead backend, or a backend that records nothing)`,
          frames: `${backend}: none of the ${sent.toLocaleString('en-US')} frames sent was seen arriving at ${backend} (the agent>${backend} leg carried nothing: an agent that does not send there, a gateway that refused it, or a dead gateway)`,
          statements: `${backend}: none of the ${sent.toLocaleString('en-US')} statements replayed was seen arriving at the ${backend} database (the pooler>${backend} leg carried nothing: a pooler that does not send there, or a dead database)`,
        }[unit],
    });
  }
  if (legs.observed.length === 0) {
    findings.push({
      severity: 'warning',
      kind: 'coverage',
      metric: 'backend_legs',
      route: null,
      backend: null,
      value: 0,
      message: `no backend leg was observed (no simulated backend, tap or live capture recorded one): only what the ${unit === 'packets' ? 'devices' : unit === 'requests' ? 'clients' : 'replayer'} saw is analysed`,
    });
  }
  findings.push(...observerFindings(stats, dropCritical), ...senderFindings(stats), ...receiveDropFindings(stats), ...notAsRecordedFindings(stats, sent));
  return findings;
}

/**
 * Sends the replayer could not make as recorded reached both backends in the same other form (a COPY refused for want
 * of its data fails alike on both, and loads nothing either side): their parity, and that of whatever read what they
 * would have loaded, proves less than it seems. Named, so the verdict is not a plain GO; a run made of nothing else
 * proves nothing.
 */
function notAsRecordedFindings(stats: StoredReplayStats | null, sent: number): Finding[] {
  return (stats?.notAsRecorded ?? []).map((n) => ({
    severity: n.count >= sent ? ('critical' as const) : ('warning' as const),
    kind: 'replay_fidelity' as const,
    metric: 'replay_not_as_recorded' as const,
    route: null,
    backend: null,
    value: n.count,
    message: `${n.count.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} sent not as recorded: ${n.reason} (${n.examples.map((e) => JSON.stringify(e)).join(', ')})`,
  }));
}

/** A tap that could not reach its backend saw less than the backend was sent: what it missed is its fault, named. */
function observerFindings(stats: StoredReplayStats | null, dropCritical: number): Finding[] {
  const findings: Finding[] = [];
  for (const tap of stats?.observers ?? []) {
    const dropped = tap.receiveDrops ?? 0;
    if (dropped > 0) {
      findings.push({
        severity: 'warning',
        kind: 'coverage',
        metric: 'observer_errors',
        route: null,
        backend: tap.backend,
        value: dropped,
        message: `${tap.backend}'s tap (${tap.observer}) dropped ${dropped.toLocaleString('en-US')} datagrams on arrival (its receive buffers full): packets for ${tap.backend}, or its answers, that the tap lost, not ${tap.backend}`,
      });
    }
    const failed = Object.values(tap.errors).reduce((sum, n) => sum + n, 0);
    if (failed === 0) continue;
    const kinds = Object.entries(tap.errors).map(([kind, n]) => `${n.toLocaleString('en-US')} ${kind}`).join(', ');
    findings.push({
      severity: failed >= tap.forwarded * dropCritical ? 'critical' : 'warning',
      kind: 'coverage',
      metric: 'observer_errors',
      route: null,
      backend: tap.backend,
      value: failed,
      message: `${tap.backend} not reached through its tap (${tap.observer}): its sends failed, ${kinds}, of ${tap.forwarded.toLocaleString('en-US')} packets forwarded`,
    });
  }
  return findings;
}

/**
 * Answers dropped at the replayer's own sockets are the harness's loss: named, so the verdict is no plain GO; the device
 * ACK rates they could lift over a threshold are inconclusive (receive-drops.ts).
 */
function receiveDropFindings(stats: StoredReplayStats | null): Finding[] {
  const drops = stats?.receiveDrops ?? 0;
  const simulated = Object.entries(stats?.backendDrops ?? {})
    .filter(([, n]) => n > 0)
    .map(([role, n]): Finding => ({
      severity: 'warning',
      kind: 'coverage',
      metric: 'observer_errors',
      route: null,
      backend: role,
      value: n,
      message: `the simulated ${role} dropped ${n.toLocaleString('en-US')} datagrams on arrival (its receive buffers full, the harness's machine too busy to read them): a loss of the harness, not a fault ${role} was asked for`,
    }));
  if (drops === 0) return simulated;
  return [
    ...simulated,
    {
      severity: 'warning',
      kind: 'coverage',
      metric: 'replay_receive_drops',
      route: null,
      backend: null,
      value: drops,
      message: `the replayer's own sockets dropped ${drops.toLocaleString('en-US')} datagrams on arrival (their receive buffers full): up to that many answers are missing from the devices' view through the harness's fault, not the relay's`,
    },
  ];
}

/** Packets the replayer could not send never reached the relay: the relay is not blamed for them. */
function senderFindings(stats: StoredReplayStats | null): Finding[] {
  if (stats === null || stats.sendErrors === 0) return [];
  const kinds = Object.entries(stats.sendErrorsByKind).map(([kind, n]) => `${n.toLocaleString('en-US')} ${kind}`).join(', ');
  return [
    {
      severity: stats.sendErrors >= stats.sent ? 'critical' : 'warning',
      kind: 'coverage',
      metric: 'replay_send_errors',
      route: null,
      backend: null,
      value: stats.sendErrors,
      message: `the replayer could not send ${stats.sendErrors.toLocaleString('en-US')} of ${stats.sent.toLocaleString('en-US')} packets${kinds === '' ? '' : ` (${kinds})`}`,
    },
  ];
}
