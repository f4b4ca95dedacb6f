/**
 * Progress for long work: a one-line bar redrawn in place on a terminal, and nothing at all when stderr is piped, in
 * CI, or under `PARITY_NO_PROGRESS`, so logs and captured output stay clean.
 */

const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 24;

export interface Progress {
  /** Sets how far along the work is; `total` of 0 means unknown (a counter without a bar). */
  update(done: number, total: number, detail?: string): void;
  /** Clears the line. */
  done(): void;
}

const silentProgress: Progress = {
  update: () => undefined,
  done: () => undefined,
};

export function progressEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') return false;
  if (process.env.PARITY_NO_PROGRESS !== undefined) return false;
  return stream.isTTY === true;
}

/** A progress line labelled `label`, or a silent one where progress must not show. */
export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!progressEnabled(stream)) return silentProgress;
  let lastDrawMs = 0;
  let drawn = false;
  const startedMs = Date.now();
  return {
    update(done, total, detail = '') {
      const now = Date.now();
      if (now - lastDrawMs < REDRAW_INTERVAL_MS) return;
      lastDrawMs = now;
      const elapsedSec = Math.max((now - startedMs) / 1000, 0.001);
      let bar = '';
      if (total > 0) {
        const filled = Math.min(BAR_WIDTH, Math.round((done / total) * BAR_WIDTH));
        bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}% `;
      }
      const line = `${label} ${bar}${detail} (${elapsedSec.toFixed(1)} s)`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 100) - 1)}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\u001b[K');
    },
  };
}
