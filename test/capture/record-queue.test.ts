import { describe, expect, it } from 'vitest';
import { RecordQueue } from '../../src/capture/record/record-queue.ts';

/** A store that takes rows only when let: `ready()` waits until `open()` is called (or fails with `fail()`). */
function gatedStore(): { ready: () => Promise<void>; open: () => void; fail: (error: Error) => void; waits: number } {
  let waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let state: 'closed' | 'open' | Error = 'closed';
  const store = {
    waits: 0,
    ready: (): Promise<void> => {
      store.waits++;
      if (state === 'open') return Promise.resolve();
      if (state instanceof Error) return Promise.reject(state);
      return new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    open: (): void => {
      state = 'open';
      for (const w of waiting) w.resolve();
      waiting = [];
    },
    fail: (error: Error): void => {
      state = error;
      for (const w of waiting) w.reject(error);
      waiting = [];
    },
  };
  return store;
}

/** Writing one item takes about this long, so a slice (2 ms) ends with items still queued. */
function slowWrite(written: number[]): (item: number) => void {
  return (item) => {
    const until = performance.now() + 0.05;
    while (performance.now() < until);
    written.push(item);
  };
}

describe('the queue between a tap and its store', () => {
  it('waits for the store between slices, keeps what arrives meanwhile within its bound, and writes it all once, in order', async () => {
    const written: number[] = [];
    const store = gatedStore();
    const queue = new RecordQueue<number>(slowWrite(written), 1_000, store.ready);
    for (let i = 0; i < 1_000; i++) queue.push(i);
    // Full: counted, not kept.
    queue.push(-1);
    expect(queue.unrecorded).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // One slice went to the store; the rest waits for it.
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(1_000);
    expect(store.waits).toBe(1);
    const waitedAt = written.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written.length).toBe(waitedAt);
    store.open();
    await queue.flushed();
    expect(written).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(queue.recorded).toBe(1_000);
    expect(queue.unrecorded).toBe(1);
  });

  it('counts what a failed store can no longer take as unrecorded, and says why when flushed', async () => {
    const written: number[] = [];
    const store = gatedStore();
    const queue = new RecordQueue<number>(slowWrite(written), 10_000, store.ready);
    for (let i = 0; i < 1_000; i++) queue.push(i);
    await new Promise((resolve) => setTimeout(resolve, 20));
    store.fail(new Error('disk full'));
    await expect(queue.flushed()).rejects.toThrow('disk full');
    queue.push(1_000);
    expect(queue.recorded + queue.unrecorded).toBe(1_001);
    expect(queue.recorded).toBe(written.length);
  });
});
