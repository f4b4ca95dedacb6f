// The batches the main thread hands the sending thread, in memory both threads share: a fixed number of slots of
// packets (each packet's offset, device, relay port, payload end, and the time it left) and one region of payload
// bytes. Handed over as transferred buffers instead, every batch was new memory counted against V8's external memory
// in the sending thread, and about every 5 s that brought a collection of 1-6 ms there (docs/performance.md). Here
// nothing is allocated per batch: the main thread writes a free slot and the payload region, posts a few numbers, and
// takes the slot back once the thread has said its last packet left.
// Plain JavaScript so that the sending thread loads it without the TypeScript loader; the types are checked from JSDoc.

import { touchPages } from './touched-memory.js';

/** Packets a slot holds: the most in one batch. */
export const SLOT_PACKETS = 1024;

/** Bytes a packet takes in a slot: two Float64 (offset, when it left), two Uint32 (device, payload end), a Uint16. */
const PACKET_BYTES = 8 + 8 + 4 + 4 + 2;

/**
 * The shared memory for `slots` slots and `payloadBytes` of payloads.
 * @param {number} slots @param {number} payloadBytes
 */
export function batchRingMemory(slots, payloadBytes) {
  return new SharedArrayBuffer(slots * SLOT_PACKETS * PACKET_BYTES + payloadBytes);
}

/**
 * @typedef {{ offsetNs: Float64Array, actualNs: Float64Array, device: Uint32Array, payloadEnd: Uint32Array, relayPort: Uint16Array }} BatchSlot
 * One slot's arrays, SLOT_PACKETS long: a batch of `count` packets uses the first `count` of each. `payloadEnd` is
 * relative to the batch's own payload bytes (the first packet's start at 0).
 */

/**
 * Views of the shared memory: each slot's arrays, and the payload region. Made once per thread.
 * @param {SharedArrayBuffer} memory @param {number} slots
 * @returns {{ slots: BatchSlot[], payload: Uint8Array }}
 */
export function batchRingViews(memory, slots) {
  const packets = slots * SLOT_PACKETS;
  // Widest elements first, so that every array starts aligned to its element's size.
  const offsetNs = new Float64Array(memory, 0, packets);
  const actualNs = new Float64Array(memory, packets * 8, packets);
  const device = new Uint32Array(memory, packets * 16, packets);
  const payloadEnd = new Uint32Array(memory, packets * 20, packets);
  const relayPort = new Uint16Array(memory, packets * 24, packets);
  /** @type {BatchSlot[]} */
  const views = [];
  for (let slot = 0; slot < slots; slot++) {
    const from = slot * SLOT_PACKETS;
    const to = from + SLOT_PACKETS;
    views.push({
      offsetNs: offsetNs.subarray(from, to),
      actualNs: actualNs.subarray(from, to),
      device: device.subarray(from, to),
      payloadEnd: payloadEnd.subarray(from, to),
      relayPort: relayPort.subarray(from, to),
    });
  }
  return { slots: views, payload: new Uint8Array(memory, packets * PACKET_BYTES) };
}

/**
 * Maps in the parts of the ring a run of `packets` packets and `payloadBytes` of payloads can use, before its clock
 * starts: the slots are taken lowest first and reused as soon as they are given back, so a run uses at most one slot a
 * batch, from the first; its payloads fill the payload region from the start.
 * @param {{ slots: BatchSlot[], payload: Uint8Array }} ring @param {number} packets @param {number} payloadBytes
 */
export function touchBatchRing(ring, packets, payloadBytes) {
  for (const slot of ring.slots.slice(0, Math.ceil(packets / SLOT_PACKETS))) {
    for (const array of [slot.offsetNs, slot.actualNs, slot.device, slot.payloadEnd, slot.relayPort]) touchPages(array, array.length);
  }
  touchPages(ring.payload, payloadBytes);
}
