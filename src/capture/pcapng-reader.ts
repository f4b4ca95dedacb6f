import { LAST_STORABLE_SEC, STORABLE_RANGE } from '../core/epoch-ns.ts';
import { CaptureFormatError } from '../core/errors.ts';
import type { ByteWindow } from './byte-window.ts';
import { createFrameView, type FrameHandler, type FrameView } from './frame.ts';
import { MAX_FRAME_BYTES, truncatedAt } from './pcap-reader.ts';
import { DEFAULT_UNITS_PER_SECOND, parseInterface, parseInterfaceDrops, type InterfaceDescription } from './pcapng-interface.ts';

// Block types and option codes from the pcapng specification (draft-ietf-opsawg-pcapng).
export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const INTERFACE_DESCRIPTION = 0x00000001;
const OBSOLETE_PACKET = 0x00000002;
const SIMPLE_PACKET = 0x00000003;
const INTERFACE_STATISTICS = 0x00000005;
const ENHANCED_PACKET = 0x00000006;
const BLOCK_FRAME_BYTES = 12;
const SECTION_HEADER_MIN_BYTES = 28;
const NS_PER_SECOND = 1_000_000_000;
const TWO_POW_32 = 4294967296;
/** Largest high word for which high * 2^32 + low is still an exact double. */
const MAX_EXACT_HIGH_WORD = 0x1fffff;

/** Link type given to a packet that names an interface its section never described. */
export const LINK_TYPE_NO_INTERFACE = -1;

/**
 * Streams every packet of a pcapng file to `onFrame`: any number of sections in either byte order, interfaces with
 * their own link type and timestamp resolution, enhanced, simple and obsolete packet blocks; other blocks are skipped
 * by their length. Throws `CaptureTruncatedError` when the file ends inside a block, after the frames before it.
 * What interface statistics blocks say the capture dropped goes into `drops`, by section and interface.
 */
export async function readPcapngBlocks(window: ByteWindow, file: string, onFrame: FrameHandler, drops?: CaptureDrops): Promise<number> {
  const frame = createFrameView();
  const section: Section = { le: true, interfaces: [], number: -1 };
  const block: BlockHeader = { type: 0, bytes: 0 };
  let frames = 0;
  for (let blockNo = 0; blockInWindow(window, blockNo, section, block) || (await nextBlock(window, file, blockNo, frames, section, block)); blockNo++) {
    const { view, pos } = window;
    const body = pos + 8;
    const bodyEnd = pos + block.bytes - 4;
    switch (block.type) {
      case PCAPNG_SECTION_HEADER:
        if (block.bytes < SECTION_HEADER_MIN_BYTES) throw badBlock(window, file, 'section header block too short');
        break;
      case INTERFACE_DESCRIPTION:
        section.interfaces.push(parseInterface(view, body, bodyEnd, section.le));
        break;
      case INTERFACE_STATISTICS: {
        // One too short to say anything says nothing: the packets around it are read as ever.
        if (drops === undefined || bodyEnd - body < 12) break;
        const { interfaceId, dropped } = parseInterfaceDrops(view, body, bodyEnd, section.le);
        // Running totals: an interface's later block replaces its earlier one.
        if (dropped !== null) drops.set(`${section.number}/${interfaceId}`, dropped);
        break;
      }
      case ENHANCED_PACKET:
      case OBSOLETE_PACKET:
      case SIMPLE_PACKET: {
        frames++;
        const ok = fillPacket({ frame, window, blockType: block.type, body, bodyEnd, le: section.le, interfaces: section.interfaces });
        if (!ok) throw badBlock(window, file, 'packet block shorter than its captured length');
        // A pcapng time (64-bit units, plus the interface's offset) reaches far past what the store holds; a clock
        // that far off is a damaged block, so the file stops here as at any other, the frames before it kept.
        if (!(frame.tsSec >= 0 && frame.tsSec <= LAST_STORABLE_SEC)) {
          throw badBlock(window, file, `packet block timestamp outside ${STORABLE_RANGE} (${frame.tsSec} s since the epoch)`);
        }
        frame.frameNo = frames;
        frame.fileOffset = window.fileOffset;
        window.pos += block.bytes;
        onFrame(frame);
        continue;
      }
      default:
        break;
    }
    window.pos += block.bytes;
  }
  return frames;
}

/** The byte order and interfaces of the section being read: a new section header starts both afresh. */
interface Section {
  le: boolean;
  interfaces: InterfaceDescription[];
  /** Counted from 0: interface ids are the section's own. */
  number: number;
}

/** What a capture's interface statistics say it dropped, by section and interface (`0/1`): each interface's last count. */
export type CaptureDrops = Map<string, number>;

/** All the capture's interfaces dropped, or null where the file says nothing of it (pcap, or no statistics block). */
export function droppedInAll(drops: CaptureDrops): number | null {
  return drops.size === 0 ? null : [...drops.values()].reduce((sum, n) => sum + n, 0);
}

/** Reused for every block: nothing is allocated per packet. */
interface BlockHeader {
  type: number;
  bytes: number;
}

/**
 * The common case without an await (one per packet would halve the read rate): the next block is already whole in
 * the window and is neither the first nor a section header. Anything else goes the long way, through `nextBlock`.
 */
function blockInWindow(window: ByteWindow, blockNo: number, section: Section, block: BlockHeader): boolean {
  if (blockNo === 0 || window.available < BLOCK_FRAME_BYTES) return false;
  const { view, pos } = window;
  const type = view.getUint32(pos, section.le);
  const bytes = view.getUint32(pos + 4, section.le);
  if (type === PCAPNG_SECTION_HEADER || bytes < BLOCK_FRAME_BYTES || bytes % 4 !== 0 || bytes > MAX_FRAME_BYTES || window.available < bytes) return false;
  block.type = type;
  block.bytes = bytes;
  return true;
}

/**
 * Brings the next block whole into the window and reads its type and length into `block` (a section header also sets
 * the section's byte order). False at a clean end of file; a file that ends inside a block, or a block with an
 * impossible length, throws with the byte offset and the frames read before it.
 */
async function nextBlock(window: ByteWindow, file: string, blockNo: number, frames: number, section: Section, block: BlockHeader): Promise<boolean> {
  if (window.available < BLOCK_FRAME_BYTES && (await window.fill(BLOCK_FRAME_BYTES)) < BLOCK_FRAME_BYTES) {
    if (window.available === 0) return false;
    throw truncatedAt(file, window.fileOffset, frames, 'a block header');
  }
  block.type = window.view.getUint32(window.pos, section.le);
  if (block.type === PCAPNG_SECTION_HEADER) {
    if ((await window.fill(SECTION_HEADER_MIN_BYTES)) < SECTION_HEADER_MIN_BYTES) {
      throw truncatedAt(file, window.fileOffset, frames, 'a section header block');
    }
    section.le = sectionByteOrder(window, file);
    section.interfaces = [];
    section.number++;
  } else if (blockNo === 0) {
    throw new CaptureFormatError(`${file}: pcapng file does not start with a section header block`, { file, byteOffset: 0 });
  }
  block.bytes = window.view.getUint32(window.pos + 4, section.le);
  if (block.bytes < BLOCK_FRAME_BYTES || block.bytes % 4 !== 0 || block.bytes > MAX_FRAME_BYTES) {
    throw new CaptureFormatError(`${file}: block at byte offset ${window.fileOffset} has impossible length ${block.bytes} (after ${frames} frames)`, {
      file,
      byteOffset: window.fileOffset,
    });
  }
  if (window.available < block.bytes && (await window.fill(block.bytes)) < block.bytes) {
    throw truncatedAt(file, window.fileOffset, frames, `a ${block.bytes}-byte block`);
  }
  return true;
}

function sectionByteOrder(window: ByteWindow, file: string): boolean {
  const { view, pos } = window;
  if (view.getUint32(pos + 8, true) === BYTE_ORDER_MAGIC) return true;
  if (view.getUint32(pos + 8, false) === BYTE_ORDER_MAGIC) return false;
  throw badBlock(window, file, 'section header has no byte-order magic');
}

function badBlock(window: ByteWindow, file: string, what: string): CaptureFormatError {
  return new CaptureFormatError(`${file}: ${what} at byte offset ${window.fileOffset}`, {
    file,
    byteOffset: window.fileOffset,
  });
}

interface PacketBlock {
  frame: FrameView;
  window: ByteWindow;
  blockType: number;
  body: number;
  bodyEnd: number;
  le: boolean;
  interfaces: readonly InterfaceDescription[];
}

/** Fills the frame view from a packet block; false when the block cannot hold what it claims. */
function fillPacket({ frame, window, blockType, body, bodyEnd, le, interfaces }: PacketBlock): boolean {
  const { view } = window;
  let interfaceId = 0;
  let dataStart: number;
  let capturedBytes: number;
  let originalBytes: number;
  let tsHigh = 0;
  let tsLow = 0;
  if (blockType === SIMPLE_PACKET) {
    originalBytes = view.getUint32(body, le);
    dataStart = body + 4;
    const snapLength = interfaces[0]?.snapLength ?? 0;
    capturedBytes = Math.min(originalBytes, bodyEnd - dataStart, snapLength > 0 ? snapLength : originalBytes);
  } else {
    const obsolete = blockType === OBSOLETE_PACKET;
    if (bodyEnd - body < 20) return false;
    interfaceId = obsolete ? view.getUint16(body, le) : view.getUint32(body, le);
    tsHigh = view.getUint32(body + 4, le);
    tsLow = view.getUint32(body + 8, le);
    capturedBytes = view.getUint32(body + 12, le);
    originalBytes = view.getUint32(body + 16, le);
    dataStart = body + 20;
    if (dataStart + capturedBytes > bodyEnd) return false;
  }
  const description = interfaces[interfaceId];
  frame.bytes = window.bytes;
  frame.offset = dataStart;
  frame.capturedBytes = capturedBytes;
  frame.originalBytes = Math.max(originalBytes, capturedBytes);
  frame.linkType = description?.linkType ?? LINK_TYPE_NO_INTERFACE;
  setTimestamp(frame, tsHigh, tsLow, description);
  return true;
}

function setTimestamp(frame: FrameView, tsHigh: number, tsLow: number, description?: InterfaceDescription): void {
  const unitsPerSecond = description?.unitsPerSecond ?? DEFAULT_UNITS_PER_SECOND;
  const nsPerUnit = description === undefined ? NS_PER_SECOND / DEFAULT_UNITS_PER_SECOND : description.nsPerUnit;
  const offsetSec = description?.offsetSec ?? 0;
  if (tsHigh <= MAX_EXACT_HIGH_WORD && nsPerUnit !== undefined) {
    // Fast path: the 64-bit count fits a double exactly, and so does every product below.
    const units = tsHigh * TWO_POW_32 + tsLow;
    let sec = Math.floor(units / unitsPerSecond);
    let rest = units - sec * unitsPerSecond;
    // The quotient is rounded to a double, so the floor can land one second off; the remainder tells which way.
    if (rest < 0) {
      sec--;
      rest += unitsPerSecond;
    } else if (rest >= unitsPerSecond) {
      sec++;
      rest -= unitsPerSecond;
    }
    frame.tsSec = sec + offsetSec;
    frame.tsFracNs = rest * nsPerUnit;
    return;
  }
  const units = (BigInt(tsHigh) << 32n) | BigInt(tsLow);
  const perSecond = description?.unitsPerSecondBig ?? BigInt(DEFAULT_UNITS_PER_SECOND);
  frame.tsSec = Number(units / perSecond) + offsetSec;
  frame.tsFracNs = Number(((units % perSecond) * BigInt(NS_PER_SECOND)) / perSecond);
}
