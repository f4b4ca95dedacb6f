/**
 * Resolves when the process is asked to stop (Ctrl-C, SIGTERM) or after `durationMs`. Long-running commands await it,
 * stop cleanly, and return; a second Ctrl-C is left to Node's default (immediate exit).
 */
export function waitForStop(durationMs?: number): { stopped: Promise<string>; cancel: () => void } {
  let cancel = (): void => undefined;
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      cancel();
      resolve(signal);
    };
    const timer = durationMs === undefined ? undefined : setTimeout(() => {
      cancel();
      resolve('duration');
    }, durationMs);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    cancel = () => {
      if (timer !== undefined) clearTimeout(timer);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    };
  });
  return { stopped, cancel: () => cancel() };
}
