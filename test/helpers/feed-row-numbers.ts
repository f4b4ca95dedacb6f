/** The numeric columns of row `id` in the feed test's table: deterministic, with NULLs, 64-bit values and fractions. */
export function feedRowNumbers(id: number): { n: number | null; big: bigint; x: number; flag: boolean; small: number } {
  return {
    n: id % 13 === 6 ? null : (id * 2654435761) >>> 0,
    big: BigInt(id) * 1_000_000_007n - 9_000_000_000_000_000_000n,
    x: id / 7,
    flag: id % 3 === 0,
    small: id & 255,
  };
}
