import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { seededRandom } from '../../src/core/random.ts';
// Linear interpolation between the nearest ranks, as DuckDB's quantile_cont takes it.
import { quantile } from '../../src/core/stats.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { withStore, type Store } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/**
 * The correlation SQL (src/analyse/sql/01-05c) is fast because it takes shortcuts: payloads sent once are matched by a
 * hash join and only repeated ones numbered by a window, keys answered once by a hash join and only repeated ones by
 * an ASOF join. This test checks it against a model written here from the rules as docs/architecture.md states them,
 * one packet at a time in plain loops, on runs generated at random (seeded) with every fault the rules must survive:
 * lost and duplicated copies, copies of payloads nobody sent, identical payloads sent again, packets overtaking their
 * device's earlier ones, answers late, early, stray, repeated or different, match keys that wrap, devices that get no
 * ACK or another one. Every row of packet_parity, and every metric the verdict is judged on, must be the model's.
 */

const ACK_WINDOW_NS = 30_000_000_000;
const T0 = 1_000_000_000_000;
type Backend = string;
/**
 * The backends a run fans out to, in the order packet_parity sorts them; the reference one (the primary, else the
 * first target); and those whose observer names the request each answer replies to (the rest are tied by match key).
 */
interface Fleet { backends: readonly Backend[]; reference: Backend; namesRequests: readonly Backend[] }
const MIRRORED: Fleet = { backends: ['mirror', 'primary'], reference: 'primary', namesRequests: ['primary'] };
const FANNED_OUT: Fleet = { backends: ['target-0', 'target-1', 'target-2'], reference: 'target-0', namesRequests: ['target-0', 'target-2'] };

interface Send { id: number; device: number; route: number; sentNs: number; hash: number; wantsAck: boolean; matchKey: string | null }
interface Receipt { backend: Backend; route: number; hash: number; ns: number; relaySocket: number }
/** An answer on leg backend>relay, to a relay socket; `replyTo` when the backend's observer names the request's hash. */
interface Answer { backend: Backend; route: number; relaySocket: number; ns: number; hash: number; kind: 'ack' | 'nak' | 'unparsed'; replyTo: number | null; matchKey: string | null }
interface DeviceAck { device: number; ns: number; hash: number; matchKey: string | null; kind: 'ack' | 'unparsed' }
interface Generated { fleet: Fleet; sends: Send[]; receipts: Receipt[]; answers: Answer[]; deviceAcks: DeviceAck[] }

const deviceIp = (device: number): string => `127.20.0.${device + 1}`;
const DEVICE_PORT = 40000;
/** The relay's upstream socket for a device towards a backend (one per device and backend, as the relay keeps them). */
const relaySocketOf = (fleet: Fleet, device: number, backend: Backend): number => 51000 + 1000 * fleet.backends.indexOf(backend) + device;
/** An ACK's bytes stand for its hash: equal hashes, equal bytes. */
const ackBytes = (hash: number): string => `ACK-${hash}`;
const answerHash = (requestHash: number): number => 5_000_000 + requestHash;

function generate(seed: number, keyed: boolean, fleet: Fleet): Generated {
  const next = seededRandom(seed);
  const chance = (p: number): boolean => next() < p;
  const between = (low: number, high: number): number => Math.floor(low + next() * (high - low));
  // Every observation gets a time of its own (ties would leave "the first" to the engine's whim).
  let tick = 0;
  const unique = (ns: number): number => ns + (tick++ % 997);
  const devices = 5;
  const heartbeats = [7001, 7002, 7003];
  const sequence = new Array<number>(devices).fill(0);
  const sends: Send[] = [];
  let clock = T0;
  const count = between(150, 260);
  for (let id = 0; id < count; id++) {
    clock += between(200_000, 3_000_000);
    const device = between(0, devices);
    const seq = sequence[device] ?? 0;
    sequence[device] = seq + 1;
    sends.push({
      id,
      device,
      route: chance(0.7) ? 20500 : 20501,
      sentNs: unique(clock),
      hash: chance(0.3) ? (heartbeats[between(0, heartbeats.length)] as number) : 1_000_000 + id,
      wantsAck: chance(0.85),
      // A key that wraps after six requests: a device's keys repeat within the run.
      matchKey: keyed ? String(seq % 6) : null,
    });
  }
  const receipts: Receipt[] = [];
  const answers: Answer[] = [];
  const answer = (backend: Backend, r: Receipt, request: Send): void => {
    if (!chance(0.85)) return;
    const late = chance(0.04) ? ACK_WINDOW_NS + 1_000_000_000 : 0;
    const differs = backend !== fleet.reference && chance(0.1);
    const given: Answer = {
      backend,
      route: r.route,
      relaySocket: r.relaySocket,
      ns: unique(r.ns + between(100_000, 6_000_000) + late),
      hash: answerHash(request.hash) + (differs ? 1 : 0),
      kind: chance(0.05) ? 'nak' : 'ack',
      // Some observers name the request answered; the others' answers are tied by match key.
      replyTo: fleet.namesRequests.includes(backend) ? request.hash : null,
      matchKey: fleet.namesRequests.includes(backend) ? null : request.matchKey,
    };
    answers.push(given);
    // Some answered twice (a backend's own fault).
    if (chance(0.04)) answers.push({ ...given, ns: unique(given.ns + between(100_000, 2_000_000)) });
  };
  // Some reach no backend at all (the relay dropped them before its copies).
  const unforwarded = new Set(sends.filter(() => chance(0.03)).map((send) => send.id));
  for (const backend of fleet.backends) {
    for (const send of sends) {
      if (unforwarded.has(send.id) || chance(backend === fleet.reference ? 0.02 : 0.08)) continue;
      const r: Receipt = { backend, route: send.route, hash: send.hash, ns: unique(send.sentNs + between(100_000, 8_000_000)), relaySocket: relaySocketOf(fleet, send.device, backend) };
      receipts.push(r);
      answer(backend, r, send);
      if (chance(0.05)) {
        const copy = { ...r, ns: unique(r.ns + between(500_000, 20_000_000)) };
        receipts.push(copy);
        answer(backend, copy, send);
      }
    }
    // Copies of something no device sent, and an answer to a socket that asked nothing.
    for (let i = 0; i < 3; i++) receipts.push({ backend, route: 20500, hash: 9_000_000 + i, ns: unique(T0 + between(0, 400_000_000)), relaySocket: relaySocketOf(fleet, 0, backend) });
    // One of them answered: what the backend received is asked, though no device sent it (altered on the way).
    const stray = receipts.at(-1) as Receipt;
    answers.push({ backend, route: 20500, relaySocket: stray.relaySocket, ns: unique(stray.ns + 1_000_000), hash: 8_900_000, kind: 'ack', replyTo: fleet.namesRequests.includes(backend) ? stray.hash : null, matchKey: null });
    answers.push({ backend, route: 20500, relaySocket: 59999, ns: unique(T0 + 5_000_000), hash: 8_888_888, kind: 'ack', replyTo: 1_000_000, matchKey: '0' });
    // Answers to requests no one made, at a device's socket: one before the backend's first request (what a capture
    // begun mid-stream shows: not counted), the others well into the run.
    const names = fleet.namesRequests.includes(backend);
    for (let i = 0; i < 3; i++) {
      const ns = unique(i === 0 ? T0 : T0 + between(200_000_000, 400_000_000));
      answers.push({ backend, route: 20500, relaySocket: relaySocketOf(fleet, between(0, devices), backend), ns, hash: 8_800_000 + i, kind: 'ack', replyTo: names ? 7_700_000 + i : null, matchKey: names ? null : `p${i}` });
    }
  }
  const deviceAcks: DeviceAck[] = [];
  for (const send of sends) {
    if (!send.wantsAck || !chance(0.9)) continue;
    const late = chance(0.04) ? ACK_WINDOW_NS + 1_000_000_000 : 0;
    deviceAcks.push({ device: send.device, ns: unique(send.sentNs + between(1_000_000, 12_000_000) + late), hash: answerHash(send.hash) + (chance(0.05) ? 2 : 0), matchKey: send.matchKey, kind: 'ack' });
  }
  // Some ACKs also handed to a device that did not send the request (the relay leaking one device's answer to another):
  // the next device, which may have asked for that key itself, or one that sent nothing at all.
  for (const send of sends) {
    if (!send.wantsAck || !chance(0.04)) continue;
    const to = chance(0.5) ? (send.device + 1) % devices : devices;
    deviceAcks.push({ device: to, ns: unique(send.sentNs + between(1_000_000, 12_000_000)), hash: answerHash(send.hash), matchKey: send.matchKey, kind: 'ack' });
  }
  // Bytes no device can read as an ACK: some a backend sent (to a socket that asked nothing) and the relay passed on,
  // the others made up on the way.
  for (const backend of fleet.backends) {
    for (let i = 0; i < 2; i++) {
      const hash = 6_600_000 + 10 * fleet.backends.indexOf(backend) + i;
      answers.push({ backend, route: 20500, relaySocket: 59998, ns: unique(T0 + between(0, 400_000_000)), hash, kind: 'unparsed', replyTo: fleet.namesRequests.includes(backend) ? 1 : null, matchKey: null });
      if (chance(0.5)) deviceAcks.push({ device: between(0, devices), ns: unique(T0 + between(0, 400_000_000)), hash, matchKey: null, kind: 'unparsed' });
    }
  }
  for (let i = 0; i < between(1, 5); i++) deviceAcks.push({ device: between(0, devices), ns: unique(T0 + between(0, 400_000_000)), hash: 6_700_000 + i, matchKey: null, kind: 'unparsed' });
  return { fleet, sends, receipts, answers, deviceAcks };
}

interface ExpectedRow {
  uplink_id: number;
  backend: Backend;
  delivered: boolean;
  received_ns: number | null;
  reordered: boolean | null;
  acked: boolean | null;
  ack_kind: string | null;
  ack_hash: number | null;
  ack_match: boolean | null;
  device_acked: boolean | null;
  device_ack_hash: number | null;
  device_ack_match: boolean | null;
  one_sided_ack: boolean | null;
}

/** What the metrics need besides a row's columns: its times. */
interface ModelRow extends ExpectedRow {
  route: number;
  wants_ack: boolean;
  sent_ns: number;
  ack_ns: number | null;
  device_ack_ns: number | null;
}

/** Each send's copy at each backend: the k-th copy a backend received of a payload on a route is the k-th send of it. */
function receiptsBySend({ fleet, sends, receipts }: Generated): Map<Backend, Map<number, Receipt>> {
  const bySendOrder = [...sends].sort((a, b) => a.sentNs - b.sentNs || a.id - b.id);
  const received = new Map<Backend, Map<number, Receipt>>();
  for (const backend of fleet.backends) {
    const copies = receipts.filter((r) => r.backend === backend).sort((a, b) => a.ns - b.ns);
    const mine = new Map<number, Receipt>();
    for (const [key, sent] of groupBy(bySendOrder, (s) => `${s.route}/${s.hash}`)) {
      const got = copies.filter((r) => `${r.route}/${r.hash}` === key);
      sent.forEach((send, k) => {
        const copy = got[k];
        if (copy !== undefined) mine.set(send.id, copy);
      });
    }
    received.set(backend, mine);
  }
  return received;
}

/** A backend's answer to a send: the first at or after the send's copy reached it, to that socket, with its key. */
function answerTo(run: Generated, received: Map<Backend, Map<number, Receipt>>, backend: Backend, send: Send): Answer | undefined {
  const r = received.get(backend)?.get(send.id);
  if (r === undefined) return undefined;
  // Tied by the request's hash where the backend's observer gave it, else by the protocol's match key.
  const byHash = run.answers.filter((a) => a.backend === backend).every((a) => a.replyTo !== null);
  return run.answers
    .filter((a) => a.backend === backend && a.route === r.route && a.relaySocket === r.relaySocket && a.ns >= r.ns)
    .filter((a) => (byHash ? a.replyTo === send.hash : (a.matchKey ?? '') === (send.matchKey ?? '')))
    .sort((a, b) => a.ns - b.ns)[0];
}

/** The rules, one packet at a time. */
function model(run: Generated): ModelRow[] {
  const { fleet, sends, deviceAcks } = run;
  const bySendOrder = [...sends].sort((a, b) => a.sentNs - b.sentNs || a.id - b.id);
  const received = receiptsBySend(run);
  const ackOf = (backend: Backend, send: Send): Answer | undefined => answerTo(run, received, backend, send);
  const inWindow = (from: number, to: number | undefined): boolean => to !== undefined && to - from <= ACK_WINDOW_NS;
  const rows: ModelRow[] = [];
  for (const send of sends) {
    const deviceAck = deviceAcks
      .filter((d) => d.device === send.device && (d.matchKey ?? '') === (send.matchKey ?? '') && d.ns >= send.sentNs)
      .sort((a, b) => a.ns - b.ns)[0];
    const deviceInWindow = send.wantsAck && inWindow(send.sentNs, deviceAck?.ns);
    const referenceReceipt = received.get(fleet.reference)?.get(send.id);
    const referenceAck = ackOf(fleet.reference, send);
    const referenceInWindow = send.wantsAck && referenceReceipt !== undefined && inWindow(referenceReceipt.ns, referenceAck?.ns);
    for (const backend of fleet.backends) {
      const r = received.get(backend)?.get(send.id);
      const ack = ackOf(backend, send);
      const ackInWindow = send.wantsAck && r !== undefined && inWindow(r.ns, ack?.ns);
      // Reordered: it reached the backend before a packet its device had sent earlier.
      const overtook = r !== undefined && bySendOrder
        .slice(0, bySendOrder.indexOf(send))
        .some((earlier) => earlier.device === send.device && (received.get(backend)?.get(earlier.id)?.ns ?? -Infinity) > r.ns);
      rows.push({
        uplink_id: send.id,
        backend,
        delivered: r !== undefined,
        received_ns: r?.ns ?? null,
        reordered: r === undefined ? null : overtook,
        acked: !send.wantsAck || r === undefined ? null : ackInWindow,
        ack_kind: ackInWindow ? (ack?.kind ?? null) : null,
        ack_hash: ackInWindow ? (ack?.hash ?? null) : null,
        ack_match: backend !== fleet.reference && ackInWindow && referenceInWindow ? ack?.hash === referenceAck?.hash : null,
        device_acked: send.wantsAck ? deviceInWindow : null,
        device_ack_hash: deviceInWindow ? (deviceAck?.hash ?? null) : null,
        device_ack_match: backend === fleet.reference && deviceInWindow && ackInWindow ? deviceAck?.hash === ack?.hash : null,
        // Both received it and it wanted an answer: did one of the two answer (in the window) and the other not?
        one_sided_ack: backend !== fleet.reference && send.wantsAck && r !== undefined && referenceReceipt !== undefined ? ackInWindow !== referenceInWindow : null,
        route: send.route,
        wants_ack: send.wantsAck,
        sent_ns: send.sentNs,
        ack_ns: ackInWindow ? (ack?.ns ?? null) : null,
        device_ack_ns: deviceInWindow ? (deviceAck?.ns ?? null) : null,
      });
    }
  }
  return rows.sort((a, b) => a.uplink_id - b.uplink_id || a.backend.localeCompare(b.backend));
}

/**
 * The metrics the rules give, per route and backend and per backend overall (route null), and the devices' view per
 * route and overall (backend null); keyed `metric|route|backend`. Counts as docs/architecture.md and the README define
 * them: a receipt matched to no send is a duplicate; a request one backend answered and the reference did not (or the
 * other way) is one-sided; drift is the delivered count's distance from the reference's, as a share of it.
 */
function modelMetrics(fleet: Fleet, rows: readonly ModelRow[], run: Generated): Map<string, number | null> {
  const { receipts, sends, answers, deviceAcks } = run;
  const metrics = new Map<string, number | null>();
  const extras = extraAnswers(fleet, sends, receipts, answers, unaskedAnswers(run));
  const ms = (from: number, to: number): number => (to - from) / 1e6;
  const routes = [...new Set(rows.map((r) => r.route))];
  const reference = new Map(rows.filter((r) => r.backend === fleet.reference).map((r) => [r.uplink_id, r]));
  // A packet no backend received is the relay's (unreached); a backend's drop rate counts what another received.
  const reachedSomewhere = new Set(rows.filter((r) => r.delivered).map((r) => r.uplink_id));
  // Copies beyond as many as the devices sent of a payload on a route, of payloads they sent at all.
  const sentOf = new Map<string, number>();
  for (const send of sends) sentOf.set(`${send.route}|${send.hash}`, (sentOf.get(`${send.route}|${send.hash}`) ?? 0) + 1);
  const receivedOf = new Map<string, number>();
  for (const r of receipts) receivedOf.set(`${r.backend}|${r.route}|${r.hash}`, (receivedOf.get(`${r.backend}|${r.route}|${r.hash}`) ?? 0) + 1);
  const extraCopies = (backend: Backend, route: number | null): number =>
    [...receivedOf].reduce((sum, [key, got]) => {
      const [b, r, hash] = key.split('|');
      if (b !== backend || (route !== null && Number(r) !== route)) return sum;
      const sent = sentOf.get(`${r}|${hash}`) ?? 0;
      return sum + (sent > 0 ? Math.max(0, got - sent) : 0);
    }, 0);
  for (const backend of fleet.backends) {
    for (const route of [...routes, null]) {
      const mine = rows.filter((r) => r.backend === backend && (route === null || r.route === route));
      const delivered = mine.filter((r) => r.delivered);
      const got = receipts.filter((r) => r.backend === backend && (route === null || r.route === route)).length;
      const referenceDelivered = [...reference.values()].filter((r) => r.delivered && (route === null || r.route === route)).length;
      const put = (metric: string, value: number | null): void => void metrics.set(`${metric}|${route}|${backend}`, value);
      put('sent', mine.length);
      put('delivered', delivered.length);
      put('lost', mine.length - delivered.length);
      put('duplicated', got - delivered.length);
      const lostApart = mine.filter((r) => !r.delivered && reachedSomewhere.has(r.uplink_id)).length;
      put('lost_apart', lostApart);
      put('drop_rate', mine.length > 0 ? lostApart / mine.length : null);
      put('extra_copies', extraCopies(backend, route));
      put('extra_copy_rate', delivered.length > 0 ? extraCopies(backend, route) / delivered.length : null);
      // Receipts of payloads no device sent on that route (the generator's strays): bytes no device sent.
      const unsent = receipts.filter((r) => r.backend === backend && (route === null || r.route === route) && !sentOf.has(`${r.route}|${r.hash}`)).length;
      put('unsent_payloads', unsent);
      put('unsent_payload_rate', got > 0 ? unsent / got : null);
      put('reordered', mine.filter((r) => r.reordered === true).length);
      put('reorder_rate', delivered.length > 0 ? mine.filter((r) => r.reordered === true).length / delivered.length : null);
      put('ack_expected', delivered.filter((r) => r.wants_ack).length);
      put('acked', mine.filter((r) => r.acked === true).length);
      put('naks', mine.filter((r) => r.ack_kind === 'nak').length);
      const extraAcks = extras.filter((e) => e.backend === backend && (route === null || e.route === route)).reduce((sum, e) => sum + e.extra, 0);
      put('extra_acks', extraAcks);
      const ackedHere = mine.filter((r) => r.acked === true).length;
      put('extra_ack_rate', ackedHere + extraAcks > 0 ? extraAcks / (ackedHere + extraAcks) : null);
      const forward = delivered.map((r) => ms(r.sent_ns, r.received_ns as number));
      const ack = mine.filter((r) => r.ack_ns !== null).map((r) => ms(r.received_ns as number, r.ack_ns as number));
      for (const [name, values] of [['forward_latency', forward], ['ack_latency', ack]] as const) {
        put(`${name}_p50_ms`, quantile(values, 0.5));
        put(`${name}_p95_ms`, quantile(values, 0.95));
        put(`${name}_p99_ms`, quantile(values, 0.99));
      }
      if (backend !== fleet.reference) {
        const oneSided = mine.filter((r) => r.wants_ack && r.delivered && reference.get(r.uplink_id)?.delivered === true && r.acked !== reference.get(r.uplink_id)?.acked).length;
        const compared = mine.filter((r) => r.ack_match !== null).length;
        const mismatched = mine.filter((r) => r.ack_match === false).length;
        put('ack_compared', compared);
        put('ack_mismatches', mismatched);
        put('one_sided_acks', oneSided);
        put('ack_mismatch_rate', compared + oneSided > 0 ? (mismatched + oneSided) / (compared + oneSided) : null);
        put('drift', referenceDelivered > 0 ? Math.abs(delivered.length - referenceDelivered) / referenceDelivered : null);
      }
    }
  }
  // ACKs a device got beyond its requests with that key (of any kind), on the route they came on: every ACK is
  // written as coming on 20500 (write); less the reference backend's own second answers to that device and key.
  const unaskedByRoute = new Map<number, number>();
  const passedOn = new Map<string, number>();
  for (const extra of extras.filter((e) => e.backend === fleet.reference && e.device !== null)) {
    passedOn.set(`${extra.device}|${extra.matchKey ?? ''}`, (passedOn.get(`${extra.device}|${extra.matchKey ?? ''}`) ?? 0) + extra.extra);
  }
  for (const [key, got] of groupBy(deviceAcks.filter((d) => d.kind !== 'unparsed'), (d) => `${d.device}|${d.matchKey ?? ''}`)) {
    const beyond = got.length - sends.filter((s) => `${s.device}|${s.matchKey ?? ''}` === key).length - (passedOn.get(key) ?? 0);
    if (beyond > 0) unaskedByRoute.set(20500, (unaskedByRoute.get(20500) ?? 0) + beyond);
  }
  for (const route of [...routes, null]) {
    const seen = [...reference.values()].filter((r) => route === null || r.route === route);
    const put = (metric: string, value: number | null): void => void metrics.set(`${metric}|${route}|null`, value);
    const unreached = seen.filter((r) => !reachedSomewhere.has(r.uplink_id)).length;
    put('unreached', unreached);
    put('unreached_rate', seen.length > 0 ? unreached / seen.length : null);
    put('device_ack_expected', seen.filter((r) => r.wants_ack).length);
    put('device_acks', seen.filter((r) => r.device_acked === true).length);
    put('device_ack_compared', seen.filter((r) => r.device_ack_match !== null).length);
    put('device_ack_mismatches', seen.filter((r) => r.device_ack_match === false).length);
    const unasked = route === null ? [...unaskedByRoute.values()].reduce((a, b) => a + b, 0) : (unaskedByRoute.get(route) ?? 0);
    const acked = seen.filter((r) => r.device_acked === true).length;
    put('unasked_acks', unasked);
    put('unasked_ack_rate', acked + unasked > 0 ? unasked / (acked + unasked) : null);
    // What devices got that is no ACK and that no backend sent (every device datagram is written on 20500).
    const backendsSent = new Set(answers.filter((a) => a.kind === 'unparsed').map((a) => a.hash));
    const junk = route === 20501 ? 0 : deviceAcks.filter((d) => d.kind === 'unparsed' && !backendsSent.has(d.hash)).length;
    put('junk_to_devices', junk);
    put('junk_to_device_rate', acked + unasked + junk > 0 ? junk / (acked + unasked + junk) : null);
    // The reference answered, the device got nothing: the answers the relay did not pass on, and how long they took.
    const unrelayed = seen.filter((r) => r.wants_ack && r.device_acked === false && r.acked === true);
    put('device_unrelayed_acks', unrelayed.length);
    put('device_unrelayed_answer_p50_ms', quantile(unrelayed.map((r) => ms(r.received_ns as number, r.ack_ns as number)), 0.5));
    const roundTrips = seen.filter((r) => r.device_ack_ns !== null).map((r) => ms(r.sent_ns, r.device_ack_ns as number));
    put('round_trip_p50_ms', quantile(roundTrips, 0.5));
    put('round_trip_p95_ms', quantile(roundTrips, 0.95));
    const relayAdded = seen
      .filter((r) => r.device_ack_ns !== null && r.ack_ns !== null)
      .map((r) => ms(r.sent_ns, r.device_ack_ns as number) - ms(r.received_ns as number, r.ack_ns as number));
    put('relay_added_latency_p95_ms', quantile(relayAdded, 0.95));
  }
  return metrics;
}

/**
 * What each backend answered beyond what it was asked: per relay socket and key it answered more than once (the
 * request's hash where its observer names it, else the match key), its answers less the copies it received with that
 * key (a copy's key is its matched send's, else the first send of its bytes on the route's); with the device whose
 * matched copies came through that socket, and the answers' match key.
 */
function extraAnswers(fleet: Fleet, sends: readonly Send[], receipts: readonly Receipt[], answers: readonly Answer[], unasked: readonly Answer[]): { backend: Backend; route: number; extra: number; device: number | null; matchKey: string | null }[] {
  const extras: { backend: Backend; route: number; extra: number; device: number | null; matchKey: string | null }[] = [];
  for (const backend of fleet.backends) {
    const requestKeys = requestKeysOf(backend, sends, receipts, answers);
    for (const [key, group] of groupBy(answers.filter((a) => a.backend === backend), (a) => `${a.route}|${a.relaySocket}|${answerKey(a)}`)) {
      if (group.length < 2) continue;
      const first = group[0] as Answer;
      const asked = requestKeys.filter((q) => `${q.route}|${q.socket}|${q.key}` === key).length;
      if (group.length <= asked) continue;
      const device = requestKeys.find((q) => q.socket === first.relaySocket && q.device !== null)?.device ?? null;
      extras.push({ backend, route: first.route, extra: group.length - asked, device, matchKey: first.matchKey });
    }
    for (const a of unasked.filter((u) => u.backend === backend)) {
      const device = requestKeys.find((q) => q.socket === a.relaySocket && q.device !== null)?.device ?? null;
      extras.push({ backend, route: a.route, extra: 1, device, matchKey: a.matchKey });
    }
  }
  return extras;
}

/** An answer's key: the request's hash where its observer names it, else the match key. */
const answerKey = (a: Answer): string => (a.replyTo !== null ? `h${a.replyTo}` : `m${a.matchKey ?? ''}`);

/**
 * Every copy a backend received, keyed as its answers are: by its own hash where the backend's observer names
 * requests, else by the match key of its send (the k-th copy of a payload on a route is the k-th send of it; the first
 * send stands for the rest, and a copy of bytes no device sent has none).
 */
function requestKeysOf(backend: Backend, sends: readonly Send[], receipts: readonly Receipt[], answers: readonly Answer[]): { route: number; socket: number; key: string; device: number | null; ns: number }[] {
  const bySendOrder = [...sends].sort((a, b) => a.sentNs - b.sentNs || a.id - b.id);
  const byHash = answers.filter((a) => a.backend === backend).every((a) => a.replyTo !== null);
  const copies = receipts.filter((r) => r.backend === backend).sort((a, b) => a.ns - b.ns);
  const requestKeys: { route: number; socket: number; key: string; device: number | null; ns: number }[] = [];
  for (const [payload, got] of groupBy(copies, (r) => `${r.route}/${r.hash}`)) {
    const sent = bySendOrder.filter((s) => `${s.route}/${s.hash}` === payload);
    got.forEach((r, k) => {
      const send = sent[k] ?? sent[0];
      requestKeys.push({ route: r.route, socket: r.relaySocket, key: byHash ? `h${r.hash}` : `m${send?.matchKey ?? ''}`, device: sent[k]?.device ?? null, ns: r.ns });
    });
  }
  return requestKeys;
}

/**
 * Answers to a request never received: a key a backend answered once (at a socket, on a route) that no copy it
 * received there asked at or before the answer, later than the backend's first copy received by more than its
 * slowest answer to a send within the ACK window (earlier ones may answer what came before a capture began).
 */
function unaskedAnswers(run: Generated): Answer[] {
  const received = receiptsBySend(run);
  const unasked: Answer[] = [];
  for (const backend of run.fleet.backends) {
    let slowest = 0;
    for (const send of run.sends) {
      const a = answerTo(run, received, backend, send);
      const r = received.get(backend)?.get(send.id);
      if (a !== undefined && r !== undefined && a.ns - r.ns <= ACK_WINDOW_NS) slowest = Math.max(slowest, a.ns - r.ns);
    }
    const first = Math.min(...run.receipts.filter((r) => r.backend === backend).map((r) => r.ns));
    const asked = requestKeysOf(backend, run.sends, run.receipts, run.answers);
    const mine = run.answers.filter((a) => a.backend === backend);
    for (const group of groupBy(mine, (a) => `${a.route}|${a.relaySocket}|${answerKey(a)}`).values()) {
      const only = group[0] as Answer;
      const askedBefore = asked.some((q) => q.route === only.route && q.socket === only.relaySocket && q.key === answerKey(only) && q.ns <= only.ns);
      if (group.length === 1 && !askedBefore && only.ns > first + slowest) unasked.push(only);
    }
  }
  return unasked;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

const sqlString = (value: string | null): string => (value === null ? 'NULL' : `'${value}'`);

/**
 * Writes the generated run into the store: its uplink as a replay's sends, or as a recording's device>relay
 * observations (numbered by time; an ACK is wanted unless the request did not parse); its observers' observations.
 */
async function write(store: Store, name: string, run: Generated, uplink: 'sends' | 'recorded'): Promise<void> {
  const runId = await createRun(store, { name, kind: uplink === 'sends' ? 'replay' : 'record', protocol: 'generic', startedNs: BigInt(T0) });
  if (uplink === 'sends') {
    const sendRows = run.sends.map((s) =>
      `(${s.id}, '${deviceIp(s.device)}:${DEVICE_PORT}', '${deviceIp(s.device)}', ${s.route}, ${s.sentNs}, ${s.hash}, ${s.wantsAck}, ${sqlString(s.matchKey)})`);
    await store.exec(
      `INSERT INTO sends SELECT $run_id, id, id, 0, device, ip, ${DEVICE_PORT}, route, route, ns, ns, hash, 60, 'opaque', wants_ack, match_key, NULL, NULL
       FROM (VALUES ${sendRows.join(', ')}) t(id, device, ip, route, ns, hash, wants_ack, match_key)`,
      { run_id: runId },
    );
  }
  const uplinkKind = (s: Send): string => (!s.wantsAck ? 'unparsed' : s.matchKey === null ? 'opaque' : 'data');
  // (leg, ns, src ip, src port, dst ip, dst port, route, hash, kind, match key, payload, reply_to_hash)
  const observations: string[] = [
    ...(uplink === 'sends' ? [] : run.sends.map((s) =>
      `('device>relay', ${s.sentNs}, '${deviceIp(s.device)}', ${DEVICE_PORT}, '127.0.0.1', ${s.route}, ${s.route}, ${s.hash}, '${uplinkKind(s)}', ${sqlString(s.matchKey)}, NULL, NULL)`)),
    ...run.receipts.map((r) => `('relay>${r.backend}', ${r.ns}, '127.0.0.1', ${r.relaySocket}, '127.0.0.2', ${r.route}, ${r.route}, ${r.hash}, 'opaque', NULL, NULL, NULL)`),
    ...run.answers.map((a) =>
      `('${a.backend}>relay', ${a.ns}, '127.0.0.2', ${a.route}, '127.0.0.1', ${a.relaySocket}, ${a.route}, ${a.hash}, '${a.kind}', ${sqlString(a.matchKey)}, '${ackBytes(a.hash)}'::BLOB, ${a.replyTo ?? 'NULL'})`),
    ...run.deviceAcks.map((d) =>
      `('relay>device', ${d.ns}, '127.0.0.1', 20500, '${deviceIp(d.device)}', ${DEVICE_PORT}, 20500, ${d.hash}, '${d.kind}', ${sqlString(d.matchKey)}, '${ackBytes(d.hash)}'::BLOB, NULL)`),
  ];
  await store.exec(
    `INSERT INTO observations BY NAME
     SELECT $run_id AS run_id, leg, ts_ns, src_ip, src_port, dst_ip, dst_port, route_port, 19 AS payload_bytes, payload_hash,
            kind, match_key, CASE WHEN leg LIKE 'relay>%' AND leg <> 'relay>device' THEN 'backend:' || split_part(leg, '>', 2) ELSE 'tap:relay' END AS observer,
            payload, reply_to_hash
     FROM (VALUES ${observations.join(', ')}) o(leg, ts_ns, src_ip, src_port, dst_ip, dst_port, route_port, payload_hash, kind, match_key, payload, reply_to_hash)`,
    { run_id: runId },
  );
  await finishRun(store, runId, 'completed', BigInt(T0 + 2 * ACK_WINDOW_NS));
}

const asNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

describe('the correlation agrees with an independent model of its rules', () => {
  const cases = [
    [1, true, 'sends', MIRRORED],
    [2, false, 'sends', MIRRORED],
    [3, true, 'recorded', MIRRORED],
    [4, false, 'recorded', MIRRORED],
    [5, true, 'sends', FANNED_OUT],
    [6, false, 'recorded', FANNED_OUT],
  ] as const;
  for (const [seed, keyed, uplink, fleet] of cases) {
    const what = keyed ? 'requests keyed by a wrapping sequence number' : 'opaque requests with no match key';
    const seen = uplink === 'sends' ? 'as a replay sent it' : 'as a recording saw it';
    it(`seed ${seed}: ${fleet.backends.join(', ')}; ${what}; the uplink ${seen}`, async () => {
      const run = generate(seed, keyed, fleet);
      const modelled = model(run);
      const expected: ExpectedRow[] = modelled.map(({ route: _route, wants_ack: _wants, sent_ns: _sent, ack_ns: _ack, device_ack_ns: _device, ...row }) => row);
      // The run has what the rules are about (else the comparison proves little).
      expect(expected.filter((r) => r.reordered === true).length).toBeGreaterThan(0);
      expect(expected.filter((r) => r.ack_match === false).length).toBeGreaterThan(0);
      expect(expected.filter((r) => r.acked === false).length).toBeGreaterThan(0);
      expect(expected.filter((r) => !r.delivered).length).toBeGreaterThan(0);
      expect(expected.filter((r) => r.one_sided_ack === true).length).toBeGreaterThan(0);
      await withTempDir(async (dir) => {
        await withStore(join(dir, 'oracle.duckdb'), async (store) => {
          await write(store, 'oracle', run, uplink);
          // Odd seeds judge the packets a few at a time (05c's slices), even ones all at once: the same rows either way.
          const analysis = await analyseRun(store, 'oracle', seed % 2 === 1 ? { uplinksPerSlice: 7n } : {});
          const rows = await store.query(
            `SELECT uplink_id, backend, delivered, received_ns, reordered, acked, ack_kind, ack_hash, ack_match,
                    device_acked, device_ack_hash, device_ack_match, one_sided_ack
             FROM packet_parity ORDER BY uplink_id, backend`,
          );
          const actual = rows.map((row) => ({
            uplink_id: Number(row.uplink_id),
            backend: row.backend as Backend,
            delivered: row.delivered as boolean,
            received_ns: asNumber(row.received_ns),
            reordered: row.reordered as boolean | null,
            acked: row.acked as boolean | null,
            ack_kind: row.ack_kind as string | null,
            ack_hash: asNumber(row.ack_hash),
            ack_match: row.ack_match as boolean | null,
            device_acked: row.device_acked as boolean | null,
            device_ack_hash: asNumber(row.device_ack_hash),
            device_ack_match: row.device_ack_match as boolean | null,
            one_sided_ack: row.one_sided_ack as boolean | null,
          }));
          expect(actual).toEqual(expected);
          // And the metrics the verdict is judged on, from the model's rows.
          const computed = new Map(analysis.metrics.map((m) => [`${m.metric}|${m.route}|${m.backend}`, m.value]));
          const wanted = modelMetrics(run.fleet, modelled, run);
          expect([...wanted.keys()].filter((key) => !computed.has(key))).toEqual([]);
          // The run has backends' second answers to judge, and devices told what they had not asked.
          expect([...wanted].filter(([key, value]) => key.startsWith('extra_acks|null|') && (value ?? 0) > 0).length).toBeGreaterThan(0);
          expect(wanted.get('unasked_acks|null|null')).toBeGreaterThan(0);
          // And answers to requests no backend received, each backend's, some too early to count.
          const unasked = unaskedAnswers(run);
          expect(new Set(unasked.map((a) => a.backend))).toEqual(new Set(run.fleet.backends));
          expect(unasked.some((a) => a.ns < T0 + 1000)).toBe(false);
          expect(wanted.get('junk_to_devices|null|null')).toBeGreaterThan(0);
          for (const [key, value] of wanted) {
            const got = computed.get(key);
            if (value === null || got === null || got === undefined) expect([key, got ?? null]).toEqual([key, value]);
            else expect([key, got]).toEqual([key, expect.closeTo(value, 9)]);
          }
        });
      });
    });
  }
});
