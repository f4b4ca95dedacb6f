import { UsageError } from '../core/errors.ts';
import { calampLmd } from './calamp-lmd.ts';
import { generic } from './generic.ts';
import { PROTOCOL_NAMES, type DeviceProtocol, type ProtocolName } from './protocol.ts';
import { teltonikaUdp } from './teltonika-udp.ts';

const PROTOCOLS: Record<ProtocolName, DeviceProtocol> = {
  'calamp-lmd': calampLmd,
  'teltonika-udp': teltonikaUdp,
  generic,
};

export function isProtocolName(name: string): name is ProtocolName {
  return (PROTOCOL_NAMES as readonly string[]).includes(name);
}

/** The protocol of that name, or a usage error listing the known ones. */
export function getProtocol(name: string): DeviceProtocol {
  if (!isProtocolName(name)) throw new UsageError(`unknown protocol "${name}" (known: ${PROTOCOL_NAMES.join(', ')})`, { field: 'protocol' });
  return PROTOCOLS[name];
}

export { PROTOCOL_NAMES, type DeviceProtocol, type ProtocolName } from './protocol.ts';
