import { formatDurationMs } from '../core/format.ts';

const percent = (share: number): string => `${Number((share * 100).toPrecision(3))}%`;

/** How each simulated-backend setting reads in a report; a setting not listed here is shown by its own name. */
const SETTINGS: Record<string, (value: unknown) => string | undefined> = {
  latencyMs: (v) => (v === 0 ? undefined : `answers after ${formatDurationMs(Number(v))}`),
  jitterMs: (v) => (v === 0 ? undefined : `± ${formatDurationMs(Number(v))} jitter`),
  lossRate: (v) => (v === 0 ? undefined : `loses ${percent(Number(v))} of requests`),
  nakRate: (v) => (v === 0 ? undefined : `NAKs ${percent(Number(v))}`),
  duplicateAckRate: (v) => (v === 0 ? undefined : `answers ${percent(Number(v))} twice`),
  phantomAckRate: (v) => (v === 0 ? undefined : `answers a request it never received after ${percent(Number(v))} of them`),
  ackVersion: (v) => (Array.isArray(v) ? `ACK app version ${v.join('.')}` : undefined),
  blackholeAfterMs: (v) => (v === undefined || v === null ? undefined : `goes silent after ${formatDurationMs(Number(v))}`),
  crashAfterMs: (v) => (v === undefined || v === null ? undefined : `crashes after ${formatDurationMs(Number(v))}`),
  seed: () => undefined,
};

/** A simulated backend's fault settings as a sign-off meeting reads them: "answers after 180 ms, NAKs 2%". */
export function describeBackendSettings(faults: unknown): string {
  if (faults === null || typeof faults !== 'object') return '';
  const parts = Object.entries(faults as Record<string, unknown>).flatMap(([key, value]) => {
    const describe = SETTINGS[key];
    const text = describe === undefined ? `${key} ${JSON.stringify(value)}` : describe(value);
    return text === undefined ? [] : [text];
  });
  return parts.length === 0 ? 'no faults' : parts.join(', ');
}
