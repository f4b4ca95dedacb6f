// Runs inside a network namespace whose loopback holds what is sent behind a token bucket (tbf), started by
// test/relay/send-backpressure.test.ts: there a UDP socket's send buffer fills and the kernel answers EAGAIN, which
// plain loopback never does (it hands a datagram's memory back as it delivers it). Exercises one datagram path (argv:
// native or dgram) the way the relay uses it, against receivers on Node's own dgram, and prints one JSON line of what
// each scenario saw.
//
//   node src/cli/run-ts.js test/helpers/full-send-buffer.ts native
import dgram from 'node:dgram';
import { datagramPath, type IoChoice } from '../../src/core/udp-io/datagram-path.ts';
import type { DatagramSocket, SocketOptions } from '../../src/core/udp-io/datagram-socket.ts';

/**
 * Small on purpose. The kernel doubles it and holds about 75 of these datagrams; a socket holds at most this many
 * bytes more waiting (fitsWaiting), about 34 of them. At the namespace's 20 Mbit/s, the thread sending a burst would
 * have to stop for a quarter of a second for nothing of it to wait.
 */
const SEND_BUFFER_BYTES = 1024 * 1024;
const DATAGRAM_BYTES = 30_000;
/** More than the kernel holds, less than it and the socket hold together: every send waits its turn and leaves. */
const BURST = 96;
/** Several times what the kernel and the socket hold together: the rest fail (ENOBUFS). */
const FLOOD = 248;
const REQUESTS = 4;
const WAIT_LIMIT = Math.floor(SEND_BUFFER_BYTES / DATAGRAM_BYTES);
const DEADLINE_MS = 20_000;

export interface ScenarioResult {
  scenario: string;
  sent: number;
  /** Sequence numbers in the order the receiver got them. */
  delivered: number[];
  /** Sequence numbers in the order their `done` was called, and how many of those calls carried an error. */
  settled: number[];
  settledWithError: number;
  /** The sequence numbers whose send failed, and the error codes of the failures, each code once. */
  failed: number[];
  failureCodes: string[];
  /** The most datagrams the socket held waiting at once: above 0 only if a send met a full buffer. */
  mostWaiting: number;
  /** The most of these datagrams a socket may hold waiting (its buffer size in bytes, fitsWaiting). */
  waitLimit: number;
  socketErrors: string[];
  /** Datagrams whose bytes were not those sent. */
  corrupt: number;
  /** Replies still waiting after the hand-out that held them: they met a full buffer. */
  waitingAfterHandOut?: number;
  /** A reply sent back to a grouped socket after its burst, and whether it reached the socket's handler. */
  answerReached?: boolean;
}

const path = datagramPath((process.argv[2] ?? 'native') as IoChoice);

function datagram(seq: number): Buffer {
  const payload = Buffer.alloc(DATAGRAM_BYTES, seq % 251);
  payload.writeUInt32BE(seq, 0);
  return payload;
}

function intact(payload: Buffer): boolean {
  const seq = payload.readUInt32BE(0);
  return payload.length === DATAGRAM_BYTES && payload.subarray(4).every((byte) => byte === seq % 251);
}

/**
 * Each scenario's own addresses (127.0.N.1-3): datagrams of an earlier scenario still in the namespace's queue must
 * not reach a later one's receiver, which may get the same port.
 */
let scenarios = 0;
function addresses(): [string, string, string] {
  scenarios++;
  return [`127.0.${scenarios}.1`, `127.0.${scenarios}.2`, `127.0.${scenarios}.3`];
}

async function receiver(ip: string): Promise<{ socket: dgram.Socket; delivered: number[]; corrupt: () => number }> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, ip, () => resolve()));
  const delivered: number[] = [];
  let corrupt = 0;
  socket.on('message', (payload) => {
    if (intact(payload)) delivered.push(payload.readUInt32BE(0));
    else corrupt++;
  });
  return { socket, delivered, corrupt: () => corrupt };
}

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // What arrives late would still arrive: a little more time, so a count that is right is not right by luck.
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/**
 * A burst of sends on a connected socket, each settled through its `done`, once a first send has settled (Node's
 * dgram connects after a lookup: what is sent before waits, within the same bound); a grouped socket then hears an
 * answer. `close`: the socket is closed right after the burst, or before it could connect.
 */
async function burst(scenario: string, options: SocketOptions, count = BURST, close?: 'after the burst' | 'before it connected'): Promise<ScenarioResult> {
  const closeEarly = close !== undefined;
  const [targetIp, sourceIp] = addresses();
  const target = await receiver(targetIp);
  const socket = path.upstream(targetIp, target.socket.address().port, sourceIp, SEND_BUFFER_BYTES, options);
  const socketErrors: string[] = [];
  socket.onError((error) => socketErrors.push(error.code ?? error.message));
  let answered = false;
  socket.onMessage((payload) => (answered ||= payload.toString() === 'answer'));
  const settled: number[] = [];
  let settledWithError = 0;
  const failed: number[] = [];
  const failureCodes = new Set<string>();
  let mostWaiting = 0;
  if (close !== 'before it connected') {
    await new Promise<void>((resolve) => socket.send(datagram(0), () => resolve()));
    await until(() => target.delivered.length > 0);
    target.delivered.length = 0;
  }
  for (let seq = 0; seq < count; seq++) {
    socket.send(datagram(seq), (error) => {
      settled.push(seq);
      if (error === null) return;
      settledWithError++;
      failed.push(seq);
      failureCodes.add(error.code ?? error.message);
    });
    mostWaiting = Math.max(mostWaiting, socket.sendQueueCount());
  }
  if (closeEarly) await socket.close();
  await until(() => settled.length >= count && target.delivered.length >= count - settledWithError);
  const result: ScenarioResult = { scenario, sent: count, delivered: target.delivered, settled, settledWithError, failed, failureCodes: [...failureCodes], mostWaiting, waitLimit: WAIT_LIMIT, socketErrors, corrupt: target.corrupt() };
  if (options.grouped === true && !closeEarly) {
    target.socket.send('answer', socket.localPort(), sourceIp);
    await until(() => answered);
    result.answerReached = answered;
  }
  if (!closeEarly) await socket.close();
  target.socket.close();
  return result;
}

/** A listener that answers each request with a run of replies, sent while the path hands the requests out (held). */
async function repliesToDevice(scenario: string, repliesPerRequest: number): Promise<ScenarioResult> {
  const [listenIp, deviceIp] = addresses();
  const listener: DatagramSocket = await path.listen(listenIp, 0, SEND_BUFFER_BYTES, { batchedSends: true });
  const socketErrors: string[] = [];
  listener.onError((error) => socketErrors.push(`${error.code ?? ''} ${error.message}`));
  let mostWaiting = 0;
  listener.onMessage((request, from) => {
    const first = Number(request.toString()) * repliesPerRequest;
    for (let seq = first; seq < first + repliesPerRequest; seq++) {
      listener.sendTo(datagram(seq), from.port, from.address);
      mostWaiting = Math.max(mostWaiting, listener.sendQueueCount());
    }
  });
  const device = await receiver(deviceIp);
  for (let request = 0; request < REQUESTS; request++) device.socket.send(String(request), listener.localPort(), listenIp);
  const sent = REQUESTS * repliesPerRequest;
  // Once the requests were handed out (their replies held until then), what still waits met a full buffer.
  let waitingAfterHandOut = 0;
  await until(() => {
    waitingAfterHandOut = Math.max(waitingAfterHandOut, listener.sendQueueCount());
    return device.delivered.length + socketErrors.length >= sent;
  });
  await listener.close();
  device.socket.close();
  const failureCodes = [...new Set(socketErrors.map((error) => error.split(' ')[0] ?? error))];
  return { scenario, sent, delivered: device.delivered, settled: [], settledWithError: 0, failed: [], failureCodes, mostWaiting, waitLimit: WAIT_LIMIT, waitingAfterHandOut, socketErrors, corrupt: device.corrupt() };
}

const results: ScenarioResult[] = [
  await burst('connected sends', {}),
  await burst('grouped sends in runs', { grouped: true, batchedSends: true }),
  await repliesToDevice('replies to a device', BURST / REQUESTS),
  await burst('closed with sends waiting', {}, BURST, 'after the burst'),
  await burst('closed before it connected', {}, BURST, 'before it connected'),
  await burst('more than the buffers hold', {}, FLOOD),
  await repliesToDevice('more replies than the buffers hold', FLOOD / REQUESTS),
];
process.stdout.write(`${JSON.stringify({ path: path.kind, results })}\n`);
