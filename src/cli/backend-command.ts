import { UsageError } from '../core/errors.ts';
import type { Command } from 'commander';
import type { FaultPlan } from '../backends/fault-plan.ts';
import { monotonicNs } from '../core/clock.ts';
import { putOtherThreadsBehind } from '../core/thread-priority.js';
import { getProtocol, PROTOCOL_NAMES } from '../protocols/index.ts';
import { parseDurationMs, parseFraction, parseInteger, parseListen, parseName, parseVersion } from './option-parsers.ts';
import { printJson, printNote, printTable } from './output.ts';
import { waitForStop } from './shutdown.ts';

interface BackendFlags {
  protocol: string;
  listen: { ip: string; ports: number[] };
  role: string;
  latency?: number;
  jitter?: number;
  loss?: number;
  nak?: number;
  ackVersion?: [number, number, number];
  duplicateAcks?: number;
  phantomAcks?: number;
  blackholeAfter?: number;
  crashAfter?: number;
  seed?: number;
  db?: string;
  run?: string;
  duration?: number;
  json?: boolean;
}

export function registerBackendCommand(program: Command): void {
  program
    .command('backend')
    .description('run a simulated device backend that ACKs like a real server and misbehaves on demand')
    .requiredOption('--listen <ip:ports>', 'address and port(s) to listen on, e.g. 127.0.0.2:20500,20501', parseListen)
    .option('--protocol <name>', `device protocol (${PROTOCOL_NAMES.join(', ')})`, 'calamp-lmd')
    .option('--role <role>', 'which backend this is: primary, mirror or target-N (names its legs)', 'primary')
    .option('--latency <duration>', 'delay before each ACK, e.g. 5ms', parseDurationMs)
    .option('--jitter <duration>', 'random +/- on the delay, e.g. 2ms', parseDurationMs)
    .option('--loss <share>', 'share of packets lost on the way in, e.g. 0.1%', parseFraction)
    .option('--nak <share>', 'share of requests answered with a NAK, e.g. 0.01%', parseFraction)
    .option('--ack-version <a.b.c>', 'app version in CalAmp ACKs', parseVersion)
    .option('--duplicate-acks <share>', 'share of ACKs sent twice', parseFraction)
    .option('--phantom-acks <share>', 'share of requests after which it also answers one it never received', parseFraction)
    .option('--blackhole-after <duration>', 'stop receiving and answering after this long', parseDurationMs)
    .option('--crash-after <duration>', 'close the socket after this long', parseDurationMs)
    .option('--seed <n>', 'seed of the fault dice', parseInteger)
    .option('--db <path>', 'record observations in this store (not one another process has open)')
    .option('--run <name>', 'run to record the observations under (with --db)', parseName)
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', parseDurationMs)
    .option('--json', 'print the counters as JSON when stopping')
    .addHelpText(
      'after',
      '\nExamples:\n  parity backend --protocol calamp-lmd --listen 127.0.0.2:20500 --latency 5ms --jitter 2ms\n' +
        '  parity backend --listen 127.0.0.3:20500 --role mirror --loss 2% --db mirror.duckdb --run nightly-1\n',
    )
    .action(async (flags: BackendFlags) => {
      // Without a store nothing is recorded, so a run name would name nothing: refused rather than left to do nothing.
      if (flags.run !== undefined && flags.db === undefined) throw new UsageError('--run names the run the observations are recorded under: give --db FILE with it', { field: 'run' });
      await runBackend(flags);
    });
}

function faultsFrom(flags: BackendFlags): Partial<FaultPlan> {
  return {
    ...(flags.latency !== undefined && { latencyMs: flags.latency }),
    ...(flags.jitter !== undefined && { jitterMs: flags.jitter }),
    ...(flags.loss !== undefined && { lossRate: flags.loss }),
    ...(flags.nak !== undefined && { nakRate: flags.nak }),
    ...(flags.ackVersion !== undefined && { ackVersion: flags.ackVersion }),
    ...(flags.duplicateAcks !== undefined && { duplicateAckRate: flags.duplicateAcks }),
    ...(flags.phantomAcks !== undefined && { phantomAckRate: flags.phantomAcks }),
    ...(flags.blackholeAfter !== undefined && { blackholeAfterMs: flags.blackholeAfter }),
    ...(flags.crashAfter !== undefined && { crashAfterMs: flags.crashAfter }),
    ...(flags.seed !== undefined && { seed: flags.seed }),
  };
}

async function runBackend(flags: BackendFlags): Promise<void> {
  const protocol = getProtocol(flags.protocol);
  const { SimulatedBackend } = await import('../backends/simulated-backend.ts');
  // The store is opened only to commit, once a second, so `parity analyse --observations` can read it meanwhile.
  const sink = flags.db === undefined
    ? undefined
    : await (await import('../observe/released-store-sink.ts')).ReleasedStoreSink.open({
        path: flags.db,
        runName: flags.run ?? `backend-${flags.role}-${Date.now()}`,
        protocol: protocol.name,
        // The role is declared up front: a store that never receives a packet still names the leg it watched.
        topology: { backends: [{ role: flags.role, ip: flags.listen.ip, observation: 'simulated', observed: 'parity backend', faults: faultsFrom(flags) }], routes: [] },
        startedNs: monotonicNs(),
        writer: `parity backend --role ${flags.role} --listen ${flags.listen.ip}`,
      });
  const backend = new SimulatedBackend({
    protocol,
    ip: flags.listen.ip,
    ports: flags.listen.ports,
    role: flags.role,
    faults: faultsFrom(flags),
    ...(sink !== undefined && { sink }),
  });
  await backend.start();
  // With a store, DuckDB's threads (started by the pool, which the sink's first open made) store behind the answers.
  if (sink !== undefined) putOtherThreadsBehind();
  printNote(`backend ${flags.role} (${protocol.name}) listening on ${flags.listen.ip}:${backend.ports.join(',')}; Ctrl-C stops it`);
  await waitForStop(flags.duration).stopped;
  // Read while its sockets are open (their counts go with them): what the kernel dropped before it could read is the
  // harness's loss, not a fault it was asked for, and the analysis that merges its store judges it so.
  const receiveDrops = backend.receiveDrops();
  await backend.stop();
  await sink?.close('completed', monotonicNs(), undefined, receiveDrops === null ? undefined : { [flags.role]: receiveDrops });
  const counters = { ...backend.counters, receiveDrops };
  if (flags.json === true) printJson({ role: flags.role, counters });
  else printTable(Object.keys(counters), [Object.values(counters).map((v) => v ?? '-')]);
}
