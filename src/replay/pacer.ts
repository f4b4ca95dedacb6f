/** The run's clock on the main thread: CLOCK_MONOTONIC ns, the same clock the sending thread stamps sends with. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Lets the event loop run (replies, writes) without waiting for a timer. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
