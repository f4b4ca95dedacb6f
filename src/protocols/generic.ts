import type { DecodedMessage, DeviceProtocol } from './protocol.ts';

/**
 * Opaque payloads: nothing is known of them. Every message may want a reply; the ACK is the first reply on the same
 * flow within the timeout, and two backends' replies are compared byte for byte. A simulated server answers `ACK`
 * followed by the first 16 bytes of the request, so its replies tie to requests and differ when requests do.
 */
const ECHO_BYTES = 16;

function decode(payload: Uint8Array): DecodedMessage {
  return { kind: 'opaque', wantsAck: true, matchKey: undefined, deviceId: undefined, fields: { bytes: payload.length } };
}

export const generic: DeviceProtocol = {
  name: 'generic',
  decode,
  decodeAck: decode,
  buildAck: (request) => Uint8Array.from([...Buffer.from('ACK'), ...request.subarray(0, ECHO_BYTES)]),
  defaultIgnoredAckFields: [],
  ackFieldLabels: {},
};
