import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/analyse/analysis.ts';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { referenceRelayScenario } from '../helpers/reference-relay-scenario.ts';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const STOPPED_MS = 500;

/**
 * A whole run through the reference relay (as an external relay, its pid written where the test can signal it) that
 * is stopped for half a second while the devices send 2,600 packets a second: its listening socket's receive buffer
 * (socket_buffer_bytes, small) fills and the kernel drops the rest, before any backend could get them.
 */
async function runWithStoppedRelay(dir: string, io: string): Promise<Analysis> {
  const pidFile = join(dir, 'relay.pid');
  // On the C path the relay asks its listeners for their drops; on Node's dgram it reads the kernel's table.
  const spec = referenceRelayScenario(dir, { name: 'stopped-relay', block: 78, debugPort: 18_792, socketBufferBytes: 65_536, pidFile, shell: `export PARITY_UDP_IO=${io}` });
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGSTOP');
    setTimeout(() => process.kill(pid, 'SIGCONT'), STOPPED_MS);
  };
  return withStore(join(dir, 'run.duckdb'), async (store) => {
    const result = await runScenario(spec, {
      store,
      baseDir: dir,
      reportsDir: join(dir, 'reports'),
      formats: ['json'],
      screenshot: false,
      // A fifth of the way in: the relay is stopped while the devices go on sending.
      onProgress: (progress) => {
        if (progress.fraction >= 0.2) stop();
      },
    });
    return result.analysis;
  });
}

describe('a relay that cannot take in what the devices send (its receive buffer full)', () => {
  it.each(relayIoPaths().map((path) => path.kind))("the relay's own count of what its kernel dropped is a finding, and it is every backend's loss: no backend is blamed (%s)", { timeout: 120_000 }, async (io) => {
    const analysis = await withTempDir((dir) => runWithStoppedRelay(dir, io));
    const messages = analysis.findings.map((f) => `${f.severity} ${f.message}`).join('\n');
    const runLevel = (metric: string, backend: string | null): number => Number(analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend)?.value);
    const dropped = runLevel('relay_receive_drops', null);
    expect(dropped, messages).toBeGreaterThan(0);
    // Nothing else was lost: what each backend missed is what the relay dropped on arrival, no more.
    expect(runLevel('lost', 'primary'), messages).toBe(dropped);
    expect(runLevel('lost', 'mirror'), messages).toBe(dropped);
    expect(analysis.verdict).toBe('NO_GO');
    const finding = analysis.findings.find((f) => f.kind === 'relay_self_report' && f.metric === 'relay_receive_drops');
    expect(finding?.severity, messages).toBe('critical');
    expect(finding?.message).toBe(
      `relay: its kernel dropped ${dropped.toLocaleString('en-US')} of the devices' packets on arrival, its listening sockets' receive buffers full ` +
        "(its own count): no backend got them (they are among the packets that reached no backend), and that much of the devices' missing ACKs is the relay's",
    );
    // They reached no backend: the relay's finding, which says what the relay itself reported; no backend's loss.
    expect(runLevel('unreached', null), messages).toBe(dropped);
    const unreached = analysis.findings.find((f) => f.metric === 'unreached_rate' && f.route === 20_500);
    expect(unreached?.message, messages).toMatch(new RegExp(`^relay: .*; the relay itself reports ${dropped.toLocaleString('en-US')} of the devices' packets dropped on arrival at it$`));
    expect(analysis.findings.filter((f) => f.backend !== null && (f.metric === 'drop_rate' || f.metric === 'drift')), messages).toEqual([]);
    // Both lost the same packets: no drift between them is made of it.
    expect(runLevel('drift', 'mirror'), messages).toBe(0);
  });
});
