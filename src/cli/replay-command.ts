import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { formatCount, formatDurationMs, formatDurationSec } from '../core/format.ts';
import { createProgress } from '../core/progress.ts';
import { getProtocol, PROTOCOL_NAMES } from '../protocols/index.ts';
import type { ReplayPlan } from '../replay/replay-plan.ts';
import { latenessCauses } from '../replay/replay-figures.ts';
import { flagError, readReplayRequest, REPLAY_DEFAULTS as D, REPLAY_FIELDS, type RawReplay, type ReplayRequest } from '../run/replay-request.ts';
import type { ReplayResult } from '../replay/replayer.ts';
import { replayCapture } from '../run/replay-run.ts';
import { fetchRouteLabels } from '../observe/relay-routes.ts';
import { ProgressFile } from '../store/progress-file.ts';
import { DEFAULT_STORE_PATH, requireStore, withExistingStore, withStore, type Store } from '../store/store.ts';
import { flagOfOption, parseName, typedOption } from './option-parsers.ts';
import { parseHttpUrl as parseHttpUrlValue, pgTarget } from '../core/values.ts';
import { printJson, printNote, printTable } from './output.ts';
import type { NotAsRecorded } from '../store/run-metadata.ts';
import { showReplayProgress } from './replay-progress.ts';
import { AUTO_SENDER_CPU_FROM_PPS } from '../replay/sender-cpu.ts';

interface ReplayFlags {
  relay?: string;
  proxy?: string;
  connections?: number;
  portMap?: string;
  speed?: string;
  rate?: string;
  ramp?: string;
  loop?: string;
  duration?: string;
  sample?: string;
  seed?: string;
  devices?: string;
  ackTimeout?: string;
  answerTimeout?: string;
  senderCpu?: string;
  protocol: string;
  db: string;
  run?: string;
  relayDebug?: string;
  json?: boolean;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('fire a capture\'s uplink through a relay at a controlled rate, each device from its own address')
    .argument('<capture>', 'capture name in the store (see parity captures)')
    .option('--relay <host>', 'the relay\'s IP address; ports are the capture\'s route ports (see --port-map)')
    .option('--proxy <url>', 'an HTTP capture: the shadowing proxy to send its requests through, e.g. http://127.0.0.1:8080; a PostgreSQL capture: the pooler, e.g. postgres://127.0.0.1:6432')
    .option('--connections <n>', 'an HTTP capture: connections to the proxy at most (requests beyond wait for one)', parseConnections, 64)
    .option('--port-map <map>', 'send to other relay ports: ROUTE=RELAY,... e.g. 20500=21500')
    .option('--speed <speed>', `original timing scaled: 1x, 10x, 0.5x, or max (as fast as possible) (default: ${D.speed})`)
    .option('--rate <rate>', 'fixed packet rate, e.g. 5000pps')
    .option('--ramp <ramp>', 'linear ramp FROM..TO/DURATION, e.g. 100pps..20000pps/60s')
    .option('--loop <n>', `replay the capture n times, each loop shifted by its span, 1 to 1000000 (default: ${D.loop})`)
    .option('--duration <duration>', 'stop the plan after this long, e.g. 60s')
    .option('--sample <share>', `replay a deterministic share of devices (all their packets), e.g. 25% (default: ${D.sample})`)
    .option('--seed <n>', `seed of --sample (default: ${D.seed})`)
    .option('--devices <cidr>', `local addresses for the devices, one each (default: ${D.devices})`)
    .option('--ack-timeout <duration>', `how long to wait for outstanding ACKs after the last send, e.g. 500ms (default: ${D.ack_timeout})`)
    .option('--answer-timeout <duration>', `an HTTP or Postgres replay: how long each request may wait for its answer before it is recorded as unanswered, e.g. 5s (default: ${D.answer_timeout})`)
    .option('--sender-cpu <auto|none|n>', `a UDP replay: run the sending thread alone on CPU n (Linux, taskset), the process's other threads on the other CPUs, for steadier timing; auto: on the last CPU when the plan asks for ${AUTO_SENDER_CPU_FROM_PPS} pps or more; none: share every CPU (default: ${D.sender_cpu})`)
    .option('--protocol <name>', `device protocol (${PROTOCOL_NAMES.join(', ')})`, 'calamp-lmd')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--run <name>', 'name of the run (default: <capture>-replay-N)', parseName)
    .option('--relay-debug <url>', 'the relay\'s debug base URL (e.g. http://127.0.0.1:8765): its /debug/* and /metrics are polled for its self-report')
    .option('--json', 'print the run summary as JSON')
    .addHelpText(
      'after',
      '\nCtrl-C or SIGTERM stops sending, waits for the ACKs or answers in flight (up to --ack-timeout, or --answer-timeout\nthrough a proxy), keeps everything and marks the run interrupted.\n\n' +
        'Examples:\n  parity replay fleet-calamp --relay 127.0.0.1 --speed 10x\n  parity replay fleet-calamp --relay 10.1.2.3 --rate 5000pps --loop 3 --port-map 20500=21500\n' +
        '  parity replay fleet-calamp --relay 127.0.0.1 --ramp 100pps..20000pps/60s --sample 25%\n' +
        '  parity replay billing --proxy http://127.0.0.1:8080 --rate 1000pps --connections 128\n' +
        '  parity replay ledger-db --proxy postgres://127.0.0.1:6432 --speed 2x\n',
    )
    .action(async (capture: string, flags: ReplayFlags, command: Command) => {
      refuseFlagsOfOtherReplays(flags.proxy, command);
      if (flags.proxy !== undefined) return /^postgres(ql)?:\/\//.test(flags.proxy) ? runPgReplay(capture, flags, flags.proxy) : runHttpReplay(capture, flags, parseHttpUrlFlag(flags.proxy));
      if (flags.relay === undefined) throw new UsageError('--relay <host> is required (or --proxy <url> for an HTTP capture)', { field: 'relay' });
      const result = await runReplay(capture, { ...flags, relay: flags.relay });
      if (flags.json === true) printJson({ run: result.runName, status: result.status, ...result.stats });
      else printSummary(result);
      if (result.status === 'interrupted') process.exitCode = 130;
    });
}

/**
 * The flags as a replay request: the same fields, defaults and checks as a scenario's `replay:` section. Every field
 * is read by its flag's name (`sender_cpu` from `--sender-cpu`): a field listed by hand here once went missing, and
 * its flag was accepted and did nothing.
 */
export function requestFrom(flags: ReplayFlags): ReplayRequest {
  const given: Readonly<Record<string, unknown>> = { ...flags };
  const raw: RawReplay = {};
  for (const field of REPLAY_FIELDS) {
    const value = given[field.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase())];
    if (typeof value === 'string') raw[field] = value;
  }
  return readReplayRequest(raw, flagError);
}

export function parsePortMap(value: string | undefined): Map<number, number> {
  const map = new Map<number, number>();
  for (const pair of (value ?? '').split(',').filter((part) => part.trim() !== '')) {
    const [from, to] = pair.split('=').map((part) => Number(part.trim()));
    const valid = (port: number | undefined): port is number => port !== undefined && Number.isInteger(port) && port >= 1 && port <= 65535;
    if (!valid(from) || !valid(to)) throw new UsageError(`--port-map "${pair}" is not ROUTE=RELAY with two ports`, { field: 'port-map' });
    // One route to two relay ports kept the last silently; two routes to one relay port made its answers' route a guess.
    if (map.has(from)) throw new UsageError(`--port-map maps route ${from} twice (to ${map.get(from)} and ${to})`, { field: 'port-map' });
    const other = [...map].find(([, relay]) => relay === to);
    if (other !== undefined) throw new UsageError(`--port-map maps routes ${other[0]} and ${from} both to relay port ${to}: answers on it could not be told apart`, { field: 'port-map' });
    map.set(from, to);
  }
  return map;
}

/** The flags only one kind of replay reads, by the kind: through a relay (UDP), an HTTP proxy, a Postgres pooler. */
const FLAGS_OF: Record<'relay' | 'http' | 'pg', readonly string[]> = {
  relay: ['portMap', 'devices', 'ackTimeout', 'senderCpu', 'protocol', 'relayDebug'],
  http: ['connections', 'answerTimeout'],
  pg: ['answerTimeout'],
};

/** A flag the replay at hand would not read is refused by name, not left to do nothing. */
function refuseFlagsOfOtherReplays(proxy: string | undefined, command: Command): void {
  const kind = proxy === undefined ? 'relay' : /^postgres(ql)?:\/\//.test(proxy) ? 'pg' : 'http';
  const what = { relay: 'a UDP replay through --relay', http: 'an HTTP replay through --proxy', pg: 'a Postgres replay through --proxy postgres://' };
  for (const [other, options] of Object.entries(FLAGS_OF) as ['relay' | 'http' | 'pg', readonly string[]][]) {
    const option = other === kind ? undefined : typedOption(command, options.filter((o) => !FLAGS_OF[kind].includes(o)));
    if (option !== undefined) throw new UsageError(`${flagOfOption(option)} applies to ${what[other]}, not to ${what[kind]}`, { field: flagOfOption(option).slice(2) });
  }
}

/** A PostgreSQL capture replayed through a pooler: a connection per recorded session, a run of protocol pg. */
async function runPgReplay(capture: string, flags: ReplayFlags, proxy: string): Promise<void> {
  const target = pgTarget(proxy);
  if (target === undefined) throw new UsageError(`--proxy "${proxy}" is not postgres://HOST:PORT`, { field: 'proxy' });
  const { replayPgCapture } = await import('../replay/pg/pg-replay.ts');
  await runProxyReplay(flags, 'statements/s', (store, plan, answerTimeoutMs, signal) => replayPgCapture({ store, capture, target, plan, answerTimeoutMs, signal, ...(flags.run !== undefined && { runName: flags.run }) }));
}

/** --proxy for an HTTP capture: an http(s) URL, checked as the option parser would. */
function parseHttpUrlFlag(value: string): string {
  try {
    return parseHttpUrlValue(value);
  } catch (error) {
    throw new UsageError(`--proxy: ${(error as Error).message}`, { field: 'proxy' });
  }
}

/** An HTTP capture replayed through a shadowing proxy: the same plan flags, a run of protocol http. */
async function runHttpReplay(capture: string, flags: ReplayFlags, proxy: string): Promise<void> {
  const { replayHttpCapture } = await import('../replay/http/http-replay.ts');
  await runProxyReplay(flags, 'req/s', (store, plan, answerTimeoutMs, signal) =>
    replayHttpCapture({ store, capture, target: proxy, plan, connections: flags.connections ?? 64, answerTimeoutMs, signal, ...(flags.run !== undefined && { runName: flags.run }) }),
  );
}

interface ProxyReplayOutcome {
  runName: string;
  status: string;
  stats: { planned: number; sent: number; answered: number; errors: number; achievedRate: number | null; lateness: { p50Us: number; p99Us: number; maxUs: number }; notAsRecorded?: readonly NotAsRecorded[] };
}

/**
 * A capture replayed through a proxy (HTTP) or a pooler (PostgreSQL): the plan flags read the same way, Ctrl-C turned
 * into the replay's abort, and the same summary (or JSON).
 */
async function runProxyReplay(flags: ReplayFlags, unit: string, replay: (store: Store, plan: ReplayPlan, answerTimeoutMs: number, signal: AbortSignal) => Promise<ProxyReplayOutcome>): Promise<void> {
  if (flags.relay !== undefined) throw new UsageError('--relay and --proxy: a capture goes through a relay (UDP) or a proxy, not both', { field: 'proxy' });
  const request = requestFrom(flags);
  const plan: ReplayPlan = { pace: request.pace, loops: request.loops, durationMs: request.durationMs, sample: request.sample, seed: request.seed };
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await withExistingStore(flags.db, (store) => replay(store, plan, request.answerTimeoutMs, abort.signal));
    const { stats } = result;
    if (flags.json === true) printJson({ run: result.runName, status: result.status, ...stats });
    else {
      printTable(
        ['run', 'status', 'sent', 'answered', 'errors', 'achieved', 'late p50', 'late p99', 'late max'],
        [[result.runName, result.status, `${formatCount(stats.sent)}/${formatCount(stats.planned)}`, formatCount(stats.answered), formatCount(stats.errors), stats.achievedRate === null ? '-' : `${Math.round(stats.achievedRate)} ${unit}`, formatDurationMs(stats.lateness.p50Us / 1000), formatDurationMs(stats.lateness.p99Us / 1000), formatDurationMs(stats.lateness.maxUs / 1000)]],
      );
      for (const n of stats.notAsRecorded ?? []) printNote(`warning: ${formatCount(n.count)} sent not as recorded: ${n.reason}; e.g. ${n.examples.map((e) => JSON.stringify(e)).join(', ')}`);
    }
    if (result.status === 'interrupted') process.exitCode = 130;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function parseConnections(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`--connections "${value}" is not a whole number from 1 to 10000`, { field: 'connections' });
  return n;
}

async function runReplay(capture: string, flags: ReplayFlags & { relay: string }): Promise<ReplayResult> {
  // Checked before the progress file beside the store is made: a mistyped --db leaves nothing behind.
  requireStore(flags.db);
  const request = requestFrom(flags);
  const plan: ReplayPlan = { pace: request.pace, loops: request.loops, durationMs: request.durationMs, sample: request.sample, seed: request.seed };
  const protocol = getProtocol(flags.protocol);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress('replay');
  // Beside the store, which this replay holds: `parity runs` shows it to anyone who asks meanwhile.
  const status = new ProgressFile(flags.db, `parity replay ${capture} --relay ${flags.relay}${flags.run === undefined ? '' : ` --run ${flags.run}`}`);
  // The relay's own route labels, where it serves them, so reports read "20500 acme-fleet/calamplmd".
  const routes = flags.relayDebug === undefined ? [] : await fetchRouteLabels(flags.relayDebug);
  try {
    return await withStore(flags.db, (store) =>
      replayCapture({
        store,
        capture,
        relayHost: flags.relay,
        portMap: parsePortMap(flags.portMap),
        plan,
        protocol,
        devices: request.devices,
        ackTimeoutMs: request.ackTimeoutMs,
        senderCpu: request.senderCpu,
        ...(flags.run !== undefined && { runName: flags.run }),
        ...(flags.relayDebug !== undefined && { relayDebugUrl: flags.relayDebug }),
        ...(routes.length > 0 && { topology: { backends: [], routes } }),
        signal: abort.signal,
        onProgress: (p) => {
          showReplayProgress(progress, p, { lateness: true });
          status.update({ sent: p.sent, planned: p.planned, fraction: p.fraction, etaSec: p.etaSec ?? null, acks: p.acks, ratePps: Math.round(p.ratePps) });
        },
      }),
    );
  } finally {
    status.close();
    progress.done();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function printSummary({ runName, status, stats }: ReplayResult): void {
  printTable(
    ['run', 'status', 'sent', 'ACKs', 'devices', 'duration', 'asked', 'achieved', 'late p50', 'late p99', 'late max'],
    [
      [
        runName,
        status,
        `${formatCount(stats.sent)}/${formatCount(stats.planned)}`,
        formatCount(stats.acks),
        formatCount(stats.devices),
        formatDurationSec(stats.durationSec),
        stats.askedRatePps === null ? stats.pace : `${Math.round(stats.askedRatePps)} pps`,
        `${Math.round(stats.achievedRatePps)} pps`,
        formatDurationMs(stats.lateness.p50Us / 1000),
        formatDurationMs(stats.lateness.p99Us / 1000),
        formatDurationMs(stats.lateness.maxUs / 1000),
      ],
    ],
  );
  if (typeof stats.senderCpu === 'number') printNote(`the sending thread ran alone on CPU ${stats.senderCpu}, this process's other threads on the other CPUs (--sender-cpu; none shares them all)`);
  const causes = latenessCauses(stats);
  if (causes !== undefined) printNote(causes);
  const drops = stats.receiveDrops ?? 0;
  if (drops > 0) printNote(`the devices' sockets dropped ${formatCount(drops)} datagrams on arrival (their receive buffers full): up to that many answers are missing from the devices' view through no fault of the relay; give the replayer a CPU of its own (--sender-cpu) or replay slower`);
}
