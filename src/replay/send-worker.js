// The replayer's sending thread. It owns the devices' sockets: it sends each packet at its scheduled time and reads the
// replies, and nothing else. Everything that can block (reading the capture, decoding, DuckDB appends and commits)
// stays on the main thread, which sends batches ahead of time and gets back when each packet actually left.
// Plain JavaScript so that it loads in a worker without the TypeScript loader; the types are checked from JSDoc.
import { readFileSync, readlinkSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { raiseThisThread } from '../core/thread-priority.js';
import { batchRingViews } from './batch-ring.js';
import { ReplyRingWriter } from './reply-ring.js';
import { DeviceBindError, openDeviceSockets } from './device-sockets.js';
import { immediate, longestSpunWaitNs, nowNs, parkWaits, performanceNs, sendingFlatOut, sleep, spinsWait, waitUntil, warmHeap } from './thread-clock.js';

/** @typedef {{ id: number, slot: number, count: number, offsetNs: Float64Array, actualNs: Float64Array, device: Uint32Array, relayPort: Uint16Array, payload: Uint8Array, payloadEnd: Uint32Array, final: boolean }} Batch */
/** @typedef {{ type: string, id: number, slot: number, count: number, payloadFrom: number, payloadTo: number, final: boolean }} BatchNotice */

/** Sends in a row before the event loop runs (replies are read), however late the plan is. */
const MAX_SENDS_WITHOUT_YIELD = 128;
/** The longest run of sends in one call into C (sendDue) before the event loop runs. */
const RUN_BUDGET_NS = 1_000_000;
/** Replies are handed over in groups this large, or at least this often. */
const REPLY_GROUP = 512;
const REPLY_FLUSH_MS = 5;
/** How often sends are reported within a batch that takes long (a slow plan). */
const REPORT_EVERY_NS = 250_000_000;

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {{ connectPorts: number[], localIps: string[], relayHost: string, udpIoPath: string | undefined, park: import('./sender-wait.ts').SenderPark | undefined, leadNs: number, primeBatches: number, durationNs: number, shared: SharedArrayBuffer, batches: import('node:worker_threads').MessagePort, ring: SharedArrayBuffer, ringSlots: number, replyRing: SharedArrayBuffer }} */ (workerData);
// [0] stop (set by the main thread), [1] batches taken off the queue: the main thread paces its reading by it.
const shared = new Int32Array(options.shared);
// The batches themselves: slots and payloads in memory the main thread writes (batch-ring.js).
const ring = batchRingViews(options.ring, options.ringSlots);
// The replies it reads go the other way the same way (reply-ring.js); the arrays below only when that ring is full,
// and for Node's dgram, whose replies come as buffers of their own anyway.
const replyRing = new ReplyRingWriter(options.replyRing);
/** The ring's count of replies written when the main thread was last told of them. */
let toldUpTo = 0;
/** Whether the main thread has a group of replies to be told of: REPLY_GROUP or more since it was last told. */
const groupUntold = () => ((replyRing.written - toldUpTo) >>> 0) >= REPLY_GROUP;
/** @type {import('./device-sockets.js').DeviceSockets | undefined} */
let devices;
/** @type {Batch[]} */
const queue = [];
let finalQueued = false;

const stopped = () => Atomics.load(shared, 0) !== 0;

/** A stop of the collector this long or longer is counted: sends due during it leave that much late. */
const COUNTED_COLLECTION_MS = 1;
/** The collector's stops of this thread from the clock's start: per second of the run, their total and longest. */
const collections = { count: 0, totalMs: 0, maxMs: 0, /** @type {Map<number, { ms: number, maxMs: number }>} */ bySecond: new Map() };

/**
 * Counts the collector's stops of this thread from `startNs` (CLOCK_MONOTONIC ns) on; `stop()` counts those still
 * buffered and ends the count.
 * @param {number} startNs
 */
function watchCollections(startNs) {
  /** @param {import('node:perf_hooks').PerformanceEntry[]} entries */
  const count = (entries) => {
    for (const entry of entries) {
      // The heap's warm-up (warmHeap) collects before the clock starts: no send waited for it.
      if (entry.duration < COUNTED_COLLECTION_MS || performanceNs(entry.startTime + entry.duration) < startNs) continue;
      const second = Math.floor((performanceNs(entry.startTime) - startNs) / 1e9);
      const at = collections.bySecond.get(second) ?? { ms: 0, maxMs: 0 };
      at.ms += entry.duration;
      at.maxMs = Math.max(at.maxMs, entry.duration);
      collections.bySecond.set(second, at);
      collections.count++;
      collections.totalMs += entry.duration;
      collections.maxMs = Math.max(collections.maxMs, entry.duration);
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      count(observer.takeRecords());
      observer.disconnect();
    },
  };
}

/** @type {{ device: number[], tsNs: number[], ip: string[], port: number[], payloads: Uint8Array[] }} */
let replies = { device: [], tsNs: [], ip: [], port: [], payloads: [] };

function flushReplies() {
  const written = replyRing.written;
  if (written !== toldUpTo) {
    toldUpTo = written;
    port.postMessage({ type: 'replies-ready' });
  }
  if (replies.device.length === 0) return;
  port.postMessage({ type: 'replies', ...replies });
  replies = { device: [], tsNs: [], ip: [], port: [], payloads: [] };
}

/**
 * A reply to device `index`, with when it arrived (the kernel's stamp, where the sockets have it), else when it was read.
 * @param {number} index @param {string} ip @param {number} remotePort @param {Uint8Array} payload @param {number} [atNs]
 */
function reply(index, ip, remotePort, payload, atNs) {
  replies.device.push(index);
  replies.tsNs.push(atNs ?? nowNs());
  replies.ip.push(ip);
  replies.port.push(remotePort);
  replies.payloads.push(payload);
  if (replies.device.length >= REPLY_GROUP) flushReplies();
}

/**
 * A reply read into `source` (bytes `from`..`from + length`), put in the shared ring without allocating; false when the
 * ring has no room, and the caller hands it to reply() instead.
 * @param {number} index @param {number} ip @param {number} remotePort @param {Buffer} source @param {number} from
 * @param {number} length @param {number} [atNs]
 */
function replyBytes(index, ip, remotePort, source, from, length, atNs) {
  if (!replyRing.add(index, ip, remotePort, source, from, length, atNs ?? nowNs())) return false;
  if (groupUntold()) flushReplies();
  return true;
}

/**
 * Takes the batches the main thread has sent, without waiting: they are pulled off their port, since a thread this
 * busy sees port messages as events only when idle (measured: a batch posted 1.4 s before it was seen).
 */
function pullBatches() {
  for (let received = receiveMessageOnPort(options.batches); received !== undefined; received = receiveMessageOnPort(options.batches)) {
    const message = /** @type {BatchNotice} */ (received.message);
    if (message.type === 'batch') {
      const slot = /** @type {import('./batch-ring.js').BatchSlot} */ (ring.slots[message.slot]);
      queue.push({ id: message.id, slot: message.slot, count: message.count, final: message.final, ...slot, payload: ring.payload.subarray(message.payloadFrom, message.payloadTo) });
    }
    if (message.type === 'end' || message.final) finalQueued = true;
  }
}

/**
 * The batches that came after their first packet was due (the main thread behind), and how long in all this thread sat
 * waiting for them with packets due: each such wait put the sends behind it later by as much. As fast as possible,
 * every wait counts.
 */
const lateBatches = { ms: 0, times: 0 };

/**
 * The next batch, waiting for the main thread to send it; undefined once the final one is done.
 * @param {number} startNs the clock's start
 */
async function nextBatch(startNs) {
  pullBatches();
  const waitFrom = queue.length === 0 ? nowNs() : 0;
  while (queue.length === 0) {
    if (finalQueued || stopped()) return undefined;
    await sleep(1);
    pullBatches();
  }
  if (waitFrom !== 0) {
    const firstNs = /** @type {Batch} */ (queue[0]).offsetNs[0] ?? Number.NaN;
    const lateNs = nowNs() - (Number.isNaN(firstNs) ? waitFrom : Math.max(waitFrom, startNs + firstNs));
    if (lateNs > 0) {
      lateBatches.ms += lateNs / 1e6;
      lateBatches.times++;
    }
  }
  Atomics.add(shared, 1, 1);
  return queue.shift();
}

async function send() {
  // The clock starts once enough is queued that the first packets are not waiting for the main thread.
  for (pullBatches(); queue.length < options.primeBatches && !finalQueued && !stopped(); pullBatches()) await sleep(1);
  warmHeap();
  const startNs = nowNs() + options.leadNs;
  const cpuAtStart = threadCpuSeconds();
  const collector = watchCollections(startNs);
  port.postMessage({ type: 'start', startNs });
  await waitUntil(startNs, stopped);
  // From the first send on: the wait for the clock's start is no send's.
  const scheduledAtStart = threadScheduling();
  let sinceYield = 0;
  const sockets = /** @type {import('./device-sockets.js').DeviceSockets} */ (devices);
  for (let batch = await nextBatch(startNs); batch !== undefined; batch = await nextBatch(startNs)) {
    const actualNs = batch.actualNs;
    let sent = 0;
    let reported = 0;
    let reportAtNs = nowNs() + REPORT_EVERY_NS;
    while (sent < batch.count) {
      if (stopped()) break;
      const offsetNs = /** @type {number} */ (batch.offsetNs[sent]);
      if (Number.isNaN(offsetNs) && nowNs() - startNs > options.durationNs) break;
      const waitNs = Number.isNaN(offsetNs) ? 0 : startNs + offsetNs - nowNs();
      // Where the C path has it, a run of packets goes out in one call, each at its time: the waits this thread would
      // spin anyway are spun there, and replies are read between runs with the kernel's arrival times. A wait that
      // parks or sleeps, a packet that met a full socket buffer there, and every send on dgram, go the way below.
      let run = 0;
      if (sockets.sendDue !== undefined && waitNs < RUN_BUDGET_NS && (waitNs <= 0 || spinsWait(waitNs))) {
        sendingFlatOut();
        run = sockets.sendDue(batch, sent, batch.count, startNs, options.durationNs, actualNs, shared, longestSpunWaitNs(), RUN_BUDGET_NS);
        // It may have read replies into the ring while it waited.
        if (groupUntold()) flushReplies();
      }
      if (run === 0) {
        if (waitNs > 0) await waitUntil(startNs + offsetNs, stopped);
        else sendingFlatOut();
        const from = sent === 0 ? 0 : /** @type {number} */ (batch.payloadEnd[sent - 1]);
        actualNs[sent] = sockets.send(/** @type {number} */ (batch.device[sent]), batch.payload, from, /** @type {number} */ (batch.payloadEnd[sent]), /** @type {number} */ (batch.relayPort[sent]));
      }
      sent += Math.max(run, 1);
      const now = /** @type {number} */ (actualNs[sent - 1]);
      // A slow plan still reports as it goes: progress, and the main thread's records, stay current.
      if (now >= reportAtNs) {
        port.postMessage({ type: 'sent', id: batch.id, slot: batch.slot, from: reported, to: sent, last: false });
        reported = sent;
        reportAtNs = now + REPORT_EVERY_NS;
      }
      // The event loop turns (replies read, batches pulled) after each run, and at least every so many single sends.
      if (run > 0 || ++sinceYield >= MAX_SENDS_WITHOUT_YIELD) {
        sinceYield = 0;
        pullBatches();
        await immediate();
      }
    }
    port.postMessage({ type: 'sent', id: batch.id, slot: batch.slot, from: reported, to: sent, last: true });
    if (sent < batch.count) break;
  }
  flushReplies();
  collector.stop();
  const bySecond = [...collections.bySecond].map(([second, { ms, maxMs }]) => ({ second, ms, maxMs }));
  const scheduled = threadScheduling();
  const waitedForCpu = scheduled === undefined || scheduledAtStart === undefined ? undefined : { ms: scheduled.runQueueMs - scheduledAtStart.runQueueMs, times: scheduled.preempted - scheduledAtStart.preempted };
  port.postMessage({ type: 'done', collections: { count: collections.count, totalMs: collections.totalMs, maxMs: collections.maxMs, bySecond }, cpuSec: threadCpuSeconds() - cpuAtStart, waitedForCpu, lateBatches });
}

/** CPU seconds this thread has spent (user and system), from /proc (Linux; 0 elsewhere): ticks of 1/100 s. */
function threadCpuSeconds() {
  try {
    const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * How long this thread has waited on a run queue, ready to run while another thread had its CPU, and how often it was
 * taken off its CPU that way (Linux: /proc/thread-self/schedstat and status); undefined elsewhere.
 * @returns {{ runQueueMs: number, preempted: number } | undefined}
 */
function threadScheduling() {
  try {
    const runQueueNs = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    const preempted = Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1]);
    return Number.isFinite(runQueueNs) && Number.isFinite(preempted) ? { runQueueMs: runQueueNs / 1e6, preempted } : undefined;
  } catch {
    return undefined;
  }
}

/** This thread's id for the kernel (Linux: /proc/thread-self), so the main thread can give it a CPU; 0 elsewhere. */
function threadId() {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}

port.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type !== 'close') return;
  flushReplies();
  (devices?.close() ?? Promise.resolve()).then(() => {
    port.postMessage({ type: 'closed' });
    port.close();
  });
});

// On Linux a thread's nice value is its own: this one runs ahead of the main thread's store work where that is allowed;
// elsewhere the lateness figures show what sharing the cores cost.
raiseThisThread();
const senderWaits = options.park === undefined ? 'spun' : parkWaits(options.park.addonPath, options.park.always);
try {
  devices = await openDeviceSockets(options, { reply, replyBytes, error: (code) => port.postMessage({ type: 'socket-error', code }) });
  port.postMessage({ type: 'ready', ports: devices.ports, tid: threadId(), waits: senderWaits });
} catch (error) {
  const failure = /** @type {Error} */ (error);
  port.postMessage({ type: 'bind-failed', ip: failure instanceof DeviceBindError ? failure.ip : options.localIps[0], message: failure.message });
}
setInterval(flushReplies, REPLY_FLUSH_MS).unref();
let started = false;
port.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type !== 'go' || started) return;
  started = true;
  send().catch((/** @type {Error} */ error) => port.postMessage({ type: 'failed', message: error.message }));
});
