// The row the WebSocket sending thread (ws-send-worker.js) reports for each frame it sent: read by ws-replay.ts.
// Plain JavaScript, shared by both threads.

/** A row per send: its number and when it went (CLOCK_MONOTONIC ns). */
export const WS_RESULT = { sendNo: 0, actualNs: 1, width: 2 };
