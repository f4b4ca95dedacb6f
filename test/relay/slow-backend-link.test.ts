import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { linkTo, namespaceUsable, runInNamespace } from '../helpers/network-namespace.ts';
import { scenarioAddresses } from '../helpers/reference-relay-scenario.ts';
import type { SlowLinkOutcome } from '../helpers/slow-link-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

// A whole run (replayer, the reference relay as an external relay with small socket buffers, simulated backends) in a
// namespace where the link to the mirror carries 512 kbit/s, about 500 of these packets a second, while the devices
// send 2,600 a second: the relay's queue for the mirror fills, and it fails what it cannot hold (no_buffer). What the
// run must then say is whose fault the mirror's loss is.
// The run's addresses are slow-link-run.ts's (block 77).
const SLOW_MIRROR = linkTo(scenarioAddresses(77).mirror, '512kbit');
const RUN = fileURLToPath(new URL('../helpers/slow-link-run.ts', import.meta.url));
const usable = namespaceUsable(SLOW_MIRROR, 'a backend behind a slow link');

describe.skipIf(!usable)('a mirror behind a link slower than its traffic (the reference relay, a whole run)', () => {
  let outcome: SlowLinkOutcome = { verdict: '', findings: [], metrics: {} };
  beforeAll(async () => {
    outcome = await withTempDir(async (dir) => runInNamespace<SlowLinkOutcome>(SLOW_MIRROR, RUN, [dir]));
  }, 150_000);
  const metric = (name: string): number => {
    const value = outcome.metrics[name];
    if (typeof value !== 'number') throw new Error(`no metric "${name}" in ${JSON.stringify(outcome.metrics)}`);
    return value;
  };
  const messages = (): string => outcome.findings.map((f) => `${f.severity} ${f.message}`).join('\n');

  it('the relay fails what its queue cannot hold, and the verdict names the relay for it: NO-GO', () => {
    expect(outcome.verdict, messages()).toBe('NO_GO');
    const failed = metric('relay_failed_sends mirror');
    expect(failed, messages()).toBeGreaterThan(0);
    const finding = outcome.findings.find((f) => f.kind === 'relay_self_report' && f.metric === 'relay_failed_sends' && f.backend === 'mirror');
    expect(finding, messages()).toBeDefined();
    expect(finding?.severity).toBe('critical');
    expect(finding?.value).toBe(failed);
    expect(finding?.message).toMatch(/no_buffer/);
    expect(finding?.message).toMatch(/that much of mirror's loss is the relay's, not mirror's/);
    // The mirror's own loss finding says how much of it the relay reported (on a busy machine, after what the stalled
    // relay dropped on arrival, which it names first).
    const drop = outcome.findings.find((f) => f.metric === 'drop_rate' && f.backend === 'mirror');
    expect(drop?.message).toMatch(/the relay itself reports /);
    expect(drop?.message).toMatch(new RegExp(`\\b${failed.toLocaleString('en-US')} of its sends to mirror failed at its side`));
  });

  it("what the mirror lost beyond what every backend lost is exactly what the relay failed: the rest of its queue arrived late, and the run waited for it", () => {
    // Datagrams a stalled relay dropped at its own listener (a busy machine) are lost to both backends alike.
    expect(metric('lost mirror') - metric('lost primary'), messages()).toBe(metric('relay_failed_sends mirror'));
    expect(metric('lost_apart mirror'), messages()).toBe(metric('relay_failed_sends mirror'));
    // It held far more than a spec's healthy queue while the link drained it: a finding of its own.
    expect(metric('relay_queue')).toBeGreaterThan(300);
  });

  it("the ACK flow did not wait on the mirror: the primary is blamed for nothing the mirror's link did", () => {
    expect(metric('relay_failed_sends primary')).toBe(0);
    // Not even what a relay stalled by a busy machine dropped at its listener, lost to both alike: that reached no
    // backend, and is the relay's.
    expect(outcome.findings.filter((f) => f.backend === 'primary'), messages()).toEqual([]);
  });
});
