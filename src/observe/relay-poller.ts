import { request } from 'undici';
import { debug } from '../core/debug.ts';
import type { Store } from '../store/store.ts';
import type { Observer } from './observer.ts';

/** Endpoints of a relay's self-report, as the fan-out spec names them; each is polled where the relay serves it. */
export const SELF_REPORT_ENDPOINTS = ['/debug/parity', '/debug/targets', '/metrics'] as const;
const POLL_INTERVAL_MS = 1000;
const REQUEST_TIMEOUT_MS = 800;

/**
 * Polls a relay's debug endpoints with undici while a run goes on, into `relay_samples`, and once more when stopped
 * (so the last counters are the run's final ones). Endpoints the relay does not serve are dropped after a 404.
 */
export class RelayPoller implements Observer {
  readonly name = 'relay poller';
  private timer: NodeJS.Timeout | undefined;
  private readonly endpoints = new Set<string>(SELF_REPORT_ENDPOINTS);
  private polling: Promise<void> = Promise.resolve();
  samples = 0;

  constructor(
    private readonly store: Store,
    private readonly runId: number,
    private readonly baseUrl: string,
  ) {}

  /** Starts polling; resolves once the first sample is taken, so the run's counters have their starting point. */
  async start(): Promise<void> {
    this.timer = setInterval(() => this.tick(), POLL_INTERVAL_MS);
    // A poller never keeps a process alive on its own: a failed run must be able to exit.
    this.timer.unref();
    this.tick();
    await this.polling;
  }

  /**
   * Datagrams the relay says wait to leave for its backends now (its /debug/targets `queueSize`, summed), or null where
   * it does not say: what it still holds is late, not lost, and a run waits for it as for a backend's answers.
   */
  async queuedAtRelay(): Promise<number | null> {
    if (!this.endpoints.has('/debug/targets')) return null;
    try {
      const response = await request(`${this.baseUrl}/debug/targets`, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
      const body = (await response.body.json()) as { targets?: { queueSize?: unknown }[] };
      if (response.statusCode !== 200 || !Array.isArray(body.targets)) return null;
      return body.targets.reduce((sum, target) => sum + (typeof target.queueSize === 'number' ? target.queueSize : 0), 0);
    } catch (error) {
      debug('relay queue %s: %s', this.baseUrl, (error as Error).message);
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.polling;
    await this.pollOnce();
  }

  private tick(): void {
    this.polling = this.polling.then(() => this.pollOnce());
  }

  private async pollOnce(): Promise<void> {
    for (const endpoint of [...this.endpoints]) {
      try {
        const response = await request(`${this.baseUrl}${endpoint}`, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
        const body = await response.body.text();
        if (response.statusCode === 404) {
          this.endpoints.delete(endpoint);
          continue;
        }
        if (response.statusCode !== 200) continue;
        await this.store.exec('INSERT INTO relay_samples VALUES ($run_id, $ts_ns, $endpoint, $body)', {
          run_id: this.runId,
          ts_ns: process.hrtime.bigint(),
          endpoint,
          body,
        });
        this.samples++;
      } catch (error) {
        debug('relay poll %s%s: %s', this.baseUrl, endpoint, (error as Error).message);
      }
    }
  }
}
