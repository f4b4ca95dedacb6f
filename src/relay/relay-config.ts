import type { DeviceProtocol } from '../protocols/protocol.ts';

/**
 * The relay's configuration as the dual-mirroring spec writes it (routes.json, config.yaml), plus the fan-out spec's
 * N-way targets, primary index, per-target enabled flags and kill switch. Raw files are parsed into `RoutesFile` and
 * `AppConfig`, then resolved into one immutable `RelayConfig` that the data plane reads.
 */

/** routes.json, as written. */
export interface RoutesFile {
  mirror?: boolean;
  mirror_ip?: string;
  ack_from_mirror?: boolean;
  /** Fan-out spec: disable every backend; the relay keeps listening and counts what it drops. */
  kill_switch?: boolean;
  /** A label for this version of the file, shown at /debug/config. */
  version?: string;
  routes: RouteEntry[];
}

export interface RouteEntry {
  port: number;
  target?: string;
  customer?: string;
  Device?: string;
  /**
   * The devices' protocol on this port (calamp-lmd, teltonika-udp, generic). With it the relay knows which datagrams
   * expect no reply (unacknowledged reports, junk that does not decode) and sends them without holding a binding
   * open for an ACK that will never come. Without it every datagram may be answered, as the spec reads.
   */
  protocol?: string;
  mirror?: boolean;
  mirror_ip?: string;
  ack_from_mirror?: boolean;
  /** N-way fan-out: more than two backends, one of which (primary_index) answers the device. */
  targets?: { ip: string; enabled?: boolean }[];
  primary_index?: number;
}

/** config.yaml's `app` section. */
export interface AppConfig {
  bind_ip: string;
  response_timeout_ms: number;
  routes_file?: string;
  mirror_ip?: string;
  debug_port?: number;
  /**
   * Each socket's kernel receive and send buffer, in bytes (the kernel doubles it), and what a socket may hold waiting
   * to leave beyond that before a send fails (no_buffer): the relay's bound on what it keeps for a slow backend.
   */
  socket_buffer_bytes?: number;
}

/** Socket buffers sized for bursts (the kernel default of 208 KiB drops at ~50k packets/s). */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export const DEFAULT_APP_CONFIG: AppConfig = { bind_ip: '0.0.0.0', response_timeout_ms: 2000 };

export type BackendType = 'primary' | 'mirror' | `target-${number}`;

/** One backend of a resolved route. */
export interface ResolvedBackend {
  type: BackendType;
  ip: string;
  enabled: boolean;
  /** This backend's reply is relayed to the device; the others are fire-and-forget. */
  ack: boolean;
}

export interface ResolvedRoute {
  port: number;
  customer: string;
  device: string;
  /** Decides which datagrams expect a reply; undefined: all of them may. */
  protocol: DeviceProtocol | undefined;
  mirror: boolean;
  ackSource: BackendType;
  backends: ResolvedBackend[];
}

/** The whole configuration the data plane uses; replaced atomically, never mutated. */
export interface RelayConfig {
  bindIp: string;
  responseTimeoutMs: number;
  /** For sockets opened from this version on (app.socket_buffer_bytes). */
  socketBufferBytes: number;
  killSwitch: boolean;
  mode: 'single' | 'parallel';
  label: string | undefined;
  routes: ReadonlyMap<number, ResolvedRoute>;
}
