import { describe, expect, it } from 'vitest';
import { batchRingMemory, batchRingViews, SLOT_PACKETS, touchBatchRing } from '../../src/replay/batch-ring.js';
import { touchPages } from '../../src/replay/touched-memory.js';

const MB = 1024 * 1024;

describe("the replay's rings, mapped in before the clock starts", () => {
  it('a long run maps in the whole payload region and every slot it can use; a short one only what it will write', () => {
    const slots = 64;
    const memory = batchRingMemory(slots, 48 * MB);
    const ring = batchRingViews(memory, slots);
    // A value written before the touch survives it.
    (ring.slots[0] as { offsetNs: Float64Array }).offsetNs[0] = 12.5;
    ring.payload[ring.payload.length - 1] = 7;
    const before = process.memoryUsage().rss;
    touchBatchRing(ring, 2 * SLOT_PACKETS, 64 * 1024);
    const short = process.memoryUsage().rss - before;
    touchBatchRing(ring, slots * SLOT_PACKETS * 4, 1024 * MB);
    const long = process.memoryUsage().rss - before;
    // The short run's two slots and 64 KB of payloads are well under a megabyte; the long run's the whole 48 MB and more.
    expect(short).toBeLessThan(2 * MB);
    expect(long).toBeGreaterThan(48 * MB);
    expect((ring.slots[0] as { offsetNs: Float64Array }).offsetNs[0]).toBe(12.5);
    expect(ring.payload[ring.payload.length - 1]).toBe(7);
  });

  it('touches the last page of an array that ends part way into one, and nothing past the count', () => {
    const memory = new SharedArrayBuffer(3 * 4096);
    const bytes = new Uint8Array(memory);
    bytes.fill(1);
    touchPages(new Uint16Array(memory, 2, 4096), 4096);
    expect(bytes.every((b) => b === 1)).toBe(true);
    touchPages(bytes, 0);
    touchPages(bytes, -5);
  });
});
