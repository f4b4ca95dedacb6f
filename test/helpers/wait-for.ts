/**
 * Waits until `condition` holds, polling every few milliseconds, for at most `timeoutMs` (generous: the suite runs on
 * a busy 2-core machine). Throws naming `what` if it never holds, so a test fails with the reason and not a timeout.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
