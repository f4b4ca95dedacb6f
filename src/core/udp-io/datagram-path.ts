import { RelayConfigError } from '../errors.ts';
import { dgramIo } from './dgram-io.ts';
import { nativeIo } from './native-io.ts';
import type { DatagramPath } from './datagram-socket.ts';
import { loadUdpIo, UDP_IO_PATH } from './udp-io.ts';

export const IO_CHOICES = ['auto', 'native', 'dgram'] as const;
export type IoChoice = (typeof IO_CHOICES)[number];

/**
 * The relay's datagram path: `native` (udp-io.c, built by `npm install` where a C compiler is present), `dgram`
 * (Node's), or `auto`, the native one where it is built.
 */
export function datagramPath(choice: IoChoice): DatagramPath {
  if (choice === 'dgram') return dgramIo;
  const io = loadUdpIo();
  if (io !== undefined) return nativeIo(io);
  if (choice === 'auto') return dgramIo;
  throw new RelayConfigError(`--io native: ${UDP_IO_PATH} is not built (npm run build:native builds it; it needs a C compiler)`, { field: 'io' });
}
