import type { JsonValue } from '../core/json.ts';
import type { RunTopology } from '../store/run-metadata.ts';
import type { Finding } from './analysis.ts';

interface Published {
  version: string;
  valid: boolean;
  label: string;
}

interface Event {
  event: string;
  dataPlane: string | null;
  version: string | null;
  detail: string | null;
}

const record = (value: JsonValue): Record<string, JsonValue> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, JsonValue>) : {});
const text = (value: JsonValue | undefined): string | null => (typeof value === 'string' ? value : null);

/**
 * What a data plane did with its control plane's snapshots (../shared/specs/control-plane-data-plane.md), from the
 * run's record: every valid snapshot it was sent is acked, none refused; every invalid one is refused (nack) with its
 * last-known-good kept; after an outage it connects again; and it ends on the last valid version published. Each
 * breach is critical: a cutover driven through this control plane would not do what its operator pushed.
 */
export function controlPlaneFindings(topology: RunTopology): Finding[] {
  const cp = topology.controlPlane;
  if (cp === undefined) return [];
  const published = cp.published.map(record).map((p): Published => ({ version: text(p.version) ?? '', valid: p.valid === true, label: text(p.label) ?? '' }));
  const events = cp.events.map(record).map((e): Event => ({ event: text(e.event) ?? '', dataPlane: text(e.dataPlane), version: text(e.version), detail: text(e.detail) }));
  const findings: Finding[] = [];
  const finding = (dataPlane: string | null, message: string): void => {
    findings.push({ severity: 'critical', kind: 'control_plane', metric: 'config_version', route: null, backend: dataPlane, value: null, message });
  };
  const answers = (version: string, type: 'ack' | 'nack'): Event[] => events.filter((e) => e.event === type && e.version === version);
  for (const p of published) {
    const sent = events.filter((e) => e.event === 'sent' && e.version === p.version);
    const acks = answers(p.version, 'ack');
    const nacks = answers(p.version, 'nack');
    const what = `snapshot v${p.version}${p.label === '' ? '' : ` ("${p.label}")`}`;
    if (p.valid) {
      for (const nack of nacks) finding(nack.dataPlane, `${nack.dataPlane ?? 'a data plane'} refused the valid ${what}: ${nack.detail ?? '(no reason given)'}`);
      for (const dataPlane of new Set(sent.map((e) => e.dataPlane))) {
        if (!acks.some((a) => a.dataPlane === dataPlane) && !nacks.some((n) => n.dataPlane === dataPlane)) finding(dataPlane, `${dataPlane ?? 'a data plane'} never answered ${what}: it was sent and neither acked nor refused`);
      }
    } else {
      for (const ack of acks) finding(ack.dataPlane, `${ack.dataPlane ?? 'a data plane'} accepted the invalid ${what}: a data plane must refuse it and keep its last-known-good`);
    }
  }
  const restarted = events.map((e, index) => ({ e, index })).filter(({ e }) => e.event === 'started');
  const lastStart = restarted.at(-1);
  if (lastStart !== undefined && !events.slice(lastStart.index).some((e) => e.event === 'connected')) {
    finding(null, 'no data plane connected again after the control plane came back: it would run on its last-known-good until restarted');
  }
  const lastValid = [...published].reverse().find((p) => p.valid);
  const final = record(cp.final);
  const finalVersion = text(final.version);
  if (lastValid !== undefined && finalVersion !== lastValid.version) {
    finding(null, `the data plane ended on configuration ${finalVersion ?? '(unknown)'}, not v${lastValid.version}, the last valid snapshot published${lastValid.label === '' ? '' : ` ("${lastValid.label}")`}`);
  }
  return findings;
}
