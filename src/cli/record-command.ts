import type { RunTopology } from '../store/run-metadata.ts';
import type { Command } from 'commander';
import { captureTarget, RECORDING_COMMIT_MS, runTarget } from '../capture/record/record-targets.ts';
import { recordTraffic, type RecordSource, type TapSpec } from '../capture/record/record-session.ts';
import { loadTopology } from '../capture/record/topology.ts';
import { UsageError } from '../core/errors.ts';
import { formatCount } from '../core/format.ts';
import { getProtocol, PROTOCOL_NAMES } from '../protocols/index.ts';
import { ProgressFile } from '../store/progress-file.ts';
import { DEFAULT_STORE_PATH, RECORDING_STORE, withStore } from '../store/store.ts';
import { putOtherThreadsBehind, raiseThisThread } from '../core/thread-priority.js';
import { parseDurationMs, parseInteger, parseName, typedOption } from './option-parsers.ts';
import { printJson, printNote, printTable } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface RecordFlags {
  tap: TapSpec[];
  iface?: string;
  filter: string;
  topology?: string;
  capture?: string;
  run?: string;
  leg: string;
  protocol: string;
  db: string;
  duration?: number;
  maxPackets?: number;
  commitEvery: number;
  json?: boolean;
}

const LEG_PATTERN = /^(device>relay|relay>(primary|mirror|target-\d+))$/;

/** `0.0.0.0:20500=10.0.0.5:20500` (the listen side may omit its address: `20500=10.0.0.5:20500`). */
function parseTap(value: string, previous: TapSpec[] = []): TapSpec[] {
  const [listen = '', target = ''] = value.split('=');
  const endpoint = (text: string, defaultIp: string | undefined): { ip: string; port: number } | undefined => {
    const at = text.lastIndexOf(':');
    const ip = at < 0 ? defaultIp : text.slice(0, at);
    const port = Number(at < 0 ? text : text.slice(at + 1));
    return ip !== undefined && ip !== '' && Number.isInteger(port) && port >= 0 && port <= 65535 ? { ip, port } : undefined;
  };
  const listenAt = endpoint(listen, '0.0.0.0');
  const targetAt = endpoint(target, undefined);
  if (listenAt === undefined || targetAt === undefined) throw new UsageError(`--tap "${value}" is not LISTEN=TARGET, e.g. 0.0.0.0:20500=10.0.0.5:20500`, { field: 'tap' });
  return [...previous, { listen: listenAt, target: targetAt }];
}

/**
 * A flag the recording at hand would not read is refused by name, not left to do nothing: taps or a live capture
 * (`--tap` / `--iface`), into a capture or a run (`--capture` / `--run`). `given`: the user gave it (not a default).
 */
function refuseUnreadFlags(flags: RecordFlags, given: (option: string) => boolean): void {
  const refuse = (flag: string, why: string): never => {
    throw new UsageError(`${flag} ${why}`, { field: flag.slice(2) });
  };
  if (flags.iface !== undefined) {
    if (flags.tap.length > 0) refuse('--tap', 'and --iface: a recording listens through taps or captures an interface, not both');
    if (given('leg')) refuse('--leg', 'applies to taps (--tap): a live capture gives each packet its leg by the topology');
  } else {
    if (given('filter')) refuse('--filter', 'applies to a live capture (--iface)');
    if (flags.topology !== undefined) refuse('--topology', 'applies to a live capture (--iface): taps record the leg given by --leg');
  }
  if (flags.capture !== undefined) {
    if (given('leg')) refuse('--leg', 'applies to a run (--run): a capture keeps what the devices sent');
    if (given('protocol')) refuse('--protocol', 'applies to a run (--run): a capture to replay gets its protocol at replay');
  }
}

export function registerRecordCommand(program: Command): void {
  program
    .command('record')
    .description('record live relay traffic through inline UDP taps or a live capture, as a capture or as a run')
    .option('--tap <listen=target>', 'a transparent UDP proxy: LISTEN=TARGET, repeatable', parseTap, [])
    .option('--iface <name>', 'capture live on this interface with tcpdump (needs root or capture rights)')
    .option('--filter <expr>', 'tcpdump filter for --iface', 'udp')
    .option('--topology <file>', 'with --iface: YAML naming the relay and backend addresses, to give each packet its leg')
    .option('--capture <name>', 'record into a capture (to replay later)', parseName)
    .option('--run <name>', 'record into a run\'s observations (to analyse directly)', parseName)
    .option('--leg <leg>', 'with --tap --run: the leg the taps sit on (device>relay, relay>primary, relay>mirror)', 'device>relay')
    .option('--protocol <name>', `device protocol, for match keys (${PROTOCOL_NAMES.join(', ')})`, 'calamp-lmd')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--duration <duration>', 'stop after this long (default: Ctrl-C)', parseDurationMs)
    .option('--max-packets <n>', 'stop after this many packets', parseInteger)
    .option('--commit-every <duration>', 'commit at least this often, and at each 122,880 rows: the most a crash loses (default: 10s)', parseDurationMs, RECORDING_COMMIT_MS)
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  parity record --tap 0.0.0.0:20500=10.0.0.5:20500 --capture prod-sample --duration 10m\n' +
        '  parity record --tap 10.9.0.2:20500=10.9.1.2:20500 --run shadow-1 --leg relay>primary\n' +
        "  parity record --iface eth0 --filter 'udp and port 20500' --topology topology.yaml --run shadow-2 --duration 60s\n",
    )
    .action(async (flags: RecordFlags, command: Command) => {
      if ((flags.capture === undefined) === (flags.run === undefined)) throw new UsageError('record needs one of --capture NAME and --run NAME', { field: 'capture' });
      refuseUnreadFlags(flags, (option) => typedOption(command, [option]) !== undefined);
      // A commit takes DuckDB milliseconds: a shorter bound would only queue them.
      if (flags.commitEvery < 10) throw new UsageError(`--commit-every ${flags.commitEvery}ms is too short: 10ms at least (e.g. 250ms, 10s)`, { field: 'commit-every' });
      if (!LEG_PATTERN.test(flags.leg)) throw new UsageError(`--leg "${flags.leg}" is not device>relay or relay>BACKEND (primary, mirror, target-N)`, { field: 'leg' });
      let source: RecordSource;
      if (flags.iface !== undefined) {
        if (flags.topology === undefined) throw new UsageError('--iface needs --topology FILE to tell the relay and backends apart', { field: 'topology' });
        source = { kind: 'live', iface: flags.iface, filter: flags.filter, topology: await loadTopology(flags.topology) };
      } else {
        source = { kind: 'taps', taps: flags.tap, leg: flags.leg };
      }
      const protocol = getProtocol(flags.protocol);
      const stop = waitForStop(flags.duration);
      const status = new ProgressFile(flags.db, `parity record ${flags.capture !== undefined ? `--capture ${flags.capture}` : `--run ${flags.run ?? ''}`}`);
      const result = await withStore(flags.db, async (store) => {
        const routePorts = source.kind === 'taps' ? source.taps.map((t) => t.listen.port) : [...source.topology.relayPorts];
        const target =
          flags.capture !== undefined
            ? await captureTarget(store, flags.capture, source.kind === 'taps' ? `tap:${source.taps.map((t) => `${t.listen.port}`).join(',')}` : `live:${source.iface}`, routePorts, flags.commitEvery)
            : await runTarget(store, flags.run as string, protocol, source.kind === 'taps' ? `tap:${source.leg}` : `live:${source.iface}`, source.kind === 'live' ? liveTopology(source.topology.backends, source.iface) : undefined, source.kind === 'taps', flags.commitEvery);
        return recordTraffic({
          source,
          target,
          stopped: stop.stopped,
          ...(flags.maxPackets !== undefined && { maxPackets: flags.maxPackets }),
          onProgress: ({ recorded, committed, unrecorded, byLeg }) => status.update({ recorded, committed, unrecorded, legs: Object.entries(byLeg).map(([leg, n]) => `${leg} ${n}`).join(', ') }),
          onReady: () => {
            // The store is open and its threads started: from here, the traffic comes first.
            putOtherThreadsBehind();
            raiseThisThread();
            printNote(`recording${source.kind === 'taps' ? ` through ${source.taps.map((t) => `${t.listen.ip}:${t.listen.port} -> ${t.target.ip}:${t.target.port}`).join(', ')}` : ` on ${source.iface}`}; Ctrl-C stops`);
          },
        });
      }, RECORDING_STORE).finally(() => status.close());
      stop.cancel();
      if (flags.json === true) printJson(result);
      else printTable(['recorded', 'unrecorded', 'not the relay\'s', 'legs', 'stopped by'], [[formatCount(result.recorded), formatCount(result.unrecorded), formatCount(result.unassigned), Object.entries(result.byLeg).map(([leg, n]) => `${leg} ${n}`).join(', ') || '-', result.stoppedBy]]);
      if (result.unrecorded > 0) process.exitCode = 1;
    });
}

/** A live recording observes each backend it was told of: one that shows no traffic is a dead leg, not an unwatched one. */
function liveTopology(backends: ReadonlyMap<string, string>, iface: string): RunTopology {
  return { backends: [...backends].map(([role, ip]) => ({ role, ip, observation: 'live', observed: `live capture on ${iface}` })), routes: [] };
}
