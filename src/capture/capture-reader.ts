import { open, type FileHandle } from 'node:fs/promises';
import { CaptureFileError, CaptureFormatError, isParityError } from '../core/errors.ts';
import { ByteWindow, type ByteSource } from './byte-window.ts';
import type { CaptureFormat, FrameHandler } from './frame.ts';
import { parsePcapHeader, pcapFormat, PCAP_GLOBAL_HEADER_BYTES, readPcapRecords } from './pcap-reader.ts';
import { PCAPNG_SECTION_HEADER, readPcapngBlocks, type CaptureDrops } from './pcapng-reader.ts';

export interface ReadCaptureOptions {
  /** Called with the number of bytes of each read, for progress. */
  onRead?: (bytesRead: number) => void;
  /** Awaited before each read: a consumer that is behind holds the reading (an import's backlog into DuckDB). */
  beforeRead?: () => Promise<void>;
  /**
   * The frames' bytes are only read during `onFrame` (the consumer copies what it keeps): the reader then fills the
   * same two buffers in turn instead of a fresh 4 MB one each time, which on a virtual machine cost a page fault per
   * 4 KB read (four fifths of reading a file's frames on this project's machine).
   */
  reuseBuffers?: boolean;
  /** Filled with what a pcapng file's interface statistics say the capture dropped (pcap files say nothing of it). */
  drops?: CaptureDrops;
}

/**
 * Reads any pcap or pcapng byte stream frame by frame, sniffing the format from its first bytes. Resolves with the
 * format once the stream ends; rejects with a `ParityError` naming the source and byte offset of the fault, after
 * every complete frame before it was handed to `onFrame`.
 */
export async function readCaptureStream(
  source: ByteSource,
  name: string,
  onFrame: FrameHandler,
  options: ReadCaptureOptions = {},
): Promise<CaptureFormat> {
  const window = new ByteWindow(source, { onRead: options.onRead, reuseBuffers: options.reuseBuffers ?? false });
  const available = await window.fill(PCAP_GLOBAL_HEADER_BYTES);
  if (available >= 4 && window.view.getUint32(window.pos, true) === PCAPNG_SECTION_HEADER) {
    await readPcapngBlocks(window, name, onFrame, options.drops);
    return 'pcapng';
  }
  const header = available >= PCAP_GLOBAL_HEADER_BYTES ? parsePcapHeader(window) : undefined;
  if (header === undefined) {
    const what = available === 0 ? 'is empty' : 'is not a pcap or pcapng capture (unknown magic number at byte offset 0)';
    throw new CaptureFormatError(`${name}: ${what}`, { file: name, byteOffset: 0 });
  }
  await readPcapRecords(window, name, onFrame);
  return pcapFormat(header);
}

/** Opens a capture file for reading, with a clear error for a missing or unreadable one. */
export async function openCaptureFile(path: string): Promise<{ handle: FileHandle; source: ByteSource }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be opened';
    throw new CaptureFileError(`${path}: ${reason} (${(cause as Error).message})`, { file: path }, { cause });
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new CaptureFileError(`${path}: is a directory, not a capture file`, { file: path });
    const source: ByteSource = {
      sizeBytes: stats.size,
      read: async (buffer, offset, length) => (await handle.read(buffer, offset, length, null)).bytesRead,
    };
    return { handle, source };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads a capture file frame by frame; see `readCaptureStream`. */
export async function readCaptureFile(path: string, onFrame: FrameHandler, options: ReadCaptureOptions = {}): Promise<CaptureFormat> {
  const { handle, source: file } = await openCaptureFile(path);
  const { beforeRead } = options;
  const source: ByteSource = beforeRead === undefined ? file : {
    ...(file.sizeBytes === undefined ? {} : { sizeBytes: file.sizeBytes }),
    read: async (buffer, offset, length) => {
      await beforeRead();
      return file.read(buffer, offset, length);
    },
  };
  try {
    return await readCaptureStream(source, path, onFrame, options);
  } catch (error) {
    if (isParityError(error)) throw error;
    throw new CaptureFileError(`${path}: read failed: ${(error as Error).message}`, { file: path }, { cause: error });
  } finally {
    await handle.close();
  }
}
