import { quantile } from '../../core/stats.ts';

/** The spec's error categories (../shared/specs/mirror-stats.md). */
export type MirrorErrorType = 'connection' | 'query' | 'timeout' | 'buffer_full';

const LATENCY_WINDOW = 10_000;

/**
 * What the mirroring pooler counts, as mirror-stats.md names it: every request in the total (mirrored or not, by
 * exposure), those mirrored, those dropped (a full queue: also a buffer_full error), errors by category, and the
 * mirror's latency (the last 10,000, for its quantiles).
 */
export class MirrorStats {
  total = 0;
  mirrored = 0;
  dropped = 0;
  readonly errors: Record<MirrorErrorType, number> = { connection: 0, query: 0, timeout: 0, buffer_full: 0 };
  latencySumMs = 0;
  latencyCount = 0;
  private readonly recent: number[] = [];

  recordSuccess(latencyMs: number): void {
    this.mirrored++;
    this.latencySumMs += latencyMs;
    this.latencyCount++;
    if (this.recent.length >= LATENCY_WINDOW) this.recent.shift();
    this.recent.push(latencyMs);
  }

  recordError(type: MirrorErrorType): void {
    this.errors[type]++;
  }

  /** Prometheus text format, one flat name per counter as the spec's integration test reads them. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge' | 'summary', help: string, values: [string, number][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of values) lines.push(`${name}${labels} ${value}`);
    };
    metric('mirror_requests_total', 'counter', 'Requests seen by the mirror handler, mirrored or not (exposure).', [['', this.total]]);
    metric('mirror_requests_mirrored', 'counter', 'Requests the mirror database answered without an error.', [['', this.mirrored]]);
    metric('mirror_requests_dropped', 'counter', 'Requests dropped because the mirror queue was full.', [['', this.dropped]]);
    for (const type of Object.keys(this.errors) as MirrorErrorType[]) metric(`mirror_errors_${type}`, 'counter', `Mirror errors of category ${type}.`, [['', this.errors[type]]]);
    const q = (p: number): number => quantile(this.recent, p) ?? 0;
    metric('mirror_latency_ms', 'summary', 'Latency of mirrored requests at the mirror database (ms).', [
      ['{quantile="0.5"}', q(0.5)],
      ['{quantile="0.95"}', q(0.95)],
      ['{quantile="0.99"}', q(0.99)],
      ['_sum', this.latencySumMs],
      ['_count', this.latencyCount],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
