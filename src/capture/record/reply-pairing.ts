import type { Endpoint } from '../../observe/udp-tap.ts';

/** Requests a tap may still see answered, per relay socket and match key: at most this many each, this many keys in all. */
const PAIRING_PER_KEY = 16;
const PAIRING_KEYS = 100_000;

interface WaitingRequest {
  hash: number;
  atNs: bigint;
  wantsAck: boolean;
}

/**
 * Ties each reply a tap relays to the request it answers, as a simulated backend does for itself: the oldest request
 * from the same relay socket with the same match key not yet answered. Without it replies are tied by match key
 * alone, and two requests sharing a key (a sequence number reused within a slow backend's answer time) pair the slow
 * side's answers with the wrong requests: a healthy backend blamed for the harness's blind spot.
 *
 * It also knows what the backend behind the tap still owes and how long its answers took, request by request: a run's
 * drain waits on those. A tap alone sees only the time since its last forward, which with several requests in flight
 * (a backend slower than a device's interval) is far shorter than the answer time: the drain stopped the tap before
 * the last answer came, and that answer read as one-sided.
 */
export class ReplyPairing {
  private readonly waiting = new Map<string, WaitingRequest[]>();
  /** Requests that want an answer and have none yet (those forgotten as too old or too many no longer count). */
  owedAnswers = 0;
  /** Requests seen that want an answer: none (a protocol without match keys), and what is owed cannot be known. */
  answersWanted = 0;
  /** The longest a paired answer took, from its request: CLOCK_MONOTONIC, as the tap read both. */
  slowestAnswerMs = 0;

  request(socket: Endpoint, matchKey: string, requestHash: number, atNs: bigint, wantsAck: boolean): void {
    const key = `${socket.ip}:${socket.port}|${matchKey}`;
    const queue = this.waiting.get(key) ?? [];
    if (queue.length >= PAIRING_PER_KEY) this.forget(queue.shift());
    queue.push({ hash: requestHash, atNs, wantsAck });
    if (wantsAck) {
      this.owedAnswers++;
      this.answersWanted++;
    }
    this.waiting.delete(key);
    this.waiting.set(key, queue);
    // The oldest keys go first: requests never answered (a backend that ignores some) must not pile up.
    if (this.waiting.size > PAIRING_KEYS) {
      const oldest = this.waiting.keys().next().value as string;
      for (const request of this.waiting.get(oldest) ?? []) this.forget(request);
      this.waiting.delete(oldest);
    }
  }

  /** The hash of the request this reply answers, if the tap saw it. */
  reply(socket: Endpoint, matchKey: string, atNs: bigint): number | undefined {
    const key = `${socket.ip}:${socket.port}|${matchKey}`;
    const queue = this.waiting.get(key);
    const request = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.waiting.delete(key);
    if (request === undefined) return undefined;
    this.forget(request);
    this.slowestAnswerMs = Math.max(this.slowestAnswerMs, Number(atNs - request.atNs) / 1e6);
    return request.hash;
  }

  private forget(request: WaitingRequest | undefined): void {
    if (request?.wantsAck === true) this.owedAnswers--;
  }
}

/**
 * One pairing per backend leg and route, for a recording of the relay's own traffic: replies on `X>relay` are tied to
 * the requests on `relay>X` of the same route. A relay may send to its primary and its mirror from one socket, so the
 * backends cannot share one. The devices' legs are not paired: the analysis ties their answers by match key alone.
 * Asked for every packet recorded: a leg is read once, then found by its name.
 */
export class BackendLegPairings {
  /** Each leg seen: its backend's pairings by route (shared by `relay>X` and `X>relay`), or null off a backend's legs. */
  private readonly byLeg = new Map<string, Map<number, ReplyPairing> | null>();
  private readonly byBackend = new Map<string, Map<number, ReplyPairing>>();

  /** The pairing a packet on this leg belongs to, or undefined on a leg that is not a backend's. */
  of(leg: string, routePort: number): ReplyPairing | undefined {
    let routes = this.byLeg.get(leg);
    if (routes === undefined) this.byLeg.set(leg, (routes = this.routesOf(leg)));
    if (routes === null) return undefined;
    let pairing = routes.get(routePort);
    if (pairing === undefined) routes.set(routePort, (pairing = new ReplyPairing()));
    return pairing;
  }

  private routesOf(leg: string): Map<number, ReplyPairing> | null {
    const [from = '', to = ''] = leg.split('>');
    let backend: string;
    if (from === 'relay' && to !== 'device') backend = to;
    else if (to === 'relay' && from !== 'device') backend = from;
    else return null;
    let routes = this.byBackend.get(backend);
    if (routes === undefined) this.byBackend.set(backend, (routes = new Map()));
    return routes;
  }
}
