// What the HTTP and Postgres sending threads share (http/http-send-worker.js, pg/pg-send-worker.js): reporting each
// send to the main thread in groups, and running at a raised priority. Plain JavaScript, as the threads are.
import { setPriority } from 'node:os';

/**
 * A sending thread's results, posted to the main thread as `{ type: 'results', results }` every `group` results and
 * at least every `flushMs`: one message per send would cost the thread more than the send.
 * @template T
 */
export class ResultGroups {
  /** @param {import('node:worker_threads').MessagePort} port @param {number} group @param {number} flushMs */
  constructor(port, group = 512, flushMs = 5) {
    this.port = port;
    this.group = group;
    /** @type {T[]} */
    this.results = [];
    setInterval(() => this.flush(), flushMs).unref();
  }

  /** @param {T} result */
  push(result) {
    this.results.push(result);
    if (this.results.length >= this.group) this.flush();
  }

  flush() {
    if (this.results.length === 0) return;
    this.port.postMessage({ type: 'results', results: this.results });
    this.results = [];
  }
}

/**
 * Runs a sending thread's work at a raised priority where the system allows it (sends are due at exact times); a
 * failure is posted to the main thread as `{ type: 'failed', message }`, not thrown out of the thread.
 * @param {import('node:worker_threads').MessagePort} port @param {() => Promise<void>} run
 */
export function runSendingThread(port, run) {
  try {
    setPriority(-10);
  } catch {
    // Not allowed here: the default priority.
  }
  run().catch((/** @type {Error} */ error) => port.postMessage({ type: 'failed', message: error.message }));
}
