import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { formatCount } from '../core/format.ts';
import { DEFAULT_FLEET, type FleetSpec } from '../synthetic/synthetic-fleet.ts';
import { writeFleetCapture } from '../synthetic/write-fleet-capture.ts';
import { getProtocol, PROTOCOL_NAMES } from '../protocols/index.ts';
import { parseDurationMs, parseFraction, parseInteger, parseListen } from './option-parsers.ts';
import { printJson, printTable } from './output.ts';

interface GenerateFlags {
  out: string;
  protocol: string;
  devices: number;
  duration: number;
  interval: number;
  jitter: number;
  unacked: number;
  bursts: number;
  relay: { ip: string; ports: number[] };
  acks: boolean;
  format?: 'pcap' | 'pcapng';
  seed: number;
  json?: boolean;
}

export function registerFixturesCommand(program: Command): void {
  const fixtures = program.command('fixtures').description('generate realistic fleet captures');
  fixtures
    .command('generate')
    .description('write a capture of a simulated fleet: periodic reports, bursts, unacked messages, wrapping sequence numbers')
    .requiredOption('--out <file>', 'capture file to write (.pcap or .pcapng)')
    .option('--protocol <name>', `device protocol (${PROTOCOL_NAMES.join(', ')})`, DEFAULT_FLEET.protocol)
    .option('--devices <n>', 'number of devices', parseInteger, DEFAULT_FLEET.devices)
    .addOption(new Option('--duration <duration>', 'length of the capture').argParser(parseDurationMs).default(DEFAULT_FLEET.durationSec * 1000, `${DEFAULT_FLEET.durationSec}s`))
    .addOption(new Option('--interval <duration>', 'mean time between periodic reports of a device').argParser(parseDurationMs).default(DEFAULT_FLEET.reportIntervalSec * 1000, `${DEFAULT_FLEET.reportIntervalSec}s`))
    .addOption(new Option('--jitter <duration>', 'random +/- on each interval').argParser(parseDurationMs).default(DEFAULT_FLEET.jitterSec * 1000, `${DEFAULT_FLEET.jitterSec}s`))
    .option('--unacked <share>', 'share of periodic messages sent unacknowledged', parseFraction, DEFAULT_FLEET.unackedShare)
    .option('--bursts <share>', 'chance at each report that a burst (ignition on, harsh braking) starts', parseFraction, DEFAULT_FLEET.burstShare)
    .option('--relay <ip:port>', 'the relay address devices send to', parseListen, { ip: DEFAULT_FLEET.relayIp, ports: [DEFAULT_FLEET.relayPort] })
    .option('--no-acks', 'leave the relay\'s ACKs out of the capture')
    .option('--format <format>', 'pcap or pcapng (default: from the file extension)')
    .option('--seed <n>', 'random seed: the same seed gives the same capture', parseInteger, DEFAULT_FLEET.seed)
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExample:\n  parity fixtures generate --protocol teltonika-udp --devices 40 --duration 10m --out fixtures/fleet-teltonika.pcapng\n')
    .action((flags: GenerateFlags) => {
      getProtocol(flags.protocol);
      const format = flags.format ?? (flags.out.endsWith('.pcapng') ? 'pcapng' : 'pcap');
      if (format !== 'pcap' && format !== 'pcapng') throw new UsageError(`--format must be pcap or pcapng, not "${String(format)}"`, { field: 'format' });
      const spec: FleetSpec = {
        ...DEFAULT_FLEET,
        protocol: flags.protocol as FleetSpec['protocol'],
        devices: flags.devices,
        durationSec: flags.duration / 1000,
        reportIntervalSec: flags.interval / 1000,
        jitterSec: flags.jitter / 1000,
        unackedShare: flags.unacked,
        burstShare: flags.bursts,
        relayIp: flags.relay.ip,
        relayPort: flags.relay.ports[0] ?? DEFAULT_FLEET.relayPort,
        includeAcks: flags.acks,
        seed: flags.seed,
      };
      const summary = writeFleetCapture(flags.out, spec, format);
      if (flags.json === true) printJson(summary);
      else printTable(['file', 'packets', 'uplink', 'devices'], [[summary.path, formatCount(summary.packets), formatCount(summary.uplinkPackets), summary.devices]]);
    });
}
