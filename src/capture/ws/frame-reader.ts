import * as wsModule from 'ws';

/**
 * The parts of the `ws` package that read frames off a byte stream (its Receiver, its permessage-deflate extension and
 * its Sec-WebSocket-Extensions parser), which `@types/ws` does not declare: typed here as far as we use them.
 */
interface Receiver {
  write(chunk: Uint8Array): boolean;
  end(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'finish', listener: () => void): this;
  _write(chunk: Uint8Array, encoding: string, callback: (error?: Error) => void): void;
  /** Bytes of a frame not yet complete, and the pieces of a fragmented message not yet ended. */
  _bufferedBytes: number;
  _fragments: unknown[];
  /** 0 between frames (GET_INFO), another state inside one. */
  _state: number;
}

interface MessageDeflate {
  params: Record<string, unknown>;
  normalizeParams(offers: Record<string, unknown>[]): Record<string, unknown>[];
}

interface WsInternals {
  Receiver: new (options: { isServer: boolean; extensions: Record<string, MessageDeflate>; maxPayload: number; allowSynchronousEvents: boolean }) => Receiver;
  PerMessageDeflate: new (options: Record<string, unknown>, isServer: boolean, maxPayload: number) => MessageDeflate;
  extension: { parse(header: string): Record<string, Record<string, unknown>[] | undefined> };
}

const ws = wsModule as unknown as WsInternals;

/** A message larger than this is not telemetry: the stream is damaged or not what it claims. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface ReadMessage {
  /** Capture time (ns) of the segment that completed it. */
  tsNs: bigint;
  data: Buffer;
  isBinary: boolean;
}

/**
 * Reads the messages of one direction of a WebSocket connection out of its bytes in order, with the `ws` package's
 * own frame reader: client frames must be masked and server frames must not, fragments are joined, permessage-deflate
 * is inflated with the parameters of the server's 101 answer (`extensions`, its Sec-WebSocket-Extensions; empty when
 * none), text must be UTF-8. Messages may come after `write` returns (inflating is asynchronous): each carries the
 * capture time of the bytes that completed it. A frame that breaks the protocol stops the reading there.
 */
export class FrameReader {
  private readonly receiver: Receiver;
  private readonly pendingTimes: bigint[] = [];
  private currentTsNs = 0n;
  private failure: string | undefined;
  private readonly done: Promise<void>;

  constructor(fromClient: boolean, extensions: string, onMessage: (message: ReadMessage) => void) {
    const negotiated: Record<string, MessageDeflate> = {};
    const deflate = extensions.trim() === '' ? undefined : ws.extension.parse(extensions)['permessage-deflate']?.[0];
    if (deflate !== undefined) {
      // Reading as the receiving side: the server inflates what the client compressed, the client what the server did.
      const inflater = new ws.PerMessageDeflate({}, fromClient, MAX_MESSAGE_BYTES);
      inflater.params = inflater.normalizeParams([deflate])[0] ?? {};
      negotiated['permessage-deflate'] = inflater;
    }
    this.receiver = new ws.Receiver({ isServer: fromClient, extensions: negotiated, maxPayload: MAX_MESSAGE_BYTES, allowSynchronousEvents: true });
    // The receiver takes writes one at a time, in order: the time of the write it is on is the time of what it emits.
    const write = this.receiver._write.bind(this.receiver);
    this.receiver._write = (chunk, encoding, callback) => {
      this.currentTsNs = this.pendingTimes.shift() ?? this.currentTsNs;
      write(chunk, encoding, callback);
    };
    this.receiver.on('message', (data, isBinary) => onMessage({ tsNs: this.currentTsNs, data, isBinary }));
    this.done = new Promise<void>((resolve) => {
      this.receiver.on('finish', () => resolve());
      this.receiver.on('error', (error) => {
        this.failure ??= error.message;
        resolve();
      });
    });
  }

  /** Why reading stopped early, once it has. */
  get fault(): string | undefined {
    return this.failure;
  }

  write(bytes: Uint8Array, tsNs: bigint): void {
    if (this.failure !== undefined || bytes.length === 0) return;
    this.pendingTimes.push(tsNs);
    this.receiver.write(bytes);
  }

  /** No more bytes: resolves once every message has been read (or reading failed). */
  async end(): Promise<void> {
    if (this.failure === undefined) this.receiver.end();
    await this.done;
    if (this.failure === undefined && (this.receiver._bufferedBytes > 0 || this.receiver._fragments.length > 0 || this.receiver._state !== 0)) this.failure = 'a message was cut short when the connection ended';
  }
}
