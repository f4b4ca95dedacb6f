import dgram from 'node:dgram';

/** A UDP client bound to its own loopback address, collecting every reply; closes on `close()`. */
export class UdpClient {
  readonly replies: { payload: Buffer; from: string; port: number; atNs: bigint }[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (payload, remote) => this.replies.push({ payload, from: remote.address, port: remote.port, atNs: process.hrtime.bigint() }));
  }

  static async open(ip = '127.0.0.1'): Promise<UdpClient> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, ip, () => resolve());
    });
    return new UdpClient(socket);
  }

  get address(): { ip: string; port: number } {
    const { address, port } = this.socket.address();
    return { ip: address, port };
  }

  send(payload: Uint8Array, port: number, ip: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(payload, port, ip, (error) => (error ? reject(error) : resolve())));
  }

  /** Waits until `count` replies have arrived or `timeoutMs` passed; returns how many arrived. */
  async waitForReplies(count: number, timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return this.replies.length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * Sends all payloads in batches, each only once the receiver has taken in the previous one (`taken()` counts what it
 * has read off its socket), so no kernel buffer overflows and any loss measured is the receiver's own.
 */
export async function sendPaced(
  client: UdpClient,
  payloads: readonly Uint8Array[],
  target: { ip: string; port: number },
  taken: () => number,
  batch = 200,
): Promise<void> {
  for (let i = 0; i < payloads.length; i += batch) {
    const part = payloads.slice(i, i + batch);
    await Promise.all(part.map((payload) => client.send(payload, target.port, target.ip)));
    const deadline = Date.now() + 2000;
    while (taken() < i + part.length && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  }
}
