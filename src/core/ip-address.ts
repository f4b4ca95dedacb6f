/**
 * IP addresses as text, the way DuckDB stores them and users type them. Capture decoding turns the same few device
 * addresses into text millions of times, so IPv4 text is cached by its 32-bit value.
 */

// A direct-mapped cache: a slot per hash of the address, overwritten on collision. No Map lookup, no eviction.
const IPV4_CACHE_SLOTS = 4096;
const ipv4CacheKeys = new Float64Array(IPV4_CACHE_SLOTS).fill(-1);
const ipv4CacheTexts: string[] = new Array<string>(IPV4_CACHE_SLOTS).fill('');

/** Dotted-quad text of the IPv4 address at `bytes[offset..offset+4)`. */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  const a = bytes[offset] ?? 0;
  const b = bytes[offset + 1] ?? 0;
  const c = bytes[offset + 2] ?? 0;
  const d = bytes[offset + 3] ?? 0;
  const key = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  const slot = (key ^ (key >>> 12) ^ (key >>> 24)) & (IPV4_CACHE_SLOTS - 1);
  if (ipv4CacheKeys[slot] === key) return ipv4CacheTexts[slot] as string;
  const text = `${a}.${b}.${c}.${d}`;
  ipv4CacheKeys[slot] = key;
  ipv4CacheTexts[slot] = text;
  return text;
}

/** RFC 5952 text of the IPv6 address at `bytes[offset..offset+16)`: lower case, longest zero run as `::`. */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[offset + 2 * i] ?? 0) << 8) | (bytes[offset + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  // RFC 5952 4.2.2: a single zero group is not shortened.
  if (bestLength < 2) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(bestStart + bestLength).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}

const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address with no leading zeros, as the relay spec's validation requires. */
export function isIpv4(text: string): boolean {
  return IPV4_PATTERN.test(text);
}

/** The 32-bit value of a dotted-quad IPv4 address; the caller has checked it with `isIpv4`. */
export function ipv4ToNumber(text: string): number {
  return text.split('.').reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

export function numberToIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** `127.20.0.0/16` -> its base and prefix length; undefined for anything but an IPv4 block of /8 to /32. */
export function parseIpv4Block(text: string): { base: string; bits: number } | undefined {
  const [base = '', bitsText = '32'] = text.split('/');
  const bits = Number(bitsText);
  return isIpv4(base) && Number.isInteger(bits) && bits >= 8 && bits <= 32 ? { base, bits } : undefined;
}
