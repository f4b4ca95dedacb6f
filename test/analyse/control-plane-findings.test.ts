import { describe, expect, it } from 'vitest';
import { controlPlaneFindings } from '../../src/analyse/control-plane-findings.ts';
import type { RunTopology } from '../../src/store/run-metadata.ts';

type Event = { event: string; dataPlane?: string; version?: string; detail?: string };

function topology(published: { version: string; valid: boolean; label?: string }[], events: Event[], finalVersion: string): RunTopology {
  return {
    backends: [],
    routes: [],
    controlPlane: {
      published: published.map((p) => ({ label: '', ...p })),
      events: events.map((e, i) => ({ atNs: String(i), dataPlane: null, version: null, detail: null, ...e })),
      final: { version: finalVersion, source: 'control_plane' },
    },
  };
}

const messages = (t: RunTopology): string[] => controlPlaneFindings(t).map((f) => `${f.severity}: ${f.message}`);

describe('what a data plane did with its control plane\'s snapshots', () => {
  it('nothing to say when each valid snapshot is acked, the invalid one refused, and it ends on the last valid one', () => {
    const t = topology(
      [{ version: '1', valid: true }, { version: '2', valid: false }, { version: '3', valid: true }],
      [{ event: 'connected', dataPlane: 'dp' }, { event: 'sent', dataPlane: 'dp', version: '1' }, { event: 'ack', dataPlane: 'dp', version: '1' }, { event: 'sent', dataPlane: 'dp', version: '2' }, { event: 'nack', dataPlane: 'dp', version: '2', detail: 'mode: bad' }, { event: 'stopped' }, { event: 'started', version: '3' }, { event: 'connected', dataPlane: 'dp' }, { event: 'sent', dataPlane: 'dp', version: '3' }, { event: 'ack', dataPlane: 'dp', version: '3' }],
      '3',
    );
    expect(messages(t)).toEqual([]);
    expect(controlPlaneFindings({ backends: [], routes: [] })).toEqual([]);
  });

  it('an invalid snapshot accepted, a valid one refused or unanswered, no reconnect after an outage, the wrong version at the end: each critical', () => {
    const t = topology(
      [{ version: '1', valid: true, label: 'start' }, { version: '2', valid: false }, { version: '3', valid: true, label: 'kill switch on' }, { version: '4', valid: true }],
      [{ event: 'connected', dataPlane: 'dp' }, { event: 'sent', dataPlane: 'dp', version: '1' }, { event: 'ack', dataPlane: 'dp', version: '1' }, { event: 'sent', dataPlane: 'dp', version: '2' }, { event: 'ack', dataPlane: 'dp', version: '2' }, { event: 'sent', dataPlane: 'dp', version: '3' }, { event: 'nack', dataPlane: 'dp', version: '3', detail: 'killSwitch: must be true or false' }, { event: 'sent', dataPlane: 'dp', version: '4' }, { event: 'stopped' }, { event: 'started' }],
      '2',
    );
    expect(messages(t)).toEqual([
      'critical: dp accepted the invalid snapshot v2: a data plane must refuse it and keep its last-known-good',
      'critical: dp refused the valid snapshot v3 ("kill switch on"): killSwitch: must be true or false',
      'critical: dp never answered snapshot v4: it was sent and neither acked nor refused',
      'critical: no data plane connected again after the control plane came back: it would run on its last-known-good until restarted',
      'critical: the data plane ended on configuration 2, not v4, the last valid snapshot published',
    ]);
  });
});
