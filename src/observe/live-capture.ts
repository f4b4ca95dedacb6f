import type { ChildProcess } from 'node:child_process';
import { SubprocessError } from '../core/errors.ts';
import { spawnReaped } from '../core/process-reaper.ts';
import { readCaptureStream } from '../capture/capture-reader.ts';
import { FrameDecoder } from '../capture/frame-decoder.ts';
import { streamByteSource } from '../capture/stream-source.ts';
import type { UdpDatagram } from '../capture/udp-datagram.ts';

const READY_TIMEOUT_MS = 15_000;

/** tcpdump's capture buffer, KiB: its 2 MiB default drops packets in bursts on a busy lo. */
const CAPTURE_BUFFER_KIB = 32_768;

export interface LiveCapture {
  /**
   * Resolves when the capture has ended (stopped, or tcpdump exited) and every packet has been handed over, with the
   * packets the kernel dropped before tcpdump could read them (never recorded, so counted).
   */
  done: Promise<{ frames: number; datagrams: number; kernelDrops: number }>;
  stop(): void;
}

/**
 * Runs `tcpdump -U -w -` on an interface and streams its pcap output through the capture reader as it arrives:
 * each UDP datagram is handed to `onDatagram`. Resolves once tcpdump is listening. A missing tcpdump or missing
 * capture rights is one clear error with the fix.
 */
export async function startLiveCapture(options: { iface: string; filter: string; onDatagram: (datagram: UdpDatagram) => void }): Promise<LiveCapture> {
  const args = ['-i', options.iface, '-B', String(CAPTURE_BUFFER_KIB), '-U', '--immediate-mode', '--time-stamp-precision=nano', '-n', '-s', '0', '-w', '-', ...(options.filter === '' ? [] : [options.filter])];
  let child: ChildProcess;
  try {
    // A group of its own, handed to the reaper: a tcpdump left by a killed parity on a quiet interface would capture on
    // until its next packet found the pipe closed.
    child = spawnReaped('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    throw new SubprocessError(`cannot start tcpdump: ${(cause as Error).message}`, {}, { cause });
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const failure = await new Promise<SubprocessError | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(new SubprocessError(`tcpdump did not start listening on ${options.iface} within ${READY_TIMEOUT_MS / 1000} s: ${lastLine(stderr)}`)), READY_TIMEOUT_MS);
    const check = (): void => {
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve(undefined);
      }
    };
    child.stderr?.on('data', check);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(
        error.code === 'ENOENT'
          ? new SubprocessError('tcpdump is not installed: install it (apt-get install tcpdump), or record with --tap instead')
          : new SubprocessError(`cannot start tcpdump: ${error.message}`),
      );
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(new SubprocessError(describeTcpdumpFailure(stderr, options.iface)));
    });
  });
  if (failure !== undefined) {
    child.kill('SIGKILL');
    throw failure;
  }
  const decoder = new FrameDecoder(options.onDatagram);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const done = readCaptureStream(streamByteSource(child.stdout as NonNullable<ChildProcess['stdout']>), `tcpdump on ${options.iface}`, (frame) => decoder.decode(frame))
    .catch((error: unknown) => {
      // A stop mid-record cuts the last one short: every complete frame was handed over.
      if ((error as { code?: string }).code !== 'PARITY_ERR_CAPTURE_TRUNCATED') throw error;
    })
    .then(async () => {
      await exited;
      const stats = decoder.finish();
      const drops = /(\d+) packets? dropped by kernel/.exec(stderr);
      return { frames: stats.frames, datagrams: stats.udpDatagrams, kernelDrops: drops === null ? 0 : Number(drops[1]) };
    });
  return {
    done,
    stop: () => {
      // SIGINT: tcpdump flushes what it has and exits.
      if (child.exitCode === null) child.kill('SIGINT');
    },
  };
}

function describeTcpdumpFailure(stderr: string, iface: string): string {
  if (/permission|Operation not permitted/i.test(stderr)) {
    return `tcpdump may not capture on ${iface}: run as root, or give it the rights once: setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)"`;
  }
  if (/No such device|doesn't exist/i.test(stderr)) return `tcpdump: no interface "${iface}" (see ip link)`;
  if (/syntax error|parse error/i.test(stderr)) return `tcpdump refused the --filter: ${lastLine(stderr)}`;
  return `tcpdump exited: ${lastLine(stderr)}`;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? 'no output';
}
