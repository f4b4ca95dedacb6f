import type { Worker } from 'node:worker_threads';

/**
 * The stop flag the HTTP, Postgres and WebSocket sending threads read (an `Int32Array` over `shared`, cell 0), set when
 * `signal` aborts; `release` stops listening for it.
 */
export function abortFlag(signal: AbortSignal | undefined): { shared: SharedArrayBuffer; release: () => void } {
  const shared = new SharedArrayBuffer(4);
  const stop = (): void => void Atomics.store(new Int32Array(shared), 0, 1);
  // A stop asked for before the thread exists (Ctrl-C while the capture loads) has fired its event already.
  if (signal?.aborted === true) stop();
  else signal?.addEventListener('abort', stop, { once: true });
  return { shared, release: () => signal?.removeEventListener('abort', stop) };
}

/**
 * Resolves once a sending thread posts `{ type: 'done' }`, after handing that message and every one before it to
 * `onMessage`; rejects with `failure(message)` when the thread posts `{ type: 'failed', message }`, with its error, or
 * when it exits before it is done (`what` names it: "the HTTP sending thread").
 */
export function sendingThreadDone<M extends { type: string }>(worker: Worker, what: string, onMessage: (message: M) => void, failure: (message: string) => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    worker.on('message', (message: M) => {
      if (message.type === 'failed') {
        reject(failure(String((message as { message?: unknown }).message)));
        return;
      }
      onMessage(message);
      if (message.type === 'done') {
        finished = true;
        resolve();
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (!finished) reject(new Error(`${what} exited (${code}) before it was done`));
    });
  });
}
