/** Integers as headers carry them: network byte order, and little-endian where a capture format says so. */

export function readU16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (readU16(bytes, at) * 65536 + readU16(bytes, at + 2)) >>> 0;
}

export function readU16Le(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) | ((bytes[at + 1] as number) << 8);
}

export function readU32Le(bytes: Uint8Array, at: number): number {
  return (readU16Le(bytes, at) + readU16Le(bytes, at + 2) * 65536) >>> 0;
}
