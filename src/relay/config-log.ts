import type { RelayConfig } from './relay-config.ts';
import type { RelayLog } from './relay-log.ts';

/**
 * The spec's log lines for a configuration applied: `config_loaded` or `config_reloaded` with what changed, and
 * `mirror_enabled` for each mirrored route that is new (every one, at the first load).
 */
export function logConfigApplied(log: RelayLog, version: number, config: RelayConfig, change: { source: string; added: readonly number[]; removed: readonly number[] }): void {
  const { source, added, removed } = change;
  log('info', version === 1 ? 'config_loaded' : 'config_reloaded', {
    version,
    label: config.label ?? null,
    source,
    routes: config.routes.size,
    added_ports: added,
    removed_ports: removed,
    kill_switch: config.killSwitch,
  });
  for (const route of config.routes.values()) {
    if (!route.mirror || (!added.includes(route.port) && version > 1)) continue;
    const primary = route.backends.find((b) => b.type === 'primary' || b.type === 'target-0');
    const mirror = route.backends.find((b) => b.type === 'mirror');
    log('info', 'mirror_enabled', {
      port: route.port,
      primary_target: primary?.ip ?? null,
      mirror_ip: mirror?.ip ?? route.backends.filter((b) => !b.ack).map((b) => b.ip).join(','),
      ack_source: route.ackSource,
    });
  }
}
