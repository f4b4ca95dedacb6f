/**
 * The payload hash that follows an uplink packet across legs (docs/architecture.md, Data model). Every writer of observations
 * (importer, replayer, backends, taps) uses this one function, so hashes compare across processes and runs.
 *
 * It is a 53-bit non-cryptographic hash (two 32-bit multiply-xorshift lanes, after cyrb53): it fits a JS number
 * exactly and a DuckDB BIGINT, costs ~1 ns a byte, and needs no allocation. Collisions between distinct payloads of one
 * run are harmless: the occurrence index and the route port also take part in correlation.
 */
export function payloadHash(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h1 = 0xdeadbeef ^ (end - start);
  let h2 = 0x41c6ce57 ^ (end - start);
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    h1 = Math.imul(h1 ^ byte, 2654435761);
    h2 = Math.imul(h2 ^ byte, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
