import type { Command } from 'commander';
import { EXIT_BAD_INPUT } from '../core/errors.ts';
import { formatCount, formatPorts } from '../core/format.ts';
import { importCaptures, type ImportedCapture } from '../capture/import-capture.ts';
import { describeRelayLegs } from '../capture/relay-legs.ts';
import { PROTOCOL_NAMES } from '../protocols/index.ts';
import { importAsRun } from './import-as-run.ts';
import { DEFAULT_STORE_PATH, withStore } from '../store/store.ts';
import { parseIpList, parseName, parsePortList } from './option-parsers.ts';
import { printError, printJson, printNote, printTable } from './output.ts';

interface ImportFlags {
  db: string;
  name?: string;
  port?: number[];
  replace?: boolean;
  relayAddr?: string[];
  run?: string;
  topology?: string;
  protocol: string;
  json?: boolean;
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('read pcap / pcapng captures into the store (tables captures, capture_packets)')
    .argument('<file...>', 'capture files (pcap, nanosecond pcap, pcapng)')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--name <name>', 'capture name (default: the file name, other characters than letters, digits, . _ - made -); with several files, one capture made of all', parseName)
    .option('--port <ports>', 'keep only UDP to or from these ports, which are the route ports (e.g. 20500,20501)', parsePortList)
    .option('--replace', 'replace a capture of the same name')
    .option('--relay-addr <ips>', 'for a capture taken on the relay\'s host: the relay\'s address(es); only what reaches them is device uplink (default: detected, and said)', parseIpList)
    .option('--run <name>', 'instead of a capture to replay: keep every leg of a capture taken on the relay\'s host as the observations of a run to analyse (with --topology)', parseName)
    .option('--topology <file>', 'with --run: YAML naming the relay and backend addresses, to give each datagram its leg')
    .option('--protocol <name>', `with --run: device protocol, for match keys (${PROTOCOL_NAMES.join(', ')})`, 'calamp-lmd')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  parity import fixtures/fleet-calamp.pcap --name fleet --port 20500\n  parity import at-relay.pcapng --port 18172 --relay-addr 10.9.0.1\n  parity import at-relay.pcapng --run prod-shadow --topology topology.yaml\n')
    .action(async (files: string[], flags: ImportFlags) => {
      process.exitCode = flags.run !== undefined ? await importAsRun(files, { ...flags, run: flags.run }) : await runImport(files, flags);
    });
}

async function runImport(files: string[], flags: ImportFlags): Promise<number> {
  const result = await withStore(flags.db, (store) =>
    importCaptures(store, {
      files,
      ...(flags.name !== undefined && { name: flags.name }),
      ...(flags.port !== undefined && { ports: flags.port }),
      replace: flags.replace === true,
      ...(flags.relayAddr !== undefined && { relayAddrs: flags.relayAddr }),
    }),
  );
  if (flags.json === true) {
    printJson({ captures: result.captures.map(toJsonRow), errors: result.errors.map((e) => ({ code: e.code, message: e.message })) });
  } else if (result.captures.length > 0) {
    printTable(
      ['capture', 'frames', 'udp datagrams', 'kept', 'truncated', 'unsupported frames', 'route ports', 'status'],
      result.captures.map((c) => [
        c.name,
        formatCount(c.stats.frames),
        formatCount(c.stats.udpDatagrams),
        formatCount(c.keptDatagrams),
        formatCount(c.stats.truncatedDatagrams),
        unsupportedSummary(c),
        formatPorts(c.routePorts),
        c.error === undefined ? 'ok' : 'partial',
      ]),
    );
  }
  if (flags.json !== true) for (const capture of result.captures) for (const line of describeRelayLegs(capture.name, capture.legs)) printNote(line);
  for (const error of result.errors) printError(error.message);
  return result.errors.length > 0 ? EXIT_BAD_INPUT : 0;
}

function unsupportedSummary(capture: ImportedCapture): string {
  const entries = Object.entries(capture.stats.unsupportedByLinkType);
  if (entries.length === 0) return '0';
  return entries.map(([linkType, frames]) => `${formatCount(frames)} (link type ${linkType})`).join(', ');
}

function toJsonRow(capture: ImportedCapture): Record<string, unknown> {
  return {
    captureId: capture.captureId,
    name: capture.name,
    files: capture.files,
    format: capture.format,
    keptDatagrams: capture.keptDatagrams,
    routePorts: capture.routePorts,
    partial: capture.error !== undefined,
    error: capture.error?.message ?? null,
    stats: capture.stats,
    legs: capture.legs ?? null,
  };
}
