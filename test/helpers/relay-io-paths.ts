import { dgramIo } from '../../src/relay/io/dgram-io.ts';
import { nativeIo } from '../../src/relay/io/native-io.ts';
import type { RelayIo } from '../../src/relay/io/relay-socket.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';

/** Both of the relay's datagram paths where the C one is built (test/relay/relay-io.test.ts says when it must be). */
export function relayIoPaths(): RelayIo[] {
  const io = loadUdpIo();
  return io === undefined ? [dgramIo] : [nativeIo(io), dgramIo];
}
