import { createSocket, type RemoteInfo } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { processState } from '../helpers/process-state.ts';

afterEach(killAllParity);

const RELAY_IP = '127.0.19.1';
const PORT = 20500;
/** The request whose ACK the replayer's own socket is made to drop. */
const STOPPED_AT = 10;
const FILLER_BYTES = 60_000;
/** Enough one-byte datagrams (each takes a kernel buffer of about a kilobyte) to fill what a big one leaves. */
const TINY_FILLERS = 500;

/**
 * The ACK a Teltonika server gives a request, built from the request's bytes as the protocol's documentation lays
 * them out (length, packet id, type, AVL packet id, IMEI length, IMEI, codec, record count), not by the project's
 * decoder: `0005 <packet id> 01 <AVL packet id> <records>`.
 */
function teltonikaAck(request: Buffer): Buffer {
  const imeiLength = request.readUInt16BE(6);
  const records = request[8 + imeiLength + 1] ?? 0;
  return Buffer.from([0x00, 0x05, request[2] ?? 0, request[3] ?? 0, 0x01, request[5] ?? 0, records]);
}

/** The most a receive buffer can hold here: the kernel doubles what a socket asks for, up to twice rmem_max. */
function largestReceiveBuffer(): number {
  try {
    return 2 * Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    return 16 * 2 ** 20;
  }
}

describe("answers the replayer's own sockets drop are the harness's, not the relay's (subprocess)", () => {
  it.skipIf(process.platform !== 'linux')('a replay whose device socket overflowed counts every datagram it lost, and its analysis blames no one for the answers lost and passes nothing', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcapng');
      const db = join(dir, 'p.duckdb');
      const generate = await runParity(['fixtures', 'generate', '--protocol', 'teltonika-udp', '--devices', '3', '--duration', '40s', '--interval', '2s', '--unacked', '0', '--bursts', '0', '--out', file]);
      expect(generate.code, generate.stderr).toBe(0);
      expect((await runParity(['import', file, '--db', db, '--port', String(PORT)])).code).toBe(0);

      // A relay that ACKs every request, except that at one request it stops the replayer's process (SIGSTOP), fills
      // that device's socket past its receive buffer, sends the ACK into the full buffer, and lets the replayer go on.
      const relay = createSocket('udp4');
      await new Promise<void>((resolve) => relay.bind(PORT, RELAY_IP, () => resolve()));
      const send = (bytes: Buffer, to: RemoteInfo): Promise<void> => new Promise((resolve, reject) => relay.send(bytes, to.port, to.address, (error) => (error ? reject(error) : resolve())));
      let requests = 0;
      let sentToDevices = 0;
      let replayerPid = 0;
      let stopped: Promise<void> = Promise.resolve();
      relay.on('message', (request, from) => {
        requests++;
        if (requests !== STOPPED_AT) {
          sentToDevices++;
          void send(teltonikaAck(request), from);
          return;
        }
        stopped = (async () => {
          process.kill(replayerPid, 'SIGSTOP');
          // The signal stops every thread of the process, but not at once: the datagrams wait until it has.
          await waitFor(() => processState(replayerPid) === 'T', 'the replayer to stop', 5_000);
          try {
            const filler = Buffer.alloc(FILLER_BYTES, 0xee);
            const count = Math.ceil((largestReceiveBuffer() + 4 * 2 ** 20) / FILLER_BYTES);
            for (let i = 0; i < count; i++) {
              await send(filler, from);
              sentToDevices++;
            }
            // The kernel takes a datagram while it fits what is left of the buffer: the big ones leave a gap an ACK
            // would slip into, so the gap is filled with datagrams as small as the ACK.
            for (let i = 0; i < TINY_FILLERS; i++) {
              await send(Buffer.from([0xee]), from);
              sentToDevices++;
            }
            await send(teltonikaAck(request), from);
            sentToDevices++;
          } finally {
            process.kill(replayerPid, 'SIGCONT');
          }
        })();
      });
      try {
        const replay = spawnParity(['replay', 'fleet', '--relay', RELAY_IP, '--rate', '50pps', '--protocol', 'teltonika-udp', '--devices', '127.23.0.0/16', '--run', 'dropped', '--ack-timeout', '3s', '--db', db]);
        replayerPid = replay.child.pid as number;
        const code = await replay.exited;
        await stopped;
        expect(code, replay.stderr()).toBe(0);
        expect(requests).toBeGreaterThan(STOPPED_AT);
        expect(replay.stderr()).toMatch(/the devices' sockets dropped [\d,]+ datagrams on arrival/);
      } finally {
        relay.close();
      }

      // Every datagram sent to a device was either read or counted as dropped: none is lost unaccounted.
      const stats = await withStore(db, async (store) => (await getRun(store, 'dropped')).stats);
      expect(stats?.receiveDrops).toBeGreaterThan(0);
      expect((stats?.acks ?? 0) + (stats?.receiveDrops ?? 0)).toBe(sentToDevices);

      // The request whose ACK was dropped is missing from the devices' view; the drops could account for it, so the
      // device ACK rate is inconclusive, not a relay's failure. The filler bytes this relay sent the device are no ACK
      // and no backend's: of all it did, only they are held against it (those the device read).
      const analysis = await runParity(['analyse', 'dropped', '--db', db]);
      expect(analysis.code, analysis.stdout + analysis.stderr).toBe(1);
      expect(analysis.stdout).toMatch(/INCONCLUSIVE/);
      expect(analysis.stdout.split('\n').filter((line) => /^CRITICAL/.test(line))).toEqual([
        expect.stringMatching(/^CRITICAL relay: share of what devices got that is no ACK and no backend sent .*: [\d,]+ datagrams reached devices that are no ACK/),
      ]);
      expect(analysis.stdout).toMatch(/share of requests ACKed at the device on route 20500 is inconclusive: anywhere from [\d.]+% to 100\.00%/);
      expect(analysis.stdout).toMatch(/the replayer's own sockets dropped [\d,]+ datagrams on arrival/);
    });
  }, 120_000);
});
