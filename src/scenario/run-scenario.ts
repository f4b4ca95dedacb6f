import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyseRun } from '../analyse/analyse-run.ts';
import type { Analysis } from '../analyse/analysis.ts';
import { RelayPoller } from '../observe/relay-poller.ts';
import { SimulatedBackend } from '../backends/simulated-backend.ts';
import { getProtocol } from '../protocols/index.ts';
import { COMMIT_BOUND_MS, prepareReplay, sendReplay, type ReplayProgress, type ReplayResult } from '../replay/replayer.ts';
import { RunSession } from '../run/run-session.ts';
import { writeReports, type ReportFormat, type WrittenReports } from '../report/write-reports.ts';
import { ObservationWriter } from '../store/observation-writer.ts';
import { nextRunName, recordObserverCounters, updateRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { stopTracked, type spawnTracked } from './child-processes.ts';
import { relayExitError, relayLogPath, startExternalRelay, watchExternalRelay } from './external-relay.ts';
import { allocateAddresses, relayRoutes, topologyOf, type Addresses } from './scenario-addresses.ts';
import { prepareTraffic } from './prepare-traffic.ts';
import { RelayProcess } from './relay-process.ts';
import type { ScenarioSpec } from './scenario-spec.ts';
import { Timeline } from './timeline.ts';
import { defaultDrainMs, drainBackends } from './drain.ts';
import { reverseLeg, writeObservation } from '../capture/record/record-targets.ts';
import { UdpTap } from '../observe/udp-tap.ts';
import { startLiveCapture } from '../observe/live-capture.ts';
import { legOf } from '../capture/record/topology.ts';

export interface RunScenarioOptions {
  store: Store;
  /** Directory scenario paths (a capture file) are relative to. */
  baseDir: string;
  reportsDir: string;
  formats: readonly ReportFormat[];
  screenshot: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** One line per step, for the user. */
  say?: (line: string) => void;
}

export interface ScenarioResult {
  runName: string;
  replay: ReplayResult;
  analysis: Analysis;
  reports: WrittenReports;
  timeline: Timeline['applied'];
  /** What `expect` in the scenario asked for and did not get. */
  unmet: string[];
}


/**
 * Runs a whole validation: prepareTraffic -> startBackends -> startRelay -> replayCapture (with the relay poller and
 * the fault timeline) -> drainBackends -> stopAll -> analyseRun -> writeReports. Everything it starts is stopped in
 * a `finally`, also on Ctrl-C or a failure half-way.
 */
export async function runScenario(spec: ScenarioSpec, options: RunScenarioOptions): Promise<ScenarioResult> {
  const { store } = options;
  const say = options.say ?? (() => undefined);
  const capture = await prepareTraffic(store, spec, options.baseDir);
  const addresses = allocateAddresses(spec);
  const runName = await nextRunName(store, spec.name);
  const topology = topologyOf(spec, addresses, capture);
  // The session owns the run: it is finished only once everything started for it has stopped.
  const session = await RunSession.create(store, { name: runName, kind: 'scenario', protocol: spec.protocol, relay: addresses.relay, topology, thresholds: spec.thresholds });
  const runId = session.runId;
  say(`run ${runName}: ${capture.uplinkDatagrams} uplink packets of ${capture.name} from ${capture.devices} devices through ${spec.relay.kind === 'builtin' ? 'the reference relay' : 'the relay'} at ${addresses.relay}`);
  // Backends share this process with the replayer: their commits go at the pacer's pace (COMMIT_BOUND_MS).
  const observations = await ObservationWriter.create(store, runId, { flushIntervalMs: COMMIT_BOUND_MS });
  const dir = mkdtempSync(join(tmpdir(), `parity-${spec.name}-`));
  const backends = new Map<string, SimulatedBackend>();
  const taps: TapOfBackend[] = [];
  let live: (() => Promise<void>) | undefined;
  let relay: RelayProcess | undefined;
  let external: ReturnType<typeof spawnTracked> | undefined;
  let unwatchRelay = (): void => undefined;
  let replay: ReplayResult | undefined;
  let replayStartNs: bigint | undefined;
  let failure: { error: unknown } | undefined;
  let timeline: Timeline | undefined;
  let poller: RelayPoller | undefined;
  // The replay stops when the user interrupts or when an external relay dies under it.
  const replayAbort = new AbortController();
  const relayExit: { code: number | string | undefined } = { code: undefined };
  const abortOnRelayExit = (code: number | string): void => {
    relayExit.code = code;
    replayAbort.abort();
  };
  options.signal?.addEventListener('abort', () => replayAbort.abort(), { once: true });
  const replaySignal = replayAbort.signal;
  try {
    await startBackends(spec, addresses, capture.routePorts, observations, backends, taps);
    live = await startLiveObservation(spec, addresses, observations);
    if (spec.relay.kind === 'builtin') {
      relay = await RelayProcess.start(dir, { address: addresses.relay, responseTimeoutMs: spec.relay.responseTimeoutMs, routes: relayRoutes(spec, addresses, capture.routePorts) });
    } else {
      external = await startExternalRelay(spec.relay, { cwd: options.baseDir, logPath: relayLogPath(options.reportsDir, runName) });
      unwatchRelay = watchExternalRelay(external, abortOnRelayExit);
    }
    const debugUrl = relay?.debugUrl ?? (spec.relay.kind === 'external' ? spec.relay.debugUrl : undefined);
    poller = debugUrl === undefined ? undefined : new RelayPoller(store, runId, debugUrl);
    await poller?.start();
    const started = timeline = new Timeline(spec.timeline, { backends, ...(relay !== undefined && { reload: (globals) => (relay as RelayProcess).reload(globals) }) });
    say(`replaying (${spec.replay.pace.kind === 'original' ? `original timing x${spec.replay.pace.speed}` : spec.replay.pace.kind})${spec.timeline.length > 0 ? ` with ${spec.timeline.length} timeline events` : ''}`);
    const prepared = await prepareReplay({
      store,
      capture: capture.name,
      relayHost: addresses.relay,
      portMap: new Map(),
      plan: { pace: spec.replay.pace, loops: spec.replay.loops, durationMs: spec.replay.durationMs, sample: spec.replay.sample, seed: spec.replay.seed },
      protocol: getProtocol(spec.protocol),
      devices: spec.replay.devices,
      ackTimeoutMs: spec.replay.ackTimeoutMs,
      onStart: (startNs: number) => started.start(startNs),
      signal: replaySignal,
      ...(options.onProgress !== undefined && { onProgress: options.onProgress }),
    });
    await updateRun(store, runId, { captureId: prepared.capture.captureId, protocol: spec.protocol, relay: addresses.relay, plan: prepared.plan, topology, thresholds: spec.thresholds });
    const outcome = await sendReplay(prepared, runId);
    replay = { runId, runName, status: outcome.status, stats: outcome.stats };
    replayStartNs = outcome.startNs;
    await started.stop();
    if (relayExit.code !== undefined) throw relayExitError(relayExit.code, relayLogPath(options.reportsDir, runName));
    // Late is not missing: the run waits for every backend's answers before its observers stop.
    const tapList = taps.map((t) => t.tap);
    await drainBackends({ backends: [...backends.values()], taps: tapList, drainMs: spec.replay.drainMs ?? defaultDrainMs(spec.replay.ackTimeoutMs, [...backends.values()], tapList) });
    await recordObserverCounters(store, runId, taps.map(({ tap, role }) => ({ observer: `tap:${role}:${tap.listen.port}`, backend: role, ...tap.counters })));
    await poller?.stop();
    poller = undefined;
    await live?.();
    live = undefined;
  } catch (error) {
    failure = { error };
  } finally {
    await poller?.stop().catch(() => undefined);
    await timeline?.stop();
    await relay?.stop();
    if (external !== undefined) {
      unwatchRelay();
      await stopTracked(external);
    }
    for (const backend of backends.values()) await backend.stop();
    for (const { tap } of taps) await tap.stop();
    await live?.();
    observations.close();
    rmSync(dir, { recursive: true, force: true });
  }
  // Everything started for the run has stopped: only now is its end written, failed or not.
  if (failure !== undefined) return session.fail(failure.error);
  if (relayExit.code !== undefined) return session.fail(relayExitError(relayExit.code, relayLogPath(options.reportsDir, runName)));
  if (replay === undefined || timeline === undefined) return session.fail(new Error(`run ${runName}: the replay did not run`));
  await session.finish(replay.stats.interrupted ? 'interrupted' : 'completed', replay.stats, replayStartNs);
  say(`replay ${replay.status}: ${replay.stats.sent} sent, ${replay.stats.acks} ACKs; analysing`);
  const analysis = await analyseRun(store, runName, { thresholds: spec.thresholds, ...(spec.baseline !== undefined && { baseline: spec.baseline }) });
  const reports = await writeReports(store, analysis, { outDir: options.reportsDir, formats: options.formats, screenshot: options.screenshot });
  return { runName, replay, analysis, reports, timeline: timeline.applied, unmet: unmetExpectations(spec, analysis) };
}

/**
 * For external backends with `observe: live`: tcpdump on the capture interface, legs from the scenario's own
 * addresses, backend legs only (the replayer records the device side). Capture times are wall clock; an offset taken
 * here moves them onto the run's monotonic clock (to within about a millisecond: Date.now's resolution). Returns the
 * function that stops it.
 */
async function startLiveObservation(spec: ScenarioSpec, addresses: Addresses, sink: ObservationWriter): Promise<(() => Promise<void>) | undefined> {
  const observed = spec.backends.filter((b) => b.external?.observe === 'live');
  if (observed.length === 0) return undefined;
  const backends = new Map(observed.map((b) => [b.role, addresses.backends.get(b.role) as string]));
  const topology = { relayIp: addresses.relay, relayEgress: new Set<string>(), relayPorts: new Set<number>(), backends };
  const protocol = getProtocol(spec.protocol);
  const monoMinusWallNs = process.hrtime.bigint() - BigInt(Date.now()) * 1_000_000n;
  const hosts = [addresses.relay, ...backends.values()].map((ip) => `host ${ip}`).join(' or ');
  const capture = await startLiveCapture({
    iface: spec.captureIface,
    filter: `udp and (${hosts})`,
    onDatagram: (datagram) => {
      const src = { ip: datagram.srcIp, port: datagram.srcPort };
      const dst = { ip: datagram.dstIp, port: datagram.dstPort };
      const assigned = legOf(topology, src, dst);
      if (assigned === undefined || assigned.leg.includes('device')) return;
      const wallNs = BigInt(datagram.tsSec) * 1_000_000_000n + BigInt(datagram.tsFracNs);
      writeObservation(sink, protocol, `live:${spec.captureIface}`, { monoNs: wallNs + monoMinusWallNs, wallNs, src, dst, payload: Buffer.from(datagram.payload), ...assigned });
    },
  });
  return async () => {
    // tcpdump delivers what it has read when told to stop; a moment for the last ACKs to reach it first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    capture.stop();
    await capture.done;
  };
}

/**
 * Simulated backends record their own legs. An external backend gets a recording tap in front of it on the backend's
 * allocated address (the relay targets the tap), or, with `observe: none`, the relay targets it directly.
 */
interface TapOfBackend {
  tap: UdpTap;
  role: string;
}

async function startBackends(spec: ScenarioSpec, addresses: Addresses, ports: readonly number[], sink: ObservationWriter, into: Map<string, SimulatedBackend>, taps: TapOfBackend[]): Promise<void> {
  const protocol = getProtocol(spec.protocol);
  for (const backend of spec.backends) {
    if (backend.external !== undefined) {
      if (backend.external.observe !== 'tap') {
        addresses.backends.set(backend.role, backend.external.ip);
        continue;
      }
      for (const port of ports) {
        const uplinkLeg = `relay>${backend.role}`;
        const tap = new UdpTap({ ip: addresses.backends.get(backend.role) as string, port }, { ip: backend.external.ip, port }, (packet) =>
          writeObservation(sink, protocol, `tap:${backend.role}`, { ...packet, leg: packet.direction === 'uplink' ? uplinkLeg : reverseLeg(uplinkLeg), routePort: port }),
        );
        await tap.start();
        taps.push({ tap, role: backend.role });
      }
      continue;
    }
    const simulated = new SimulatedBackend({ protocol: getProtocol(spec.protocol), ip: addresses.backends.get(backend.role) as string, ports, role: backend.role, faults: backend.faults, sink });
    await simulated.start();
    into.set(backend.role, simulated);
  }
}

function unmetExpectations(spec: ScenarioSpec, analysis: Analysis): string[] {
  if (spec.expect === undefined) return [];
  const unmet: string[] = [];
  if (spec.expect.verdict !== undefined && spec.expect.verdict !== analysis.verdict) unmet.push(`verdict ${analysis.verdict}, expected ${spec.expect.verdict}`);
  for (const wanted of spec.expect.findings) {
    if (!analysis.findings.some((f) => f.message.includes(wanted))) unmet.push(`no finding mentions "${wanted}"`);
  }
  return unmet;
}
