/** Where a datagram of packet n on `leg` goes from and to: ten devices, a relay at 10.255.0.1, the primary and the mirror. */
export interface LegEndpoints {
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

/**
 * The addresses of packet n's datagram on `leg` through a relay on `route`: device 10.1.0.(1 + n % 10), the relay's
 * upstream socket 40000 + n % 10 (one a device), the primary at 10.9.0.2 and the mirror at 10.9.0.3.
 */
export function legEndpoints(leg: string, n: number, route: number): LegEndpoints {
  const device = { ip: `10.1.0.${1 + (n % 10)}`, port: 30_000 + (n % 10) };
  const relay = { ip: '10.255.0.1', upstream: 40_000 + (n % 10) };
  const backendIp = leg.includes('mirror') ? '10.9.0.3' : '10.9.0.2';
  if (leg === 'device>relay') return { srcIp: device.ip, srcPort: device.port, dstIp: relay.ip, dstPort: route };
  if (leg === 'relay>device') return { srcIp: relay.ip, srcPort: route, dstIp: device.ip, dstPort: device.port };
  if (leg.endsWith('>relay')) return { srcIp: backendIp, srcPort: route, dstIp: relay.ip, dstPort: relay.upstream };
  return { srcIp: relay.ip, srcPort: relay.upstream, dstIp: backendIp, dstPort: route };
}
