import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { REPLY_PAYLOAD_BYTES, REPLY_RECORDS, ReplyRingReader, ReplyRingWriter, replyRingMemory, type RingReply } from '../../src/replay/reply-ring.js';

/** The bytes the test gives reply `n`: its length and contents follow from n alone, so a reader can check them. */
function replyBytes(n: number, longest: number): Buffer {
  const length = (n * 7919) % longest;
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (n + i) & 255;
  return bytes;
}

function drainAll(reader: ReplyRingReader): { device: number; ip: number; port: number; tsNs: number; payload: Buffer }[] {
  const got: { device: number; ip: number; port: number; tsNs: number; payload: Buffer }[] = [];
  reader.drain((reply: RingReply) => got.push({ ...reply, payload: Buffer.from(reply.payload) }));
  return got;
}

describe('the reply ring', () => {
  it('gives back every reply in order, with its device, address, port, time and bytes', () => {
    const memory = replyRingMemory();
    const writer = new ReplyRingWriter(memory);
    const reader = new ReplyRingReader(memory);
    // Each payload sits at an offset of a larger buffer, as replies do in the socket's slab.
    for (let n = 0; n < 1000; n++) {
      const bytes = replyBytes(n, 300);
      const slab = Buffer.concat([Buffer.alloc(17, 0xee), bytes, Buffer.alloc(5, 0xee)]);
      expect(writer.add(n % 64, 0x7f000001 + n, 1000 + n, slab, 17, bytes.length, 1e15 + n)).toBe(true);
    }
    expect(writer.unread).toBe(1000);
    const got = drainAll(reader);
    expect(got).toHaveLength(1000);
    for (const [n, reply] of got.entries()) {
      expect(reply).toEqual({ device: n % 64, ip: 0x7f000001 + n, port: 1000 + n, tsNs: 1e15 + n, payload: replyBytes(n, 300) });
    }
    expect(writer.unread).toBe(0);
    expect(drainAll(reader)).toEqual([]);
  });

  it('refuses a reply when its records or its bytes are full, and takes more once they are read', () => {
    const memory = replyRingMemory();
    const writer = new ReplyRingWriter(memory);
    const reader = new ReplyRingReader(memory);
    const large = Buffer.alloc(65_507, 1);
    const fit = Math.floor(REPLY_PAYLOAD_BYTES / large.length);
    for (let n = 0; n < fit; n++) expect(writer.add(0, 1, 2, large, 0, large.length, n)).toBe(true);
    expect(writer.add(0, 1, 2, large, 0, large.length, fit)).toBe(false);
    expect(drainAll(reader)).toHaveLength(fit);
    expect(writer.add(0, 1, 2, large, 0, large.length, fit)).toBe(true);
    drainAll(reader);

    const empty = Buffer.alloc(0);
    for (let n = 0; n < REPLY_RECORDS; n++) expect(writer.add(0, 1, 2, empty, 0, 0, n)).toBe(true);
    expect(writer.add(0, 1, 2, empty, 0, 0, REPLY_RECORDS)).toBe(false);
    expect(drainAll(reader)).toHaveLength(REPLY_RECORDS);
  });

  it('keeps every payload whole across many turns of the ring, drained at uneven times', () => {
    const memory = replyRingMemory();
    const writer = new ReplyRingWriter(memory);
    const reader = new ReplyRingReader(memory);
    let written = 0;
    let read = 0;
    // About 60 MB through an 8 MB ring: the payload region wraps several times, at every kind of position.
    for (let round = 0; round < 400; round++) {
      for (let k = 0; k < 1 + ((round * 37) % 200); k++) {
        const bytes = replyBytes(written, 4000);
        if (!writer.add(written % 1000, written, written & 0xffff, bytes, 0, bytes.length, written)) break;
        written++;
      }
      if (round % 3 !== 0) continue;
      for (const reply of drainAll(reader)) {
        expect(reply.tsNs).toBe(read);
        expect(reply.payload.equals(replyBytes(read, 4000))).toBe(true);
        read++;
      }
    }
    for (const reply of drainAll(reader)) expect(reply.payload.equals(replyBytes(read++, 4000))).toBe(true);
    expect(read).toBe(written);
    expect(written).toBeGreaterThan(30_000);
  });

  it('hands over 200,000 replies from another thread while this one reads, none lost, none twice, each whole', async () => {
    const memory = replyRingMemory();
    const reader = new ReplyRingReader(memory);
    const total = 200_000;
    // The writing thread retries a reply the ring refuses, as a busy reader leaves it full now and then.
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.ring).then(({ ReplyRingWriter }) => {
         const writer = new ReplyRingWriter(workerData.memory);
         for (let n = 0; n < workerData.total; n++) {
           const length = (n * 7919) % 900;
           const bytes = Buffer.alloc(length);
           for (let i = 0; i < length; i++) bytes[i] = (n + i) & 255;
           while (!writer.add(n % 1000, n, n & 0xffff, bytes, 0, length, n)) {}
         }
         parentPort.postMessage('done');
       });`,
      { eval: true, workerData: { memory, total, ring: new URL('../../src/replay/reply-ring.js', import.meta.url).href } },
    );
    let done = false;
    worker.once('message', () => (done = true));
    let read = 0;
    let wrong = 0;
    const deadline = Date.now() + 60_000;
    while (read < total && Date.now() < deadline) {
      reader.drain((reply) => {
        if (reply.tsNs !== read || reply.device !== read % 1000 || !Buffer.from(reply.payload).equals(replyBytes(read, 900))) wrong++;
        read++;
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await worker.terminate();
    expect(wrong).toBe(0);
    expect(read).toBe(total);
    expect(done || read === total).toBe(true);
  });
});
