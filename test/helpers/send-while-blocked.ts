import { Worker } from 'node:worker_threads';

/**
 * Sends one datagram from another thread while this one is blocked, as traffic arrives while a tap or a backend is
 * busy: the worker sends `delayMs` after being told, and this thread spins for `blockMs` meanwhile. Says when the
 * datagram left (CLOCK_MONOTONIC ns, taken just before the send) and when this thread was free again.
 */
export async function sendWhileBlocked(payload: Uint8Array, to: { ip: string; port: number }, fromIp: string, { delayMs = 50, blockMs = 500 } = {}): Promise<{ sentNs: bigint; unblockedNs: bigint }> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const socket = require('node:dgram').createSocket('udp4');
     socket.bind(0, workerData.fromIp, () => parentPort.postMessage('ready'));
     parentPort.on('message', () => setTimeout(() => {
       const sentNs = process.hrtime.bigint();
       socket.send(Buffer.from(workerData.payload), workerData.port, workerData.ip, () => {
         parentPort.postMessage(sentNs);
         socket.close();
       });
     }, workerData.delayMs));`,
    { eval: true, workerData: { payload: Uint8Array.from(payload), ip: to.ip, port: to.port, fromIp, delayMs } },
  );
  try {
    const messages: unknown[] = [];
    worker.on('message', (message: unknown) => messages.push(message));
    const deadline = Date.now() + 20_000;
    while (!messages.includes('ready')) {
      if (Date.now() > deadline) throw new Error('the sending thread did not start');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    worker.postMessage('send');
    const until = process.hrtime.bigint() + BigInt(blockMs) * 1_000_000n;
    while (process.hrtime.bigint() < until);
    const unblockedNs = process.hrtime.bigint();
    while (!messages.some((m) => typeof m === 'bigint')) {
      if (Date.now() > deadline) throw new Error('the sending thread did not send');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const sentNs = messages.find((m): m is bigint => typeof m === 'bigint') as bigint;
    if (sentNs >= unblockedNs) throw new Error('the datagram left after this thread was free again: the machine was too slow to test this');
    return { sentNs, unblockedNs };
  } finally {
    await worker.terminate();
  }
}
