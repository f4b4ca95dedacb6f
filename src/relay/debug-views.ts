import { quantile } from '../core/stats.ts';
import type { BackendSeries } from './relay-metrics.ts';
import type { Relay } from './relay.ts';

/** A backend as the fan-out spec's /debug/targets lists it: one entry per target address and role. */
interface TargetView {
  url: string;
  role: string;
  enabled: boolean;
  state: 'connected' | 'disabled' | 'failing' | 'idle';
  counters: { sent: number; failed: number; acked: number; dropped: number; timeouts: number };
  /** Datagrams waiting to be sent to this target. */
  queueSize: number;
  /** Requests sent to this target still waiting for its ACK. */
  waitingAcks: number;
  lastSendOkMs: number | null;
  lastAckLatencyMs: number | null;
  lastError: string | null;
  /** Outcomes over the last 30 s: health tells the present, lifetime totals are in `counters` and /metrics. */
  recent: { ok: number; failed: number };
  /** Kernel-reported errors (ICMP unreachable...), by reason. */
  errors: Record<string, number>;
}

const FAILED: readonly (keyof BackendSeries['counts'])[] = ['dial_failed', 'write_failed', 'read_failed'];

function targetViews(relay: Relay): TargetView[] {
  const enabled = new Map<string, boolean>();
  for (const route of relay.config.routes.values()) {
    for (const backend of route.backends) enabled.set(`${backend.type}|${backend.ip}`, backend.enabled && !relay.config.killSwitch);
  }
  const views = new Map<string, TargetView>();
  for (const s of relay.metrics.allSeries()) {
    const key = `${s.backendType}|${s.target}`;
    let view = views.get(key);
    if (view === undefined) {
      view = {
        url: `udp://${s.target}`,
        role: s.backendType,
        enabled: enabled.get(key) ?? false,
        state: 'idle',
        counters: { sent: 0, failed: 0, acked: 0, dropped: 0, timeouts: 0 },
        queueSize: relay.sendQueueSize(s.target),
        waitingAcks: 0,
        lastSendOkMs: null,
        lastAckLatencyMs: null,
        lastError: null,
        recent: { ok: 0, failed: 0 },
        errors: {},
      };
      views.set(key, view);
    }
    const recent = s.recent();
    view.recent.ok += recent.ok;
    view.recent.failed += recent.failed;
    for (const [reason, n] of s.errors) view.errors[reason] = (view.errors[reason] ?? 0) + n;
    const failed = FAILED.reduce((sum, status) => sum + s.counts[status], 0);
    // Every packet handed to this backend: ACK-waited or fire-and-forget, whatever came (or is still to come) of it.
    view.counters.sent += s.issued;
    view.counters.failed += failed;
    view.counters.acked += s.counts.success;
    view.counters.dropped += s.dropped;
    view.counters.timeouts += s.counts.timeout;
    view.waitingAcks += s.inFlight;
    view.lastSendOkMs = Math.max(view.lastSendOkMs ?? 0, s.lastSendOkMs ?? 0) || null;
    view.lastAckLatencyMs = s.lastAckLatencyMs ?? view.lastAckLatencyMs;
    view.lastError = s.lastError ?? view.lastError;
  }
  for (const view of views.values()) {
    if (!view.enabled) view.state = 'disabled';
    else if (view.recent.failed > 0 && view.recent.failed >= view.recent.ok) view.state = 'failing';
    else if (view.recent.ok === 0 && view.recent.failed === 0) view.state = view.counters.sent === 0 ? 'idle' : 'connected';
    else view.state = 'connected';
  }
  return [...views.values()];
}

export function targetsView(relay: Relay): unknown {
  const targets = targetViews(relay);
  // The target that answers devices on the most routes, as an index into `targets` (the spec's single primary).
  const ackVotes = new Map<string, number>();
  for (const route of relay.config.routes.values()) {
    const ack = route.backends.find((b) => b.ack);
    if (ack !== undefined) ackVotes.set(`${ack.type}|${ack.ip}`, (ackVotes.get(`${ack.type}|${ack.ip}`) ?? 0) + 1);
  }
  const [winner] = [...ackVotes.entries()].sort((a, b) => b[1] - a[1]);
  const primaryIndex = winner === undefined ? -1 : targets.findIndex((t) => `${t.role}|${t.url.slice('udp://'.length)}` === winner[0]);
  return { targets, mode: relay.config.mode, primaryIndex, killSwitch: relay.config.killSwitch };
}

export function parityView(relay: Relay): unknown {
  const targets = targetViews(relay);
  const latencies = relay.metrics.recentAckLatenciesMs;
  return {
    totalSent: targets.reduce((sum, t) => sum + t.counters.sent, 0),
    totalAcked: targets.reduce((sum, t) => sum + t.counters.acked, 0),
    totalFailed: targets.reduce((sum, t) => sum + t.counters.failed, 0),
    totalDropped: targets.reduce((sum, t) => sum + t.counters.dropped, 0),
    ackLatency: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), samples: latencies.length },
    perTarget: targets.map((t) => ({ url: t.url, role: t.role, sent: t.counters.sent, acked: t.counters.acked })),
    // Beyond the spec: what the relay could not take in (its listeners' kernel drops), so no backend is blamed for it.
    receiveDrops: relay.listenerDrops(),
  };
}

export function healthView(relay: Relay, version: string): unknown {
  const failing = targetViews(relay).some((t) => t.state === 'failing');
  return {
    status: relay.config.killSwitch ? 'kill_switch' : failing ? 'degraded' : 'healthy',
    killSwitch: relay.config.killSwitch,
    mode: relay.config.mode,
    version,
    configVersion: relay.current.version,
    upstreamSockets: relay.openUpstreamSockets,
    reservedUpstreamSockets: relay.reservedUpstreamSockets,
    io: relay.io.kind,
    upstreamSocketBudget: relay.upstreamSocketBudget,
    waitingAcks: relay.waitingForAcks,
    rssBytes: process.memoryUsage().rss,
    ports: relay.ports,
  };
}

export function configView(relay: Relay): unknown {
  return {
    version: relay.current.version,
    label: relay.current.label ?? null,
    source: relay.current.source,
    loadedAt: relay.current.loadedAt,
    lastRejection: relay.lastRejection,
    killSwitch: relay.config.killSwitch,
    responseTimeoutMs: relay.config.responseTimeoutMs,
    socketBufferBytes: relay.config.socketBufferBytes,
    routes: [...relay.config.routes.values()].map((route) => ({ ...route, protocol: route.protocol?.name ?? null })),
  };
}
