import { unparsed, type AckOptions, type DecodedMessage, type DeviceProtocol, type FieldValue } from './protocol.ts';

/**
 * CalAmp LMDirect over UDP (big-endian). An optional options header (when bit 7 of byte 0 is set) carries the mobile
 * ID and other fields, each a length byte then that many bytes; then the message header: service type, message type,
 * sequence number (u16). The server's ACK is 10 bytes with no options header:
 * `02 01 <seq u16> <type being acked> <0 = ACK, else NAK reason> 00 <app version, 3 bytes>`.
 */

const OPTIONS_PRESENT = 0x80;
/** Options header flag bits 0-5, in the order their fields follow. */
const OPTION_FIELDS = ['mobileId', 'mobileIdType', 'authentication', 'routing', 'forwarding', 'responseRedirection'] as const;

export const ServiceType = { Unacknowledged: 0, Acknowledged: 1, Response: 2 } as const;

const MESSAGE_TYPES: Record<number, string> = {
  0: 'null',
  1: 'ack-nak',
  2: 'event-report',
  3: 'id-report',
  4: 'user-data',
  5: 'application-data',
  6: 'configuration-parameter',
  7: 'unit-request',
  8: 'locate-report',
  9: 'user-data-with-accumulators',
  10: 'mini-event-report',
  11: 'mini-user-data',
  12: 'mini-application',
  13: 'device-version',
  14: 'application-message-with-accumulators',
};

const MESSAGE_TYPE_ACK_NAK = 1;
const ACK_BYTES = 10;

const ACK_FIELD_LABELS: Record<string, string> = {
  sequence: 'sequence number',
  ackedType: 'message type acknowledged',
  status: 'ACK/NAK status',
  spare: 'spare byte',
  appVersion: 'app version',
};

/** Mobile IDs are packed BCD, two digits a byte, padded with F nibbles. */
function decodeBcd(bytes: Uint8Array): string {
  let digits = '';
  for (const byte of bytes) {
    for (const nibble of [byte >> 4, byte & 0x0f]) {
      if (nibble === 0x0f) continue;
      digits += nibble < 10 ? String(nibble) : nibble.toString(16);
    }
  }
  return digits;
}

function decodeRequest(payload: Uint8Array): DecodedMessage {
  let at = 0;
  const fields: Record<string, FieldValue> = {};
  let deviceId: string | undefined;
  if (payload.length > 0 && ((payload[0] as number) & OPTIONS_PRESENT) !== 0) {
    const flags = payload[0] as number;
    at = 1;
    for (let bit = 0; bit < OPTION_FIELDS.length; bit++) {
      if ((flags & (1 << bit)) === 0) continue;
      const name = OPTION_FIELDS[bit] as string;
      if (at >= payload.length) return unparsed(`options header ends before the ${name} length (byte ${at})`);
      const length = payload[at] as number;
      if (at + 1 + length > payload.length) return unparsed(`${name} of ${length} bytes runs past the payload (byte ${at})`);
      const value = payload.subarray(at + 1, at + 1 + length);
      if (name === 'mobileId') {
        deviceId = decodeBcd(value);
        fields.mobileId = deviceId;
      } else if (name === 'mobileIdType') {
        fields.mobileIdType = value[0] ?? 0;
      } else {
        fields[name] = Buffer.from(value).toString('hex');
      }
      at += 1 + length;
    }
  }
  if (payload.length - at < 4) return unparsed(`message header needs 4 bytes at byte ${at}, ${payload.length - at} left`);
  const serviceType = payload[at] as number;
  const messageType = payload[at + 1] as number;
  const sequence = ((payload[at + 2] as number) << 8) | (payload[at + 3] as number);
  fields.serviceType = serviceType;
  fields.messageType = messageType;
  fields.sequence = sequence;
  if (serviceType > ServiceType.Response) return unparsed(`service type ${serviceType} is not 0, 1 or 2`);
  if (messageType === MESSAGE_TYPE_ACK_NAK) {
    if (payload.length - at < ACK_BYTES) return unparsed(`ACK/NAK message of ${payload.length - at} bytes, expected ${ACK_BYTES}`);
    const status = payload[at + 5] as number;
    fields.ackedType = payload[at + 4] as number;
    fields.status = status;
    fields.spare = payload[at + 6] as number;
    fields.appVersion = `${payload[at + 7]}.${payload[at + 8]}.${payload[at + 9]}`;
    return { kind: status === 0 ? 'ack' : 'nak', wantsAck: false, matchKey: `seq:${sequence}`, deviceId, fields };
  }
  return {
    kind: MESSAGE_TYPES[messageType] ?? `message-type-${messageType}`,
    wantsAck: serviceType === ServiceType.Acknowledged,
    matchKey: `seq:${sequence}`,
    deviceId,
    fields,
  };
}

function buildAck(request: Uint8Array, options: AckOptions = {}): Uint8Array | undefined {
  const decoded = decodeRequest(request);
  if (!decoded.wantsAck) return undefined;
  const sequence = decoded.fields.sequence as number;
  const [major, minor, patch] = options.appVersion ?? [0, 0, 0];
  return Uint8Array.from([
    ServiceType.Response,
    MESSAGE_TYPE_ACK_NAK,
    sequence >> 8,
    sequence & 0xff,
    decoded.fields.messageType as number,
    options.nakReason ?? 0,
    0,
    major,
    minor,
    patch,
  ]);
}

export const calampLmd: DeviceProtocol = {
  name: 'calamp-lmd',
  decode: decodeRequest,
  decodeAck: decodeRequest,
  buildAck,
  defaultIgnoredAckFields: ['spare'],
  ackFieldLabels: ACK_FIELD_LABELS,
};

/** Builds a CalAmp message with an options header (mobile ID as BCD, its type) and a message header. */
export function buildCalampMessage({
  mobileId,
  mobileIdType = 1,
  serviceType,
  messageType,
  sequence,
  body,
}: {
  mobileId: string;
  mobileIdType?: number;
  serviceType: number;
  messageType: number;
  sequence: number;
  body: Uint8Array;
}): Uint8Array {
  const digits = mobileId.length % 2 === 0 ? mobileId : `${mobileId}f`;
  const bcd = Buffer.from(digits, 'hex');
  return Uint8Array.from([
    0x83,
    bcd.length,
    ...bcd,
    1,
    mobileIdType,
    serviceType,
    messageType,
    (sequence >> 8) & 0xff,
    sequence & 0xff,
    ...body,
  ]);
}
