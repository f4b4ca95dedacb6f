import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, UsageError } from '../core/errors.ts';
import { ControlPlane } from '../relay/control/control-plane.ts';
import { watchRoutesFile } from '../relay/config-watcher.ts';
import { validateProxySnapshot } from '../relay/http/proxy-snapshot.ts';
import { validateAgentSnapshot } from '../relay/ws/agent-snapshot.ts';
import { parseDurationMs, parseListen } from './option-parsers.ts';
import { printError, printJson, printNote } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface ControlPlaneFlags {
  config: string;
  for: string;
  listen: { ip: string; ports: number[] };
  duration?: number;
  json?: boolean;
}

const VALIDATORS: Record<string, (config: Record<string, unknown>) => unknown> = {
  'relay-agent': (config) => validateAgentSnapshot(config),
  'shadow-proxy': (config) => validateProxySnapshot(config),
};

/**
 * `parity control-plane`: serves a JSON configuration file to data planes as the control-plane spec describes, and
 * publishes it again each time the file changes (validated first: an invalid file is reported and not sent).
 */
export function registerControlPlaneCommand(program: Command): void {
  program
    .command('control-plane')
    .description('run a control plane: data planes (the relay agent, the shadowing proxy) connect to ws://HOST:PORT/connect and get the configuration file as snapshots, again on every change')
    .requiredOption('--config <file>', 'the configuration, one JSON object (its "version" a string; a change under the same version, or none, is published as the next number)')
    .option('--for <data-plane>', `what the configuration is for, which says how it is checked (${Object.keys(VALIDATORS).join(', ')})`, 'relay-agent')
    .option('--listen <ip:port>', 'address and port to listen on', parseListen, { ip: '127.0.0.1', ports: [8081] })
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print its events as JSON when stopping')
    .addHelpText(
      'after',
      '\nEndpoints: /connect (WebSocket; ?dp=NAME), /health (JSON: the version published and each data plane\'s).\n\n' +
        'Examples:\n  parity control-plane --config agent.json --listen 127.0.0.1:8081\n' +
        '  parity control-plane --config routing.json --for shadow-proxy --listen 127.0.0.1:8082\n' +
        '\nagent.json: {"version": "7", "mode": "single", "primaryIndex": 1, "targetsEnabled": [true, true], "killSwitch": false, "paritySampleRate": 0.05}\n' +
        'routing.json: {"version": "3", "live": "http://127.0.0.2:8081", "shadow": "http://127.0.0.3:8081", "shadowTimeoutMs": 1000}\n',
    )
    .action(async (flags: ControlPlaneFlags) => {
      const validate = VALIDATORS[flags.for];
      if (validate === undefined) throw new UsageError(`--for "${flags.for}": takes ${Object.keys(VALIDATORS).join(' or ')}`, { field: 'for' });
      const plane = await ControlPlane.start({ host: flags.listen.ip, port: flags.listen.ports[0] ?? 8081, validate });
      let published = 0;
      let lastText: string | undefined;
      const load = (): void => {
        let text: string;
        try {
          text = readFileSync(flags.config, 'utf8');
        } catch (error) {
          printError(`${flags.config}: cannot be read (${(error as Error).message}); the data planes keep what they have`);
          return;
        }
        if (text === lastText) return;
        lastText = text;
        try {
          const config = parseConfig(flags.config, text);
          // A change under the version already published would be taken for it (data planes ack a version they have).
          const current = Number(plane.version);
          const next = String(Number.isSafeInteger(current) ? current + 1 : published + 1);
          const version = typeof config.version === 'string' && config.version !== plane.version ? config.version : next;
          plane.publish({ ...config, version });
          published++;
          printNote(`published version ${version} of ${flags.config}`);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          printError(`${flags.config}: ${error.message.replace(`${flags.config}: `, '')}; not published, the data planes keep what they have`);
        }
      };
      load();
      const watcher = watchRoutesFile(flags.config, load);
      printNote(`control plane listening on ${plane.url} (health: http://${flags.listen.ip}:${new URL(plane.url).port}/health), serving ${flags.config} for the ${flags.for}`);
      await waitForStop(flags.duration).stopped;
      watcher.close();
      const events = [...plane.events];
      await plane.close();
      if (flags.json === true) printJson({ health: plane.health(), events });
      else printNote(`control plane stopped: ${published} versions published; ${events.filter((e) => e.event === 'ack').length} acks, ${events.filter((e) => e.event === 'nack').length} nacks`);
    });
}

function parseConfig(file: string, text: string): Record<string, unknown> & { version?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file}: not JSON (${(error as Error).message})`, { file });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${file}: must be one JSON object`, { file });
  return value as Record<string, unknown>;
}
