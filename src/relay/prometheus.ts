import { LATENCY_BUCKETS_MS, RELAY_STATUSES, type BackendSeries } from './relay-metrics.ts';
import type { Relay } from './relay.ts';

function labels(series: BackendSeries, extra: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    port: String(series.port),
    target: series.target,
    backend_type: series.backendType,
    customer: series.customer,
    device: series.device,
    ...extra,
  };
  return Object.entries(all)
    .map(([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

/** The relay's metrics in Prometheus text exposition format 0.0.4. */
export function renderPrometheus(relay: Relay): string {
  const { metrics } = relay;
  const series = metrics.allSeries();
  const lines: string[] = [];
  const header = (name: string, type: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  header('udp_relay_packets_total', 'counter', 'Packets handled per route and backend, by status (udp_relay measurement of the dual-mirroring spec).');
  for (const s of series) {
    for (const status of RELAY_STATUSES) lines.push(`udp_relay_packets_total{${labels(s, { status })}} ${s.counts[status]}`);
  }
  header('udp_relay_latency_ms', 'histogram', 'Latency of each backend operation: ACK round trip for the ACK backend, send time for fire-and-forget.');
  for (const s of series) {
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((bound, index) => {
      cumulative += s.buckets[index] ?? 0;
      lines.push(`udp_relay_latency_ms_bucket{${labels(s, { le: String(bound) })}} ${cumulative}`);
    });
    cumulative += s.buckets[LATENCY_BUCKETS_MS.length] ?? 0;
    lines.push(`udp_relay_latency_ms_bucket{${labels(s, { le: '+Inf' })}} ${cumulative}`);
    lines.push(`udp_relay_latency_ms_sum{${labels(s)}} ${s.latencySumMs}`);
    lines.push(`udp_relay_latency_ms_count{${labels(s)}} ${s.latencyCount}`);
  }
  header('udp_relay_backend_dropped_total', 'counter', 'Packets not sent to a backend (kill switch, target disabled).');
  for (const s of series) lines.push(`udp_relay_backend_dropped_total{${labels(s)}} ${s.dropped}`);
  header('udp_relay_received_total', 'counter', 'Packets received from devices per route port.');
  for (const [port, count] of metrics.receivedByPort) lines.push(`udp_relay_received_total{port="${port}"} ${count}`);
  const receiveDrops = relay.listenerDrops();
  if (receiveDrops !== null) {
    header('udp_relay_receive_drops_total', 'counter', "Devices' datagrams the kernel dropped on arrival at the relay's listening sockets, their receive buffers full.");
    lines.push(`udp_relay_receive_drops_total ${receiveDrops}`);
  }
  header('udp_relay_device_acks_total', 'counter', 'ACKs relayed to devices per route port.');
  for (const [port, count] of metrics.deviceAcksByPort) lines.push(`udp_relay_device_acks_total{port="${port}"} ${count}`);
  header('udp_relay_dropped_total', 'counter', 'Packets the relay dropped, by reason.');
  for (const [reason, count] of metrics.droppedByReason) lines.push(`udp_relay_dropped_total{reason="${reason}"} ${count}`);
  header('udp_relay_backend_errors_total', 'counter', 'Errors the kernel reported for a backend (ICMP port or host unreachable...), by reason; not packet statuses.');
  for (const s of series) for (const [reason, count] of s.errors) lines.push(`udp_relay_backend_errors_total{target="${s.target}",backend_type="${s.backendType}",reason="${reason}"} ${count}`);
  header('udp_relay_discarded_replies_total', 'counter', 'Replies read off fire-and-forget sockets and discarded.');
  lines.push(`udp_relay_discarded_replies_total ${metrics.discardedReplies}`);
  header('udp_relay_late_replies_total', 'counter', 'ACKs that came after their request timed out: dropped, never relayed.');
  lines.push(`udp_relay_late_replies_total ${metrics.lateReplies}`);
  header('udp_relay_stray_replies_total', 'counter', 'Replies with no request pending on the device binding they came to: dropped, never relayed.');
  lines.push(`udp_relay_stray_replies_total ${metrics.strayReplies}`);
  header('udp_relay_no_reply_expected_total', 'counter', "Datagrams the route's protocol says expect no reply (unacknowledged, or not the protocol's): sent to the ACK backend without holding a binding for an answer.");
  for (const [port, count] of metrics.noReplyByPort) lines.push(`udp_relay_no_reply_expected_total{port="${port}"} ${count}`);
  header('udp_relay_refused_total', 'counter', 'Requests the relay could not send upstream, by reason (socket_budget: the whole budget in use; source_budget: the sending address holds its share; route_budget: the route holds its share; socket_error).');
  for (const [reason, count] of metrics.refusedByReason) lines.push(`udp_relay_refused_total{reason="${reason}"} ${count}`);
  header('udp_relay_evicted_bindings_total', 'counter', 'Idle device bindings closed early to make room in the socket budget.');
  lines.push(`udp_relay_evicted_bindings_total ${metrics.evictedBindings}`);
  header('udp_relay_upstream_socket_budget', 'gauge', 'Upstream sockets the relay may hold: the asked budget, below the open-file limit.');
  lines.push(`udp_relay_upstream_socket_budget ${relay.upstreamSocketBudget}`);
  header('udp_relay_upstream_sockets', 'gauge', 'Open upstream sockets: one binding per device and ACK backend, one per fire-and-forget backend.');
  lines.push(`udp_relay_upstream_sockets ${relay.openUpstreamSockets}`);
  header('udp_relay_waiting_acks', 'gauge', 'Requests waiting for an ACK (the relay queue).');
  lines.push(`udp_relay_waiting_acks ${relay.waitingForAcks}`);
  header('udp_relay_config_version', 'gauge', 'Version number of the configuration in force.');
  lines.push(`udp_relay_config_version ${relay.current.version}`);
  header('udp_relay_kill_switch', 'gauge', '1 when the kill switch is on.');
  lines.push(`udp_relay_kill_switch ${relay.config.killSwitch ? 1 : 0}`);
  return `${lines.join('\n')}\n`;
}
