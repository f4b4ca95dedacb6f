import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, type ScenarioSpec } from '../../src/scenario/scenario-spec.ts';
import { LOAD_PROOF_THRESHOLDS } from './quick-run.ts';

const PARITY_BIN = fileURLToPath(new URL('../../src/cli/parity.js', import.meta.url));

/** Where the run's relay and backends live: 127.0.`block`.1 the relay, .2 the primary, .3 the mirror. */
export function scenarioAddresses(block: number): { relay: string; primary: string; mirror: string } {
  return { relay: `127.0.${block}.1`, primary: `127.0.${block}.2`, mirror: `127.0.${block}.3` };
}

/**
 * A run through the reference relay started as an external relay (`parity relay` with a config of the test's own, in
 * `dir`), with simulated backends: about 5,200 CalAmp packets from 60 devices in 2 s, 2,600 a second. `pidFile`: the
 * relay's pid is written there, for a test that signals it; `shell`: run before it (a `ulimit`); `primaryLatency`:
 * how long the primary takes to answer (1ms).
 */
export function referenceRelayScenario(
  dir: string,
  options: { name: string; block: number; debugPort: number; socketBufferBytes: number; pidFile?: string; shell?: string; primaryLatency?: string },
): ScenarioSpec {
  const at = scenarioAddresses(options.block);
  writeFileSync(join(dir, 'routes.json'), JSON.stringify({ mirror: true, mirror_ip: at.mirror, routes: [{ port: 20500, target: at.primary, protocol: 'calamp-lmd' }] }));
  writeFileSync(join(dir, 'config.yaml'), `app:\n  bind_ip: "${at.relay}"\n  response_timeout_ms: 1000\n  socket_buffer_bytes: ${options.socketBufferBytes}\n`);
  const relay = `exec "${process.execPath}" "${PARITY_BIN}" relay --routes "${join(dir, 'routes.json')}" --config "${join(dir, 'config.yaml')}" --debug-port ${options.debugPort}`;
  return parseScenario(
    {
      name: options.name,
      traffic: { generate: { devices: 60, duration: '120s', interval: '1s' } },
      relay: {
        external: {
          address: at.relay,
          command: [options.shell, options.pidFile === undefined ? undefined : `echo $$ > "${options.pidFile}"`, relay].filter((part) => part !== undefined).join('; '),
          debug: `http://127.0.0.1:${options.debugPort}`,
          ready_url: `http://127.0.0.1:${options.debugPort}/debug/health`,
        },
      },
      backends: { primary: { address: at.primary, latency: options.primaryLatency ?? '1ms' }, mirror: { address: at.mirror, latency: '1ms' } },
      replay: { speed: '60x', ack_timeout: '1s' },
      thresholds: LOAD_PROOF_THRESHOLDS,
    },
    `${options.name}.yaml`,
  );
}
