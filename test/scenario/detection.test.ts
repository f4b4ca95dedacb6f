import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Metric } from '../../src/analyse/analysis.ts';
import { SubprocessError } from '../../src/core/errors.ts';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario, type ScenarioResult } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { LOAD_PROOF_THRESHOLDS } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const FAULT_RELAY = join(import.meta.dirname, '../peers/fault-relay.mjs');

/**
 * The detection suite: whole scenarios through a fault-injecting relay written apart from the reference relay
 * (test/peers/fault-relay.mjs), with simulated backends. Each relay fault must be caught on the metric that names it;
 * healthy runs with slow but correct backends must not be called NO-GO.
 */
async function runThroughFaultRelay(name: string, block: number, relayFlags: string, extra: { primary?: Record<string, unknown>; mirror?: Record<string, unknown>; thresholds?: Record<string, unknown> } = {}): Promise<ScenarioResult> {
  const relayIp = `127.0.${block}.1`;
  const spec = parseScenario(
    {
      name,
      traffic: { generate: { devices: 10, duration: '60s', interval: '3s' } },
      relay: {
        external: {
          address: relayIp,
          command: `exec "${process.execPath}" "${FAULT_RELAY}" --listen ${relayIp}:20500 --primary 127.0.${block}.2 --mirror 127.0.${block}.3 ${relayFlags}`,
          ready_after: '700ms',
          customer: 'acme-fleet',
          device: 'calamplmd',
        },
      },
      backends: { primary: { address: `127.0.${block}.2`, latency: '2ms', ...extra.primary }, mirror: { address: `127.0.${block}.3`, latency: '2ms', ack_version: '2.0.0', ...extra.mirror } },
      replay: { speed: '30x', ack_timeout: '1s' },
      thresholds: { ignore_ack_fields: ['appVersion'], ...extra.thresholds },
    },
    `${name}.yaml`,
  );
  return withTempDir((dir) => withStore(join(dir, 's.duckdb'), (store) => runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false })));
}

const critical = (result: ScenarioResult, metric: string, backend: string | null = null): boolean =>
  result.analysis.findings.some((f) => f.severity === 'critical' && f.metric === metric && f.backend === backend);
const messages = (result: ScenarioResult): string => result.analysis.findings.map((f) => `${f.severity} ${f.message}`).join('\n');

describe('the verdict catches relay faults (fault-injecting relay, simulated backends)', () => {
  it('a relay that delays every ACK to the devices by 500 ms: NO-GO on relay-added latency', async () => {
    // The relay-added latency is judged on its default bounds; the backends' own latency on bounds load cannot reach,
    // so a busy machine cannot add a warning against a backend that answered in time. The delay is twice the critical
    // bound: the relay-added latency is judged within the harness's own event-loop lateness, and a delay just past the
    // bound would be inconclusive, not NO-GO, on a machine busy enough to hold that loop 50 ms.
    const result = await runThroughFaultRelay('delay', 161, '--ack-delay-ms 500', { thresholds: { ack_latency_p95_ms: LOAD_PROOF_THRESHOLDS.ack_latency_p95_ms } });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'relay_added_latency_p95_ms'), messages(result)).toBe(true);
    // The backends answered in time: neither is blamed.
    expect(result.analysis.findings.filter((f) => f.backend !== null)).toEqual([]);
  });

  it('a relay that loses 21% of the ACKs on the way back: NO-GO on the devices\' ACK rate', async () => {
    const result = await runThroughFaultRelay('ack-loss', 162, '--ack-loss 0.21', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'device_ack_rate'), messages(result)).toBe(true);
    expect(messages(result)).toMatch(/requests that want an ACK got one back at the device/);
    // The primary answered (nearly) every one the devices missed: the finding says the relay did not pass them on, and,
    // since the answers were quick, nothing of a response timeout.
    const overall = (metric: string): number => Number(result.analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === null)?.value);
    const missed = overall('device_ack_expected') - overall('device_acks');
    const unrelayed = overall('device_unrelayed_acks');
    expect(unrelayed).toBeGreaterThan(0.9 * missed);
    expect(unrelayed).toBeLessThanOrEqual(missed);
    expect(messages(result)).toMatch(new RegExp(`primary answered ${unrelayed.toLocaleString('en-US')} of those that got none \\(in [\\d.]+ (?:µs|ms|s) at p50\\) and the relay did not pass them on`));
    expect(messages(result)).not.toMatch(/response timeout/);
  });

  it("a relay that drops 8% of the devices' packets before its copies: NO-GO on what reached no backend, the relay's finding, and neither backend blamed", async () => {
    const result = await runThroughFaultRelay('uplink-loss', 170, '--uplink-loss 0.08', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'unreached_rate'), messages(result)).toBe(true);
    const overall = (metric: string, backend: string | null = null): number => Number(result.analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend)?.value);
    const unreached = overall('unreached');
    expect(unreached).toBeGreaterThan(0);
    // Both backends lost exactly those, and nothing else: neither has a drop rate of its own.
    expect(overall('lost', 'primary')).toBe(unreached);
    expect(overall('lost', 'mirror')).toBe(unreached);
    expect(overall('drop_rate', 'primary')).toBe(0);
    expect(overall('drop_rate', 'mirror')).toBe(0);
    expect(messages(result)).toMatch(new RegExp(`relay: share of what was sent that reached no backend [\\d.]+% on route 20500 is critical .*: ${unreached} of ${overall('sent')} packets the devices sent reached no backend`));
    expect(result.analysis.findings.filter((f) => f.backend !== null), messages(result)).toEqual([]);
  });

  it('a relay that sends some packets to the mirror twice: NO-GO on the copies, put on the relay, not the mirror', async () => {
    const result = await runThroughFaultRelay('mirror-twice', 171, '--mirror-twice 0.08', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'extra_copy_rate', 'mirror'), messages(result)).toBe(true);
    const overall = (metric: string, backend: string): number => Number(result.analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend)?.value);
    const copies = overall('extra_copies', 'mirror');
    expect(copies).toBeGreaterThan(0);
    expect(overall('extra_copies', 'primary')).toBe(0);
    // Every packet still arrived once as sent: no loss, no drift is made of the copies.
    expect(overall('lost', 'mirror')).toBe(0);
    expect(overall('drift', 'mirror')).toBe(0);
    expect(messages(result)).toMatch(new RegExp(`relay: share of packets that reached a backend more than once [\\d.]+% on route 20500 is critical .*: mirror received ${copies} more copies of the ${overall('delivered', 'mirror')} packets that reached it than the devices sent: .*; not mirror's doing`));
    expect(result.analysis.findings.filter((f) => f.metric !== 'extra_copy_rate' && f.backend !== null), messages(result)).toEqual([]);
  });

  it("a relay that alters a byte of some of the mirror's copies: NO-GO on the altered packets, put on the relay; the mirror's loss is not held against it", async () => {
    const result = await runThroughFaultRelay('alter-mirror', 172, '--alter-mirror 0.08', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'unsent_payload_rate', 'mirror'), messages(result)).toBe(true);
    const overall = (metric: string, backend: string): Metric | undefined => result.analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend);
    const altered = Number(overall('unsent_payloads', 'mirror')?.value);
    expect(altered).toBeGreaterThan(0);
    // Each altered copy is counted as lost (its bytes never arrived) and as a stray: as many, and no more.
    expect(overall('lost', 'mirror')?.value).toBe(altered);
    expect(overall('unsent_payloads', 'primary')?.value).toBe(0);
    expect(messages(result)).toMatch(new RegExp(`relay: share of packets that reached a backend with bytes no device sent [\\d.]+% on route 20500 is critical .*: mirror received ${altered} packets whose bytes no device sent in the run`));
    // The mirror's loss and drift lie between none and what is counted: not blamed, not passed.
    for (const metric of ['drop_rate', 'drift']) {
      expect(overall(metric, 'mirror')?.status, messages(result)).toBe('inconclusive');
      expect(overall(metric, 'mirror')?.uncertaintySource).toBe('unsent_payloads');
    }
    expect(result.analysis.findings.filter((f) => f.backend !== null && f.severity !== 'inconclusive' && f.metric !== 'unsent_payload_rate'), messages(result)).toEqual([]);
  });

  it('a relay that alters a byte of some packets before both copies: NO-GO put on the relay, the packets that reached no backend as themselves said to be perhaps altered', async () => {
    const result = await runThroughFaultRelay('alter-both', 174, '--alter-both 0.08', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'unreached_rate'), messages(result)).toBe(true);
    const overall = (metric: string, backend: string | null = null): number => Number(result.analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend)?.value);
    const unreached = overall('unreached');
    expect(unreached).toBeGreaterThan(0);
    // Each backend received every altered packet, altered: as many bytes no device sent as packets that reached neither as themselves.
    expect([overall('unsent_payloads', 'primary'), overall('unsent_payloads', 'mirror')]).toEqual([unreached, unreached]);
    expect(messages(result)).toMatch(new RegExp(`relay: share of what was sent that reached no backend [\\d.]+% on route 20500 is critical .*: ${unreached} of ${overall('sent')} packets the devices sent reached no backend: .*; up to ${unreached} of them may have reached every backend altered`));
    expect(result.analysis.findings.filter((f) => f.backend !== null && f.severity !== 'inconclusive' && f.metric !== 'unsent_payload_rate'), messages(result)).toEqual([]);
  });

  it("a relay that hands a tenth of the ACKs to another device: NO-GO on the devices' ACK rate and on the ACKs they had not asked for, no backend blamed", async () => {
    const result = await runThroughFaultRelay('misdeliver', 173, '--misdeliver-ack 0.1', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'device_ack_rate'), messages(result)).toBe(true);
    expect(messages(result)).toMatch(/primary answered [\d,]+ of those that got none \(in [\d.]+ (?:µs|ms|s) at p50\) and the relay did not pass them on/);
    // And the devices that got them were told what they had not asked.
    expect(critical(result, 'unasked_ack_rate'), messages(result)).toBe(true);
    expect(result.analysis.findings.filter((f) => f.backend !== null), messages(result)).toEqual([]);
  });

  it('a relay that also sends a copy of a tenth of the ACKs to another device: NO-GO on the ACKs no device asked for, put on the relay', async () => {
    const result = await runThroughFaultRelay('leak', 175, '--leak-ack 0.1', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'unasked_ack_rate'), messages(result)).toBe(true);
    const unasked = Number(result.analysis.metrics.find((m) => m.metric === 'unasked_acks' && m.route === null && m.backend === null)?.value);
    expect(unasked).toBeGreaterThan(0);
    expect(messages(result)).toMatch(new RegExp(`relay: share of the ACKs devices got that they had not asked for [\\d.]+% on route 20500 is critical .*: ${unasked} ACKs reached devices beyond the requests they made with that match key`));
    expect(result.analysis.findings.filter((f) => f.backend !== null), messages(result)).toEqual([]);
  });

  it("a relay that holds a tenth of the mirror's copies back 250 ms: NO-GO on the packets the mirror got out of order, put on the relay, not the mirror", async () => {
    const result = await runThroughFaultRelay('hold', 179, '--hold-mirror 0.1 --hold-ms 250', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    const reordered = Number(result.analysis.metrics.find((m) => m.metric === 'reordered' && m.route === null && m.backend === 'mirror')?.value);
    expect(reordered).toBeGreaterThan(0);
    expect(messages(result)).toMatch(new RegExp(`relay: out-of-order rate [\\d.]+% on route 20500 is critical .*: mirror received ${reordered} of the [\\d,]+ packets that reached it after a packet their device sent later`));
    // The finding is on the mirror's leg, its words on the relay; the primary got them in order, and nothing else
    // names a backend.
    expect(critical(result, 'reorder_rate', 'mirror'), messages(result)).toBe(true);
    expect(result.analysis.metrics.find((m) => m.metric === 'reordered' && m.route === null && m.backend === 'primary')?.value).toBe(0);
    expect(result.analysis.findings.filter((f) => f.metric !== 'reorder_rate' && f.backend !== null), messages(result)).toEqual([]);
  });

  it('a relay that sends the devices bytes no backend sent after a tenth of their ACKs: NO-GO on them, put on the relay', async () => {
    const result = await runThroughFaultRelay('junk', 178, '--junk-to-device 0.1', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'junk_to_device_rate'), messages(result)).toBe(true);
    const junk = Number(result.analysis.metrics.find((m) => m.metric === 'junk_to_devices' && m.route === null && m.backend === null)?.value);
    expect(junk).toBeGreaterThan(0);
    expect(messages(result)).toMatch(new RegExp(`relay: share of what devices got that is no ACK and no backend sent [\\d.]+% on route 20500 is critical .*: ${junk} datagrams reached devices that are no ACK`));
    // Not ACKs, so not counted among those the devices had not asked for; and no backend blamed.
    expect(result.analysis.metrics.find((m) => m.metric === 'unasked_acks' && m.route === null && m.backend === null)?.value).toBe(0);
    expect(result.analysis.findings.filter((f) => f.backend !== null), messages(result)).toEqual([]);
  });

  it('a relay that is dead from the start: NO-GO, each backend leg named as carrying nothing', async () => {
    const result = await runThroughFaultRelay('dead', 163, '--dead', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict).toBe('NO_GO');
    expect(critical(result, 'delivered', 'primary'), messages(result)).toBe(true);
    expect(critical(result, 'delivered', 'mirror'), messages(result)).toBe(true);
    expect(critical(result, 'device_ack_rate'), messages(result)).toBe(true);
  });

  it('a relay that hands the devices the mirror\'s ACK: NO-GO on the devices\' ACK mismatch, attributed to the devices', async () => {
    // The mirror's ACKs differ from the primary's in app version; that field is not ignored here.
    const result = await runThroughFaultRelay('wrong-side', 164, '--wrong-side', { thresholds: { ...LOAD_PROOF_THRESHOLDS, ignore_ack_fields: [] } });
    expect(critical(result, 'device_ack_mismatch_rate'), messages(result)).toBe(true);
    expect(messages(result)).toMatch(/devices: device ACK mismatch rate .*app version differs \(primary 0\.0\.0, the devices got 2\.0\.0\)/);
  });

  it('a relay that alters a byte of each ACK: NO-GO on the devices\' ACK mismatch', async () => {
    const result = await runThroughFaultRelay('altered', 165, '--alter-ack', { thresholds: LOAD_PROOF_THRESHOLDS });
    expect(critical(result, 'device_ack_mismatch_rate'), messages(result)).toBe(true);
    expect(messages(result)).toMatch(/the devices got NAK where primary answered ACK/);
  });

  it('a relay that dies mid-run: the run fails, naming the exit code and the relay\'s last words', async () => {
    await expect(runThroughFaultRelay('dies', 166, '--die-after-ms 1500', { thresholds: LOAD_PROOF_THRESHOLDS })).rejects.toThrow(SubprocessError);
    await expect(runThroughFaultRelay('dies', 167, '--die-after-ms 1500', { thresholds: LOAD_PROOF_THRESHOLDS })).rejects.toThrow(/exited \(code 3\) during the run; last lines of .*relay\.log: .*dying as asked/);
  });

  it.each([
    { latency: '50ms', block: 168 },
    { latency: '300ms', block: 169 },
  ])('a healthy relay with a mirror $latency slower: no NO-GO, no one-sided answers', async ({ latency, block }) => {
    const result = await runThroughFaultRelay(`slow-mirror-${block}`, block, '', { mirror: { latency }, thresholds: { ...LOAD_PROOF_THRESHOLDS, ack_latency_p95_ms: { warning: 100, critical: 5000 } } });
    expect(result.analysis.verdict, messages(result)).not.toBe('NO_GO');
    const oneSided = result.analysis.metrics.find((m) => m.metric === 'one_sided_acks' && m.route === null && m.backend === 'mirror');
    expect(oneSided?.value).toBe(0);
  });
});

describe("a backend's own fault through a healthy relay (the fault-injecting relay with no fault) is the backend's", () => {
  it('a primary that answers a tenth of its requests twice: NO-GO on its extra ACKs; the relay that passed them on, and the devices that got them, not blamed', async () => {
    const result = await runThroughFaultRelay('primary-twice', 176, '', { primary: { duplicate_acks: 0.1 }, thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'extra_ack_rate', 'primary'), messages(result)).toBe(true);
    const extra = Number(result.analysis.metrics.find((m) => m.metric === 'extra_acks' && m.route === null && m.backend === 'primary')?.value);
    expect(extra).toBeGreaterThan(0);
    expect(messages(result)).toMatch(new RegExp(`primary sent ${extra} ACKs beyond the requests it received with their match key`));
    // A relay that passes the primary's second answer on does as it should; and the harness waited for the last
    // requests' answers though the extra ones came first (before, it stopped listening one answer short and the
    // devices' ACK rate put the missing one on the relay).
    expect(result.analysis.metrics.find((m) => m.metric === 'unasked_acks' && m.route === null && m.backend === null)?.value).toBe(0);
    expect(result.analysis.metrics.find((m) => m.metric === 'device_ack_rate' && m.route === null && m.backend === null)?.value).toBe(1);
    expect(result.analysis.findings.filter((f) => f.backend !== 'primary'), messages(result)).toEqual([]);
  });

  it("a mirror that also answers requests it never received: NO-GO on the mirror's extra ACKs, nothing else", async () => {
    // Dropped by the relay today (the mirror's answers go nowhere), told to the devices once the mirror is the primary.
    const result = await runThroughFaultRelay('mirror-phantoms', 180, '', { mirror: { phantom_acks: 0.1 }, thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'extra_ack_rate', 'mirror'), messages(result)).toBe(true);
    expect(messages(result)).toMatch(/mirror sent \d+ ACKs beyond the requests it received with their match key \(a second answer to one request, or an answer to one it never received/);
    expect(result.analysis.metrics.find((m) => m.metric === 'extra_acks' && m.route === null && m.backend === 'primary')?.value).toBe(0);
    expect(result.analysis.findings.filter((f) => f.backend !== 'mirror'), messages(result)).toEqual([]);
  });

  it("a mirror that answers a tenth of its requests twice: NO-GO on the mirror's extra ACKs, nothing else", async () => {
    const result = await runThroughFaultRelay('mirror-twice', 177, '', { mirror: { duplicate_acks: 0.1 }, thresholds: LOAD_PROOF_THRESHOLDS });
    expect(result.analysis.verdict, messages(result)).toBe('NO_GO');
    expect(critical(result, 'extra_ack_rate', 'mirror'), messages(result)).toBe(true);
    expect(result.analysis.metrics.find((m) => m.metric === 'extra_acks' && m.route === null && m.backend === 'primary')?.value).toBe(0);
    expect(result.analysis.findings.filter((f) => f.backend !== 'mirror'), messages(result)).toEqual([]);
  });
});
