// The row a Postgres sending thread reports for each send (pg-send-worker.js, read by pg-replay.ts). Plain
// JavaScript, as the threads are.

/** Where each value sits in a row; `commandText` and `sqlstate` are string numbers (ResultRows.stringId, -1: none). */
export const PG_RESULT = { sendNo: 0, actualNs: 1, doneNs: 2, commandText: 3, sqlstate: 4, flags: 5 };
export const PG_RESULT_WIDTH = 6;
/** `flags`: the connection failed before an answer. */
export const PG_SEND_FAILED = 1;
/** `flags`: a COPY ... FROM STDIN refused for want of its recorded data. */
export const PG_COPY_REFUSED = 2;
/** `flags`: no answer within the replay's answer timeout (with PG_SEND_FAILED). */
export const PG_TIMED_OUT = 4;
/** `flags`: not sent, its session having ended before it (a closed connection, an earlier statement unanswered). */
export const PG_SESSION_ENDED = 8;
