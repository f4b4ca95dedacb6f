import { datagramPath } from '../../src/core/udp-io/datagram-path.ts';
import type { DatagramPath } from '../../src/core/udp-io/datagram-socket.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';

/** Both of the relay's datagram paths where the C one is built (test/relay/relay-io.test.ts says when it must be). */
export function relayIoPaths(): DatagramPath[] {
  return loadUdpIo() === undefined ? [datagramPath('dgram')] : [datagramPath('native'), datagramPath('dgram')];
}
