import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { ShadowProxy } from '../../relay/http/shadow-proxy.ts';
import { startExternalProcess } from '../external-process.ts';
import type { HttpScenarioSpec } from './http-scenario-spec.ts';

/** The shadowing proxy a run goes through: the reference one in this process, or the scenario's own command. */
export interface ProxyUnderTest {
  url: string;
  /** Shadow copies it still has in flight, where it can say (the reference proxy); null when it cannot. */
  shadowInFlight(): number | null;
  /** Throws when the proxy's process exited during the run: a dead proxy is a failed run, not a quiet one. */
  throwIfExited(): void;
  close(): Promise<void>;
}

export interface ProxyPlacement {
  host: string;
  live: string;
  shadow: string | null;
  runName: string;
  /** Where relative paths of the scenario are (its command runs there). */
  cwd: string;
  /** Where its output and its files go: beside the run's reports. */
  runDir: string;
}

export async function startProxyUnderTest(spec: HttpScenarioSpec, at: ProxyPlacement): Promise<ProxyUnderTest> {
  const proxy = spec.proxy;
  if (proxy.kind === 'builtin') {
    const builtin = await ShadowProxy.start({ host: at.host, live: at.live, shadow: at.shadow, shadowTimeoutMs: proxy.shadowTimeoutMs, faults: proxy.faults });
    return { url: builtin.url, shadowInFlight: () => builtin.stats.shadowInFlight, throwIfExited: () => undefined, close: () => builtin.close() };
  }
  return startExternalProxy(proxy, at);
}

/**
 * An external proxy (nginx, Envoy, the team's own) started by the scenario's command for each run, told where to listen
 * and where the live and shadow upstreams are through its environment: PARITY_PROXY_HOST, PARITY_PROXY_PORT,
 * PARITY_LIVE_URL, PARITY_SHADOW_URL (empty: no shadow, the latency baseline), PARITY_RUN, PARITY_RUN_DIR (a directory
 * of its own). Ready when it answers any HTTP request; its output goes to `<reports>/<run>/proxy.log`.
 */
async function startExternalProxy({ command, port, readyTimeoutMs }: { command: string; port: number; readyTimeoutMs: number }, at: ProxyPlacement): Promise<ProxyUnderTest> {
  const ownDir = join(at.runDir, 'proxy');
  mkdirSync(ownDir, { recursive: true });
  const url = `http://${at.host}:${port}`;
  const env = { PARITY_PROXY_HOST: at.host, PARITY_PROXY_PORT: String(port), PARITY_LIVE_URL: at.live, PARITY_SHADOW_URL: at.shadow ?? '', PARITY_RUN: at.runName, PARITY_RUN_DIR: ownDir };
  const underTest = await startExternalProcess(command, { cwd: at.cwd, logPath: join(at.runDir, 'proxy.log'), env }, {
    what: 'proxy',
    // Each probe bounded: a proxy that takes the connection and never answers would hold the poll past its deadline.
    ready: () => request(`${url}/`, { method: 'GET', headers: { 'x-request-id': `${at.runName}-ready` }, headersTimeout: 2_000, bodyTimeout: 2_000 }).then((r) => (r.body.dump(), true), () => false),
    neverReady: `the proxy under test never answered at ${url}`,
    timeoutMs: readyTimeoutMs,
  });
  return {
    url,
    shadowInFlight: () => null,
    throwIfExited: () => underTest.throwIfExited(),
    close: () => underTest.close(),
  };
}
