import { dgramIo } from '../../src/core/udp-io/dgram-io.ts';
import { nativeIo } from '../../src/core/udp-io/native-io.ts';
import type { DatagramPath } from '../../src/core/udp-io/datagram-socket.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';

/** Both of the relay's datagram paths where the C one is built (test/relay/relay-io.test.ts says when it must be). */
export function relayIoPaths(): DatagramPath[] {
  const io = loadUdpIo();
  return io === undefined ? [dgramIo] : [nativeIo(io), dgramIo];
}
