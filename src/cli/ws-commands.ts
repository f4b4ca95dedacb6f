import type { Command } from 'commander';
import type { GatewayFaults } from '../backends/ws/gateway.ts';
import { parseDurationMs, parseFraction, parseInteger, parseListen } from './option-parsers.ts';
import { printJson, printNote } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface GatewayFlags {
  listen: { ip: string; ports: number[] };
  name: string;
  loss?: number;
  ackDelay?: number;
  duplicates?: number;
  reorder?: number;
  disconnectAfter?: number;
  refuseUpgrade?: boolean;
  seed?: number;
  duration?: number;
  json?: boolean;
}

/** `parity relay-agent` (configured by the spec's RELAY_* variables) and `parity gateway` (a simulated gateway). */
export function registerWsCommands(program: Command): void {
  program
    .command('relay-agent')
    .description('run the reference relay agent: frames from a local WebSocket ingest fanned out to gateways over WebSocket, configured by the RELAY_* variables of the fan-out spec')
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print /debug/parity and /debug/targets as JSON when stopping')
    .addHelpText(
      'after',
      '\nVariables (defaults in brackets): RELAY_BACKENDS (required), RELAY_BACKEND_MODE [single], RELAY_PRIMARY_INDEX [0],\n' +
        'RELAY_TARGET_TIMEOUT_MS [1500], RELAY_SEND_TIMEOUT_MS [250], RELAY_KILL_SWITCH [0], RELAY_TARGETS_ENABLED [all 1],\n' +
        'RELAY_PARITY_SAMPLE_RATE [0.05], RELAY_DEBUG_PORT [8765], RELAY_QUEUE_LIMIT [1000], RELAY_INGEST_PORT [8766].\n' +
        'From a control plane: RELAY_CONTROL_PLANE_URL (or CONTROL_PLANE_URL) [none], RELAY_AGENT_NAME [relay-agent],\n' +
        'RELAY_CONFIG_VERSION [0.0.1] (the version of the settings above, the bootstrap until the first snapshot).\n\n' +
        'Examples:\n  RELAY_BACKENDS=ws://127.0.0.2:9000/relay,ws://127.0.0.3:9000/relay RELAY_BACKEND_MODE=parallel parity relay-agent\n' +
        '  RELAY_BACKENDS=ws://127.0.0.2:9000/relay,ws://127.0.0.3:9000/relay RELAY_CONTROL_PLANE_URL=ws://127.0.0.1:8081/connect parity relay-agent\n',
    )
    .action(async (flags: { duration?: number; json?: boolean }) => {
      const [{ RelayAgent }, { readAgentConfig }] = await Promise.all([import('../relay/ws/relay-agent.ts'), import('../relay/ws/agent-config.ts')]);
      const agent = await RelayAgent.start(readAgentConfig(process.env));
      printNote(`relay agent: ingest ws://127.0.0.1:${agent.ingestPort}, debug http://127.0.0.1:${agent.debugPort}/debug/parity, ${agent.targets.length} targets${agent.control === undefined ? '' : `, configured by the control plane at ${agent.control.view().controlPlane.url}`}`);
      await waitForStop(flags.duration).stopped;
      const report = { parity: agent.parityView(), targets: agent.targetsView() };
      await agent.close();
      if (flags.json === true) printJson(report);
      else printNote(`relay agent stopped: ${agent.framesIn} frames in; ${agent.targets.map((t) => `${t.url}: ${t.counters.sent} sent, ${t.counters.acked} acked, ${t.counters.failed} failed, ${t.counters.dropped} dropped`).join('; ')}`);
    });

  program
    .command('gateway')
    .description('run a simulated telemetry gateway (WebSocket at /relay) that acks sampled frames and serves the spec\'s diagnostics, misbehaving on demand')
    .requiredOption('--listen <ip:port>', 'address and port to listen on, e.g. 127.0.0.2:9000', parseListen)
    .option('--name <name>', 'its name in /api/dev/diagnostics/build', 'gateway')
    .option('--loss <share>', 'share of frames lost, e.g. 3%', parseFraction)
    .option('--ack-delay <duration>', 'delay before each ack, e.g. 200ms', parseDurationMs)
    .option('--duplicates <share>', 'share of frames processed twice', parseFraction)
    .option('--reorder <share>', 'share of frames processed after the next one', parseFraction)
    .option('--disconnect-after <frames>', 'close each connection after this many frames', parseInteger)
    .option('--refuse-upgrade', 'refuse the WebSocket upgrade (403)')
    .option('--seed <n>', 'seed of the fault dice', parseInteger)
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print its counts as JSON when stopping')
    .addHelpText('after', '\nExamples:\n  parity gateway --listen 127.0.0.2:9000 --name gateway-a\n  parity gateway --listen 127.0.0.3:9000 --name gateway-b --loss 3% --duplicates 1% --ack-delay 150ms\n')
    .action(async (flags: GatewayFlags) => {
      const faults: GatewayFaults = {
        ...(flags.loss !== undefined && { lossShare: flags.loss }),
        ...(flags.ackDelay !== undefined && { ackDelayMs: flags.ackDelay }),
        ...(flags.duplicates !== undefined && { duplicateShare: flags.duplicates }),
        ...(flags.reorder !== undefined && { reorderShare: flags.reorder }),
        ...(flags.disconnectAfter !== undefined && { disconnectAfterFrames: flags.disconnectAfter }),
        ...(flags.refuseUpgrade === true && { refuseUpgrade: true }),
      };
      const { Gateway } = await import('../backends/ws/gateway.ts');
      const gateway = await Gateway.start({ host: flags.listen.ip, port: flags.listen.ports[0] ?? 0, name: flags.name, faults, ...(flags.seed !== undefined && { seed: flags.seed }) });
      printNote(`gateway ${flags.name} listening on ${gateway.url}, diagnostics at ${gateway.httpUrl}/api/dev/diagnostics/parity?sessionId=`);
      await waitForStop(flags.duration).stopped;
      const sessions = Object.fromEntries([...gateway.sessions].map(([id, s]) => [id, { streams: Object.fromEntries([...s.streams].map(([name, st]) => [name, { framesIn: st.framesIn, acked: st.acked }])), duplicates: s.duplicates, outOfOrder: s.outOfOrder }]));
      await gateway.close();
      if (flags.json === true) printJson({ name: flags.name, framesIn: gateway.framesIn, sessions });
      else printNote(`gateway ${flags.name} stopped: ${gateway.framesIn} frames in, ${gateway.sessions.size} sessions`);
    });
}
