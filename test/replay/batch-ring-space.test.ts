import { describe, expect, it } from 'vitest';
import { BatchRingSpace } from '../../src/replay/batch-ring-space.ts';

/** A batch held in the ring, as the test placed it. */
interface Placed {
  slot: number;
  from: number;
  to: number;
}

/** A deterministic sequence of numbers in [0, 1), so a failure can be replayed. */
function numbers(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('the batch ring’s space', () => {
  it('places batches one after another, and back at the start once the end has no room', () => {
    const space = new BatchRingSpace(4, 100);
    expect(space.claim(40)).toEqual({ slot: 0, payloadFrom: 0 });
    expect(space.claim(40)).toEqual({ slot: 1, payloadFrom: 40 });
    // 20 bytes left at the end, and the start is held: no room for 30.
    expect(space.claim(30)).toBeUndefined();
    space.release(0);
    // The start is free again up to the batch still held at 40.
    expect(space.claim(30)).toEqual({ slot: 0, payloadFrom: 0 });
    // After going back to the start, only the gap before the oldest held batch (at 40) is free.
    expect(space.claim(11)).toBeUndefined();
    expect(space.claim(10)).toEqual({ slot: 2, payloadFrom: 30 });
  });

  it('gives payload space back only from the oldest batch on, whatever order batches are released in', () => {
    const space = new BatchRingSpace(4, 90);
    space.claim(30);
    space.claim(30);
    space.claim(30);
    space.release(1);
    // The middle batch's slot is free, but its bytes lie between two held batches.
    expect(space.claim(30)).toBeUndefined();
    space.release(0);
    expect(space.claim(60)).toEqual({ slot: 0, payloadFrom: 0 });
  });

  it('never lends a slot twice, and refuses when every slot is held', () => {
    const space = new BatchRingSpace(2, 1000);
    const a = space.claim(1);
    const b = space.claim(1);
    expect(a?.slot).not.toBe(b?.slot);
    expect(space.claim(1)).toBeUndefined();
    space.release(b?.slot ?? -1);
    expect(space.claim(1)?.slot).toBe(b?.slot);
  });

  it('refuses a batch larger than the whole region, and takes empty ones', () => {
    const space = new BatchRingSpace(3, 50);
    expect(space.claim(51)).toBeUndefined();
    expect(space.claim(0)).toEqual({ slot: 0, payloadFrom: 0 });
    expect(space.claim(50)).toEqual({ slot: 1, payloadFrom: 0 });
  });

  it('keeps every held batch inside the region and apart from every other, over 20,000 random claims and releases', () => {
    const size = 10_000;
    const slots = 16;
    const space = new BatchRingSpace(slots, size);
    const random = numbers(7);
    // Batches are released in the order they were handed over, as the sending thread reports them.
    const held: Placed[] = [];
    let refused = 0;
    for (let step = 0; step < 20_000; step++) {
      if (held.length > 0 && (random() < 0.45 || held.length === slots)) {
        space.release((held.shift() as Placed).slot);
        continue;
      }
      const bytes = Math.floor(random() * 3000);
      const claimed = space.claim(bytes);
      if (claimed === undefined) {
        refused++;
        // Refused only when neither the end nor (after the oldest) the start had room.
        const oldest = held[0] as Placed;
        const newest = held[held.length - 1] as Placed;
        const wrapped = newest.from < oldest.from;
        const room = wrapped ? oldest.from - newest.to >= bytes : size - newest.to >= bytes || oldest.from >= bytes;
        expect(room).toBe(false);
        continue;
      }
      const placed = { slot: claimed.slot, from: claimed.payloadFrom, to: claimed.payloadFrom + bytes };
      expect(placed.from).toBeGreaterThanOrEqual(0);
      expect(placed.to).toBeLessThanOrEqual(size);
      for (const other of held) {
        expect(other.slot).not.toBe(placed.slot);
        if (bytes > 0 && other.to > other.from) expect(placed.to <= other.from || placed.from >= other.to).toBe(true);
      }
      held.push(placed);
    }
    expect(refused).toBeGreaterThan(0);
    expect(space.heldCount).toBe(held.length);
  });
});
