import { UsageError } from '../errors.ts';
import { dgramIo } from './dgram-io.ts';
import { nativeIo } from './native-io.ts';
import type { DatagramPath } from './datagram-socket.ts';
import { loadUdpIo, udpIoMissing } from './udp-io.ts';

/**
 * The native path, made once per process: its 4 MB read slab and its address caches serve every socket (a batch is
 * handed out before the next read), where each tap and each simulated backend made its own.
 */
let native: DatagramPath | undefined;

export const IO_CHOICES = ['auto', 'native', 'dgram'] as const;
export type IoChoice = (typeof IO_CHOICES)[number];

/**
 * The datagram path asked for where no flag says: PARITY_UDP_IO (auto, native or dgram), for every process of a run
 * (the relay without --io, the replayer's devices, the inline taps); auto when unset.
 */
export function ioChoiceFromEnv(): IoChoice {
  const asked = process.env.PARITY_UDP_IO;
  if (asked === undefined || asked === '') return 'auto';
  if ((IO_CHOICES as readonly string[]).includes(asked)) return asked as IoChoice;
  throw new UsageError(`PARITY_UDP_IO: "${asked}" is not one of ${IO_CHOICES.join(', ')}`, { field: 'PARITY_UDP_IO' });
}

/**
 * A datagram path: `native` (udp-io.c, built by `npm install` where a C compiler is present), `dgram` (Node's), or
 * `auto`, the native one where it is built.
 */
export function datagramPath(choice: IoChoice): DatagramPath {
  if (choice === 'dgram') return dgramIo;
  const io = loadUdpIo();
  if (io !== undefined) return (native ??= nativeIo(io));
  if (choice === 'auto') return dgramIo;
  throw new UsageError(`the native datagram path: ${udpIoMissing}`, { field: 'io' });
}
