import { writeFileSync } from 'node:fs';

/**
 * Writes a pcap of TCP conversations for the import benchmarks (Ethernet, IPv4, TCP; checksums left 0, as
 * segmentation offload leaves them), 50 µs between frames.
 */
export class TcpCaptureWriter {
  frames = 0;
  private readonly records: Buffer[] = [Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0])];
  private ts = 1_795_000_000_000_000n;

  frame(src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Buffer): void {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(srcPort, 0);
    tcp.writeUInt16BE(dstPort, 2);
    tcp.writeUInt32BE(seq >>> 0, 4);
    tcp.writeUInt32BE(ack >>> 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp.writeUInt16BE(65535, 14);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + payload.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    ip.writeUInt32BE(src, 12);
    ip.writeUInt32BE(dst, 16);
    const ethernet = Buffer.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]);
    const bytes = Buffer.concat([ethernet, ip, tcp, payload]);
    const header = Buffer.alloc(16);
    this.ts += 50_000n;
    header.writeUInt32LE(Number(this.ts / 1_000_000n), 0);
    header.writeUInt32LE(Number(this.ts % 1_000_000n), 4);
    header.writeUInt32LE(bytes.length, 8);
    header.writeUInt32LE(bytes.length, 12);
    this.records.push(header, bytes);
    this.frames++;
  }

  /** A connection: handshake, `exchange` called to add its data, then both FINs. */
  connection(client: number, server: number, clientPort: number, serverPort: number, exchange: (send: (fromClient: boolean, payload: Buffer) => void) => void): void {
    let up = 1000;
    let down = 5000;
    this.frame(client, server, clientPort, serverPort, up - 1, 0, 0x02, Buffer.alloc(0));
    this.frame(server, client, serverPort, clientPort, down - 1, up, 0x12, Buffer.alloc(0));
    this.frame(client, server, clientPort, serverPort, up, down, 0x10, Buffer.alloc(0));
    exchange((fromClient, payload) => {
      if (fromClient) {
        this.frame(client, server, clientPort, serverPort, up, down, 0x18, payload);
        up += payload.length;
      } else {
        this.frame(server, client, serverPort, clientPort, down, up, 0x18, payload);
        down += payload.length;
        this.frame(client, server, clientPort, serverPort, up, down, 0x10, Buffer.alloc(0));
      }
    });
    this.frame(client, server, clientPort, serverPort, up, down, 0x11, Buffer.alloc(0));
    this.frame(server, client, serverPort, clientPort, down, up + 1, 0x11, Buffer.alloc(0));
  }

  write(file: string): void {
    writeFileSync(file, Buffer.concat(this.records));
  }
}
