/**
 * What the harness knows about a device protocol: how to read a device's message and a server's ACK, how a server
 * builds the ACK, and how two backends' ACKs are compared field by field.
 */

export type FieldValue = string | number | boolean;

/** A payload, decoded. Malformed payloads decode to kind `unparsed` with a `reason`; decoding never throws. */
export interface DecodedMessage {
  /** e.g. `event-report`, `ack`, `nak`, `avl-data`, `opaque`, `unparsed`. */
  kind: string;
  /** The sender expects an ACK for this message. */
  wantsAck: boolean;
  /**
   * Ties an ACK to its request within one device's flow: a request and the ACK that answers it decode to the same key
   * (CalAmp: the sequence number; Teltonika: packet id and AVL packet id). Undefined when the protocol has none: the
   * ACK is then the first reply on the flow.
   */
  matchKey: string | undefined;
  /** The device's own identity where the message carries it (CalAmp mobile ID, Teltonika IMEI). */
  deviceId: string | undefined;
  fields: Record<string, FieldValue>;
  reason?: string;
}

/** How a simulated server shapes its ACK. */
export interface AckOptions {
  /** Application version a CalAmp server reports, as three numbers `a.b.c`. */
  appVersion?: readonly [number, number, number];
  /** Answer with a NAK (with this reason code) instead of an ACK. */
  nakReason?: number;
}

/** One field in which two backends' ACKs to the same request differ. */
export interface FieldDifference {
  field: string;
  /** Human name, e.g. "app version". */
  label: string;
  primary: string;
  mirror: string;
}

export interface DeviceProtocol {
  readonly name: ProtocolName;
  /** Decodes a device's uplink message. */
  decode(payload: Uint8Array): DecodedMessage;
  /** Decodes a server's reply to a device. */
  decodeAck(payload: Uint8Array): DecodedMessage;
  /** The ACK a server sends for `request`, or undefined when the request wants none. */
  buildAck(request: Uint8Array, options?: AckOptions): Uint8Array | undefined;
  /** ACK fields that may differ between two backends without being a mismatch. */
  readonly defaultIgnoredAckFields: readonly string[];
  /** Human names of ACK fields, for findings ("app version differs"). */
  readonly ackFieldLabels: Readonly<Record<string, string>>;
}

export const PROTOCOL_NAMES = ['calamp-lmd', 'teltonika-udp', 'generic'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

export function unparsed(reason: string): DecodedMessage {
  return { kind: 'unparsed', wantsAck: false, matchKey: undefined, deviceId: undefined, fields: {}, reason };
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Compares two ACKs field by field after the ignore-mask; byte-blind comparison would call every ACK a mismatch
 * the moment two servers differ in a field nobody cares about.
 */
export function compareAcks(
  protocol: DeviceProtocol,
  primary: Uint8Array,
  mirror: Uint8Array,
  ignoredFields: readonly string[] = protocol.defaultIgnoredAckFields,
): FieldDifference[] {
  const a = protocol.decodeAck(primary);
  const b = protocol.decodeAck(mirror);
  if (a.kind === 'unparsed' || b.kind === 'unparsed' || a.kind === 'opaque' || b.kind === 'opaque') {
    if (Buffer.compare(Buffer.from(primary), Buffer.from(mirror)) === 0) return [];
    return [{ field: 'bytes', label: 'bytes', primary: toHex(primary), mirror: toHex(mirror) }];
  }
  const differences: FieldDifference[] = [];
  if (a.kind !== b.kind) differences.push({ field: 'kind', label: 'ACK/NAK', primary: a.kind, mirror: b.kind });
  const names = new Set([...Object.keys(a.fields), ...Object.keys(b.fields)]);
  for (const field of names) {
    if (ignoredFields.includes(field)) continue;
    const left = a.fields[field];
    const right = b.fields[field];
    if (left !== right) {
      differences.push({ field, label: protocol.ackFieldLabels[field] ?? field, primary: String(left ?? '-'), mirror: String(right ?? '-') });
    }
  }
  return differences;
}
