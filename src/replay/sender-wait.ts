import { UsageError } from '../core/errors.ts';
import { loadUdpIo, udpIoMissing, UDP_IO_PATH } from '../core/udp-io/udp-io.ts';

export const SENDER_WAITS = ['auto', 'park', 'spin'] as const;

/** How a sending thread is to wait between sends (thread-clock.js, `parkWaits`); undefined: it spins. */
export interface SenderPark {
  addonPath: string;
  /** Parked even where the thread cannot be made real-time (PARITY_SENDER_WAIT=park). */
  always: boolean;
}

/**
 * How the sending threads wait between sends: PARITY_SENDER_WAIT `auto` (the default: parked, as real-time threads,
 * where the C datagram path is built and the system allows real-time threads; spun otherwise), `park` (parked even as
 * ordinary threads; an error without the addon) or `spin`. A parked thread gives its CPU back between sends and is
 * woken by the kernel shortly before each; a spinning one holds a core whatever the rate.
 */
export function senderPark(): SenderPark | undefined {
  const asked = process.env.PARITY_SENDER_WAIT;
  if (asked !== undefined && asked !== '' && !(SENDER_WAITS as readonly string[]).includes(asked)) {
    throw new UsageError(`PARITY_SENDER_WAIT: "${asked}" is not one of ${SENDER_WAITS.join(', ')}`, { field: 'PARITY_SENDER_WAIT' });
  }
  if (asked === 'spin') return undefined;
  if (loadUdpIo() !== undefined) return { addonPath: UDP_IO_PATH, always: asked === 'park' };
  if (asked === 'park') throw new UsageError(`PARITY_SENDER_WAIT=park: ${udpIoMissing}`, { field: 'PARITY_SENDER_WAIT' });
  return undefined;
}
