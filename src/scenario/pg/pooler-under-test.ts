import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import type { JsonValue } from '../../core/json.ts';
import { MirroringPooler } from '../../relay/pg/mirroring-pooler.ts';
import { startExternalProcess } from '../external-process.ts';
import type { PgScenarioSpec } from './pg-scenario-spec.ts';

type Address = { host: string; port: number };

/** The mirroring pooler a run goes through: the reference one in this process, or the scenario's own command. */
export interface PoolerUnderTest {
  address: Address;
  /** Requests it still has queued or in flight at the mirror, where it can say (the reference pooler); null when not. */
  mirrorBusy(): number | null;
  /** Its own counts (the mirror-stats spec's metrics), read from it or its /metrics; undefined when it has none. */
  counts(): Promise<JsonValue | undefined>;
  throwIfExited(): void;
  close(): Promise<void>;
}

export interface PoolerPlacement {
  host: string;
  primary: Address;
  /** Null: a pooler that mirrors nothing (the baseline run). */
  mirror: Address | null;
  runName: string;
  cwd: string;
  runDir: string;
  seed: number;
}

export async function startPoolerUnderTest(spec: PgScenarioSpec, at: PoolerPlacement): Promise<PoolerUnderTest> {
  const p = spec.pooler;
  if (p.external === undefined) {
    const pooler = await MirroringPooler.start({ host: at.host, primary: at.primary, mirror: at.mirror, exposure: p.exposure, queue: p.queue, mirrorTimeoutMs: p.mirrorTimeoutMs, seed: at.seed });
    return {
      address: pooler.address,
      mirrorBusy: () => pooler.mirrorBusy,
      counts: () => Promise.resolve(countsOf(pooler.stats, p)),
      throwIfExited: () => undefined,
      close: () => pooler.close(),
    };
  }
  return startExternalPooler(spec, p.external, at);
}

function countsOf(s: { total: number; mirrored: number; dropped: number; errors: Record<string, number> }, p: PgScenarioSpec['pooler']): JsonValue {
  return { total: s.total, mirrored: s.mirrored, dropped: s.dropped, errors: { ...s.errors }, exposure: p.exposure, queue: p.queue };
}

/**
 * A team's own pooler (PgDog, PgCat, or anything that mirrors), started by the scenario's command for each run and
 * told where everything is through its environment: PARITY_POOLER_HOST and PARITY_POOLER_PORT (where to listen),
 * PARITY_PRIMARY and PARITY_MIRROR (host:port of the databases' taps; PARITY_MIRROR empty: mirror nothing),
 * PARITY_MIRROR_EXPOSURE, PARITY_MIRROR_QUEUE, PARITY_METRICS_PORT, PARITY_RUN, PARITY_RUN_DIR. Ready when it accepts
 * a connection; its counts are read from its Prometheus /metrics when the scenario names it (`metrics:`); its output
 * goes to `<reports>/<run>/pooler.log`.
 */
async function startExternalPooler(spec: PgScenarioSpec, external: NonNullable<PgScenarioSpec['pooler']['external']>, at: PoolerPlacement): Promise<PoolerUnderTest> {
  const ownDir = join(at.runDir, 'pooler');
  mkdirSync(ownDir, { recursive: true });
  const env = {
    PARITY_POOLER_HOST: at.host,
    PARITY_POOLER_PORT: String(external.port),
    PARITY_PRIMARY: `${at.primary.host}:${at.primary.port}`,
    PARITY_MIRROR: at.mirror === null ? '' : `${at.mirror.host}:${at.mirror.port}`,
    PARITY_MIRROR_EXPOSURE: String(spec.pooler.exposure),
    PARITY_MIRROR_QUEUE: String(spec.pooler.queue),
    PARITY_METRICS_PORT: String(external.metricsPort),
    PARITY_RUN: at.runName,
    PARITY_RUN_DIR: ownDir,
  };
  const address = { host: at.host, port: external.port };
  const underTest = await startExternalProcess(external.command, { cwd: at.cwd, logPath: join(at.runDir, 'pooler.log'), env }, {
    what: 'pooler',
    ready: () => accepts(address),
    neverReady: `the pooler under test never accepted a connection at ${at.host}:${external.port}`,
    timeoutMs: external.readyTimeoutMs,
  });
  const metricsUrl = external.metrics ? `http://${at.host}:${external.metricsPort}/metrics` : undefined;
  return {
    address,
    mirrorBusy: () => null,
    counts: async () => {
      if (metricsUrl === undefined) return undefined;
      const text = await (await request(metricsUrl)).body.text();
      const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.eE+-]+)$`, 'm').exec(text)?.[1] ?? 0);
      return {
        total: value('mirror_requests_total'),
        mirrored: value('mirror_requests_mirrored'),
        dropped: value('mirror_requests_dropped'),
        errors: { connection: value('mirror_errors_connection'), query: value('mirror_errors_query'), timeout: value('mirror_errors_timeout'), buffer_full: value('mirror_errors_buffer_full') },
        exposure: spec.pooler.exposure,
        queue: spec.pooler.queue,
      };
    },
    throwIfExited: () => underTest.throwIfExited(),
    close: () => underTest.close(),
  };
}

function accepts(address: Address): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address.port, address.host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
