/**
 * The store keeps every time as nanoseconds since the epoch in a signed 64-bit integer: from 1970 (nothing a capture
 * or a log records is older) to April 2262. Capture formats and logs can name times outside that, by damage or by a
 * clock set wrong; such a time is unreadable here, like one that does not parse, never wrapped or left for DuckDB's
 * write to refuse.
 */
export const LAST_STORABLE_NS = 2n ** 63n - 1n;

/** The last whole second whose every nanosecond is storable. */
export const LAST_STORABLE_SEC = Number(LAST_STORABLE_NS / 1_000_000_000n) - 1;

/** The same in milliseconds, to test a number before it is scaled (or turned into a BigInt). */
export const LAST_STORABLE_MS = Number(LAST_STORABLE_NS / 1_000_000n);

export const STORABLE_RANGE = '1970-2262';

export function isStorableNs(ns: bigint): boolean {
  return ns >= 0n && ns <= LAST_STORABLE_NS;
}
