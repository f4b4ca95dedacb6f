import type { Readable } from 'node:stream';
import type { ByteSource } from './byte-window.ts';

/**
 * A readable stream (a subprocess's stdout) as a byte source for the capture readers: `read` takes what has arrived,
 * waiting only when nothing has. Its size is unknown, so a record cut at the end shows as the stream ending.
 */
export function streamByteSource(stream: Readable): ByteSource {
  const chunks: Buffer[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    wake?.();
  });
  const finish = (): void => {
    ended = true;
    wake?.();
  };
  stream.on('end', finish);
  stream.on('close', finish);
  stream.on('error', finish);
  return {
    async read(buffer, offset, length) {
      while (chunks.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      let copied = 0;
      while (copied < length && chunks.length > 0) {
        const chunk = chunks[0] as Buffer;
        const take = Math.min(chunk.length, length - copied);
        buffer.set(chunk.subarray(0, take), offset + copied);
        copied += take;
        if (take === chunk.length) chunks.shift();
        else chunks[0] = chunk.subarray(take);
      }
      return copied;
    },
  };
}
