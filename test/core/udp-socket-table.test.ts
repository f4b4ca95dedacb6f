import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { dropsAt, kernelUdpSockets, parseUdpSocketTable } from '../../src/core/udp-socket-table.ts';

describe("the kernel's table of UDP sockets", () => {
  it.skipIf(process.platform !== 'linux')('sees what waits in a socket nobody reads, and what it dropped once full', async () => {
    const unread = createSocket({ type: 'udp4', recvBufferSize: 64 * 1024 });
    await new Promise<void>((resolve) => unread.bind(0, '127.0.6.60', () => resolve()));
    const local = `127.0.6.60:${unread.address().port}`;
    try {
      // Another process sends while this one is blocked waiting for it (spawnSync), so nothing reads the socket.
      const sender = `const s = require('node:dgram').createSocket('udp4'); let n = 0; const next = () => n++ < 200 ? s.send(Buffer.alloc(1000, n), ${unread.address().port}, '127.0.6.60', next) : s.close(); next();`;
      expect(spawnSync(process.execPath, ['-e', sender], { timeout: 20_000 }).status).toBe(0);
      const table = kernelUdpSockets() ?? [];
      const socket = table.find((s) => s.local === local);
      expect(socket).toBeDefined();
      expect(socket?.remote).toBeNull();
      // 200 datagrams of a kilobyte into a buffer of 128 KiB (the kernel doubles what is asked): some wait, the rest drop.
      expect(socket?.queuedBytes).toBeGreaterThan(64 * 1024);
      expect(socket?.drops).toBeGreaterThan(0);
      expect(dropsAt(table, new Set([local]))).toBe(socket?.drops);
      expect(dropsAt(table, new Set(['127.0.6.61:9']))).toBe(0);
    } finally {
      unread.close();
    }
  });

  it.skipIf(endianness() !== 'LE')('reads a connected socket, its queue and its drops as a little-endian Linux prints them', () => {
    const udp = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      ' 4088: 0100007F:AD60 0200007F:0009 01 00000000:00000300 00:00000000 00000000     0        0 3603844 2 0000000032b58a8e 17',
    ].join('\n');
    expect(parseUdpSocketTable(udp, false)).toEqual([{ local: '127.0.0.1:44384', remote: '127.0.0.2:9', queuedBytes: 768, drops: 17 }]);
  });
});
