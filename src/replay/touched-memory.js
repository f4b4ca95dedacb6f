// Fresh memory is mapped in page by page at its first write, and on a virtual machine such as this project's a page's
// first touch costs 10-20 µs (docs/performance.md). The replay's rings are touched, as far as a run will use them, as
// they are handed to the sending thread, before the run's clock starts: otherwise the sending thread takes those faults
// mid-run as it first writes each page of send times and replies, and the process's memory climbs through a long run's
// first minute as the rings fill.
// Plain JavaScript so that the sending thread loads it without the TypeScript loader; the types are checked from JSDoc.

const PAGE_BYTES = 4096;

/**
 * Maps in the pages under the first `count` elements of `array` (a view of shared memory), leaving their values as
 * they are.
 * @param {Float64Array | Uint32Array | Uint16Array | Uint8Array} array @param {number} count
 */
export function touchPages(array, count) {
  const length = Math.min(array.length, Math.max(0, Math.ceil(count))) * array.BYTES_PER_ELEMENT;
  if (length === 0) return;
  const bytes = new Uint8Array(array.buffer, array.byteOffset, length);
  // An atomic add of nothing writes each page without changing it: a read alone would map the shared zero page.
  for (let at = 0; at < length; at += PAGE_BYTES) Atomics.add(bytes, at, 0);
  Atomics.add(bytes, length - 1, 0);
}
