// What the HTTP, Postgres and WebSocket sending threads share (http/http-send-worker.js, pg/pg-send-worker.js,
// ws/ws-send-worker.js): reporting each send to the main thread in groups, and running at a raised priority. Plain
// JavaScript, as the threads are.
import { raiseThisThread } from '../core/thread-priority.js';

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
 * A sending thread's results as rows of numbers, posted to the main thread as `{ type: 'rows', rows, count, strings }`
 * (`rows` a Float64Array of `count` rows of `width` values, its buffer transferred, not copied) every `group` rows and
 * at least every `flushMs`. A string a row refers to is a number (`stringId`): each distinct string crosses once, in the
 * `strings` of the first group to use it, the main thread numbering them in the order they arrive. A group of result
 * objects is cloned object by object, and each becomes garbage on both threads; a group of rows crosses as one buffer.
 */
export class ResultRows {
  /** @param {import('node:worker_threads').MessagePort} port @param {number} width @param {number} group @param {number} flushMs */
  constructor(port, width, group = 512, flushMs = 5) {
    this.port = port;
    this.width = width;
    this.group = group;
    this.rows = new Float64Array(width * group);
    this.count = 0;
    /** @type {Map<string, number>} */
    this.ids = new Map();
    /** @type {string[]} */
    this.newStrings = [];
    setInterval(() => this.flush(), flushMs).unref();
  }

  /** A string's number (-1 for none), as the rows carry it. @param {string | null} value */
  stringId(value) {
    if (value === null) return -1;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(value, id);
      this.newStrings.push(value);
    }
    return id;
  }

  /** Where the next row starts in `this.rows` (read `rows` after this call: a full group has just been posted). */
  claim() {
    if (this.count === this.group) this.flush();
    return this.count++ * this.width;
  }

  flush() {
    if (this.count === 0) return;
    this.port.postMessage({ type: 'rows', rows: this.rows, count: this.count, strings: this.newStrings }, [this.rows.buffer]);
    this.rows = new Float64Array(this.width * this.group);
    this.count = 0;
    this.newStrings = [];
  }
}

/**
 * Runs a sending thread's work at a raised priority where the system allows it (sends are due at exact times); a
 * failure is posted to the main thread as `{ type: 'failed', message }`, not thrown out of the thread.
 * @param {import('node:worker_threads').MessagePort} port @param {() => Promise<void>} run
 */
export function runSendingThread(port, run) {
  raiseThisThread();
  run().catch((/** @type {Error} */ error) => port.postMessage({ type: 'failed', message: error.message }));
}
