import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const started: SimulatedBackend[] = [];
afterEach(async () => {
  for (const backend of started.splice(0)) await backend.stop();
});

const canCapture = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root (apt-get install tcpdump) for the observe: live scenario test');

const parse = (input: unknown) => parseScenario(input, 'inline.yaml');

/** Two "external" backends: started here, unknown to the scenario, recording nothing themselves. */
async function externalBackends(port: number, mirrorLatencyMs = 0): Promise<void> {
  for (const [ip, version] of [['127.0.15.2', [1, 0, 0]], ['127.0.15.3', [2, 0, 0]]] as const) {
    const latencyMs = ip === '127.0.15.3' ? mirrorLatencyMs : 0;
    const backend = new SimulatedBackend({ protocol: calampLmd, ip, ports: [port], role: ip, faults: { ackVersion: [...version], latencyMs } });
    await backend.start();
    started.push(backend);
  }
}

const scenario = (observe: 'tap' | 'live' | 'none') => ({
  name: `external-${observe}`,
  traffic: { generate: { devices: 8, duration: '60s', interval: '3s' } },
  relay: { builtin: { mirror: true } },
  backends: { primary: { external: '127.0.15.2', observe }, mirror: { external: '127.0.15.3', observe } },
  replay: { speed: '30x', ack_timeout: '1s' },
});

describe('scenarios with external backends', () => {
  it('observes external backends through recording taps, and analyses them like simulated ones', async () => {
    await externalBackends(20500);
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        const result = await runScenario(parse(scenario('tap')), { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        expect(result.analysis.backends).toEqual(['mirror', 'primary']);
        expect(result.analysis.verdict).toBe('NO_GO');
        expect(result.analysis.findings.map((f) => f.message).join('\n')).toMatch(/app version differs \(primary 1\.0\.0, mirror 2\.0\.0\)/);
        const lost = result.analysis.metrics.find((m) => m.metric === 'lost' && m.route === null && m.backend === 'mirror');
        expect(lost?.value).toBe(0);
      });
    });
  });

  // 300 ms and 1 s are three and ten of a device's intervals (100 ms at 30x): several requests in flight, so the last answer
  // comes long after the tap's last forward. The drain waits for the answers owed, not a guess from the last forward.
  it.each([50, 300, 1000])('an external mirror that answers %i ms later than the primary is late, not missing: no false NO-GO', async (latencyMs) => {
    await externalBackends(20500, latencyMs);
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        // The app versions differ on purpose elsewhere; here only the latency does.
        const spec = { ...scenario('tap'), thresholds: { ignore_ack_fields: ['appVersion'], relay_added_latency_p95_ms: { warning: 2000, critical: 10000 }, ack_latency_p95_ms: { warning: 2000, critical: 10000 } } };
        const result = await runScenario(parse(spec), { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        const messages = result.analysis.findings.map((f) => `${f.severity} ${f.message}`).join('\n');
        expect(result.analysis.verdict, messages).not.toBe('NO_GO');
        const metric = (name: string): number | null => result.analysis.metrics.find((m) => m.metric === name && m.route === null && m.backend === 'mirror')?.value ?? null;
        // Every ACK of the slow mirror was waited for and counted, none called one-sided or lost.
        expect(metric('lost')).toBe(0);
        expect(metric('one_sided_acks')).toBe(0);
        expect(metric('ack_mismatch_rate')).toBe(0);
        expect(metric('ack_latency_p95_ms')).toBeGreaterThanOrEqual(latencyMs);
      });
    });
  });

  it.runIf(canCapture)('observes external backends by live capture on lo (observe: live), on the run\'s clock', async () => {
    await externalBackends(20500);
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        const result = await runScenario(parse(scenario('live')), { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        expect(result.analysis.backends).toEqual(['mirror', 'primary']);
        expect(result.analysis.findings.map((f) => f.message).join('\n')).toMatch(/app version differs \(primary 1\.0\.0, mirror 2\.0\.0\)/);
        const metric = (name: string, backend: string): number | null => result.analysis.metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? null;
        expect(metric('lost', 'primary')).toBe(0);
        expect(metric('lost', 'mirror')).toBe(0);
        // Wall-clock capture times moved onto the monotonic clock: forward latency is small and positive.
        const forward = metric('forward_latency_p50_ms', 'primary') as number;
        expect(forward).toBeGreaterThan(-2);
        expect(forward).toBeLessThan(50);
      });
    });
  });

  it('an external mirror that is not there: its tap\'s refused sends are named as such, NO-GO, the primary not blamed', async () => {
    // Only the primary runs: the mirror's address has nothing listening, and the kernel refuses what the tap sends it.
    const primary = new SimulatedBackend({ protocol: calampLmd, ip: '127.0.15.2', ports: [20500], role: 'primary', faults: {} });
    await primary.start();
    started.push(primary);
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        const result = await runScenario(parse(scenario('tap')), { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        const messages = result.analysis.findings.map((f) => `${f.severity} ${f.message}`).join('\n');
        expect(result.analysis.verdict, messages).toBe('NO_GO');
        const tapFinding = result.analysis.findings.find((f) => f.metric === 'observer_errors' && f.backend === 'mirror');
        expect(tapFinding?.severity, messages).toBe('critical');
        expect(tapFinding?.message).toMatch(/^mirror not reached through its tap \(tap:mirror:20500\): its sends failed, [\d,]+ refused, of [\d,]+ packets forwarded$/);
        expect(result.analysis.findings.filter((f) => f.backend === 'primary'), messages).toEqual([]);
      });
    });
  });

  it('with observe: none, analyses what the devices saw and warns that no backend leg was observed', async () => {
    await externalBackends(20500);
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        const result = await runScenario(parse(scenario('none')), { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        expect(result.analysis.backends).toEqual([]);
        expect(result.analysis.verdict).toBe('GO_WITH_WARNINGS');
        expect(result.analysis.findings.map((f) => f.kind)).toEqual(['coverage']);
        const ackRate = result.analysis.metrics.find((m) => m.metric === 'device_ack_rate' && m.route === null);
        expect(ackRate?.value).toBe(1);
      });
    });
  });

  it.each([
    [{ ...scenario('tap'), backends: { primary: { external: '127.0.15.2', latency: '5ms' } } }, /backends\.primary\.latency is for simulated backends/],
    [{ ...scenario('tap'), backends: { primary: { observe: 'tap' } } }, /backends\.primary\.observe applies to external backends only/],
    [{ ...scenario('tap'), timeline: [{ at: '1s', stop: 'mirror' }] }, /"mirror" is external: only simulated backends can be stopped/],
    [{ ...scenario('tap'), replay: { speed: 'fast' } }, /replay\.speed/],
    [{ ...scenario('tap'), traffic: {} }, /traffic needs capture/],
  ])('refuses an invalid scenario naming the key (%#)', (input, message) => {
    expect(() => parse(input)).toThrow(ConfigError);
    expect(() => parse(input)).toThrow(message);
  });
});
