import type { Command } from 'commander';
import { EXIT_BAD_INPUT, UsageError } from '../core/errors.ts';
import { importHarFile, isHarFile, type ImportedHar } from '../capture/http/import-har.ts';
import { isFrameRecordingName } from '../capture/ws/frame-recording.ts';
import { importFrameRecording, type ImportedFrames } from '../capture/ws/import-frames.ts';
import { formatCount, formatPorts } from '../core/format.ts';
import { importCaptures, type ImportedCapture } from '../capture/import-capture.ts';
import { describeRelayLegs } from '../capture/relay-legs.ts';
import { importPgCsvlog, isPgCsvlogFile, type ImportedCsvlog } from '../capture/pg/import-csvlog.ts';
import { PROTOCOL_NAMES } from '../protocols/index.ts';
import { importAsRun } from './import-as-run.ts';
import { DEFAULT_STORE_PATH, withStore } from '../store/store.ts';
import { parseIpList, parseName, parsePortList, typedOption } from './option-parsers.ts';
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
    .description('read pcap / pcapng captures (tables captures, capture_packets; HTTP/1.x and WebSocket sessions in their TCP: http_exchanges, ws_frames), HAR files (http_exchanges) and frame recordings (ws_frames) into the store')
    .argument('<file...>', 'capture files (pcap, nanosecond pcap, pcapng), HAR 1.2 files (.har, as browsers and proxies export them), telemetry frame recordings (.ndjson, .jsonl: one JSON frame per line), or PostgreSQL csvlog files (.csv, every statement logged)')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--name <name>', 'capture name (default: the file name, other characters than letters, digits, . _ - made -); with several files, one capture made of all', parseName)
    .option('--port <ports>', 'keep only UDP to or from these ports, which are the route ports (e.g. 20500,20501)', parsePortList)
    .option('--replace', 'replace a capture of the same name')
    .option('--relay-addr <ips>', 'for a capture taken on the relay\'s host: the relay\'s address(es); only what reaches them is device uplink (default: detected, and said)', parseIpList)
    .option('--run <name>', 'instead of a capture to replay: keep every leg of a capture taken on the relay\'s host as the observations of a run to analyse (with --topology)', parseName)
    .option('--topology <file>', 'with --run: YAML naming the relay and backend addresses, to give each datagram its leg')
    .option('--protocol <name>', `with --run: device protocol, for match keys (${PROTOCOL_NAMES.join(', ')})`, 'calamp-lmd')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  parity import fixtures/fleet-calamp.pcap --name fleet --port 20500\n  parity import checkout.har --name checkout\n  parity import session.ndjson --name laps\n  parity import ingest.pcap --name ingest\n  parity import postgresql-Mon.csv --name monday-db\n  parity import at-relay.pcapng --port 18172 --relay-addr 10.9.0.1\n  parity import at-relay.pcapng --run prod-shadow --topology topology.yaml\n')
    .action(async (files: string[], flags: ImportFlags, command: Command) => {
      refuseFlagsOfTheOtherImport(flags, typedOption(command, ['protocol']) !== undefined);
      process.exitCode = flags.run !== undefined ? await importAsRun(files, { ...flags, run: flags.run }) : await runImport(files, flags);
    });
}

/**
 * An import is a capture to replay or, with --run, a run's observations; each has flags of its own, and a flag of the
 * other kind would be read by neither: it is refused, by name, instead of doing nothing.
 */
function refuseFlagsOfTheOtherImport(flags: ImportFlags, protocolGiven: boolean): void {
  if (flags.run === undefined) {
    if (flags.topology !== undefined) throw new UsageError('--topology applies to a capture imported as a run: give --run NAME with it', { field: 'topology' });
    if (protocolGiven) throw new UsageError('--protocol applies to a capture imported as a run (--run NAME); a capture to replay gets its protocol at replay', { field: 'protocol' });
    return;
  }
  const captureOnly: [keyof ImportFlags, string][] = [['name', '--name'], ['port', '--port'], ['replace', '--replace'], ['relayAddr', '--relay-addr']];
  for (const [key, flag] of captureOnly) {
    if (flags[key] !== undefined) throw new UsageError(`${flag} applies to a capture to replay, not to one imported as a run (--run): the topology names the relay and backends`, { field: flag.slice(2) });
  }
}

async function runImport(files: string[], flags: ImportFlags): Promise<number> {
  const har: string[] = [];
  const recordings: string[] = [];
  const csvlogs: string[] = [];
  const captures: string[] = [];
  for (const file of files) (isFrameRecordingName(file) ? recordings : (await isPgCsvlogFile(file)) ? csvlogs : (await isHarFile(file)) ? har : captures).push(file);
  if (csvlogs.length > 0 && flags.name !== undefined && files.length > 1) {
    throw new UsageError('--name names one capture: a PostgreSQL csvlog is a capture of its own, so give --name with one log at a time', { field: 'name' });
  }
  const logFaults = csvlogs.length === 0 ? 0 : printCsvlogs(await withStore(flags.db, async (store) => {
    const imported: ImportedCsvlog[] = [];
    for (const file of csvlogs) imported.push(await importPgCsvlog(store, file, { ...(flags.name !== undefined && { name: flags.name }), replace: flags.replace === true }));
    return imported;
  }), flags.json === true && captures.length === 0 && har.length === 0 && recordings.length === 0);
  if (recordings.length > 0 && flags.name !== undefined && files.length > 1) {
    throw new UsageError('--name names one capture: a frame recording is a capture of its own, so give --name with one recording at a time', { field: 'name' });
  }
  const frameFaults = recordings.length === 0 ? 0 : printFrames(await withStore(flags.db, async (store) => {
    const imported: ImportedFrames[] = [];
    for (const file of recordings) imported.push(await importFrameRecording(store, file, { ...(flags.name !== undefined && { name: flags.name }), replace: flags.replace === true }));
    return imported;
  }), flags.json === true && captures.length === 0 && har.length === 0);
  if (har.length > 0 && flags.name !== undefined && files.length > 1) {
    throw new UsageError('--name names one capture: a HAR file is a capture of its own, so give --name with one HAR file at a time', { field: 'name' });
  }
  // The store is opened for HAR files only when there are some: opening it costs a schema check and a checkpoint.
  const http = har.length === 0 ? [] : await withStore(flags.db, async (store) => {
    const imported: ImportedHar[] = [];
    for (const file of har) imported.push(await importHarFile(store, file, { ...(flags.name !== undefined && { name: flags.name }), replace: flags.replace === true }));
    return imported;
  });
  const httpFaults = printHar(http, flags.json === true && captures.length === 0) + frameFaults + logFaults;
  if (captures.length === 0) return httpFaults > 0 ? EXIT_BAD_INPUT : 0;
  const result = await withStore(flags.db, (store) =>
    importCaptures(store, {
      files: captures,
      ...(flags.name !== undefined && { name: flags.name }),
      ...(flags.port !== undefined && { ports: flags.port }),
      replace: flags.replace === true,
      ...(flags.relayAddr !== undefined && { relayAddrs: flags.relayAddr }),
    }),
  );
  if (flags.json === true) {
    printJson({ captures: result.captures.map(toJsonRow), http, errors: result.errors.map((e) => ({ code: e.code, message: e.message })) });
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
  if (flags.json !== true) for (const capture of result.captures) for (const line of [...describeTcp(capture), ...describeDrops(capture), ...describeRelayLegs(capture.name, capture.legs)]) printNote(line);
  for (const error of result.errors) printError(error.message);
  return result.errors.length + httpFaults > 0 ? EXIT_BAD_INPUT : 0;
}

/** What each frame recording gave; its fault, if any, as an error line. Returns the number of files that had one. */
function printFrames(imported: readonly ImportedFrames[], json: boolean): number {
  if (json) printJson({ captures: [], frames: imported });
  else if (imported.length > 0) {
    printTable(
      ['capture', 'telemetry frames', 'sessions', 'streams', 'status'],
      imported.map((f) => [f.name, formatCount(f.frames), formatCount(f.sessions), formatCount(f.streams), f.fault === null ? 'ok' : 'partial']),
    );
  }
  for (const f of imported) if (f.fault !== null) printError(f.fault);
  return imported.filter((f) => f.fault !== null).length;
}

/** What each PostgreSQL csvlog gave; its fault, if any, as an error line. Returns the number of files that had one. */
function printCsvlogs(imported: readonly ImportedCsvlog[], json: boolean): number {
  if (json) printJson({ captures: [], pgLogs: imported });
  else if (imported.length > 0) {
    printTable(
      ['capture', 'PostgreSQL statements', 'sessions', 'status'],
      imported.map((l) => [l.name, formatCount(l.statements), formatCount(l.sessions), l.fault === null ? 'ok' : 'partial']),
    );
  }
  for (const l of imported) if (l.fault !== null) printError(l.fault);
  return imported.filter((l) => l.fault !== null).length;
}

/** What each HAR file gave; its fault, if any, as an error line. Returns the number of files that had one. */
function printHar(imported: readonly ImportedHar[], json: boolean): number {
  if (json) printJson({ captures: [], http: imported });
  else if (imported.length > 0) {
    printTable(
      ['capture', 'HTTP exchanges', 'recorded in part', 'unusable entries', 'status'],
      imported.map((h) => [h.name, formatCount(h.exchanges), formatCount(h.incomplete), formatCount(h.unusable), h.fault === null ? 'ok' : 'partial']),
    );
  }
  for (const h of imported) if (h.fault !== null) printError(h.fault);
  return imported.filter((h) => h.fault !== null).length;
}

/** What the capture's TCP carried: HTTP exchanges and WebSocket telemetry frames, which the table of UDP does not show. */
function describeTcp(capture: ImportedCapture): string[] {
  const lines: string[] = [];
  const { http, ws, pg } = capture.stats;
  if (http !== undefined && http.exchanges > 0) lines.push(`capture "${capture.name}": ${formatCount(http.exchanges)} HTTP exchanges read out of ${formatCount(http.connections)} TCP connections (replay them with --proxy URL)`);
  if (ws !== undefined) {
    const aside = [`${formatCount(ws.serverMessages)} messages from the server (acks) counted`, ...(ws.binaryMessages > 0 ? [`${formatCount(ws.binaryMessages)} binary messages from clients not kept (not telemetry frames)`] : [])];
    lines.push(`capture "${capture.name}": ${formatCount(ws.frames)} telemetry frames read out of ${formatCount(ws.sessions)} WebSocket sessions; ${aside.join('; ')} (replay them in a scenario with protocol: ws)`);
  }
  if (pg !== undefined) {
    const tls = pg.tlsSessions > 0 ? `; ${formatCount(pg.tlsSessions)} sessions turned to TLS and cannot be read` : '';
    lines.push(`capture "${capture.name}": ${formatCount(pg.statements)} PostgreSQL statements read out of ${formatCount(pg.sessions)} sessions${tls}`);
  }
  return lines;
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

/** What the capture dropped before writing, where its files say (pcapng interface statistics): missing from the replay too. */
function describeDrops(capture: ImportedCapture): string[] {
  const dropped = capture.stats.captureDrops ?? 0;
  if (dropped === 0) return [];
  return [`${capture.name}: the capture dropped ${formatCount(dropped)} packets before writing them (its interface statistics); a replay of it lacks them too`];
}
