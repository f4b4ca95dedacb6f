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

/** Small on purpose: what is sent is several times the socket's send buffer (the kernel doubles it). */
const SEND_BUFFER_BYTES = 128 * 1024;
const DATAGRAM_BYTES = 30_000;
const BURST = 120;
const REQUESTS = 6;
const REPLIES_PER_REQUEST = 30;
const DEADLINE_MS = 20_000;

export interface ScenarioResult {
  scenario: string;
  sent: number;
  /** Sequence numbers in the order the receiver got them. */
  delivered: number[];
  /** Sequence numbers in the order their `done` was called, and how many of those calls carried an error. */
  settled: number[];
  settledWithError: number;
  /** The most datagrams the socket held waiting at once: above 0 only if a send met a full buffer. */
  mostWaiting: number;
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
 * A burst of connected sends, each settled through its `done`; a grouped socket then hears an answer. `close`: the
 * socket is closed right after the burst, once connected (a first send settled) or before it could be.
 */
async function burst(scenario: string, options: SocketOptions, close?: 'connected' | 'at once'): Promise<ScenarioResult> {
  const closeEarly = close !== undefined;
  const target = await receiver('127.0.0.2');
  const socket = path.upstream('127.0.0.2', target.socket.address().port, '127.0.0.3', SEND_BUFFER_BYTES, options);
  const socketErrors: string[] = [];
  socket.onError((error) => socketErrors.push(error.code ?? error.message));
  let answered = false;
  socket.onMessage((payload) => (answered ||= payload.toString() === 'answer'));
  const settled: number[] = [];
  let settledWithError = 0;
  let mostWaiting = 0;
  if (close === 'connected') {
    await new Promise<void>((resolve) => socket.send(datagram(0), () => resolve()));
    await until(() => target.delivered.length > 0);
    target.delivered.length = 0;
  }
  for (let seq = 0; seq < BURST; seq++) {
    socket.send(datagram(seq), (error) => {
      settled.push(seq);
      if (error !== null) settledWithError++;
    });
    mostWaiting = Math.max(mostWaiting, socket.sendQueueCount());
  }
  if (closeEarly) await socket.close();
  await until(() => settled.length >= BURST && (closeEarly || target.delivered.length >= BURST));
  const result: ScenarioResult = { scenario, sent: BURST, delivered: target.delivered, settled, settledWithError, mostWaiting, socketErrors, corrupt: target.corrupt() };
  if (options.grouped === true && !closeEarly) {
    target.socket.send('answer', socket.localPort(), '127.0.0.3');
    await until(() => answered);
    result.answerReached = answered;
  }
  if (!closeEarly) await socket.close();
  target.socket.close();
  return result;
}

/** A listener that answers each request with a run of replies, sent while the path hands the requests out (held). */
async function repliesToDevice(): Promise<ScenarioResult> {
  const listener: DatagramSocket = await path.listen('127.0.0.4', 0, SEND_BUFFER_BYTES, { batchedSends: true });
  const socketErrors: string[] = [];
  listener.onError((error) => socketErrors.push(error.code ?? error.message));
  let mostWaiting = 0;
  listener.onMessage((request, from) => {
    const first = Number(request.toString()) * REPLIES_PER_REQUEST;
    for (let seq = first; seq < first + REPLIES_PER_REQUEST; seq++) {
      listener.sendTo(datagram(seq), from.port, from.address);
      mostWaiting = Math.max(mostWaiting, listener.sendQueueCount());
    }
  });
  const device = await receiver('127.0.0.5');
  for (let request = 0; request < REQUESTS; request++) device.socket.send(String(request), listener.localPort(), '127.0.0.4');
  const sent = REQUESTS * REPLIES_PER_REQUEST;
  // Once the requests were handed out (their replies held until then), what still waits met a full buffer.
  let waitingAfterHandOut = 0;
  await until(() => {
    waitingAfterHandOut = Math.max(waitingAfterHandOut, listener.sendQueueCount());
    return device.delivered.length >= sent;
  });
  await listener.close();
  device.socket.close();
  return { scenario: 'replies to a device', sent, delivered: device.delivered, settled: [], settledWithError: 0, mostWaiting, waitingAfterHandOut, socketErrors, corrupt: device.corrupt() };
}

const results: ScenarioResult[] = [
  await burst('connected sends', {}),
  await burst('grouped sends in runs', { grouped: true, batchedSends: true }),
  await repliesToDevice(),
  await burst('closed with sends waiting', {}, 'connected'),
  await burst('closed before it connected', {}, 'at once'),
];
process.stdout.write(`${JSON.stringify({ path: path.kind, results })}\n`);
