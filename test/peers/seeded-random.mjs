// The fault peers' one source of chance: mulberry32, so that the same seed makes the same faults in the same order.

/**
 * @param {number} seed
 * @returns {() => number} a number in [0, 1) each call
 */
export function seededRandom(seed) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
