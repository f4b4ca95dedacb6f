import type { Upgrade, UpgradedConnection } from '../http/http-from-tcp.ts';
import { FrameReader, type ReadMessage } from './frame-reader.ts';
import { telemetryFrame, type RecordedFrame } from './frame-recording.ts';

/** What reading WebSocket sessions out of a capture's TCP found. */
export interface TcpWsSummary {
  sessions: number;
  /** Client-to-server text messages: the telemetry frames kept. */
  frames: number;
  /** Server-to-client messages (the gateways' acks): counted, not replayed. */
  serverMessages: number;
  /** Client-to-server binary messages: not telemetry frames, counted and not kept. */
  binaryMessages: number;
  /** Sessions whose frames broke the protocol or were cut short: the messages complete before are kept. */
  damaged: number;
  faults: string[];
}

const MAX_FAULTS = 3;

function header(headers: readonly [string, string][], name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * Reads the WebSocket sessions of a capture (connections a `101 Switching Protocols` took from HTTP to `websocket`):
 * each direction's frames are read by the `ws` package's own reader (masking, fragments, permessage-deflate as the
 * 101 agreed). What the client sends is telemetry: each text message is a frame, its session, stream and sequence
 * number from its JSON fields where it has them, else the client's address, the request's path and its order.
 */
export class WsFromTcp {
  private readonly summary: TcpWsSummary = { sessions: 0, frames: 0, serverMessages: 0, binaryMessages: 0, damaged: 0, faults: [] };
  private readonly reading: Promise<void>[] = [];
  private readonly nextSeq = new Map<string, number>();

  constructor(private readonly onFrame: (frame: RecordedFrame) => void) {}

  /** For HttpFromTcp: takes the connections upgraded to WebSocket. */
  readonly read = (upgrade: Upgrade): UpgradedConnection | undefined => {
    if (header(upgrade.responseHeaders, 'upgrade')?.toLowerCase() !== 'websocket') return undefined;
    this.summary.sessions++;
    const extensions = header(upgrade.responseHeaders, 'sec-websocket-extensions') ?? '';
    const defaults = { sessionId: `${upgrade.client.ip}:${upgrade.client.port}`, stream: upgrade.target };
    const up = new FrameReader(true, extensions, (message) => this.fromClient(message, defaults));
    const down = new FrameReader(false, extensions, () => this.summary.serverMessages++);
    const where = `${upgrade.client.ip}:${upgrade.client.port} -> ${upgrade.server.ip}:${upgrade.server.port}`;
    return {
      fromClient: (bytes, tsNs) => up.write(bytes, tsNs),
      fromServer: (bytes, tsNs) => down.write(bytes, tsNs),
      end: () => {
        this.reading.push(
          Promise.all([up.end(), down.end()]).then(() => {
            const fault = up.fault === undefined ? down.fault : up.fault;
            if (fault === undefined) return;
            const reason = `websocket ${up.fault === undefined ? 'server' : 'client'} frames: ${fault}`;
            this.summary.damaged++;
            if (this.summary.faults.length < MAX_FAULTS) this.summary.faults.push(`${where}: ${reason}`);
          }),
        );
      },
    };
  };

  /** Every session ended (HttpFromTcp.finish has run): waits for the last messages to be read. */
  async finish(): Promise<TcpWsSummary> {
    await Promise.all(this.reading);
    return this.summary;
  }

  private fromClient(message: ReadMessage, defaults: { sessionId: string; stream: string }): void {
    if (message.isBinary) {
      this.summary.binaryMessages++;
      return;
    }
    const text = message.data.toString('utf8');
    let fields: unknown;
    try {
      fields = JSON.parse(text);
    } catch {
      fields = {};
    }
    const object = typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? (fields as Record<string, unknown>) : {};
    // The wire's time, not the frame's own `ts`: replay keeps the timing the capture saw.
    const frame = telemetryFrame(object, text, { ...defaults, tsNs: message.tsNs }, this.nextSeq);
    this.summary.frames++;
    this.onFrame({ ...frame, tsNs: message.tsNs });
  }
}
